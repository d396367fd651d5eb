"""Training mixtures for the generative separator, from a bank of rendered stems.

Rendering a corpus stem costs more CPU than a training step spends on it, so (as the detector does) stems
are kept in a class-balanced bank refreshed by a few renders per step. A mixture takes a target class (its
stem always sounds) and 1..max_classes-1 other classes gated by Bernoulli(p_active), each scaled by
U[gain_low, gain_high]. The condition is the class latent the text pipeline would pick: the target's
fine-label latent with probability ``p_fine`` (when the latents have one), else its coarse-class latent.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..stems import StemSource
from .config import FlowTrainConfig


@dataclass
class BankStem:
    audio: np.ndarray   # (samples,) float32 at the source rate
    fine: str


class FlowBank:
    def __init__(self, source: StemSource, cfg: FlowTrainConfig, rng: np.random.Generator):
        self.source, self.cfg, self.rng = source, cfg, rng
        self.classes = tuple(source.classes)
        self.stems: dict[str, list[BankStem]] = {c: [] for c in self.classes}
        n = int(round(cfg.stem_seconds * source.sample_rate))
        self.num_samples = n
        for _ in range(cfg.bank_initial):
            for c in self.classes:
                self.add(c)

    def add(self, coarse: str) -> None:
        stem = self.source.draw(coarse, self.num_samples, self.rng)
        pool = self.stems[coarse]
        item = BankStem(np.asarray(stem.audio, np.float32), stem.fine)
        if len(pool) < self.cfg.bank_per_class:
            pool.append(item)
        else:
            pool[int(self.rng.integers(len(pool)))] = item

    def refresh(self, count: int) -> None:
        for _ in range(count):
            self.add(self.classes[int(self.rng.integers(len(self.classes)))])


def _crop(audio: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    if len(audio) <= n:
        return np.pad(audio, (0, n - len(audio)))
    start = int(rng.integers(0, len(audio) - n + 1))
    return audio[start:start + n]


def draw_classes(classes, max_classes: int, rng: np.random.Generator) -> list[str]:
    """The target class first, then 1..max_classes-1 others, all distinct."""
    n = int(rng.integers(2, min(max_classes, len(classes)) + 1))
    return [classes[i] for i in rng.choice(len(classes), size=n, replace=False)]


def condition_latent(latents, coarse: str, fine: str, p_fine: float, rng: np.random.Generator) -> torch.Tensor:
    """The latent the text pipeline would pick: the fine label's with probability ``p_fine`` (when the
    latents have one), else the coarse class's."""
    use_fine = fine in latents["fine"] and rng.random() < p_fine
    return (latents["fine"][fine] if use_fine else latents["coarse"][coarse]).float()


def make_example(bank: FlowBank, num_samples: int, latents: dict[str, dict[str, torch.Tensor]],
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
    """One ``(mixture, target, z)``; mixture and target ``(num_samples,)``."""
    cfg = bank.cfg
    classes = bank.classes
    chosen = draw_classes(classes, cfg.max_classes, rng)
    target = np.zeros(num_samples, np.float32)
    mixture = np.zeros(num_samples, np.float32)
    fine = ""
    for k, coarse in enumerate(chosen):
        if k > 0 and rng.random() >= cfg.p_active:
            continue
        stem = bank.stems[coarse][int(rng.integers(len(bank.stems[coarse])))]
        audio = float(rng.uniform(cfg.gain_low, cfg.gain_high)) * _crop(stem.audio, num_samples, rng)
        mixture += audio
        if k == 0:
            target += audio
            fine = stem.fine
    return mixture, target, condition_latent(latents, chosen[0], fine, cfg.p_fine, rng)


def make_batch(bank: FlowBank, num_samples: int, batch_size: int, latents, rng: np.random.Generator
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(mixture (B, N), target (B, N), z (B, latent_dim))``."""
    ex = [make_example(bank, num_samples, latents, rng) for _ in range(batch_size)]
    return (torch.from_numpy(np.stack([e[0] for e in ex])), torch.from_numpy(np.stack([e[1] for e in ex])),
            torch.stack([e[2] for e in ex]))
