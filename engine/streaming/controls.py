"""The runtime's parameters as one immutable snapshot, and the ramps that smooth them.

Control threads (GUI, OSC) build a new :class:`Controls` and swap it in with a single attribute
assignment; the audio thread reads the current snapshot once per block and never takes a lock.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .dsp import slerp


@dataclass(frozen=True)
class Controls:
    z_a: np.ndarray | None = None       # (latent_dim,) query A
    z_b: np.ndarray | None = None       # (latent_dim,) query B
    interp: float = 0.0                 # slerp position A -> B
    mix: float = 1.0                    # wet/dry: 1 = only the separated signal
    residual: float = 0.0               # 0 = the target, 1 = everything but the target

    @cached_property
    def z_target(self) -> np.ndarray | None:
        """The latent these controls ask for (None: no query yet, the effect passes audio through).
        Computed once per snapshot."""
        if self.z_a is not None and self.z_b is not None:
            return slerp(self.z_a, self.z_b, self.interp)
        return self.z_a if self.z_a is not None else self.z_b


class Ramp:
    """A value that moves toward its target at a constant slope (``step`` per sample)."""

    def __init__(self, value: float, step: float):
        self.value = float(value)
        self.step = float(step)

    def render(self, target: float, n: int) -> np.ndarray | float:
        """The next ``n`` values (a float when constant over the block)."""
        if self.value == target or n == 0:
            return self.value
        direction = 1.0 if target > self.value else -1.0
        values = self.value + direction * self.step * np.arange(1, n + 1)
        values = np.minimum(values, target) if direction > 0 else np.maximum(values, target)
        self.value = float(values[-1])
        return values
