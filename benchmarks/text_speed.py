"""Wall-clock time of `eventsep text` on a 10 s file, start to finish, as a user runs it.

    .venv/bin/python benchmarks/text_speed.py [--seconds 10] [--repeats 3] [--steps N] [--ensemble MODE]

Each repeat is a fresh process (`eventsep text MIX PROMPT -o OUT`): Python start-up, model loading (the
sentence encoder included), reading, the whole pipeline and writing are all counted. The input is a stereo
44.1 kHz excerpt of evaluation-set music (a synthetic one when the evaluation set is not built). Prints
every run, the median and the per-stage times the command reports; the bar is under 10 s on the
2-core machine with default settings.
"""
from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def test_input(seconds: float, rate: int = 44100) -> np.ndarray:
    from engine.audio import resample

    root = ROOT / "cache" / "corpus" / "evalset" / "fluidr3"
    if (root / "manifest.json").exists():
        from engine.corpus.evalset import load_evalset

        ds = load_evalset(root)
        parts = [ds[i].mixture for i in range(int(np.ceil(seconds / 6)) + 1)]
        mono = np.concatenate(parts)[: int(seconds * ds.sample_rate)]
        audio = resample(np.stack([mono, 0.8 * mono]), ds.sample_rate, rate)
    else:
        from export.onnx_export import synthetic_music

        audio = resample(np.stack([synthetic_music(22050, seconds)] * 2), 22050, rate)
    return audio[:, : int(seconds * rate)].astype(np.float32)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--prompt", default="only the piano")
    p.add_argument("--steps", type=int, default=None, help="Euler steps (default: the command's default)")
    p.add_argument("--ensemble", default=None, help="ensemble (default: the command's default)")
    a = p.parse_args(argv)
    from engine.audio import save_audio

    with tempfile.TemporaryDirectory() as tmp:
        mix = Path(tmp) / "mix.wav"
        save_audio(mix, test_input(a.seconds), 44100)
        cmd = [str(ROOT / ".venv" / "bin" / "eventsep"), "text", str(mix), a.prompt, "-o", str(Path(tmp) / "out.wav"),
               "--overwrite", "--quiet"]
        if a.steps is not None:
            cmd += ["--steps", str(a.steps)]
        if a.ensemble is not None:
            cmd += ["--ensemble", a.ensemble]
        print("command:", " ".join(cmd[1:]))
        walls = []
        for i in range(a.repeats):
            t = time.perf_counter()
            run = subprocess.run(cmd, capture_output=True, text=True)
            walls.append(time.perf_counter() - t)
            if run.returncode:
                print(run.stderr, file=sys.stderr)
                return run.returncode
            stages = re.search(r"\[(.*)\]", run.stdout.splitlines()[-1])
            print(f"run {i + 1}: {walls[-1]:.1f} s wall  ({stages.group(1) if stages else ''})")
    print(f"median {statistics.median(walls):.1f} s for {a.seconds:.0f} s of stereo 44.1 kHz audio "
          f"(bar: under 10 s); min {min(walls):.1f}, max {max(walls):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
