"""Class-mean latents (thesis §3.3): z_c = mean of mu(Q(segment)) over a source's segments of class c,
for coarse classes and fine labels."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .checkpoint import save_latents
from .models import QuerySeparator
from .stems import Stem, StemSource

MIN_SEGMENT_RMS = 1e-3


@torch.no_grad()
def class_mean_latents(model: QuerySeparator, source: StemSource, max_segments_per_class: int | None = None,
                       batch_size: int = 16, progress: bool = True
                       ) -> tuple[dict[str, dict[str, torch.Tensor]], dict[str, dict[str, int]]]:
    """Means of mu over every non-silent segment of ``source``; returns (latents, counts) keyed by
    ``"coarse"`` and ``"fine"``."""
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

    bar = tqdm(desc="latents", unit="seg", disable=not progress)
    for stem in source.segments(n):
        if max_segments_per_class and counts["coarse"].get(stem.coarse, 0) + sum(
                s.coarse == stem.coarse for s in pending) >= max_segments_per_class:
            continue
        if float(np.sqrt(np.mean(stem.audio.astype(np.float64) ** 2))) < MIN_SEGMENT_RMS:
            continue
        pending.append(stem)
        if len(pending) >= batch_size:
            flush()
        bar.update(1)
    flush()
    bar.close()
    latents = {level: {k: v / counts[level][k] for k, v in sums[level].items()} for level in sums}
    return latents, counts


def compute_and_save(model: QuerySeparator, source: StemSource, checkpoint_dir: str | Path,
                     max_segments_per_class: int | None = None, progress: bool = True) -> dict[str, dict[str, int]]:
    latents, counts = class_mean_latents(model, source, max_segments_per_class, progress=progress)
    save_latents(checkpoint_dir, latents, counts)
    return counts
