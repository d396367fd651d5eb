"""The windowed runtime (any bundle, the thesis U-Net included; the runtime before the stateful one):
every ``hop_frames`` host hops the Separator runs once on a rolling history of ``context_frames`` model
frames, and the masks of the ``hop_frames`` frames just before the lookahead are applied and overlap-added.
Each frame is thus recomputed ``context_frames / hop_frames`` times; kept for windowed-only models and as
the benchmark's baseline."""
from __future__ import annotations

from collections import deque
from typing import Callable

import numpy as np

from .bundle import MaskModel
from .frames import AnalysisWindow, OverlapAdd, sanitise_mask
from .grid import HostGrid
from .settings import StreamSettings


class WindowedCore:
    """Host hops in, finished host hops out (``settings`` resolved, mode ``windowed``)."""

    def __init__(self, models: MaskModel, grid: HostGrid, settings: StreamSettings, channels: int):
        self.models, self.grid, self.settings, self.channels = models, grid, settings, channels
        self.batch = 1 if settings.channel_mode == "mono" else channels
        self.run_frames = settings.hop_frames
        self.prefill = (settings.hop_frames + settings.lookahead_frames) * grid.hop - 1
        self.reset()

    def reset(self) -> None:
        g, s = self.grid, self.settings
        self._input = AnalysisWindow(g, self.channels, self.batch == 1)
        self._ola = OverlapAdd(g, self.channels)
        self._pending: deque[np.ndarray] = deque()
        self._mags = np.zeros((self.batch, g.model_bins, s.context_frames), np.float32)
        self._frames_seen = 0

    def warm_up(self) -> None:
        # first onnxruntime runs allocate and first FFTs of a size plan; do that now, not in the first block
        self.models.separate(self._mags, np.zeros((self.batch, self.models.info.latent_dim), np.float32))
        self._input.push(np.zeros((self.channels, self.grid.hop)))
        self._ola.add(self.grid.analyse(self._input.frame))
        self.reset()

    def advance(self, hop_samples: np.ndarray, latent: Callable[[], np.ndarray | None]) -> list[np.ndarray]:
        """One host hop of input; returns the ``(C, H)`` hops finished by it (none, or ``hop_frames``).
        ``latent()`` gives the ``(B, latent_dim)`` query for a separator run (None: leave audio unmasked)."""
        spectra, mag = self._input.push(hop_samples)
        self._pending.append(spectra)
        self._mags[:, :, :-1] = self._mags[:, :, 1:]
        self._mags[:, :, -1] = mag
        self._frames_seen += 1
        s = self.settings
        due = self._frames_seen - s.lookahead_frames
        if due >= s.hop_frames and due % s.hop_frames == 0:
            return self._run(latent())
        return []

    def _run(self, z: np.ndarray | None) -> list[np.ndarray]:
        """Masks for the ``hop_frames`` oldest pending frames, then overlap-add."""
        s, g = self.settings, self.grid
        host_mask = None
        if z is not None:
            lo = s.context_frames - s.lookahead_frames - s.hop_frames
            hi = lo + s.hop_frames
            mask = sanitise_mask(np.asarray(self.models.separate(self._mags, z))[:, :, lo:hi])
            host_mask = g.host_mask(mask, self._mags[:, :, lo:hi])   # (B, hop_frames, nb_bins)
        out = []
        for j in range(s.hop_frames):
            spectra = self._pending.popleft()
            if host_mask is not None:
                spectra = spectra * host_mask[:, j]
            out.append(self._ola.add(spectra))
        return out
