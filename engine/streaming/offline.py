"""A whole file through the stateful runtime's computation at once: the offline twin of the stream.

Frame ``t`` is the window of the ``L`` input samples ending with hop ``t`` after ``L - H`` samples of
silence, exactly as :class:`~engine.streaming.frames.AnalysisWindow` builds it; the model runs over every
frame in one call per :func:`~engine.streaming.stateful.whole_masks`; masks, the extension above the
model's band and the overlap-add are the stream's own functions. The file is followed by silence long
enough for the last frames' lookahead and overlap, as a stream is when it is flushed with zeros.
So the stream's output, shifted by its latency, equals this (``tests/test_stream_stateful.py``), and
``eventsep separate`` calls it with the PyTorch twin of the step graph.
"""
from __future__ import annotations

import math

import numpy as np

from .bundle import StepModel
from .frames import add_frames, analyse_frames, normalised_hops, sanitise_mask
from .grid import HostGrid
from .settings import CHANNEL_MODES
from .stateful import whole_masks
from ..errors import EventSepError


CHUNK_FRAMES = 256     # frames transformed at a time: the arrays stay in cache, not hundreds of MB


def separate_offline(models: StepModel, audio: np.ndarray, sample_rate: int, z: np.ndarray,
                     channel_mode: str = "mono") -> np.ndarray:
    """``(C, n)`` audio at ``sample_rate`` and a ``(latent_dim,)`` query -> the ``(C, n)`` float64
    estimate at the same rate, full band (what the stream gives, without its delay)."""
    if channel_mode not in CHANNEL_MODES:
        raise EventSepError(f"channel_mode must be one of {CHANNEL_MODES}, got {channel_mode!r}")
    grid = HostGrid(sample_rate, models.info)
    x = np.asarray(audio, np.float64)
    channels, n = x.shape
    L, H = grid.window_length, grid.hop
    la = models.info.lookahead
    frames_out = (n - 1 + L - H) // H + 1           # frames whose output hop touches the file
    padded = np.zeros((channels, (frames_out + la - 1) * H + L))
    padded[:, L - H:L - H + n] = x
    frames = np.lib.stride_tricks.sliding_window_view(padded, L, axis=-1)[:, ::H]   # (C, T + la, L) view
    mono = channel_mode == "mono"

    mags = np.concatenate([analyse_frames(grid, frames[:, lo:lo + CHUNK_FRAMES], mono)[1]
                           for lo in range(0, frames.shape[1], CHUNK_FRAMES)], axis=-1)   # (B, 513, T + la)
    zb = np.repeat(np.asarray(z, np.float32).reshape(1, -1), mags.shape[0], axis=0)
    masks = sanitise_mask(np.asarray(whole_masks(models, mags, zb)))                # (B, 513, T)

    pieces = math.ceil(L / H)
    out = np.zeros((channels, (frames_out + pieces) * H))
    for lo in range(0, frames_out, CHUNK_FRAMES):
        hi = min(lo + CHUNK_FRAMES, frames_out)
        host = grid.host_mask(masks[:, :, lo:hi], mags[:, :, lo:hi])                # (B, chunk, bins)
        synth = grid.synthesise(grid.analyse(frames[:, lo:hi]) * host)             # (C, chunk, L)
        add_frames(out, synth, lo, H)
    return normalised_hops(out, frames_out, grid)[:, L - H:L - H + n]
