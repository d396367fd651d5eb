"""Engine speed on this machine: parameter counts, training steps/s, offline real-time factor.

    .venv/bin/python benchmarks/engine_speed.py [--model CKPT] [--seconds 60] [--train-steps 5]

Prints medians over repeats. Real-time factor = compute seconds / audio seconds (lower is faster);
the offline figure covers `eventsep separate` end to end on a stereo 44.1 kHz file (read, resample,
separate, resample back, write). Untrained weights are as fast as trained ones.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from engine.audio import save_audio
from engine.checkpoint import load_model, save_checkpoint
from engine.cli import main as cli_main
from engine.config import ModelConfig, TrainConfig
from engine.mixing import make_batch
from engine.models import QuerySeparator, count_parameters
from engine.stems import SyntheticStemSource
from engine.train import TrainingObjective


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="checkpoint folder (default: a fresh default-config model)")
    ap.add_argument("--seconds", type=float, default=60.0, help="length of the test file (default 60)")
    ap.add_argument("--train-steps", type=int, default=5, help="timed training steps (default 5)")
    ap.add_argument("--repeats", type=int, default=3, help="offline runs (default 3)")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.model:
            model, _ = load_model(args.model)
            ckpt = Path(args.model)
        else:
            torch.manual_seed(0)
            model = QuerySeparator(ModelConfig()).eval()
            ckpt = save_checkpoint(tmp / "ckpt", model, ["a"])
        print(f"Query-net parameters: {count_parameters(model.query_net):,}")
        print(f"Separator parameters: {count_parameters(model.separator):,}")

        cfg = TrainConfig(batch_size=5)
        train_model = QuerySeparator(model.config).train()
        objective = TrainingObjective(train_model, cfg)
        opt = torch.optim.Adam(train_model.parameters(), lr=cfg.lr, betas=cfg.betas)
        src = SyntheticStemSource()
        batch = make_batch(src, model.config.segment_samples, cfg.batch_size, np.random.default_rng(0), cfg)
        times = []
        for i in range(args.train_steps + 1):
            t0 = time.perf_counter()
            loss = objective(batch["mixture"], batch["target"])["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            if i:  # the first step warms up allocators
                times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(f"training: batch {cfg.batch_size} x {model.config.segment_seconds:.1f} s, median {med:.2f} s/step "
              f"= {1 / med:.3f} steps/s (model only, data excluded; {len(times)} steps)")

        rng = np.random.default_rng(0)
        n = int(args.seconds * 44100)
        audio = (0.1 * rng.standard_normal((2, n))).astype(np.float32)
        mix = save_audio(tmp / "mix.wav", audio, 44100)
        query = save_audio(tmp / "q.wav", audio[:1, :44100 * 3], 44100)
        rtfs = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            code = cli_main(["separate", str(mix), "-o", str(tmp / "out.wav"), "--model", str(ckpt),
                             "--query", str(query), "--overwrite", "--quiet"])
            assert code == 0
            rtfs.append((time.perf_counter() - t0) / args.seconds)
        print(f"offline separate, {args.seconds:.0f} s stereo 44.1 kHz: real-time factor median "
              f"{statistics.median(rtfs):.3f} (min {min(rtfs):.3f}, max {max(rtfs):.3f}, {len(rtfs)} runs)")


if __name__ == "__main__":
    main()
