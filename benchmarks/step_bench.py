"""The separator's step graph alone, paced as the live runtime calls it: which bundle's step is cheaper per
call, for runs of 1 and 2 frames (issue 17: float weights against a 4-bit grid).

    .venv/bin/python benchmarks/step_bench.py engine/assets/default_onnx /tmp/q4_onnx [--frames 1,2]

Each bundle's step runs ``--calls`` times per round, sleeping one run's duration (11.6 ms per frame)
before each call as the audio thread does, then ``--calls`` times back to back; rounds alternate between
the bundles (``--rounds``), so the machine's drift hits them alike. Prints the median ms per call of each
round, paced and hot. Make a 4-bit bundle with ``eventsep quantize CKPT --out Q`` and ``eventsep export Q
--out Q_onnx``. ``/tmp/bench/QUIET`` pauses our training jobs while it runs.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

HOP_SECONDS = 256 / 22050


def median_ms(step, mag, z, state, calls: int, pause: float) -> tuple[float, list]:
    times = []
    for _ in range(calls):
        if pause:
            time.sleep(pause)
        start = time.perf_counter()
        _, state = step(mag, z, state)
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times)), state


def main() -> int:
    from engine.streaming.bundle import OnnxModels

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bundles", nargs="+", help="exported bundle folders with a step graph")
    ap.add_argument("--frames", default="1,2", help="frames per call, comma-separated (default: 1,2)")
    ap.add_argument("--calls", type=int, default=120, help="calls per round and bundle (default: 120)")
    ap.add_argument("--rounds", type=int, default=4, help="alternating rounds (default: 4)")
    args = ap.parse_args()
    quiet = Path("/tmp/bench/QUIET")
    quiet.parent.mkdir(parents=True, exist_ok=True)
    quiet.touch()
    try:
        models = {b: OnnxModels(b) for b in args.bundles}
        rng = np.random.default_rng(0)
        z = rng.standard_normal((1, next(iter(models.values())).info.latent_dim)).astype(np.float32)
        print("| bundle | frames per call | paced ms per call (one per round) | hot ms per call |")
        print("|---|---|---|---|")
        for frames in (int(f) for f in args.frames.split(",")):
            mag = (rng.exponential(1.0, (1, 513, frames)) ** 2).astype(np.float32)
            paced = {b: [] for b in models}
            hot = {b: [] for b in models}
            for _ in range(args.rounds):
                for b, m in models.items():
                    state = m.initial_state(1)
                    ms, state = median_ms(m.step, mag, z, state, args.calls, frames * HOP_SECONDS)
                    paced[b].append(ms)
                    hot[b].append(median_ms(m.step, mag, z, state, args.calls, 0.0)[0])
            for b in models:
                print(f"| {b} | {frames} | {' '.join(f'{x:.3f}' for x in paced[b])} | "
                      f"{' '.join(f'{x:.3f}' for x in hot[b])} |")
    finally:
        quiet.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
