"""The VST3 (build/EventSep.vst3, ``make plugin``) beside the Python effect, both driven by pedalboard's
calling convention: real-time factor, per-block times and latency at one rate, stereo, one block size.

    .venv/bin/python benchmarks/plugin_bench.py [--rate 48000 --block 128 --seconds 60] [--json out.json]

Each path streams ``--seconds`` of evaluation-set-like music (the bundled example mixture, looped, made
stereo at the rate) one block per call with ``reset=False``, as a host's audio thread calls a plugin: the
VST3 through ``pedalboard.load_plugin(...).process``, ``SeparatorEffect.process`` for the Python effect
(its ONNX runtime, default setting). Both are queried with the class name ``--query``. ``rtf`` = the sum
of the calls' wall times / audio seconds; p50/p99/max are per-call wall times; ``missed`` counts calls that
took longer than the block lasts. Back to back, not paced: the machine's noise shows in p99/max, so run
it with training paused. At the end both separate the first 10 s in one latency-compensated call and the
largest difference is printed (the tests hold it under 1e-4).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from plugin_host.vst3_build import VST3_BUNDLE as PLUGIN, vst3_missing  # noqa: E402


def music(rate: int, seconds: float) -> np.ndarray:
    from engine.audio import load_audio

    audio, _ = load_audio(REPO / "engine" / "assets" / "example" / "mixture.flac", rate, mono=False)
    audio = np.repeat(audio, 2, axis=0) if audio.shape[0] == 1 else audio[:2]
    n = int(seconds * rate)
    return np.ascontiguousarray(np.tile(audio, (1, n // audio.shape[1] + 1))[:, :n], np.float32)


def stream(process, audio: np.ndarray, block: int) -> np.ndarray:
    """Calls ``process(block_audio, first)`` block by block; returns the per-call wall times."""
    times = []
    for i, start in enumerate(range(0, audio.shape[1] - block + 1, block)):
        x = audio[:, start:start + block]
        t0 = time.perf_counter()
        process(x, i == 0)
        times.append(time.perf_counter() - t0)
    return np.array(times)


def row(name: str, times: np.ndarray, block: int, rate: int, latency: int) -> dict:
    audio_s = len(times) * block / rate
    return {"path": name, "sample_rate": rate, "channels": 2, "block": block, "rtf": float(times.sum() / audio_s),
            "p50_ms": float(np.median(times) * 1e3), "p99_ms": float(np.percentile(times, 99) * 1e3),
            "max_ms": float(times.max() * 1e3), "missed": int((times > block / rate).sum()),
            "calls": len(times), "latency_samples": latency, "latency_ms": 1000.0 * latency / rate}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=int, default=48000, help="sample rate (default 48000)")
    p.add_argument("--block", type=int, default=128, help="samples per call (default 128)")
    p.add_argument("--seconds", type=float, default=60.0, help="audio per path (default 60)")
    p.add_argument("--query", default="piano", help="class name to separate (default piano)")
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()
    missing = vst3_missing()
    if missing:
        sys.exit(f"error: {missing}")

    import pedalboard

    from engine.streaming import StreamSettings
    from plugin_host import SeparatorEffect

    audio = music(args.rate, args.seconds)
    os.environ["EVENTSEP_OSC_PORT"] = "0"
    vst3 = pedalboard.load_plugin(str(PLUGIN))
    vst3.class_a = args.query
    # the VST3's computation in Python: a step every frame, inline (the Python default runs two frames per
    # call on a worker thread: the same samples, 23.2 ms later)
    effect = SeparatorEffect(query_a=args.query, settings=StreamSettings.every_frame())
    vst3_times = stream(lambda x, first: vst3.process(x, args.rate, buffer_size=args.block, reset=first),
                        audio, args.block)

    def effect_call(x: np.ndarray, first: bool) -> np.ndarray:
        if first:                         # a fresh stream, as the VST3's first call (reset=True) starts one
            effect.prepare(args.rate, 2)
            effect.reset()
        return effect.process(x, args.rate, buffer_size=args.block, reset=False)

    py_times = stream(effect_call, audio, args.block)
    rows = [row("vst3 (pedalboard)", vst3_times, args.block, args.rate, vst3.reported_latency_samples),
            row("SeparatorEffect (python, onnx)", py_times, args.block, args.rate, effect.latency_samples)]
    # the same result: both over the first 10 s in one latency-compensated call (reset=True)
    check = audio[:, :10 * args.rate]
    diff = float(np.abs(vst3.process(check, args.rate, buffer_size=args.block, reset=True)
                        - effect.process(check, args.rate, buffer_size=args.block, reset=True)).max())
    print(f"{'path':<32} {'rtf':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'missed':>7} {'latency':>9}")
    for r in rows:
        print(f"{r['path']:<32} {r['rtf']:>7.4f} {r['p50_ms']:>8.3f} {r['p99_ms']:>8.3f} {r['max_ms']:>8.3f} "
              f"{r['missed']:>7d} {r['latency_ms']:>6.1f} ms")
    print(f"ratio python / vst3 real-time factor: {rows[1]['rtf'] / rows[0]['rtf']:.2f}x; "
          f"max |vst3 - python| over 10 s: {diff:.2g}")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "max_abs_diff": diff}, indent=1))


if __name__ == "__main__":
    main()
