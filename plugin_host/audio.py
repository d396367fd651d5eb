"""Audio-buffer checks shared by the effect and the chain: pedalboard's shapes in, ``(channels, n)``
float32 inside, the caller's shape back out."""
from __future__ import annotations

import numpy as np

from engine.errors import EventSepError
from engine.streaming.runtime import MAX_CHANNELS


def as_block(audio) -> tuple[np.ndarray, bool]:
    """``(channels, n)`` or ``(n,)`` float array -> (``(channels, n)`` float32 C-contiguous, was_1d).

    Like pedalboard, float64 is accepted and converted; channels come first. A ``(n, channels)`` array
    is refused with a hint rather than guessed (pedalboard guesses from the shape, which is wrong for
    blocks shorter than the channel count).
    """
    if not isinstance(audio, np.ndarray):
        raise EventSepError(f"audio must be a numpy array, got {type(audio).__name__}")
    if audio.dtype.kind != "f":
        raise EventSepError(f"audio must be float32 (or float64) samples, got {audio.dtype}")
    if audio.ndim == 1:
        return np.ascontiguousarray(audio[None], np.float32), True
    if audio.ndim != 2:
        raise EventSepError(f"audio must have shape (channels, samples) or (samples,), got {audio.shape}")
    channels, n = audio.shape
    if not 1 <= channels <= MAX_CHANNELS:
        hint = " (channels come first: transpose it)" if 1 <= n <= MAX_CHANNELS else ""
        raise EventSepError(f"audio must have 1 to {MAX_CHANNELS} channels in shape (channels, samples), "
                            f"got {audio.shape}{hint}")
    return np.ascontiguousarray(audio, np.float32), False


def restore_shape(block: np.ndarray, was_1d: bool) -> np.ndarray:
    return block[0] if was_1d else block


def check_buffer_size(buffer_size) -> int:
    if isinstance(buffer_size, bool) or not isinstance(buffer_size, (int, np.integer)) or buffer_size < 1:
        raise EventSepError(f"buffer_size must be a whole number of samples >= 1, got {buffer_size!r}")
    return int(buffer_size)
