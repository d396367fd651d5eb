"""Class-mean latents (thesis §3.3): z_c = mean of mu(Q(segment)) over a source's segments of class c,
for coarse classes and fine labels."""
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
    """Means of mu over non-silent segments of ``source``; returns (latents, counts) keyed by
    ``"coarse"`` and ``"fine"``.

    per_class: that many random excerpts of each coarse class (fast, balanced, reproducible from
    ``seed``); None walks every segment of the source in order (:meth:`StemSource.segments`; slow on
    the full corpus: it renders the whole split).
    """
    model.eval()
    n = model.config.segment_samples
    sums: dict[str, dict[str, torch.Tensor]] = {"coarse": {}, "fine": {}}
    counts: dict[str, dict[str, int]] = {"coarse": {}, "fine": {}}
    pending: list[Stem] = []

    def flush() -> None:
        if not pending:
            return
        mu = model.encode(torch.from_numpy(np.stack([s.audio for s in pending])))
        for stem, z in zip(pending, mu):
            for level, key in (("coarse", stem.coarse), ("fine", stem.fine)):
                sums[level][key] = sums[level].get(key, 0) + z
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
    latents = {level: {k: v / counts[level][k] for k, v in sums[level].items()} for level in sums}
    return latents, counts


def compute_and_save(model: QuerySeparator, source: StemSource, checkpoint_dir: str | Path,
                     per_class: int | None = DEFAULT_PER_CLASS, seed: int = 0,
                     progress: bool = True) -> dict[str, dict[str, int]]:
    latents, counts = class_mean_latents(model, source, per_class, seed, progress=progress)
    save_latents(checkpoint_dir, latents, counts)
    return counts
