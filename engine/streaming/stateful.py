"""The stateful runtime: every host hop the step graph takes the newest frame and the carried state, and
returns the mask of the frame ``lookahead`` behind it. Each frame is computed once; nothing is recomputed.

With the model's own lookahead ``k = la`` the masks are exactly the offline ones
(:func:`engine.streaming.offline.separate_offline` runs the same steps over a whole file at once). With
``k < la`` a second, speculative step per hop lets the newest frame stand in for the ``la - k`` frames
not heard yet; its state is thrown away, so the committed state stays the offline one.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .bundle import BundleInfo, StepModel
from .frames import OverlapAddFrames, SampleHistory, analyse_frames
from .grid import HostGrid
from .settings import StreamSettings


def primed(info: BundleInfo, state: list[np.ndarray], initial: list[np.ndarray]) -> list[np.ndarray]:
    """The state after a stream's first ``lookahead`` frames: their context kept, the core state they left
    reset (their masks belong to frames before the stream started, which the offline model never sees)."""
    return [s if e["name"] == "context" else i for e, s, i in zip(info.state, state, initial)]


def whole_masks(models: StepModel, magnitude: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The masks of a whole sequence in two calls: ``(B, 513, T + la)`` magnitude (the last ``la`` frames
    only looked ahead to), ``(B, latent_dim)`` z -> ``(B, 513, T)`` masks of frames ``0 .. T-1``."""
    la, batch = models.info.lookahead, magnitude.shape[0]
    initial = models.initial_state(batch)
    state = initial
    if la:
        _, state = models.step(magnitude[:, :, :la], z, initial)
        state = primed(models.info, state, initial)
    return models.step(magnitude[:, :, la:], z, state)[0]


class StatefulCore:
    """Host hops in, finished host hops out (``settings`` resolved, mode ``stateful``).

    Every ``hop_frames`` hops one *run* does all the work of the frames since the last run, several
    frames per call, as :func:`~engine.streaming.offline.separate_offline` does over a whole file: their
    analysis, one model step over them (each frame once), the masks of the ``hop_frames`` frames to emit,
    their synthesis and overlap-add. The model always runs, with the query or, while there is none, a zero
    latent: its state never lags the stream, and a query set later applies from the next run (behind the
    query gate's fade-in).
    """

    def __init__(self, models: StepModel, grid: HostGrid, settings: StreamSettings, channels: int):
        self.models, self.grid, self.settings, self.channels = models, grid, settings, channels
        self.batch = 1 if settings.channel_mode == "mono" else channels
        self.model_lookahead = models.info.lookahead
        self.lookahead = settings.lookahead_frames          # <= model_lookahead (settings.resolve)
        self.hop_frames = self.run_frames = settings.hop_frames
        self.prefill = (self.hop_frames + self.lookahead) * grid.hop - 1
        self._idle_z = np.zeros((self.batch, models.info.latent_dim), np.float32)
        self.reset()

    def reset(self) -> None:
        self._history = SampleHistory(self.grid, self.channels, self.hop_frames + self.lookahead)
        self._ola = OverlapAddFrames(self.grid, self.channels)
        # frames analysed, not emitted yet (the lookahead's): (C, n, nb_bins) spectra, (B, 513, n) magnitudes
        self._spectra = np.zeros((self.channels, 0, self.grid.nb_bins), complex)
        self._mags = np.zeros((self.batch, self.models.info.nb_bins, 0), np.float32)
        self._initial = self.models.initial_state(self.batch)
        self._state = self._initial
        self._primed = self.model_lookahead == 0
        self._frames_seen = 0
        self._frames_analysed = 0

    def warm_up(self) -> None:
        # first onnxruntime runs allocate and first FFTs of a size plan; do that now, not in the first block
        z = self._idle_z
        for _ in range(2 * self.hop_frames + self.lookahead):
            self.advance(np.zeros((self.channels, self.grid.hop)), lambda: z)
        self.reset()

    def is_run(self, frame_number: int) -> bool:
        """Whether the ``frame_number``-th hop since a reset (from 1) finishes a run."""
        due = frame_number - self.lookahead
        return due >= self.hop_frames and due % self.hop_frames == 0

    def advance(self, hop_samples: np.ndarray, latent: Callable[[], np.ndarray | None]) -> list[np.ndarray]:
        """One host hop of input; returns the ``(C, hop_frames * H)`` samples a run finishes (as one
        item), or nothing between runs. ``latent()``: the ``(B, latent_dim)`` query (None: unmasked)."""
        self._history.push(hop_samples)
        self._frames_seen += 1
        if not self.is_run(self._frames_seen):
            return []
        new = self._frames_seen - self._frames_analysed
        spectra, mags = analyse_frames(self.grid, self._history.frames(new), self.batch == 1)
        self._frames_analysed = self._frames_seen
        z = latent()
        masks = self._run(mags, self._idle_z if z is None else z)                 # (B, 513, hop)
        hop = self.hop_frames
        if self._spectra.shape[1]:          # the frames held back for the lookahead go first
            spectra = np.concatenate([self._spectra, spectra], axis=1)
            mags = np.concatenate([self._mags, mags], axis=-1)
        spectra, self._spectra = spectra[:, :hop], spectra[:, hop:]              # (C, hop, bins) emitted
        emit_mags, self._mags = mags[:, :, :hop], mags[:, :, hop:]               # (B, 513, hop)
        if z is not None:
            spectra = spectra * self.grid.host_mask(masks, emit_mags)
        return [self._ola.add(self.grid.synthesise(spectra))]

    def _run(self, mags: np.ndarray, z: np.ndarray) -> np.ndarray:
        """One model step over the ``(B, 513, n)`` new frames; the ``(B, 513, hop_frames)`` masks of the
        frames to emit (zeros when the model gave non-finite values: its state then starts afresh)."""
        step = self.models.step
        newest = mags[:, :, -1:]
        if not self._primed:          # a fresh stream: the first `lookahead` frames only fill the context
            la = self.model_lookahead
            self._state = primed(self.models.info, step(mags[:, :, :la], z, self._initial)[1], self._initial)
            self._primed, mags = True, mags[:, :, la:]
        masks = []
        if mags.shape[-1]:
            committed, self._state = step(mags, z, self._state)
            masks.append(committed)
        if self.lookahead < self.model_lookahead:       # the newest frame stands in for the unheard ones
            guess = np.repeat(newest, self.model_lookahead - self.lookahead, axis=2)
            masks.append(step(guess, z, self._state)[0])
        masks = (np.concatenate(masks, axis=-1) if len(masks) > 1 else masks[0])[:, :, -self.hop_frames:]
        # a non-finite state shows in this run's masks or the next's: then start afresh, not with NaN
        if not np.isfinite(masks.sum()):
            self._state, self._primed = self._initial, self.model_lookahead == 0
            return np.zeros_like(masks)
        return masks          # finite sigmoid outputs: already in [0, 1]
