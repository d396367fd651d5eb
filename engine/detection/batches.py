"""Training mixtures for the detector, with exact frame labels.

Rendering a stem costs ~15 ms of CPU, about as much as a training step spends on it, so stems are kept
in a class-balanced *bank* (``bank_per_class`` stems per class, ``stem_seconds`` long, resampled to the
detector rate) that is refreshed by ``renders_per_step`` fresh renders every step. A mixture then takes
1..max_classes distinct classes, a random stem of each from the bank, a random crop on the 10 ms grid,
gates each class with alpha ~ Bernoulli(p_active) and scales it by beta ~ U[gain_low, gain_high] as
``engine.mixing`` does (random mixing across pieces), and changes the overall level. The label of a
class is 1 in a frame where any of its sounding stems is active there (``labels.binarize`` of the
exact activity fractions).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr
import torch

from ..stems import LABEL_FRAME_SECONDS, StemSource
from .config import DetectorTrainConfig


@dataclass
class BankStem:
    audio: np.ndarray      # (samples,) float32 at the detector rate
    active: np.ndarray     # (frames,) float32 0/1, 10 ms frames


def render_stem(source: StemSource, coarse: str, seconds: float, rate: int, rng: np.random.Generator) -> BankStem:
    """One stem of ``coarse`` from ``source``, resampled to ``rate``, with 0/1 labels per 10 ms frame."""
    n_src = int(round(seconds * source.sample_rate))
    stem = source.draw(coarse, n_src, rng)
    audio = stem.audio if source.sample_rate == rate else soxr.resample(stem.audio, source.sample_rate, rate)
    frames = int(round(seconds / LABEL_FRAME_SECONDS))
    n = frames * int(round(rate * LABEL_FRAME_SECONDS))
    audio = np.asarray(audio[:n], dtype=np.float32)
    if len(audio) < n:
        audio = np.pad(audio, (0, n - len(audio)))
    act = np.zeros(frames, np.float32)
    if stem.activity is not None:
        a = np.asarray(stem.activity, np.float32)[:frames]
        act[:len(a)] = (a >= 0.5).astype(np.float32)
    return BankStem(audio, act)


class StemBank:
    """Class-balanced store of rendered stems (see the module docstring)."""

    def __init__(self, source: StemSource, classes: tuple[str, ...], cfg: DetectorTrainConfig, rate: int,
                 rng: np.random.Generator):
        self.source, self.classes, self.cfg, self.rate = source, tuple(classes), cfg, rate
        self.rng = rng
        self.stems: dict[str, list[BankStem]] = {c: [] for c in self.classes}
        for _ in range(cfg.bank_initial):
            for c in self.classes:
                self.add(c)

    def add(self, coarse: str) -> None:
        stem = render_stem(self.source, coarse, self.cfg.stem_seconds, self.rate, self.rng)
        pool = self.stems[coarse]
        if len(pool) < self.cfg.bank_per_class:
            pool.append(stem)
        else:
            pool[int(self.rng.integers(len(pool)))] = stem

    def refresh(self, count: int) -> None:
        for _ in range(count):
            self.add(self.classes[int(self.rng.integers(len(self.classes)))])

    def __len__(self) -> int:
        return sum(len(v) for v in self.stems.values())


def make_example(stems: dict[str, list[BankStem]], classes: tuple[str, ...], clip_frames: int, hop: int,
                 cfg: DetectorTrainConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One mixture ``(clip_frames * hop,)`` and its labels ``(clip_frames, len(classes))``."""
    n = int(rng.integers(1, min(cfg.max_classes, len(classes)) + 1))
    chosen = rng.choice(len(classes), size=n, replace=False)
    mix = np.zeros(clip_frames * hop, np.float32)
    labels = np.zeros((clip_frames, len(classes)), np.float32)
    for k in chosen:
        pool = stems[classes[k]]
        if not pool or rng.random() >= cfg.p_active:
            continue
        stem = pool[int(rng.integers(len(pool)))]
        total = len(stem.active)
        start = int(rng.integers(0, max(1, total - clip_frames + 1)))
        act = stem.active[start:start + clip_frames]
        audio = stem.audio[start * hop:(start + clip_frames) * hop]
        beta = float(rng.uniform(cfg.gain_low, cfg.gain_high))
        mix[:len(audio)] += beta * audio
        labels[:len(act), k] = np.maximum(labels[:len(act), k], act)
    mix *= float(10 ** (rng.uniform(*cfg.level_db) / 20))
    peak = float(np.abs(mix).max())
    if peak > 0.99:                       # keep the mixture in range as a file would be
        mix *= 0.99 / peak
    return mix, labels


def make_batch(bank: StemBank, clip_frames: int, hop: int, batch_size: int, rng: np.random.Generator
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(audio (B, clip_frames * hop), labels (B, clip_frames, K))``."""
    pairs = [make_example(bank.stems, bank.classes, clip_frames, hop, bank.cfg, rng) for _ in range(batch_size)]
    return (torch.from_numpy(np.stack([p[0] for p in pairs])), torch.from_numpy(np.stack([p[1] for p in pairs])))
