"""Input checks shared by the runtime's entry points: clear :class:`EventSepError` messages."""
from __future__ import annotations

import math

from ..errors import EventSepError

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000


def check_sample_rate(sample_rate) -> int:
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise EventSepError(f"sample rate must be a number, got {sample_rate!r}") from None
    if not math.isfinite(rate) or rate != int(rate) or not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise EventSepError(f"sample rate must be a whole number of Hz from {MIN_SAMPLE_RATE} to "
                            f"{MAX_SAMPLE_RATE}, got {sample_rate}")
    return int(rate)


def check_unit(name: str, value) -> float:
    """A 0..1 control value (``interp``, ``mix``, ``residual``); booleans count as 0/1."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise EventSepError(f"{name} must be a number between 0 and 1, got {value!r}") from None
    if not 0.0 <= v <= 1.0:  # also rejects NaN
        raise EventSepError(f"{name} must be between 0 and 1, got {value}")
    return v
