"""Detector metrics on the fixed evaluation sets (``cache/corpus/evalset/<soundfont>``).

Each item is 2-4 parts of one test piece; every part is a stem with exact 10 ms labels. The reference for
class c in an item is the union (binarised at 0.5) of the activity of its stems of class c; classes with no
stem in the item are all-zero. Frames of all items are pooled per class (micro average), then:
frame-level F1 at the threshold, segment-based F1 over 1 s segments (sed_eval style), and average
precision (AP, threshold-free). Averages are over the 8 core classes (the evaluation sets target them).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..corpus.evalset import load_evalset
from ..taxonomy import CORE_CLASSES
from .infer import detect
from .metrics import frame_f1, per_class_ap, segment_f1


def item_references(item, classes: tuple[str, ...], frames: int) -> np.ndarray:
    """``(frames, K)`` 0/1 references of one evaluation item."""
    ref = np.zeros((frames, len(classes)), np.float32)
    stems = [(item.target_class, item.target_activity)] + list(zip(item.others_classes, item.others_activity))
    for coarse, act in stems:
        if coarse not in classes:
            continue
        a = (np.asarray(act)[:frames] >= 0.5).astype(np.float32)
        k = classes.index(coarse)
        ref[:len(a), k] = np.maximum(ref[:len(a), k], a)
    return ref


@dataclass
class SetReport:
    name: str
    items: int
    audio_seconds: float
    compute_seconds: float
    classes: list[str]
    frame_f1: dict[str, float]
    segment_f1: dict[str, float]
    ap: dict[str, float]
    threshold: float = 0.5
    extra: dict = field(default_factory=dict)

    def core_mean(self, table: dict[str, float]) -> float:
        return float(np.nanmean([table[c] for c in CORE_CLASSES if c in table]))

    def summary(self) -> dict:
        return {"set": self.name, "items": self.items, "frame_f1_core": self.core_mean(self.frame_f1),
                "segment_f1_core": self.core_mean(self.segment_f1), "map_core": self.core_mean(self.ap),
                "rtf": self.compute_seconds / self.audio_seconds}


def collect(model, root, limit: int | None = None, detect_fn=None):
    """Run ``model`` over an evaluation set: ``(probs (F, K), refs (F, K), frames per item, audio s, CPU s)``.
    CPU seconds are the process time spent in detection (resampling included, file reading excluded).
    ``detect_fn(audio, rate) -> Detection`` replaces ``detect(model, ...)`` (same classes)."""
    ev = load_evalset(root)
    classes = tuple(model.classes)
    probs, refs, lengths = [], [], []
    audio_s = cpu_s = 0.0
    n = len(ev) if limit is None else min(limit, len(ev))
    for i in range(n):
        item = ev[i]
        t0 = time.process_time()
        det = (detect_fn or (lambda a, r: detect(model, a, r)))(item.mixture, item.sample_rate)
        cpu_s += time.process_time() - t0
        audio_s += len(item.mixture) / item.sample_rate
        probs.append(det.probs)
        refs.append(item_references(item, classes, len(det.probs)))
        lengths.append(len(det.probs))
    return np.concatenate(probs), np.concatenate(refs), lengths, audio_s, cpu_s


def score(name: str, classes, probs, refs, lengths, audio_s: float, cpu_s: float,
          threshold: float | np.ndarray = 0.5, frame_seconds: float = 0.01) -> SetReport:
    """Frame F1, 1 s segment F1 and AP per class from collected probabilities."""
    seg_frames = int(round(1.0 / frame_seconds))
    f1 = frame_f1(probs, refs, threshold)
    sf1 = segment_f1(probs, refs, seg_frames, lengths, threshold)
    ap = per_class_ap(probs, refs)
    return SetReport(name, len(lengths), audio_s, cpu_s, list(classes),
                     {c: float(v) for c, v in zip(classes, f1)}, {c: float(v) for c, v in zip(classes, sf1)},
                     {c: float(v) for c, v in zip(classes, ap)}, float(threshold) if np.isscalar(threshold) else -1.0)


def evaluate_set(model, root, name: str = "", threshold: float | np.ndarray = 0.5, limit: int | None = None
                 ) -> SetReport:
    """Score ``model`` on the evaluation set at ``root`` (see the module docstring)."""
    probs, refs, lengths, audio_s, cpu_s = collect(model, root, limit)
    return score(name or str(root), model.classes, probs, refs, lengths, audio_s, cpu_s, threshold,
                 model.config.front.hop / model.config.front.sample_rate)
