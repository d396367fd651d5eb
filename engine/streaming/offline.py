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
from .dsp import SYNTHESES
from .settings import CHANNEL_MODES, DEFAULT_SYNTHESIS
from .stateful import whole_masks
from ..errors import EventSepError


CHUNK_FRAMES = 256     # frames transformed at a time: the arrays stay in cache, not hundreds of MB


def separate_offline(models: StepModel, audio: np.ndarray, sample_rate: int, z: np.ndarray,
                     channel_mode: str = "mono", synthesis: str = DEFAULT_SYNTHESIS) -> np.ndarray:
    """``(C, n)`` audio at ``sample_rate`` and a ``(latent_dim,)`` query -> the ``(C, n)`` float64
    estimate at the same rate, full band (what the stream gives, without its delay). ``synthesis``: the
    synthesis window (``"short"``, the stateful runtime's default, or ``"full"``; ``engine.streaming.grid``)."""
    if channel_mode not in CHANNEL_MODES:
        raise EventSepError(f"channel_mode must be one of {CHANNEL_MODES}, got {channel_mode!r}")
    if synthesis not in SYNTHESES:
        raise EventSepError(f"synthesis must be one of {SYNTHESES}, got {synthesis!r}")
    grid = HostGrid(sample_rate, models.info, synthesis)
    x = np.asarray(audio, np.float64)
    channels, n = x.shape
    L, H = grid.window_length, grid.hop
    first = grid.synthesis_start // H               # a frame's synthesised samples start this many hops in
    la = models.info.lookahead
    frames_out = (n - 1 + grid.synthesis_length - H) // H + 1     # frames whose output touches the file
    padded = np.zeros((channels, (frames_out + la - 1) * H + L))
    padded[:, L - H:L - H + n] = x
    frames = np.lib.stride_tricks.sliding_window_view(padded, L, axis=-1)[:, ::H]   # (C, T + la, L) view
    mono = channel_mode == "mono"

    mags = np.concatenate([analyse_frames(grid, frames[:, lo:lo + CHUNK_FRAMES], mono)[1]
                           for lo in range(0, frames.shape[1], CHUNK_FRAMES)], axis=-1)   # (B, 513, T + la)
    zb = np.repeat(np.asarray(z, np.float32).reshape(1, -1), mags.shape[0], axis=0)
    masks = sanitise_mask(np.asarray(whole_masks(models, mags, zb)))                # (B, 513, T)

    hops = math.ceil((L - H + n) / H)                # output hops up to the file's end
    out = np.zeros((channels, (max(hops, frames_out + first) + math.ceil(L / H)) * H))
    for lo in range(0, frames_out, CHUNK_FRAMES):
        hi = min(lo + CHUNK_FRAMES, frames_out)
        host = grid.host_mask(masks[:, :, lo:hi], mags[:, :, lo:hi])                # (B, chunk, bins)
        synth = grid.synthesise(grid.analyse(frames[:, lo:hi]) * host)             # (C, chunk, M)
        add_frames(out, synth, first + lo, H)
    return normalised_hops(out, hops, grid)[:, L - H:L - H + n]
