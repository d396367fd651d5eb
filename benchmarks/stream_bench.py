"""Streaming runtime benchmark (issue 5): speed on ONNX and on PyTorch side by side, latency, memory, and the
quality of the streamed output against the offline engine on the evaluation set.

    .venv/bin/python benchmarks/stream_bench.py [--model CKPT] [--json rows.json] [--quality-json q.json]

Speed. Every row runs in a fresh process (so ``peak_rss_mb`` is that configuration's own peak): one
StreamingSeparator at RATE Hz, stereo, setting ``default`` or ``low_latency``, its networks in onnxruntime
(``onnx``) or in PyTorch (``torch``: the same runtime, the engine's modules in place of the graphs), both on
``--threads`` threads (by default the setting's own: 1 for ``default``, so all the work of a block runs on
the calling thread; 2 for ``low_latency``). The input
is evaluation-set music, upsampled and made stereo. Blocks listed in
``--paced-blocks`` are fed as a real-time host does, one block per block duration for ``--seconds`` of
audio; a block is *missed* when its output is ready after its deadline (its due time plus one block
duration). Other blocks run back to back over ``--sweep-seconds`` of audio and a block is missed when
processing it took longer than its duration. ``rtf`` = compute seconds / audio seconds (wall clock inside
``process``); p50/p99/max are per-block wall times. The ``cpu_*`` extras are the same with the calling
thread's CPU time (``time.thread_time``): on a machine shared with other work (training at normal priority
while this runs at nice 19) wall time includes waiting for a core, CPU time is what the blocks cost;
``cpu_missed`` counts blocks whose CPU time alone exceeded their duration.

Quality. Items of the evaluation set (``cache/corpus/evalset/<soundfont>``): the target is queried with the
item's reference clip. Offline: ``engine.separate`` (PyTorch, chunks of the model's segment length). Streamed:
the mixture upsampled to ``--quality-rate``, streamed in 512-sample blocks with the ONNX bundle, the latency
removed, resampled back. Both scored as SI-SDRi against the true stem at 22050 Hz.

Without ``--model`` the model is a fresh seeded one of the shipping architecture (untrained: speed and
latency are what they will be, quality numbers are meaningless until the default model exists).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

ROW_KEYS = ["sample_rate", "channels", "block", "setting", "path", "rtf", "p50_ms", "p99_ms", "max_ms", "missed",
            "latency_ms", "peak_rss_mb"]


def shipping_config():
    from engine.config import ModelConfig

    return ModelConfig(separator_channels=(8, 16, 32, 64, 128, 256), query_channels=(16, 16, 32, 32, 64, 64),
                       segment_seconds=2.0)


def stream_settings(name: str, threads: int | None):
    """A preset name ("default", "low_latency") or "CONTEXT:HOP:LOOKAHEAD" frames (e.g. "32:3:2");
    ``threads`` None = the preset's own (1 for CONTEXT:HOP:LOOKAHEAD)."""
    from engine.streaming import StreamSettings

    if ":" in name:
        context, hop, lookahead = (int(v) for v in name.split(":"))
        return StreamSettings(context_frames=context, hop_frames=hop, lookahead_frames=lookahead,
                              threads=threads or 1)
    preset = StreamSettings.preset(name)
    return StreamSettings(**{**preset.__dict__, "threads": threads or preset.threads})


def _csv(kind):
    return lambda text: [kind(v) for v in text.split(",") if v]


# ----------------------------------------------------------------------------------------------- set-up

def prepare_model(args, work: Path) -> tuple[Path, Path]:
    """(checkpoint folder, ONNX bundle folder)."""
    import torch

    from engine.checkpoint import save_checkpoint
    from engine.models import QuerySeparator
    from export.onnx_export import export_checkpoint

    torch.set_num_threads(args.threads or 1)
    if args.model:
        ckpt = Path(args.model)
    else:
        torch.manual_seed(args.seed)
        ckpt = save_checkpoint(work / "untrained", QuerySeparator(shipping_config()).eval())
        print(f"model: fresh seeded (seed {args.seed}) model of the shipping architecture, UNTRAINED")
    onnx_dir = Path(args.onnx) if args.onnx else work / "onnx"
    if not args.onnx:
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

    path, ref_path = work / f"music_{rate}.npy", work / "reference.npy"
    if path.is_file() and np.load(path, mmap_mode="r").shape[1] >= int(seconds * rate):
        return path, ref_path
    need = int(seconds * 22050) + 22050
    pieces, ref = [], None
    try:
        from engine.corpus.evalset import load_evalset

        es = load_evalset(evalset_dir(args.soundfont))
        i = 0
        while sum(len(p) for p in pieces) < need:
            item = es[i % len(es)]
            pieces.append(item.mixture)
            ref = item.reference if ref is None else ref
            i += 1
    except Exception as e:  # no evaluation set here: synthetic music instead
        from export.onnx_export import synthetic_music

        print(f"(no evaluation set: {e}; using synthetic music)")
        pieces = [synthetic_music(22050, seconds=need / 22050 + 1, seed=1)]
        ref = synthetic_music(22050, seconds=5.0, seed=2)
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
    if spec["path"] == "onnx":
        models = OnnxModels(spec["onnx"], threads=settings.threads)
    else:
        from engine.checkpoint import load_latents, load_model
        from engine.stepmodel import bundle_info
        from engine.stepmodel import TorchModels

        model, _ = load_model(spec["checkpoint"])
        models = TorchModels(model, bundle_info(model, load_latents(spec["checkpoint"])), threads=settings.threads)
    rate, block = spec["sample_rate"], spec["block"]
    sep = StreamingSeparator(models, rate, 2, settings)
    sep.set_reference_audio("A", np.load(spec["reference"]), 22050)
    audio = np.ascontiguousarray(np.load(spec["audio"])[:, :int(spec["seconds"] * rate)], dtype=np.float32)
    blocks = [audio[:, i:i + block] for i in range(0, audio.shape[1] - block + 1, block)]
    period = block / rate
    times = np.empty(len(blocks))
    cpu_times = np.empty(len(blocks))
    missed = 0
    gc.collect()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    for k, x in enumerate(blocks):
        if spec["paced"]:
            due = t0 + k * period
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        start, cpu_start = time.perf_counter(), time.thread_time()
        sep.process(x)
        end = time.perf_counter()
        cpu_times[k] = time.thread_time() - cpu_start
        times[k] = end - start
        if spec["paced"]:
            missed += end > t0 + (k + 1) * period
        else:
            missed += times[k] > period
    cpu = time.process_time() - cpu0
    seconds = len(blocks) * period
    ms, cpu_ms = times * 1000.0, cpu_times * 1000.0
    row = {"sample_rate": rate, "channels": 2, "block": block, "setting": spec["setting"], "path": spec["path"],
           "rtf": float(times.sum() / seconds), "p50_ms": float(np.percentile(ms, 50)),
           "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms.max()), "missed": int(missed),
           "latency_ms": sep.latency.ms,
           "peak_rss_mb": peak_rss_mb(),
           # extras
           "cpu_rtf": cpu / seconds, "cpu_p50_ms": float(np.percentile(cpu_ms, 50)),
           "cpu_p99_ms": float(np.percentile(cpu_ms, 99)), "cpu_max_ms": float(cpu_ms.max()),
           "cpu_missed": int((cpu_times > period).sum()), "paced": bool(spec["paced"]), "seconds": seconds, "blocks": len(blocks),
           "deadline_ms": period * 1000.0, "latency_samples": sep.latency_samples, "threads": settings.threads,
           "realtime": bool(spec.get("realtime"))}
    return row


def run_speed(args, ckpt: Path, onnx_dir: Path, work: Path) -> list[dict]:
    rows = []
    combos = [(rate, block, setting, path) for rate in args.rates for block in args.blocks
              for setting in args.settings for path in args.paths]
    for n, (rate, block, setting, path) in enumerate(combos, 1):
        paced = block in args.paced_blocks
        seconds = args.seconds if paced else args.sweep_seconds
        audio, ref = prepare_audio(args, work, rate, max(args.seconds, args.sweep_seconds))
        spec = {"sample_rate": rate, "block": block, "setting": setting, "path": path, "paced": paced,
                "seconds": seconds, "threads": args.threads, "realtime": args.realtime, "onnx": str(onnx_dir), "checkpoint": str(ckpt),
                "audio": str(audio), "reference": str(ref)}
        proc = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True,
                              text=True, cwd=REPO, timeout=max(600, 20 * seconds))
        if proc.returncode != 0:
            print(proc.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"worker failed for {spec}")
        row = json.loads(proc.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"[{n}/{len(combos)}] {rate} Hz block {block:5d} {setting:<11} {path:<5} "
              f"{'paced' if paced else 'sweep'}: rtf {row['rtf']:.3f} p50 {row['p50_ms']:.2f} "
              f"p99 {row['p99_ms']:.2f} max {row['max_ms']:.2f} ms missed {row['missed']}/{row['blocks']}; "
              f"cpu: rtf {row['cpu_rtf']:.3f} p99 {row['cpu_p99_ms']:.2f} max {row['cpu_max_ms']:.2f} ms "
              f"missed {row['cpu_missed']}; {row['peak_rss_mb']:.0f} MB", flush=True)
    return rows


def speed_table(rows: list[dict]) -> str:
    head = ("| rate | block | setting | path | mode | RTF | p50 ms | p99 ms | max ms | deadline ms | missed | "
            "CPU RTF | CPU p99 ms | CPU max ms | CPU missed | latency ms | peak RSS MB |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        lines.append(f"| {r['sample_rate']} | {r['block']} | {r['setting']} | {r['path']} | "
                     f"{'paced' if r['paced'] else 'sweep'} {r['seconds']:.0f} s | {r['rtf']:.3f} | "
                     f"{r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['max_ms']:.2f} | {r['deadline_ms']:.2f} | "
                     f"{r['missed']}/{r['blocks']} | {r['cpu_rtf']:.3f} | {r['cpu_p99_ms']:.2f} | "
                     f"{r['cpu_max_ms']:.2f} | {r['cpu_missed']} | {r['latency_ms']:.1f} | {r['peak_rss_mb']:.0f} |")
    return "\n".join(lines)


def latency_table(onnx_dir: Path, rates: list[int], names: list[str]) -> str:
    from engine.streaming import OnnxModels
    from engine.streaming.grid import HostGrid
    from engine.streaming.settings import latency_of

    info = OnnxModels(onnx_dir).info
    lines = ["| setting | rate | window / hop (samples) | buffering | model | total samples | total ms |",
             "|---|---|---|---|---|---|---|"]
    for name in names:
        st = stream_settings(name, 1)
        for rate in rates:
            g = HostGrid(rate, info)
            lat = latency_of(st, rate, g.window_length, g.hop)
            lines.append(f"| {name} (context {st.context_frames}, hop {st.hop_frames}, lookahead "
                         f"{st.lookahead_frames}) | {rate} | {g.window_length} / {g.hop} | {lat.buffering_samples} "
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
             "| output | SI-SDRi mean dB | SI-SDRi median dB | minus offline (mean) dB | SI-SDR vs offline output (median) dB |",
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
    p.add_argument("--model", help="checkpoint folder (default: a fresh seeded model of the shipping architecture)")
    p.add_argument("--onnx", help="use this exported bundle instead of exporting the model")
    p.add_argument("--rates", type=_csv(int), default=[44100, 48000])
    p.add_argument("--blocks", type=_csv(int), default=[64, 128, 256, 512, 1024, 2048, 4096])
    p.add_argument("--settings", type=_csv(str), default=["default", "low_latency"],
                   help="presets or CONTEXT:HOP:LOOKAHEAD frames, comma-separated (default: default,low_latency)")
    p.add_argument("--paths", type=_csv(str), default=["onnx", "torch"])
    p.add_argument("--paced-blocks", type=_csv(int), default=[512],
                   help="block sizes fed in real time (default: 512); others run back to back")
    p.add_argument("--seconds", type=float, default=60.0, help="audio per paced row (default: 60)")
    p.add_argument("--sweep-seconds", type=float, default=20.0, help="audio per back-to-back row (default: 20)")
    p.add_argument("--threads", type=int, default=None,
                   help="onnxruntime / torch threads (default: each setting's own: default 1, low_latency 2)")
    p.add_argument("--realtime", action="store_true",
                   help="run each worker with real-time scheduling (SCHED_FIFO, priority 50), as DAWs run their "
                        "audio threads; needs root or CAP_SYS_NICE, else the benchmark stops with a message")
    p.add_argument("--no-speed", action="store_true")
    p.add_argument("--no-quality", action="store_true")
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
        print(json.dumps(worker(json.loads(args.worker))))
        return
    for name in args.settings:
        try:
            stream_settings(name, 1)
        except Exception as e:
            p.error(f"bad setting {name!r}: {e}")
    for name in args.paths:
        if name not in ("onnx", "torch"):
            p.error(f"unknown path {name}")
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="stream_bench_"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"stream_bench: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start, nice "
          f"{os.nice(0)}; work folder {work}")
    ckpt, onnx_dir = prepare_model(args, work)
    print("\nLatency\n\n" + latency_table(onnx_dir, sorted(set(args.rates) | {44100, 48000}),
                                                   list(dict.fromkeys(["default", "low_latency"] + args.settings))))
    if not args.no_speed:
        rows = run_speed(args, ckpt, onnx_dir, work)
        print(f"\nSpeed (stereo; {args.threads or 'each setting its own number of'} thread(s) per stream; "
              f"{'real-time (SCHED_FIFO)' if args.realtime else 'normal'} scheduling)\n\n" + speed_table(rows))
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
    if not args.no_quality:
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
