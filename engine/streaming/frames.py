"""The two ends every runtime shares: analysis windows that turn host hops into spectra (and the model's
magnitudes), and the overlap-add that turns masked spectra back into host hops; frame by frame
(:class:`AnalysisWindow`, :class:`OverlapAdd`) or several frames per call (:class:`SampleHistory`,
:func:`analyse_frames`, :func:`add_frames`), which the stateful runtime and its offline twin share.

Frame ``t`` is the window of the ``L`` samples that end with hop ``t`` (the stream starts from silence),
so its overlap-added output completes the hop that starts ``M - H`` samples earlier (``M``: the grid's
synthesis length, ``L`` for the full window). Shapes: hops
``(C, H)``, spectra ``(C, [F,] nb_bins)``, model magnitudes ``(B, 513[, F])`` with ``B`` 1 (channel mean)
or ``C``.
"""
from __future__ import annotations

import math

import numpy as np

from .grid import HostGrid


class AnalysisWindow:
    """The newest ``L`` samples of each channel; :meth:`push` takes one hop and analyses the window."""

    def __init__(self, grid: HostGrid, channels: int, mono_model: bool):
        self.grid = grid
        self.mono_model = mono_model
        self.frame = np.zeros((channels, grid.window_length))

    def push(self, hop_samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(C, H)`` new samples -> the window's ``(C, nb_bins)`` spectra and ``(B, 513)`` model magnitude."""
        frame, h = self.frame, hop_samples.shape[1]
        frame[:, :-h] = frame[:, h:]
        frame[:, -h:] = hop_samples
        spectra, mags = analyse_frames(self.grid, frame[:, None], self.mono_model)
        return spectra[:, 0], mags[:, :, 0]


class OverlapAdd:
    """Weighted overlap-add: :meth:`add` one synthesised frame, get the hop it completes."""

    def __init__(self, grid: HostGrid, channels: int):
        self.grid = grid
        self.buffer = np.zeros((channels, grid.synthesis_length))

    def add(self, spectra: np.ndarray) -> np.ndarray:
        """``(C, nb_bins)`` (masked) spectra -> ``(C, H)`` finished output samples."""
        g, buf = self.grid, self.buffer
        buf += g.synthesise(spectra)
        out = buf[:, :g.hop] * g.inv_norm
        buf[:, :-g.hop] = buf[:, g.hop:]
        buf[:, -g.hop:] = 0.0
        return out


def sanitise_mask(mask: np.ndarray) -> np.ndarray:
    """A model's mask made safe to apply: NaN -> 0, clipped to [0, 1]."""
    return np.clip(np.nan_to_num(mask, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)


def analyse_frames(grid: HostGrid, frames: np.ndarray, mono_model: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(C, F, L)`` frames -> their ``(C, F, nb_bins)`` spectra and the ``(B, 513, F)`` float32 model
    magnitudes (of the channel mean when ``mono_model``), in one call per step."""
    spectra = grid.analyse(frames)
    if mono_model:
        mono = spectra.mean(axis=0, keepdims=True) if grid.magnitude_from_spectra else None
        mags = grid.model_magnitude(frames.mean(axis=0, keepdims=True), mono)
    else:
        mags = grid.model_magnitude(frames, spectra)
    return spectra, np.ascontiguousarray(mags.transpose(0, 2, 1))


def add_frames(out: np.ndarray, frames: np.ndarray, first: int, hop: int) -> None:
    """Overlap-add ``(C, T, L)`` windowed frames into ``out`` ``(C, n)``, frame ``t`` starting at
    ``(first + t) * hop`` (un-normalised, as :class:`OverlapAdd` keeps it)."""
    channels, count, length = frames.shape
    pieces = math.ceil(length / hop)
    if count <= pieces:             # a few frames (a stream's run): one add per frame
        for t in range(count):
            start = (first + t) * hop
            out[:, start:start + length] += frames[:, t]
        return
    padded = np.zeros((channels, count, pieces * hop))
    padded[:, :, :length] = frames
    for k in range(pieces):         # the k-th hop of every frame lands k hops after the frame's start
        start = (first + k) * hop
        out[:, start:start + count * hop] += padded[:, :, k * hop:(k + 1) * hop].reshape(channels, -1)


def normalised_hops(acc: np.ndarray, count: int, grid: HostGrid) -> np.ndarray:
    """The first ``count`` hops of an un-normalised overlap-add sum ``(C, >= count * H)``, each divided by
    the window's squared sum over a hop: ``(C, count * H)`` finished output."""
    channels, hop = acc.shape[0], grid.hop
    return (acc[:, :count * hop].reshape(channels, count, hop) * grid.inv_norm).reshape(channels, count * hop)


class SampleHistory:
    """The newest ``L + (frames - 1) H`` samples of each channel: the last ``frames`` analysis windows."""

    def __init__(self, grid: HostGrid, channels: int, frames: int):
        self.grid = grid
        self.samples = np.zeros((channels, grid.window_length + (frames - 1) * grid.hop))
        # (C, frames, L) windows over the buffer, made once: push() updates the buffer in place
        self._windows = np.lib.stride_tricks.sliding_window_view(self.samples, grid.window_length,
                                                                 axis=-1)[:, ::grid.hop]

    def push(self, hop_samples: np.ndarray) -> None:
        buf, h = self.samples, hop_samples.shape[1]
        buf[:, :-h] = buf[:, h:]
        buf[:, -h:] = hop_samples

    def frames(self, count: int) -> np.ndarray:
        """The newest ``count`` windows, ``(C, count, L)`` (a view: use it before the next push)."""
        return self._windows[:, -count:]


class OverlapAddFrames:
    """Weighted overlap-add of several frames per call: :meth:`add` ``F`` synthesised frames, get the
    ``F`` hops they complete."""

    def __init__(self, grid: HostGrid, channels: int):
        self.grid = grid
        self.pieces = math.ceil(grid.synthesis_length / grid.hop)           # hops a synthesised frame spans
        self.tail = np.zeros((channels, (self.pieces - 1) * grid.hop))      # sums still waiting for frames

    def add(self, frames: np.ndarray) -> np.ndarray:
        """``(C, F, M)`` synthesised frames -> ``(C, F * H)`` finished output samples."""
        g = self.grid
        count, hop = frames.shape[1], g.hop
        acc = np.zeros((frames.shape[0], (count - 1 + self.pieces) * hop))
        acc[:, :self.tail.shape[1]] = self.tail
        add_frames(acc, frames, 0, hop)
        self.tail = acc[:, count * hop:]
        return normalised_hops(acc, count, g)
