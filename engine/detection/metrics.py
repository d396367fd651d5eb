"""Detection metrics over frame-level probabilities and 0/1 references.

All functions take ``probs`` and ``refs`` as ``(frames, classes)`` arrays where the frames of many
clips are concatenated (micro-averaging over clips, as sed_eval does).
"""
from __future__ import annotations

import numpy as np


def f1_from_counts(tp: float, fp: float, fn: float) -> float:
    denom = 2 * tp + fp + fn
    return float(2 * tp / denom) if denom > 0 else float("nan")


def frame_f1(probs: np.ndarray, refs: np.ndarray, threshold: float | np.ndarray = 0.5) -> np.ndarray:
    """Per-class frame-level F1 ``(classes,)``; NaN for a class with no reference and no detection."""
    pred = probs >= threshold
    ref = refs >= 0.5
    tp = (pred & ref).sum(0)
    fp = (pred & ~ref).sum(0)
    fn = (~pred & ref).sum(0)
    return np.array([f1_from_counts(*c) for c in zip(tp, fp, fn)])


def segment_f1(probs: np.ndarray, refs: np.ndarray, frames_per_segment: int, clip_frames: list[int],
               threshold: float | np.ndarray = 0.5) -> np.ndarray:
    """Per-class segment-based F1 (sed_eval style): each clip is cut into segments of
    ``frames_per_segment`` frames; a class is active in a segment when any frame of it is."""
    pred_all, ref_all, start = [], [], 0
    for n in clip_frames:
        p = probs[start:start + n] >= threshold
        r = refs[start:start + n] >= 0.5
        start += n
        for s in range(0, n, frames_per_segment):
            pred_all.append(p[s:s + frames_per_segment].any(0))
            ref_all.append(r[s:s + frames_per_segment].any(0))
    pred, ref = np.array(pred_all), np.array(ref_all)
    tp = (pred & ref).sum(0)
    fp = (pred & ~ref).sum(0)
    fn = (~pred & ref).sum(0)
    return np.array([f1_from_counts(*c) for c in zip(tp, fp, fn)])


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the precision-recall curve as the mean precision at each positive (sklearn's AP)."""
    labels = labels >= 0.5
    npos = int(labels.sum())
    if npos == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    s, y = scores[order], labels[order]
    tp = np.cumsum(y)
    fp = np.cumsum(~y)
    # only the last index of each run of tied scores is a threshold
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    precision = tp[last] / (tp[last] + fp[last])
    recall = tp[last] / npos
    recall_prev = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - recall_prev) * precision))


def per_class_ap(probs: np.ndarray, refs: np.ndarray) -> np.ndarray:
    return np.array([average_precision(probs[:, k], refs[:, k]) for k in range(probs.shape[1])])
