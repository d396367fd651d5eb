"""Per-class decision thresholds from the corpus' *valid* split (never from the evaluation sets).

    python -m engine.detection.calibrate DETECTOR_DIR [--items 96]

Renders ``items`` fixed validation mixtures (as training validates), and for each class picks the threshold
in 0.05..0.95 that maximises frame-level F1 there; writes ``thresholds`` into the detector's JSON. A class
with no positive frame keeps 0.5. `eventsep detect` and the benchmark use them unless a threshold is given.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from .checkpoint import CONFIG, load_detector
from .config import DetectorTrainConfig
from .metrics import frame_f1

GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def best_thresholds(probs: np.ndarray, refs: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """``(K,)`` thresholds maximising per-class frame F1 of ``probs``/``refs`` ``(frames, K)``."""
    scores = np.stack([frame_f1(probs, refs, t) for t in grid])            # (grid, K)
    scores = np.nan_to_num(scores, nan=-1.0)
    out = grid[np.argmax(scores, axis=0)].astype(float)
    out[refs.sum(0) == 0] = 0.5
    return out


def calibrate(directory: str | Path, items: int = 96, seed: int = 0) -> dict[str, float]:
    from ..corpus.source import CorpusStemSource
    from .train import validation_set

    model, meta = load_detector(directory)
    src = CorpusStemSource("valid", classes=list(model.classes))
    audio, labels = validation_set(src, model.classes, DetectorTrainConfig(valid_items=items, seed=seed),
                                   model.config.front)
    with torch.no_grad():
        probs = torch.cat([torch.sigmoid(model(audio[i:i + 16])) for i in range(0, len(audio), 16)])
    p = probs.reshape(-1, probs.shape[-1]).numpy()
    r = labels.reshape(-1, labels.shape[-1]).numpy()
    th = best_thresholds(p, r)
    thresholds = {c: float(t) for c, t in zip(model.classes, th)}
    meta["thresholds"] = thresholds
    meta["thresholds_from"] = f"corpus valid split, {items} mixtures of 3 s, seed {seed}"
    (Path(directory) / CONFIG).write_text(json.dumps(meta, indent=1))
    return thresholds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Per-class thresholds from the valid split.")
    ap.add_argument("detector")
    ap.add_argument("--items", type=int, default=96)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    print(json.dumps(calibrate(a.detector, a.items), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
