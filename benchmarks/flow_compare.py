"""Generative separators against the separator they refine, on the flow run's fixed validation mixtures.

    .venv/bin/python benchmarks/flow_compare.py [FLOW_DIR ...] [--model engine/assets/default_model]

The 48 valid-split mixtures that ``python -m engine.flow.train`` validates on (same seed, so the same
mixtures; the ones with a silent target or nothing else are skipped), conditioned on the separator's class
latents, with that separator's mask as the flow's prior. Prints the separator alone and every flow model
(the shipped one first) at 1 and 4 Euler steps, SI-SDRi in dB. What a refit is judged on: a flow fitted to
another separator refines masks it never saw.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.checkpoint import load_latents, load_model  # noqa: E402
from engine.corpus.source import CorpusStemSource  # noqa: E402
from engine.flow.checkpoint import load_flow  # noqa: E402
from engine.flow.config import FlowTrainConfig  # noqa: E402
from engine.flow.data import FlowBank, make_batch  # noqa: E402
from engine.flow.train import validate  # noqa: E402
from engine.metrics import si_sdr  # noqa: E402
from engine.shipped import DEFAULT_MODEL_DIR  # noqa: E402
from engine.spectral import Stft  # noqa: E402


def separator_alone(unet, valid, stft: Stft) -> tuple[float, int]:
    mixture, target, z = valid
    with torch.no_grad():
        spec = stft(mixture)
        est = stft.inverse(spec * unet.separator(spec.abs(), z), mixture.shape[-1]).numpy()
    gains = [si_sdr(t, e) - si_sdr(t, m) for e, m, t in zip(est, mixture.numpy(), target.numpy())
             if np.sqrt(np.mean(t ** 2)) > 1e-3 and np.sqrt(np.mean((m - t) ** 2)) > 1e-3]
    return float(np.mean(gains)), len(gains)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("flows", nargs="*", help="flow-model folders to compare with the shipped one")
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="the separator (default: the shipped one)")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    cfg = FlowTrainConfig()
    unet, _ = load_model(a.model)
    unet.eval()
    shipped, _ = load_flow(None)
    bank = FlowBank(CorpusStemSource("valid"), cfg, np.random.default_rng([cfg.seed, 777]))
    valid = make_batch(bank, shipped.config.segment_samples, cfg.valid_items, load_latents(a.model),
                       np.random.default_rng([cfg.seed, 778]))
    alone, n = separator_alone(unet, valid, Stft(shipped.config.stft))
    print(f"| model | 1 step | 4 steps |   ({n} mixtures, SI-SDRi dB)\n|---|---|---|\n| separator alone | {alone:.2f} | |")
    for name in [None] + a.flows:
        model = shipped if name is None else load_flow(name)[0]
        r = [validate(model, valid, steps, prior_mask=unet.separator) for steps in (1, 4)]
        print(f"| {name or 'shipped flow'} | {r[0]:.2f} | {r[1]:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
