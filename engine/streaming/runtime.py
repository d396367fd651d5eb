"""The block-streaming separator: any block length, any rate from 8 to 192 kHz, any channel count, a
constant reported latency. numpy + onnxruntime only.

Signal flow per host hop ``H`` (11.6 ms at every rate): the newest analysis window of each channel is
transformed (:class:`~engine.streaming.grid.HostGrid`) and its magnitude (of the channel mean, or of each
channel) goes to the model on the model's grid. The model runs in one of two ways
(:class:`~engine.streaming.StreamSettings`): *stateful* (:mod:`~engine.streaming.stateful`: one step per
hop with the carried state, each frame computed once; the offline result, delayed) or *windowed*
(:mod:`~engine.streaming.windowed`: a window of frames recomputed every few hops; any model). Masks are
mapped to the host's bins (extended above 11 kHz), applied to every channel's spectrum and overlap-added.
The output FIFO is pre-filled so the stream is the processed input delayed by exactly ``latency_samples``,
whatever the block sizes; the dry signal goes through a delay line of the same length, so wet/dry and
residual blends are sample-aligned.
"""
from __future__ import annotations

import math
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import EventSepError
from .background import BackgroundRuns
from .bundle import MaskModel, OnnxModels
from .controls import Controls, Ramp
from .fifo import SampleFifo
from .grid import HostGrid
from .query import check_latent, latent_from_audio, latent_from_class
from .settings import Latency, StreamSettings, background_margin, latency_of
from .stateful import StatefulCore
from .validate import check_sample_rate, check_unit
from .windowed import WindowedCore

# Inputs are limited to this magnitude (after NaN/Inf -> 0) so nothing downstream can overflow float32.
INPUT_LIMIT = 1e6
MAX_CHANNELS = 64
SAMPLE_DTYPES = (np.float32, np.float64)


def safe_samples(x: np.ndarray) -> np.ndarray:
    """``x`` with NaN and Inf as silence and samples limited to +-``INPUT_LIMIT`` (``x`` itself when it is
    already safe, the usual case: two reductions)."""
    if x.min() >= -INPUT_LIMIT and x.max() <= INPUT_LIMIT:      # NaN fails the comparisons too
        return x
    return np.clip(np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0), -INPUT_LIMIT, INPUT_LIMIT)


class StreamingSeparator:
    """Separate the source a query describes from a live stream, block by block.

    ``model``: a bundle folder (default: the shipped one), or any loaded :class:`MaskModel`.
    ``process(block)`` takes ``(channels, n)`` float32/float64 (or ``(n,)`` when mono), any ``n`` >= 0,
    and returns the same shape and dtype: the separated signal delayed by :attr:`latency_samples`.
    Until a query is set the effect passes the (delayed) input through.

    Thread safety: ``process`` runs on one audio thread. Every setter (references, ``interp``, ``mix``,
    ``residual``, ``reset``) may be called from any other thread at any time: heavy work (encoding a
    reference clip) runs on the caller's thread, and the result is swapped in atomically; ``process``
    never waits on a lock.
    """

    def __init__(self, model: MaskModel | str | Path | None = None, sample_rate: int = 48000,
                 channels: int = 2, settings: StreamSettings | None = None):
        settings = settings or StreamSettings.default()
        self.models: MaskModel = (model if hasattr(model, "separate") and hasattr(model, "info")
                                  else OnnxModels(model, threads=settings.threads))
        info = self.models.info
        self.settings = settings.resolve(info)
        self.sample_rate = check_sample_rate(sample_rate)
        if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) \
                or not 1 <= channels <= MAX_CHANNELS:
            raise EventSepError(f"channels must be a whole number from 1 to {MAX_CHANNELS}, got {channels!r}")
        self.channels = int(channels)
        self.grid = HostGrid(self.sample_rate, info, self.settings.synthesis)
        self.latency: Latency = latency_of(self.settings, self.sample_rate, self.grid.window_length,
                                           self.grid.hop)
        core_type = StatefulCore if self.settings.mode == "stateful" else WindowedCore
        self._core = core_type(self.models, self.grid, self.settings, self.channels)
        ramp_samples = max(1.0, self.settings.smoothing_ms * self.sample_rate / 1000.0)
        self._ramp_step = 1.0 / ramp_samples
        run_seconds = self._core.run_frames * self.grid.hop / self.sample_rate
        tau = self.settings.smoothing_ms / 1000.0
        # one-pole smoothing of the latent, once per separator run
        self._z_coeff = 1.0 - math.exp(-run_seconds / tau) if tau > 0 else 1.0
        self._lock = threading.Lock()          # serialises control threads only
        self._controls = Controls()
        self._reset_requested = False
        self._latency_samples = self.latency.samples
        self._background = self.settings.background
        self._core.warm_up()
        if self.settings.background:          # started once warm: the worker never sees a cold core
            self._core = BackgroundRuns(self._core, background_margin(self.settings, self.sample_rate, self.grid.hop))
        self._reset_state()

    # ------------------------------------------------------------------------------------------ info

    @property
    def latency_samples(self) -> int:
        """Constant delay of the output against the input, in samples of the host rate."""
        return self.latency.samples

    @property
    def info(self):
        return self.models.info

    def background_stats(self) -> dict[str, float] | None:
        """With background runs, how the worker kept up over its newest runs: their wall and CPU time
        (p50, p99, max ms; a run whose wall time is far above its CPU time was not running) and the
        audio thread's longest wait for one; None for an inline setting."""
        if not self.settings.background:
            return None
        runs = np.array(self._core.run_seconds or [(0.0, 0.0)]) * 1000.0
        wall, cpu = runs[:, 0], runs[:, 1]
        return {"runs": len(self._core.run_seconds), "run_p50_ms": float(np.median(wall)),
                "run_p99_ms": float(np.percentile(wall, 99)), "run_max_ms": float(wall.max()),
                "run_cpu_p99_ms": float(np.percentile(cpu, 99)), "run_cpu_max_ms": float(cpu.max()),
                "cpu_of_slowest_run_ms": float(cpu[np.argmax(wall)]),
                "longest_wait_ms": 1000.0 * self._core.longest_wait}

    def class_names(self) -> dict[str, list[str]]:
        """``{"coarse": [...], "fine": [...]}``: the names :meth:`set_reference_class` accepts."""
        return {level: sorted(self.info.class_latents.get(level, {})) for level in ("coarse", "fine")}

    # ------------------------------------------------------------------------------------------ controls

    def _swap(self, **changes) -> None:
        with self._lock:
            self._controls = replace(self._controls, **changes)

    @staticmethod
    def _slot(slot: str) -> str:
        s = str(slot).upper()
        if s not in ("A", "B"):
            raise EventSepError(f"reference slot must be 'A' or 'B', got {slot!r}")
        return "z_a" if s == "A" else "z_b"

    def set_reference_audio(self, slot: str, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """Encode a reference clip (``(channels, n)`` or ``(n,)``, any rate) into slot A or B; returns
        the latent. The Query-net runs on the calling thread."""
        key = self._slot(slot)
        z = latent_from_audio(self.models, audio, sample_rate)
        self._swap(**{key: z})
        return z.copy()

    def set_reference_class(self, slot: str, name: str) -> np.ndarray:
        """Set slot A or B to a class-mean latent (coarse class or fine label)."""
        key = self._slot(slot)
        z = latent_from_class(self.info, name)
        self._swap(**{key: z})
        return z.copy()

    def set_reference_latent(self, slot: str, z) -> np.ndarray:
        key = self._slot(slot)
        z = check_latent(self.info, z).copy()        # our own copy: the caller may reuse its array
        self._swap(**{key: z})
        return z.copy()

    def clear_reference(self, slot: str) -> None:
        self._swap(**{self._slot(slot): None})

    @property
    def interp(self) -> float:
        return self._controls.interp

    @interp.setter
    def interp(self, value: float) -> None:
        self._swap(interp=check_unit("interp", value))

    @property
    def mix(self) -> float:
        return self._controls.mix

    @mix.setter
    def mix(self, value: float) -> None:
        self._swap(mix=check_unit("mix", value))

    @property
    def residual(self) -> float:
        return self._controls.residual

    @residual.setter
    def residual(self, value: float) -> None:
        self._swap(residual=check_unit("residual", value))

    def reset(self) -> None:
        """Forget the stream (not the controls); takes effect at the start of the next block."""
        self._reset_requested = True

    # ------------------------------------------------------------------------------------------ state

    def _reset_state(self) -> None:
        c = self.channels
        self._in = SampleFifo(c)
        self._dry = SampleFifo(c, self.latency_samples + 4096)
        self._dry.push(np.zeros((c, self.latency_samples)))
        # wet rows + one row for the query gate, pre-filled so output sample n is y[n - latency]
        self._out = SampleFifo(c + 1, self.latency_samples + 4096)
        self._out.push(np.zeros((c + 1, self._core.prefill)))
        # output samples pushed / popped so far, and the first from which every gate value is 1: the
        # common case (a query set, the gate open) then skips the blend arithmetic
        self._gate_open_from = self._pushed = self._core.prefill
        self._popped = 0
        self._core.reset()
        self._start_controls(self._controls)
        self._fresh = True
        self._reset_requested = False

    def _start_controls(self, controls: Controls) -> None:
        """Smoothed values start at their targets: what is set before a stream starts applies at once."""
        self._z_eff = None if controls.z_target is None else controls.z_target.copy()
        # the target latent the smoothing has reached (None: moving, or no query) and the batch it runs
        self._z_settled = controls.z_target
        self._z_batch = None if self._z_eff is None else self._batch_of(self._z_eff)
        self._gate = Ramp(1.0 if controls.z_target is not None else 0.0, self._ramp_step)
        self._mix = Ramp(controls.mix, self._ramp_step)
        self._residual = Ramp(controls.residual, self._ramp_step)

    # ------------------------------------------------------------------------------------------ audio

    def _check_block(self, block) -> np.ndarray:
        if not isinstance(block, np.ndarray):
            raise EventSepError(f"a block must be a numpy array, got {type(block).__name__}")
        if block.dtype not in SAMPLE_DTYPES:
            raise EventSepError(f"a block must be float32 (or float64) samples, got {block.dtype}")
        if block.ndim == 2 and block.shape[0] == self.channels:
            return block
        if block.ndim == 1 and self.channels == 1:
            return block[None]
        want = f"({self.channels}, nb_samples)" + (" or (nb_samples,)" if self.channels == 1 else "")
        hint = " (channels come first: transpose it)" if block.ndim == 2 and block.shape[-1] == self.channels else ""
        raise EventSepError(f"expected a block of shape {want}, got {block.shape}{hint}")

    def process(self, block: np.ndarray) -> np.ndarray:
        """Process one block of any length (0 included); returns the same shape and dtype: the separated
        signal, delayed by :attr:`latency_samples`."""
        # (the usual block, (channels, n) float, passes two cheap checks; anything else gets the full one)
        x = (block if type(block) is np.ndarray and block.ndim == 2 and block.shape[0] == self.channels
             and block.dtype in SAMPLE_DTYPES else self._check_block(block))
        n = x.shape[1]
        if self._reset_requested:
            self._reset_state()
        if n == 0:
            return block.copy()
        controls = self._controls                     # one atomic read per block
        if self._fresh:
            self._start_controls(controls)
            self._fresh = False
        # (float32 samples become float64 in the FIFOs; bad samples are made safe where they are read: once
        # per hop for the model, and in the blend for the dry signal, not in every small block)
        self._in.push(x)
        self._dry.push(x)
        hop = self.grid.hop
        for _ in range(len(self._in) // hop):
            self._advance(safe_samples(self._in.pop(hop)), controls)
        if self._background and self._core.pending:
            self._collect(n)
        popped = self._popped
        open_gate = popped >= self._gate_open_from
        # samples from before the stream (its first latency_samples)
        before_start = min(n, self._latency_samples - popped) if popped < self._latency_samples else 0
        self._popped = popped + n
        ramp = self._residual                         # settled ramps (the usual case) without a call
        residual = ramp.value if ramp.value == controls.residual else ramp.render(controls.residual, n)
        ramp = self._mix
        mix = ramp.value if ramp.value == controls.mix else ramp.render(controls.mix, n)
        # (1 - r) * target + r * (dry - target), then the gated wet/dry blend; the common settings (no
        # residual, fully wet, the gate open) skip their no-op arithmetic and never read the dry signal
        no_residual = isinstance(residual, float) and residual == 0.0
        only_wet = open_gate and isinstance(mix, float) and mix == 1.0
        wet = self._out.pop_view(n)                   # a view: every path below makes a new array
        gate, target = wet[-1], wet[:-1]
        if no_residual and only_wet:
            self._dry.pop_view(n)                     # advanced past, never read
            out = target.astype(block.dtype)
        else:
            dry = safe_samples(self._dry.pop_view(n))
            chosen = target if no_residual else target + residual * (dry - 2.0 * target)
            out = (chosen if only_wet else dry + (gate * mix) * (chosen - dry)).astype(block.dtype)
        if not math.isfinite(out.sum()):                   # belt and braces: nothing non-finite leaves
            out = np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)
        if before_start:
            # the first latency_samples of a stream belong to the time before its first input sample: the
            # masks of the frames that overlap the start leak a little sound there, which an effect after
            # this one (a reverb) would keep; the stream is silent there, as the offline result has nothing
            out[:, :before_start] = 0.0
        return out[0] if block.ndim == 1 else out

    def _advance(self, hop_samples: np.ndarray, controls: Controls) -> None:
        """One host hop of input through the core; every hop it finishes goes out with the query gate."""
        gate_target = 1.0 if controls.z_target is not None else 0.0
        if self._background:
            # the latent is taken on the audio thread, exactly when the inline core would take it
            self._core.submit(hop_samples, lambda: self._latent(controls, gate_target), gate_target)
            return
        self._emit(self._core.advance(hop_samples, lambda: self._latent(controls, gate_target)), gate_target)

    def _collect(self, needed: int) -> None:
        """Background runs: take every finished hop back, waiting only while the output holds fewer than
        ``needed`` samples (the run due now is late: a late block, the same samples)."""
        while self._core.pending:
            done = self._core.collect(wait=len(self._out) < needed)
            if done is None:
                return
            for rows, gate_target in done:
                self._emit(rows, gate_target)

    def _emit(self, finished: list[np.ndarray], gate_target: float) -> None:
        for rows in finished:
            width = rows.shape[1]
            out = np.empty((self.channels + 1, width))
            out[:-1] = rows
            gate = self._gate.render(gate_target, width)
            out[-1] = gate
            self._out.push(out)
            self._pushed += width
            if not (isinstance(gate, float) and gate == 1.0):
                self._gate_open_from = self._pushed

    def _batch_of(self, z: np.ndarray) -> np.ndarray:
        """``(latent_dim,)`` -> the ``(B, latent_dim)`` float32 a model run takes."""
        return np.repeat(z[None].astype(np.float32), self._core.batch, axis=0)

    def _latent(self, controls: Controls, gate_target: float) -> np.ndarray | None:
        """The smoothed query for one model run, ``(B, latent_dim)`` float32; None when there is none or
        the gate has closed (the audio then passes unmasked, and the gate keeps it out)."""
        z_target = controls.z_target
        if z_target is not None and z_target is not self._z_settled:
            if self._z_eff is None:
                self._z_eff = z_target.copy()
            else:
                self._z_eff = self._z_eff + self._z_coeff * (z_target - self._z_eff)
            if np.max(np.abs(z_target - self._z_eff)) < 1e-6:
                self._z_eff = z_target.copy()
                self._z_settled = z_target       # reached: later runs reuse the same batch (no arithmetic)
            self._z_batch = self._batch_of(self._z_eff)
        if self._z_eff is None or not (gate_target > 0 or self._gate.value > 0):
            return None
        return self._z_batch
