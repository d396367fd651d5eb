"""Frame-level activity labels from note lists (10 ms frames, fractional edges handled exactly).

A label frame ``k`` covers ``[k * 0.010, (k + 1) * 0.010)`` seconds of the excerpt, i.e. samples
``[220.5 k, 220.5 (k + 1))`` at 22050 Hz: frame edges fall between samples, so we never round a note edge
to a sample or a frame. The activity of frame ``k`` is the *fraction* of the frame covered by the union of
the notes' sounding intervals (in [0, 1]); :func:`binarize` turns it into 0/1 (a frame is active when at
least half of it is covered, by default).

Drum hits carry an audible length in their note list (the procedural drummer writes e.g. 0.25 s for a
kick, 1.5 s for a crash), so drum stems get labels like any other part.
"""
from __future__ import annotations

import math

import numpy as np

from ..stems import LABEL_FRAME_SECONDS


def num_frames(duration_s: float, frame_s: float = LABEL_FRAME_SECONDS) -> int:
    """Frames needed to cover ``duration_s`` (the last one may be partial)."""
    return int(math.ceil(round(duration_s / frame_s, 9)))


def merge_intervals(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Union of ``[start, end)`` intervals as a sorted ``(M, 2)`` array of disjoint intervals."""
    starts = np.asarray(starts, dtype=np.float64)
    ends = np.asarray(ends, dtype=np.float64)
    keep = ends > starts
    starts, ends = starts[keep], ends[keep]
    if len(starts) == 0:
        return np.zeros((0, 2))
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], ends[order]
    run_end = np.maximum.accumulate(ends)
    new = np.ones(len(starts), dtype=bool)
    new[1:] = starts[1:] > run_end[:-1]
    group = np.cumsum(new) - 1
    m_start = starts[new]
    m_end = np.zeros(len(m_start))
    np.maximum.at(m_end, group, ends)
    return np.stack([m_start, m_end], axis=1)


def activity_from_intervals(starts: np.ndarray, ends: np.ndarray, duration_s: float,
                            frame_s: float = LABEL_FRAME_SECONDS) -> np.ndarray:
    """Fraction of each frame of ``[0, duration_s)`` covered by the union of ``[start, end)`` intervals.

    Exact for any frame size: the covered measure up to time t is piecewise linear in t, so it is
    interpolated at every frame edge and differenced. Intervals outside the excerpt are clipped.
    """
    n = num_frames(duration_s, frame_s)
    merged = merge_intervals(np.clip(starts, 0.0, duration_s), np.clip(ends, 0.0, duration_s))
    if len(merged) == 0 or n == 0:
        return np.zeros(n, dtype=np.float32)
    lengths = merged[:, 1] - merged[:, 0]
    before = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    xs = merged.reshape(-1)                                   # a0, b0, a1, b1, ...
    ys = np.stack([before, before + lengths], axis=1).reshape(-1)
    edges = np.minimum(np.arange(n + 1, dtype=np.float64) * frame_s, duration_s)
    covered = np.interp(edges, xs, ys, left=0.0, right=float(ys[-1]))
    widths = np.diff(edges)
    frac = np.diff(covered) / np.where(widths > 0, widths, 1.0)
    return np.clip(frac, 0.0, 1.0).astype(np.float32)


def activity_from_notes(notes: np.ndarray, start_s: float, duration_s: float,
                        frame_s: float = LABEL_FRAME_SECONDS) -> np.ndarray:
    """Activity of a note list (``(N, 4)``: onset, duration, pitch, velocity in seconds) over the
    excerpt ``[start_s, start_s + duration_s)``, as fractions per 10 ms frame."""
    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    on = notes[:, 0] - start_s
    return activity_from_intervals(on, on + notes[:, 1], duration_s, frame_s)


def binarize(activity: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """0/1 labels: a frame is active when at least ``threshold`` of it is covered."""
    return (np.asarray(activity) >= threshold).astype(np.float32)


def frame_to_sample_range(k: int, sample_rate: int, frame_s: float = LABEL_FRAME_SECONDS) -> tuple[int, int]:
    """Samples ``[a, b)`` that overlap frame ``k`` (a sample at a fractional edge belongs to both frames)."""
    a = int(math.floor(k * frame_s * sample_rate))
    b = int(math.ceil((k + 1) * frame_s * sample_rate))
    return a, b


def frame_mask(activity: np.ndarray, num_samples: int, sr: int, threshold: float = 0.5) -> np.ndarray:
    """Per-sample mask: sample i lies in label frame floor(i / (sr * 10 ms)), active if >= threshold."""
    if len(activity) == 0:
        return np.zeros(num_samples, dtype=bool)
    idx = np.minimum((np.arange(num_samples) / (sr * LABEL_FRAME_SECONDS)).astype(np.int64), len(activity) - 1)
    return np.asarray(activity)[idx] >= threshold
