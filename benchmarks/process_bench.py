"""Throughput and memory of ``eventsep process`` on a long stereo file (issue 6).

    .venv/bin/python benchmarks/process_bench.py                     # 5 min, 48 kHz stereo, default + low latency
    .venv/bin/python benchmarks/process_bench.py --seconds 30 --repeats 1 --settings default   # a quick look

The input is evaluation-set music (the mixtures of ``cache/corpus/evalset/<soundfont>``, concatenated,
resampled to ``--rate`` and made stereo) or, without the set, synthetic music; ``--input FILE`` uses your
file instead. Each run is the real command line in a fresh process (``python -m engine.cli process IN OUT
--class piano --quiet``): ``x real time`` = audio seconds / wall seconds, ``cpu`` = the child's user+system
CPU seconds, ``peak RSS`` = the child's maximum resident set (``wait4``). Memory is also measured on a file
a tenth as long: a flat-memory streamer has about the same peak on both. Output length = input length is
checked on every run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]


def _evalset_mixtures(soundfont: str) -> list[Path]:
    return sorted((ROOT / "cache" / "corpus" / "evalset" / soundfont).glob("*/mixture.flac"))


def make_input(path: Path, seconds: float, rate: int, soundfont: str) -> str:
    """Write ``seconds`` of stereo music at ``rate`` to ``path`` chunk by chunk; returns what it used."""
    import soxr

    from export.onnx_export import synthetic_music

    mixtures = _evalset_mixtures(soundfont)
    total = int(seconds * rate)
    written = 0
    with sf.SoundFile(path, "w", rate, 2, subtype="PCM_24") as out:
        i = 0
        while written < total:
            if mixtures:
                x, sr = sf.read(mixtures[i % len(mixtures)], dtype="float32", always_2d=True)
                x = x.mean(axis=1)
                if sr != rate:
                    x = soxr.resample(x, sr, rate).astype(np.float32)
            else:
                x = synthetic_music(rate, 20.0, seed=i)
            i += 1
            stereo = np.stack([x, np.roll(x, rate // 100) * 0.8], axis=1)[: total - written]
            out.write(stereo)
            written += stereo.shape[0]
    return f"{len(mixtures)} evaluation-set mixtures ({soundfont}), looped" if mixtures else "synthetic music"


def run_process(src: Path, dst: Path, settings: str, block: int) -> dict:
    cmd = [sys.executable, "-m", "engine.cli", "process", str(src), str(dst), "--class", "piano", "--quiet",
           "--overwrite", "--block", str(block)]
    if settings == "low_latency":
        cmd.append("--low-latency")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"eventsep process failed:\n{err}")
    frames_in, frames_out = sf.info(src).frames, sf.info(dst).frames
    if frames_in != frames_out:
        raise SystemExit(f"output has {frames_out} frames, input {frames_in}")
    audio_seconds = frames_in / sf.info(src).samplerate
    return {"settings": settings, "audio_s": audio_seconds, "wall_s": wall, "x_realtime": audio_seconds / wall,
            "cpu_s": usage.ru_utime + usage.ru_stime, "cpu_x_realtime": audio_seconds / (usage.ru_utime + usage.ru_stime),
            "peak_rss_mb": usage.ru_maxrss / 1024}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=300.0, help="length of the generated input (default: 300)")
    ap.add_argument("--rate", type=int, default=48000, help="sample rate of the generated input (default: 48000)")
    ap.add_argument("--input", default=None, help="use this file instead of generating one")
    ap.add_argument("--soundfont", default="fluidr3", help="evaluation set to draw music from (default: fluidr3)")
    ap.add_argument("--settings", default="default,low_latency", help="comma-separated: default, low_latency")
    ap.add_argument("--repeats", type=int, default=3, help="runs per setting (default: 3)")
    ap.add_argument("--block", type=int, default=65536, help="--block of eventsep process (default: 65536)")
    ap.add_argument("--no-memory-check", action="store_true", help="skip the run on a file a tenth as long")
    ap.add_argument("--json", default=None, help="also write the rows here")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.input:
            src, what = Path(args.input), args.input
        else:
            src = tmp / "long.wav"
            what = make_input(src, args.seconds, args.rate, args.soundfont)
        info = sf.info(src)
        print(f"input: {info.frames / info.samplerate:.1f} s, {info.samplerate} Hz, {info.channels} ch ({what})")
        rows = []
        for settings in args.settings.split(","):
            runs = [run_process(src, tmp / "out.wav", settings, args.block) for _ in range(args.repeats)]
            for r in runs:
                print(f"  {settings:12s} {r['x_realtime']:7.2f}x real time (wall {r['wall_s']:.1f} s), "
                      f"cpu {r['cpu_s']:.1f} s = {r['cpu_x_realtime']:.2f}x, peak RSS {r['peak_rss_mb']:.0f} MB")
            xs = [r["x_realtime"] for r in runs]
            row = {"settings": settings, "runs": runs, "x_realtime_median": statistics.median(xs),
                   "x_realtime_min": min(xs), "x_realtime_max": max(xs),
                   "peak_rss_mb_max": max(r["peak_rss_mb"] for r in runs)}
            if not args.no_memory_check:
                short = tmp / "short.wav"
                with sf.SoundFile(src) as f, sf.SoundFile(short, "w", f.samplerate, f.channels, subtype="PCM_24") as o:
                    o.write(f.read(max(f.frames // 10, f.samplerate)))
                r = run_process(short, tmp / "out_short.wav", settings, args.block)
                row["peak_rss_mb_tenth"] = r["peak_rss_mb"]
            rows.append(row)
        print("\n| setting | x real time (median, min-max) | peak RSS MB | peak RSS MB, file a tenth as long |")
        print("|---|---|---|---|")
        for row in rows:
            print(f"| {row['settings']} | {row['x_realtime_median']:.2f} ({row['x_realtime_min']:.2f}-"
                  f"{row['x_realtime_max']:.2f}) | {row['peak_rss_mb_max']:.0f} | "
                  f"{row.get('peak_rss_mb_tenth', float('nan')):.0f} |")
        if args.json:
            Path(args.json).write_text(json.dumps({"input": what, "rows": rows}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
