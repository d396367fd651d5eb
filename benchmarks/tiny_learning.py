"""Does the training loop learn? The tiny model on synthetic tones vs noise bursts.

    .venv/bin/python benchmarks/tiny_learning.py [--steps 300] [--out runs/tiny-synthetic]

Trains (or resumes) the tiny registered model, then separates 6 held-out mixtures (tones + noise) per
class, querying once with the ground-truth stem (GQ) and once with a different clip of the same class
(RQ), and prints the SI-SDR improvement of each and their means.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from engine.config import TrainConfig, tiny_model_config
from engine.metrics import si_sdr
from engine.separate import apply_model, encode_clip
from engine.stems import SyntheticStemSource
from engine.train import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300, help="training steps (default 300)")
    ap.add_argument("--out", default="runs/tiny-synthetic", help="run folder (default runs/tiny-synthetic)")
    ap.add_argument("--mixtures", type=int, default=6, help="held-out mixtures per class (default 6)")
    args = ap.parse_args()

    src = SyntheticStemSource()
    cfg = TrainConfig(steps=args.steps, batch_size=8, lr=3e-3, p_active=1.0, max_classes=2,
                      validate_every=10**9, checkpoint_every=100, log_every=10)
    t0 = time.time()
    model = train(args.out, src, None, tiny_model_config(segment_seconds=0.5), cfg, device="cpu").model.eval()
    print(f"trained {args.steps} steps in {time.time() - t0:.0f} s")

    rng = np.random.default_rng(99)
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.mixtures):
        tones, noise = src.draw("tones", 44100, rng).audio, src.draw("noise", 44100, rng).audio
        mixture = tones + noise
        for name, target in (("tones", tones), ("noise", noise)):
            for kind, query in (("GQ", target), ("RQ", src.draw(name, 44100, rng).audio)):
                z = encode_clip(model, torch.from_numpy(query)[None])
                est = apply_model(model, torch.from_numpy(mixture)[None], z)[0].numpy()
                results.setdefault((name, kind), []).append(si_sdr(target, est) - si_sdr(target, mixture))
    for (name, kind), values in results.items():
        print(f"{name:>5} {kind}: SI-SDRi mean {np.mean(values):5.1f} dB  ({', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
