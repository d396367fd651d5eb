"""Streaming runtime benchmark (issues 5 and 17): speed, latency and memory of the streaming runtime in its
settings side by side (the stateful runtime, ``default`` and ``low_latency``, beside the previous windowed
runtime, ``windowed``, on the same bundle), and Open-Unmix UMX-L's offline real-time factor in the same run.

    .venv/bin/python benchmarks/stream_bench.py --realtime [--rates 48000 --blocks 128,256 --seconds 60]

Speed. Every row runs in a fresh process (so ``peak_rss_mb`` is that configuration's own peak): one
StreamingSeparator at RATE Hz, stereo, one preset (or ``CONTEXT:HOP:LOOKAHEAD`` frames of the windowed
runtime), its networks in onnxruntime (``onnx``) or in PyTorch (``torch``: the same runtime, the engine's
modules in place of the graphs), on ``--threads`` threads (by default the setting's own). The input is
evaluation-set music, upsampled and made stereo, queried with an evaluation-set reference clip. Blocks
listed in ``--paced-blocks`` (default: all) are fed as a real-time host does, one block per block duration
for ``--seconds`` of audio; a block is *missed* when its output is ready after its deadline (its due time
plus one block duration). Other blocks run back to back over ``--sweep-seconds`` of audio and a block is
missed when processing it took longer than its duration. ``rtf`` = compute seconds / audio seconds (wall
clock inside ``process``); p50/p99/max are per-block wall times; ``late_starts`` counts the paced blocks whose
processing began after their deadline had already passed (the worker woke too late: this machine's
scheduling, before any processing), and ``effect_missed`` the others (the effect's own misses).
``cpu_rtf`` is the whole process's CPU time (the harness's pacing included) per audio second;
``effect_cpu_rtf`` the effect's own: the audio thread's CPU inside ``process`` plus every other thread of
the process (the separator's worker, onnxruntime's pool threads). ``--paths floor`` adds a row per rate and block whose "effect" only copies
the block, paced the same way: what the harness and the machine cost any effect, misses included.
``--paths vst3`` runs the plugin's C++ port of the runtime (``build/EventSep.vst3``, default setting, a class
query) through pedalboard in the same loop. The ``cpu_*`` extras are the same with the
calling thread's CPU time (``time.thread_time``). ``gc_collections``, ``gc_gen2`` and ``gc_max_ms`` count
Python's garbage collections during the paced loop and the longest (a collection holds the GIL, so every
thread of the effect waits for it). ``--realtime`` runs each worker with SCHED_FIFO, as DAWs
run their audio threads. While it runs, ``/tmp/bench/QUIET`` exists, so our training jobs wait.

UMX-L. ``openunmix.umxl(pretrained=False)`` (UMX-L's architecture, random weights: nothing is downloaded)
separates ``--umx-seconds`` of the same stereo music at 44.1 kHz offline, in a fresh process on all cores;
its row's ``rtf`` is wall seconds / audio seconds. The ``openunmix`` package declares a ``torchaudio``
requirement that torch 2.13 cannot meet, so install it with ``pip install --no-deps openunmix``; it imports
``torchaudio`` at import time but (with the ``torch`` filterbank, no resampling) never calls it, so the
worker registers an empty ``torchaudio`` module when there is none.

Quality (``--quality``). Items of the evaluation set: the target queried with the item's reference clip,
offline (``engine.separate``) and streamed at ``--quality-rate`` in 512-sample blocks, scored as SI-SDRi.

The model is the shipped default (``engine/assets/default_model`` and its bundle ``default_onnx``) unless
``--model`` / ``--onnx`` say otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from plugin_host.vst3_build import VST3_BUNDLE as PLUGIN, vst3_missing  # noqa: E402

ROW_KEYS = ["sample_rate", "channels", "block", "setting", "path", "rtf", "p50_ms", "p99_ms", "max_ms", "missed",
            "latency_ms", "peak_rss_mb"]


def stream_settings(name: str, threads: int | None):
    """A preset name (``engine.streaming.PRESETS``) or "CONTEXT:HOP:LOOKAHEAD" frames of the windowed
    runtime (e.g. "32:3:2"); ``threads`` None = the preset's own (1 for CONTEXT:HOP:LOOKAHEAD)."""
    from engine.streaming import StreamSettings

    if ":" in name:
        context, hop, lookahead = (int(v) for v in name.split(":"))
        return StreamSettings(context_frames=context, hop_frames=hop, lookahead_frames=lookahead,
                              threads=threads or 1, mode="windowed")
    preset = StreamSettings.preset(name)
    return StreamSettings(**{**preset.__dict__, "threads": threads or preset.threads})


def _csv(kind):
    return lambda text: [kind(v) for v in text.split(",") if v]


# ----------------------------------------------------------------------------------------------- set-up

def prepare_model(args, work: Path) -> tuple[Path, Path]:
    """(checkpoint folder, ONNX bundle folder): the shipped ones, or ``--model`` exported into ``work``."""
    import torch

    from engine.shipped import DEFAULT_MODEL_DIR
    from engine.streaming import DEFAULT_BUNDLE
    from export.onnx_export import export_checkpoint

    torch.set_num_threads(args.threads or 1)
    ckpt = Path(args.model) if args.model else DEFAULT_MODEL_DIR
    onnx_dir = Path(args.onnx) if args.onnx else (work / "onnx" if args.model else DEFAULT_BUNDLE)
    print(f"model: {ckpt}; bundle: {onnx_dir}")
    if args.model and not args.onnx:
        t0 = time.time()
        result = export_checkpoint(ckpt, onnx_dir)
        print(f"exported {ckpt} -> {onnx_dir} in {time.time() - t0:.1f} s; parity worst "
              f"{result.parity.worst:.2g} (tolerance {result.parity.tolerance:g})")
    return ckpt, onnx_dir


def evalset_dir(soundfont: str) -> Path:
    from engine.corpus.paths import cache_dir

    return cache_dir() / "evalset" / soundfont


def prepare_audio(args, work: Path, rate: int, seconds: float) -> tuple[Path, Path]:
    """Stereo music at ``rate`` for ``seconds`` (.npy) and a reference clip at 22050 Hz (.npy)."""
    from engine.audio import resample

    path, ref_path, source_path = work / f"music_{rate}.npy", work / "reference.npy", work / "music_source.txt"
    if path.is_file() and np.load(path, mmap_mode="r").shape[1] >= int(seconds * rate):
        return path, ref_path
    need = int(seconds * 22050) + 22050
    pieces, ref = [], None
    try:
        from engine.corpus.evalset import load_evalset

        es = load_evalset(evalset_dir(args.soundfont))
        source, i = f"evaluation set {args.soundfont}", 0
        while sum(len(p) for p in pieces) < need:
            item = es[i % len(es)]
            pieces.append(item.mixture)
            ref = item.reference if ref is None else ref
            i += 1
    except Exception as e:  # no evaluation set here: synthetic music instead
        from export.onnx_export import synthetic_music

        print(f"(no evaluation set: {e}; using synthetic music)")
        pieces, source = [synthetic_music(22050, seconds=need / 22050 + 1, seed=1)], "synthetic music"
        ref = synthetic_music(22050, seconds=5.0, seed=2)
    source_path.write_text(source)
    mono = np.concatenate(pieces)[:need]
    stereo = np.stack([mono, 0.8 * np.roll(mono, 441)])           # a slightly different right channel
    np.save(path, resample(stereo, 22050, rate))
    np.save(ref_path, ref.astype(np.float32))
    return path, ref_path


# ----------------------------------------------------------------------------------------------- speed

def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike getrusage's ru_maxrss, it is not inherited from
    the parent across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024.0
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def other_threads_cpu() -> dict[int, float]:
    """CPU seconds so far of every thread of this process but the calling one, by thread id (from
    ``/proc/self/task/*/schedstat``: onnxruntime's own threads are not Python threads)."""
    me = threading.get_native_id()
    out = {}
    for task in os.listdir("/proc/self/task"):
        if int(task) == me:
            continue
        try:       # the first field: nanoseconds on a CPU
            out[int(task)] = int(open(f"/proc/self/task/{task}/schedstat").read().split()[0]) / 1e9
        except OSError:            # the thread ended
            continue
    return out


def worker(spec: dict) -> dict:
    """One speed row, in this (fresh) process."""
    import gc

    from engine.streaming import OnnxModels, StreamingSeparator

    if spec.get("realtime"):
        # before any session exists, so onnxruntime's pool threads inherit the policy
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))
        except (AttributeError, PermissionError) as exc:
            raise SystemExit(f"--realtime: cannot switch to SCHED_FIFO ({exc}); run as root or without --realtime")
    settings = stream_settings(spec["setting"], spec["threads"])
    rate, block = spec["sample_rate"], spec["block"]
    background_stats = None
    if spec["path"] == "floor":
        # the harness and this machine alone: a block copied, nothing else (what any effect pays at least)
        process, latency_ms, latency_samples = (lambda x: x.copy()), 0.0, 0
        resolved = None
    elif spec["path"] == "vst3":
        # the C++ port of this runtime (docs/plugin_vst3.md) through pedalboard, queried with a class name
        import pedalboard

        plugin = pedalboard.load_plugin(str(PLUGIN))
        plugin.class_a = "piano"
        if spec["setting"] != "every_frame":
            raise SystemExit("the VST3 row runs the plugin's default setting only (every_frame, in Python's names)")
        first = [True]

        def process(x):
            y = plugin.process(x, rate, buffer_size=block, reset=first[0])
            first[0] = False
            return y
        # pedalboard compensates the plugin's latency itself; the plugin reports the runtime's (46.4 ms)
        latency_samples, latency_ms, resolved = -1, float("nan"), None
    else:
        if spec["path"] == "onnx":
            models = OnnxModels(spec["onnx"], threads=settings.threads)
        else:
            from engine.checkpoint import load_latents, load_model
            from engine.stepmodel import bundle_info
            from engine.stepmodel import TorchModels

            model, _ = load_model(spec["checkpoint"])
            models = TorchModels(model, bundle_info(model, load_latents(spec["checkpoint"])),
                                 threads=settings.threads)
        sep = StreamingSeparator(models, rate, 2, settings)
        sep.set_reference_audio("A", np.load(spec["reference"]), 22050)
        process, latency_ms, latency_samples = sep.process, sep.latency.ms, sep.latency_samples
        resolved = sep.settings
        background_stats = sep.background_stats
    audio = np.ascontiguousarray(np.load(spec["audio"])[:, :int(spec["seconds"] * rate)], dtype=np.float32)
    blocks = [audio[:, i:i + block] for i in range(0, audio.shape[1] - block + 1, block)]
    period = block / rate
    times = np.empty(len(blocks))
    cpu_times = np.empty(len(blocks))
    missed = late_starts = 0
    if spec["path"] == "vst3":
        process(blocks[0])         # pedalboard prepares the plugin on its first call (reset=True)
    gc.collect()
    gc_pauses = []                 # (seconds) of every garbage collection during the paced loop, any thread
    gc_start = [0.0]

    def gc_probe(phase, info):
        if phase == "start":
            gc_start[0] = time.perf_counter()
        else:
            gc_pauses.append((time.perf_counter() - gc_start[0], info["generation"]))
    gc.callbacks.append(gc_probe)
    others0 = other_threads_cpu()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    for k, x in enumerate(blocks):
        if spec["paced"]:
            due = t0 + k * period
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        start, cpu_start = time.perf_counter(), time.thread_time()
        if spec["paced"]:
            # woken after the block's deadline had passed: missed before any processing (this machine's
            # scheduling, not the effect; the floor row shows how often it happens with no effect at all)
            late_starts += start > t0 + (k + 1) * period
        process(x)
        end = time.perf_counter()
        cpu_times[k] = time.thread_time() - cpu_start
        times[k] = end - start
        if spec["paced"]:
            missed += end > t0 + (k + 1) * period
        else:
            missed += times[k] > period
    cpu = time.process_time() - cpu0
    gc.callbacks.remove(gc_probe)
    others1 = other_threads_cpu()
    worker_runs = background_stats() if background_stats else None
    worker_cpu = sum(v - others0.get(k, 0.0) for k, v in others1.items())
    seconds = len(blocks) * period
    ms, cpu_ms = times * 1000.0, cpu_times * 1000.0
    row = {"sample_rate": rate, "channels": 2, "block": block, "setting": spec["setting"], "path": spec["path"],
           "rtf": float(times.sum() / seconds), "p50_ms": float(np.percentile(ms, 50)),
           "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()), "missed": int(missed),
           "latency_ms": latency_ms,
           "peak_rss_mb": peak_rss_mb(),
           # extras
           "cpu_rtf": cpu / seconds, "cpu_p50_ms": float(np.percentile(cpu_ms, 50)),
           "cpu_p99_ms": float(np.percentile(cpu_ms, 99)), "cpu_max_ms": float(cpu_ms.max()),
           "cpu_missed": int((cpu_times > period).sum()), "paced": bool(spec["paced"]), "seconds": seconds,
           "blocks": len(blocks),
           "late_starts": int(late_starts),
           # the effect's own misses: the block started on time and its output came late (a late start is
           # always a miss, and is the machine's)
           "effect_missed": int(missed - late_starts),
           # CPU of the effect's own threads: the audio thread inside process() plus every other thread
           # of this process (the separator's worker, onnxruntime's pool); the harness's pacing is not in it
           "worker_cpu_rtf": worker_cpu / seconds,
           "effect_cpu_rtf": (float(cpu_times.sum()) + worker_cpu) / seconds,
           # background settings: the worker's runs (wall and CPU ms) and the audio thread's longest wait
           "worker_runs": worker_runs,
           # garbage collections while paced (they hold the GIL: every thread waits for them)
           "gc_collections": len(gc_pauses),
           "gc_gen2": sum(1 for _, g in gc_pauses if g == 2),
           "gc_max_ms": 1000.0 * max((d for d, _ in gc_pauses), default=0.0),
           "deadline_ms": period * 1000.0, "latency_samples": latency_samples, "threads": settings.threads,
           "realtime": bool(spec.get("realtime")),
           "mode": resolved.mode if resolved else spec["path"],
           "hop_frames": resolved.hop_frames if resolved else None,
           "lookahead_frames": resolved.lookahead_frames if resolved else None}
    return row


def umx_worker(spec: dict) -> dict:
    """UMX-L (random weights) separating the benchmark's music offline at 44.1 kHz, in this process."""
    import importlib.util
    import types

    import torch

    if importlib.util.find_spec("torchaudio") is None:      # imported by openunmix, never called here
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    try:
        import openunmix
    except ImportError:
        raise SystemExit("UMX-L row: the openunmix package is missing; pip install --no-deps openunmix")
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 1)
    separator = openunmix.umxl(pretrained=False, device="cpu").eval()
    audio = np.load(spec["audio"])[:, :int(spec["seconds"] * 44100)]
    x = torch.from_numpy(np.ascontiguousarray(audio, np.float32))[None]
    with torch.inference_mode():
        separator(x[..., :44100])                             # warm-up (allocations, FFT plans)
        t0 = time.perf_counter()
        est = separator(x)
        wall = time.perf_counter() - t0
    seconds = audio.shape[1] / 44100
    assert est.shape[-1] == audio.shape[1] and torch.isfinite(est).all()
    ms = wall * 1000.0
    return {"sample_rate": 44100, "channels": 2, "block": int(audio.shape[1]), "setting": "umx-l",
            "path": "torch offline", "rtf": wall / seconds, "p50_ms": ms, "p99_ms": ms, "max_ms": ms, "missed": 0,
            "latency_ms": float("nan"), "peak_rss_mb": peak_rss_mb(), "seconds": seconds,
            "threads": torch.get_num_threads(), "targets": 4, "paced": False}


def run_speed(args, ckpt: Path, onnx_dir: Path, work: Path) -> list[dict]:
    rows = []
    combos = [(rate, block, setting, path) for rate in args.rates for block in args.blocks
              for setting in args.settings for path in args.paths
              # one floor row per rate and block (it has no setting); the VST3 runs its default only, which
              # is every_frame in the Python runtime's names
              if (path != "floor" or setting == args.settings[0]) and (path != "vst3" or setting == "every_frame")]
    for n, (rate, block, setting, path) in enumerate(combos, 1):
        paced = block in args.paced_blocks
        seconds = args.seconds if paced else args.sweep_seconds
        audio, ref = prepare_audio(args, work, rate, max(args.seconds, args.sweep_seconds))
        spec = {"sample_rate": rate, "block": block, "setting": setting, "path": path, "paced": paced,
                "seconds": seconds, "threads": args.threads, "realtime": args.realtime, "onnx": str(onnx_dir),
                "checkpoint": str(ckpt),
                "audio": str(audio), "reference": str(ref)}
        proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True,
                              text=True, cwd=REPO, timeout=max(600, 20 * seconds))
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"worker failed for {spec}")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        row["input"] = (work / "music_source.txt").read_text()       # what was streamed (said in every row)
        rows.append(row)
        print(f"[{n}/{len(combos)}] {rate} Hz block {block:5d} {setting:<11} {path:<5} "
              f"{'paced' if paced else 'sweep'}: rtf {row['rtf']:.3f} p50 {row['p50_ms']:.2f} "
              f"p99 {row['p99_ms']:.2f} max {row['max_ms']:.2f} ms missed {row['missed']}/{row['blocks']}; "
              f"cpu: rtf {row['cpu_rtf']:.3f} p99 {row['cpu_p99_ms']:.2f} max {row['cpu_max_ms']:.2f} ms "
              f"missed {row['cpu_missed']}; effect: cpu rtf {row['effect_cpu_rtf']:.3f}, missed "
              f"{row['effect_missed']} ({row['late_starts']} woken late); {row['peak_rss_mb']:.0f} MB", flush=True)
        if row.get("worker_runs"):
            w = row["worker_runs"]
            print(f"    worker: {w['runs']} runs, wall p50 {w['run_p50_ms']:.2f} p99 {w['run_p99_ms']:.2f} max "
                  f"{w['run_max_ms']:.2f} ms (its CPU {w['cpu_of_slowest_run_ms']:.2f}); CPU max "
                  f"{w['run_cpu_max_ms']:.2f} ms; longest wait of the audio thread {w['longest_wait_ms']:.2f} ms",
                  flush=True)
    return rows


def run_umx(args, work: Path) -> dict:
    audio, _ = prepare_audio(args, work, 44100, max(args.seconds, args.sweep_seconds, args.umx_seconds))
    spec = {"umx": True, "audio": str(audio), "seconds": args.umx_seconds}
    proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True,
                          cwd=REPO, timeout=3600)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        raise SystemExit("the UMX-L worker failed")
    row = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"UMX-L offline (random weights, 4 targets, {row['threads']} threads): {row['seconds']:.0f} s of "
          f"stereo 44.1 kHz in {row['max_ms'] / 1000:.1f} s, rtf {row['rtf']:.3f}; {row['peak_rss_mb']:.0f} MB",
          flush=True)
    return row


def ratio_table(rows: list[dict]) -> str:
    """RTF of each stream row against the ``windowed`` row of the same rate, block and path, and against
    UMX-L's offline RTF."""
    umx = next((r for r in rows if r["setting"] == "umx-l"), None)
    base = {(r["sample_rate"], r["block"], r["path"]): r for r in rows if r["setting"] == "windowed"}
    lines = ["| rate | block | setting | RTF | windowed RTF / this | UMX-L offline RTF / this |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if r["setting"] in ("umx-l", "windowed") or r["path"] == "floor":
            continue
        w = base.get((r["sample_rate"], r["block"], r["path"]))
        vs_windowed = f"{w['rtf'] / r['rtf']:.2f}x" if w else "-"
        vs_umx = f"{umx['rtf'] / r['rtf']:.2f}x" if umx else "-"
        lines.append(f"| {r['sample_rate']} | {r['block']} | {r['setting']}{' (VST3)' if r['path'] == 'vst3' else ''} "
                     f"| {r['rtf']:.3f} | {vs_windowed} | "
                     f"{vs_umx} |")
    if umx:
        lines.append(f"\nUMX-L offline (random weights, 4 targets, {umx['threads']} threads): rtf {umx['rtf']:.3f} "
                     f"({umx['seconds']:.0f} s of stereo 44.1 kHz), peak RSS {umx['peak_rss_mb']:.0f} MB")
    return "\n".join(lines)


def speed_table(rows: list[dict]) -> str:
    head = ("| rate | block | setting | path | feed | RTF | p50 ms | p99 ms | max ms | deadline ms | missed | "
            "of them woken late | CPU RTF | CPU p99 ms | CPU max ms | CPU missed | effect CPU RTF | "
            "latency ms | peak RSS MB |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if r["setting"] == "umx-l":
            continue
        setting = ("pass-through" if r["path"] == "floor" else "default (the plugin's: stateful, hop 1, lookahead 1)"
                   if r["path"] == "vst3" else
                   f"{r['setting']} ({r['mode']}, hop {r['hop_frames']}, lookahead {r['lookahead_frames']})")
        lines.append(f"| {r['sample_rate']} | {r['block']} | {setting} | {r['path']} | "
                     f"{'paced' if r['paced'] else 'sweep'} {r['seconds']:.0f} s | {r['rtf']:.3f} | "
                     f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.2f} | {r['deadline_ms']:.2f} | "
                     f"{r['missed']}/{r['blocks']} | {r.get('late_starts', '-')} | {r['cpu_rtf']:.3f} | {r['cpu_p99_ms']:.2f} | "
                     f"{r['cpu_max_ms']:.2f} | {r['cpu_missed']} | {r.get('effect_cpu_rtf', float('nan')):.3f} | "
                     f"{r['latency_ms']:.1f} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def latency_table(onnx_dir: Path, rates: list[int], names: list[str]) -> str:
    from engine.streaming import OnnxModels
    from engine.streaming.grid import HostGrid
    from engine.streaming.settings import latency_of

    info = OnnxModels(onnx_dir).info
    lines = ["| setting | rate | window / hop (samples) | buffering | model | total samples | total ms |",
             "|---|---|---|---|---|---|---|"]
    for name in names:
        st = stream_settings(name, 1).resolve(info)
        for rate in rates:
            g = HostGrid(rate, info)
            lat = latency_of(st, rate, g.window_length, g.hop)
            lines.append(f"| {name} ({st.mode}{f', context {st.context_frames}' if st.mode == 'windowed' else ''}, "
                         f"hop {st.hop_frames}, lookahead {st.lookahead_frames}) | {rate} | {g.window_length} / "
                         f"{g.hop} | {lat.buffering_samples} "
                         f"({lat.buffering_ms:.1f} ms) | {lat.model_samples} ({lat.model_ms:.1f} ms) | "
                         f"{lat.samples} | {lat.ms:.1f} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- quality

def run_quality(args, ckpt: Path, onnx_dir: Path) -> dict:
    import torch

    from engine.audio import match_length, resample
    from engine.checkpoint import load_model
    from engine.corpus.evalset import load_evalset
    from engine.metrics import si_sdr
    from engine.separate import encode_clip, separate_array
    from engine.streaming import OnnxModels, StreamingSeparator

    torch.set_num_threads(args.threads or 1)
    es = load_evalset(evalset_dir(args.soundfont))
    n_items = len(es) if args.quality_items <= 0 else min(args.quality_items, len(es))
    model, _ = load_model(ckpt)
    models = OnnxModels(onnx_dir, threads=args.threads or 1)
    rate = args.quality_rate
    seps = {name: StreamingSeparator(models, rate, 1, stream_settings(name, args.threads)) for name in args.settings}
    per_item = []
    t0 = time.time()
    for i in range(n_items):
        item = es[i]
        mix, target, ref = item.mixture, item.target, item.reference
        base = si_sdr(target, mix)
        with torch.no_grad():
            z = encode_clip(model, torch.from_numpy(ref[None]))
        offline = separate_array(model, mix[None], 22050, z).estimate[0]
        row = {"id": item.id, "class": item.target_class, "offline": si_sdr(target, offline) - base}
        x = resample(mix[None], 22050, rate)
        for name, sep in seps.items():
            sep.reset()
            sep.set_reference_audio("A", ref, 22050)
            lat = sep.latency_samples
            padded = np.concatenate([x, np.zeros((1, lat), np.float32)], axis=1)
            out = np.concatenate([sep.process(padded[:, j:j + 512]) for j in range(0, padded.shape[1], 512)], axis=1)
            streamed = match_length(resample(out[:, lat:lat + x.shape[1]], rate, 22050), len(mix))[0]
            row[name] = si_sdr(target, streamed) - base
            row[f"{name}_vs_offline"] = si_sdr(offline, streamed)     # how close streamed is to offline
        per_item.append(row)
        if (i + 1) % 16 == 0 or i + 1 == n_items:
            print(f"quality: {i + 1}/{n_items} items ({time.time() - t0:.0f} s)", flush=True)
    summary = {"items": n_items, "quality_rate": rate, "soundfont": args.soundfont, "checkpoint": str(ckpt),
               "offline_si_sdri_mean": float(np.mean([r["offline"] for r in per_item])),
               "offline_si_sdri_median": float(np.median([r["offline"] for r in per_item]))}
    for name in seps:
        vals = np.array([r[name] for r in per_item])
        summary[f"{name}_si_sdri_mean"] = float(vals.mean())
        summary[f"{name}_si_sdri_median"] = float(np.median(vals))
        summary[f"{name}_minus_offline_mean_db"] = float(vals.mean() - summary["offline_si_sdri_mean"])
        summary[f"{name}_vs_offline_si_sdr_median"] = float(np.median([r[f"{name}_vs_offline"] for r in per_item]))
    return {"summary": summary, "items": per_item}


def quality_table(q: dict, settings: list[str]) -> str:
    s = q["summary"]
    lines = [f"Evaluation set ({s['soundfont']}, {s['items']} items), streamed at {s['quality_rate']} Hz in "
             f"512-sample blocks:", "",
             "| output | SI-SDRi mean dB | SI-SDRi median dB | minus offline (mean) dB "
             "| SI-SDR vs offline output (median) dB |",
             "|---|---|---|---|---|",
             f"| offline (engine.separate, PyTorch) | {s['offline_si_sdri_mean']:.2f} | "
             f"{s['offline_si_sdri_median']:.2f} | 0 | - |"]
    for name in settings:
        lines.append(f"| streamed, {name} (ONNX) | {s[f'{name}_si_sdri_mean']:.2f} | {s[f'{name}_si_sdri_median']:.2f} "
                     f"| {s[f'{name}_minus_offline_mean_db']:+.2f} | {s[f'{name}_vs_offline_si_sdr_median']:.1f} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- main

def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="checkpoint folder (default: the shipped model; exported into the work folder)")
    p.add_argument("--onnx", help="use this exported bundle (default: the shipped one, or --model exported)")
    p.add_argument("--rates", type=_csv(int), default=[44100, 48000])
    p.add_argument("--blocks", type=_csv(int), default=[64, 128, 256, 512, 1024, 2048, 4096])
    p.add_argument("--settings", type=_csv(str), default=["default", "low_latency", "windowed"],
                   help="presets or CONTEXT:HOP:LOOKAHEAD frames of the windowed runtime, comma-separated "
                        "(default: default,low_latency,windowed)")
    p.add_argument("--paths", type=_csv(str), default=["onnx"],
                   help="onnx, torch, vst3 (the plugin's C++ port of the runtime through pedalboard, default "
                        "setting only) and/or floor (a block copied and nothing else: what the harness and "
                        "this machine cost any effect), comma-separated (default: onnx)")
    p.add_argument("--paced-blocks", type=_csv(int), default=None,
                   help="block sizes fed in real time (default: all of --blocks); others run back to back")
    p.add_argument("--seconds", type=float, default=60.0, help="audio per paced row (default: 60)")
    p.add_argument("--sweep-seconds", type=float, default=20.0, help="audio per back-to-back row (default: 20)")
    p.add_argument("--threads", type=int, default=None,
                   help="onnxruntime / torch threads (default: each setting's own: default 1, low_latency 2)")
    p.add_argument("--realtime", action="store_true",
                   help="run each worker with real-time scheduling (SCHED_FIFO, priority 50), as DAWs run their "
                        "audio threads; needs root or CAP_SYS_NICE, else the benchmark stops with a message")
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--umx-seconds", type=float, default=60.0,
                   help="audio UMX-L separates offline for its row (default: 60; 0 = no UMX-L row)")
    p.add_argument("--quality", action="store_true", help="also the evaluation-set quality run (slow)")
    p.add_argument("--quality-items", type=int, default=0, help="evaluation items (default 0: all)")
    p.add_argument("--quality-rate", type=int, default=44100, help="host rate of the streamed quality run")
    p.add_argument("--soundfont", default="fluidr3", help="evaluation set (default: fluidr3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the speed rows here")
    p.add_argument("--quality-json", help="write the quality summary and per-item scores here")
    p.add_argument("--workdir", help="keep the exported model and audio here (default: a temporary folder)")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        print(json.dumps(umx_worker(spec) if spec.get("umx") else worker(spec)))
        return
    if args.paced_blocks is None:
        args.paced_blocks = list(args.blocks)
    for name in args.settings:
        try:
            stream_settings(name, 1)
        except Exception as e:
            p.error(f"bad setting {name!r}: {e}")
    for name in args.paths:
        if name not in ("onnx", "torch", "vst3", "floor"):
            p.error(f"unknown path {name}")
    if "vst3" in args.paths and (missing := vst3_missing()):
        p.error(f"--paths vst3: {missing}")
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="stream_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"stream_bench: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start, nice "
          f"{os.nice(0)}; work folder {work}")
    ckpt, onnx_dir = prepare_model(args, work)
    print("\nLatency\n\n" + latency_table(onnx_dir, sorted(set(args.rates) | {44100, 48000}),
                                                   list(dict.fromkeys(["default", "low_latency"] + args.settings))))
    quiet = Path("/tmp/bench/QUIET")
    quiet.parent.mkdir(parents=True, exist_ok=True)
    ours = not quiet.exists()
    quiet.touch()                  # our training jobs wait while this exists
    try:
        if ours:
            time.sleep(6)          # a training step in flight finishes
        if not args.no_speed:
            rows = run_speed(args, ckpt, onnx_dir, work)
            if args.umx_seconds > 0:
                rows.append(run_umx(args, work))
            print(f"\nSpeed (stereo; {args.threads or 'each setting its own number of'} thread(s) per stream; "
                  f"{'real-time (SCHED_FIFO)' if args.realtime else 'normal'} scheduling; the input: "
                  f"{rows[0].get('input', '-')})\n\n" + speed_table(rows))
            print("\n" + ratio_table(rows))
            print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
            if args.json:
                Path(args.json).write_text(json.dumps(rows, indent=1))
    finally:
        if ours:
            quiet.unlink(missing_ok=True)
    if args.quality:
        try:
            q = run_quality(args, ckpt, onnx_dir)
        except Exception as e:
            if "evaluation set" not in str(e) and "manifest" not in str(e):
                raise
            print(f"\nquality skipped: {e}")
        else:
            print("\nQuality\n\n" + quality_table(q, args.settings))
            if args.quality_json:
                Path(args.quality_json).write_text(json.dumps(q, indent=1))


if __name__ == "__main__":
    main()
