"""Class-mean latents (thesis §3.3): z_c = mean of mu(Q(segment)) over a source's segments of class c,
for coarse classes and fine labels, **norm-matched**: rescaled to the mean norm of the latents averaged.

Why: a class whose clips spread over several timbres (strings: violin, cello, pizzicato, ensembles...)
has latents in several directions; their plain mean shrinks toward the origin (the strings mean of the
step-7000 model had norm 1.04 where its clips had 2.64), a point no clip of any class occupies, and the
Separator conditioned on it extracts little of the class. Restoring the norm keeps the mean's direction
and puts it where clips live: +1.6 dB class-mean SI-SDRi over the plain mean on a quick look at FluidR3
(24 items; docs/results.md reports both on the full sets). The plain mean is z / scale, with ``scale``
stored per entry in latents.json.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from tqdm import tqdm

from .checkpoint import save_latents
from .models import QuerySeparator
from .stems import Stem, StemSource

MIN_SEGMENT_RMS = 1e-3
DEFAULT_PER_CLASS = 256


def _sampled(source: StemSource, num_samples: int, per_class: int, seed: int) -> Iterator[Stem]:
    """``per_class`` random excerpts of every class, drawn as training draws them (seeded per class)."""
    for i, coarse in enumerate(source.classes):
        rng = np.random.default_rng([seed, i])
        for _ in range(per_class):
            yield source.draw(coarse, num_samples, rng)


@torch.no_grad()
def class_mean_latents(model: QuerySeparator, source: StemSource, per_class: int | None = DEFAULT_PER_CLASS,
                       seed: int = 0, batch_size: int = 16, progress: bool = True
                       ) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, dict[str, int]]]:
    """Norm-matched means of mu over non-silent segments of ``source``; returns (latents, counts,
    scales), each keyed by ``"coarse"`` and ``"fine"`` (``scale``: norm-matched / plain mean).

    per_class: that many random excerpts of each coarse class (fast, balanced, reproducible from
    ``seed``); None walks every segment of the source in order (:meth:`StemSource.segments`; slow on
    the full corpus: it renders the whole split).
    """
    model.eval()
    n = model.config.segment_samples
    sums: dict[str, dict[str, torch.Tensor]] = {"coarse": {}, "fine": {}}
    norm_sums: dict[str, dict[str, float]] = {"coarse": {}, "fine": {}}
    counts: dict[str, dict[str, int]] = {"coarse": {}, "fine": {}}
    pending: list[Stem] = []

    def flush() -> None:
        if not pending:
            return
        mu = model.encode(torch.from_numpy(np.stack([s.audio for s in pending])))
        for stem, z in zip(pending, mu):
            for level, key in (("coarse", stem.coarse), ("fine", stem.fine)):
                sums[level][key] = sums[level].get(key, 0) + z
                norm_sums[level][key] = norm_sums[level].get(key, 0.0) + float(z.norm())
                counts[level][key] = counts[level].get(key, 0) + 1
        pending.clear()

    stems = source.segments(n) if per_class is None else _sampled(source, n, per_class, seed)
    total = None if per_class is None else per_class * len(source.classes)
    for stem in tqdm(stems, desc="latents", unit="seg", total=total, disable=not progress):
        if float(np.sqrt(np.mean(stem.audio.astype(np.float64) ** 2))) < MIN_SEGMENT_RMS:
            continue
        pending.append(stem)
        if len(pending) >= batch_size:
            flush()
    flush()
    latents: dict[str, dict[str, torch.Tensor]] = {"coarse": {}, "fine": {}}
    scales: dict[str, dict[str, float]] = {"coarse": {}, "fine": {}}
    for level in sums:
        for k, total in sums[level].items():
            mean = total / counts[level][k]
            scale = (norm_sums[level][k] / counts[level][k]) / max(float(mean.norm()), 1e-8)
            latents[level][k], scales[level][k] = mean * scale, scale
    return latents, counts, scales


def compute_and_save(model: QuerySeparator, source: StemSource, checkpoint_dir: str | Path,
                     per_class: int | None = DEFAULT_PER_CLASS, seed: int = 0,
                     progress: bool = True) -> dict[str, dict[str, int]]:
    latents, counts, scales = class_mean_latents(model, source, per_class, seed, progress=progress)
    save_latents(checkpoint_dir, latents, counts, scales)
    return counts
