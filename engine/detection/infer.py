"""Any audio -> per-frame class probabilities, and active time spans.

Audio of any rate and channel count is mixed to mono and resampled (soxr) to the detector's rate, then run
in chunks of ``chunk_seconds`` with ``context_seconds`` of context on each side (memory stays flat and the
GRU sees enough context; chunk edges fall on the frame grid, so frames line up exactly).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ..audio import resample
from .model import FrameDetector

FRAME_SECONDS = 0.01


@dataclass
class Detection:
    """probs: ``(frames, classes)`` in [0, 1], one frame per ``frame_seconds``."""

    probs: np.ndarray
    classes: tuple[str, ...]
    frame_seconds: float
    duration: float

    def curve(self, coarse: str) -> np.ndarray:
        return self.probs[:, self.classes.index(coarse)]

    def spans(self, coarse: str, threshold: float = 0.5, min_seconds: float = 0.1,
              gap_seconds: float = 0.15) -> list[tuple[float, float]]:
        return active_spans(self.curve(coarse), threshold, self.frame_seconds, min_seconds, gap_seconds,
                            self.duration)


def active_spans(prob: np.ndarray, threshold: float, frame_seconds: float = FRAME_SECONDS,
                 min_seconds: float = 0.1, gap_seconds: float = 0.15, duration: float | None = None
                 ) -> list[tuple[float, float]]:
    """``[(start_s, end_s), ...]`` where ``prob >= threshold``; gaps shorter than ``gap_seconds`` are
    bridged, then spans shorter than ``min_seconds`` dropped (a listing, not a mask)."""
    on = np.asarray(prob) >= threshold
    edges = np.diff(np.r_[0, on.astype(np.int8), 0])
    starts, ends = np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0]
    spans: list[list[int]] = []
    for s, e in zip(starts, ends):
        if spans and (s - spans[-1][1]) * frame_seconds < gap_seconds:
            spans[-1][1] = e
        else:
            spans.append([s, e])
    end_cap = duration if duration is not None else len(on) * frame_seconds
    return [(s * frame_seconds, min(e * frame_seconds, end_cap)) for s, e in spans
            if (e - s) * frame_seconds >= min_seconds]


def to_mono_rate(audio: np.ndarray, rate: int, target_rate: int) -> np.ndarray:
    """``(channels, samples)`` or ``(samples,)`` at ``rate`` -> mono ``(samples',)`` at ``target_rate``."""
    audio = np.asarray(audio, np.float32)
    mono = audio.mean(axis=0) if audio.ndim == 2 else audio
    return resample(mono[None], rate, target_rate)[0] if rate != target_rate else mono


def run_chunked(fn: Callable[[np.ndarray], np.ndarray], audio: np.ndarray, hop: int, rate: int,
                chunk_seconds: float = 30.0, context_seconds: float = 2.0) -> np.ndarray:
    """Apply ``fn`` (``(1, N) -> (1, ceil(N / hop), K)``) to mono ``audio`` ``(N,)`` in chunks (or ``fn``:
    ``(1, C, N) -> ...`` to ``(C, N)`` audio, chunked alike); ``(frames, K)``."""
    frames = -(-audio.shape[-1] // hop)
    chunk = max(1, int(chunk_seconds * rate) // hop)
    ctx = int(context_seconds * rate) // hop
    out = []
    for f0 in range(0, frames, chunk):
        f1 = min(frames, f0 + chunk)
        a0, a1 = max(0, f0 - ctx), min(frames, f1 + ctx)
        seg = audio[..., a0 * hop:a1 * hop]
        if seg.shape[-1] < (a1 - a0) * hop:
            seg = np.pad(seg, [(0, 0)] * (seg.ndim - 1) + [(0, (a1 - a0) * hop - seg.shape[-1])])
        res = fn(seg[None].astype(np.float32))[0]
        out.append(res[f0 - a0:f0 - a0 + (f1 - f0)])
    return np.concatenate(out, axis=0)


def torch_fn(model: FrameDetector) -> Callable[[np.ndarray], np.ndarray]:
    model.eval()

    def fn(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.sigmoid(model(torch.from_numpy(x))).numpy()
    return fn


def detect(model: FrameDetector, audio: np.ndarray, rate: int, chunk_seconds: float = 30.0) -> Detection:
    """Probabilities for ``audio`` (``(channels, samples)`` or ``(samples,)`` at ``rate``)."""
    front = model.config.front
    mono = to_mono_rate(audio, rate, front.sample_rate)
    probs = run_chunked(torch_fn(model), mono, front.hop, front.sample_rate, chunk_seconds)
    n = audio.shape[-1]
    return Detection(probs, tuple(model.classes), front.hop / front.sample_rate, n / rate)
