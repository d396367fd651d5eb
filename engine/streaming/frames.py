"""The two ends every runtime shares: a rolling analysis window that turns host hops into spectra (and
the model's magnitudes), and the overlap-add that turns masked spectra back into host hops.

Frame ``t`` is the window of the ``L`` samples that end with hop ``t`` (the stream starts from silence),
so its overlap-added output completes the hop that starts ``L - H`` samples earlier. Shapes: hops
``(C, H)``, spectra ``(C, nb_bins)``, model magnitudes ``(B, 513)`` with ``B`` 1 (channel mean) or ``C``.
"""
from __future__ import annotations

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
        spectra = self.grid.analyse(frame)
        if self.mono_model:   # the model hears the channel mean
            return spectra, self.grid.model_magnitude(frame.mean(axis=0, keepdims=True),
                                                      spectra.mean(axis=0, keepdims=True))
        return spectra, self.grid.model_magnitude(frame, spectra)


class OverlapAdd:
    """Weighted overlap-add: :meth:`add` one synthesised frame, get the hop it completes."""

    def __init__(self, grid: HostGrid, channels: int):
        self.grid = grid
        self.buffer = np.zeros((channels, grid.window_length))

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
