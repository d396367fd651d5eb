"""``SeparatorEffect``: the streaming separator behaving like a pedalboard plugin.

Call semantics follow ``pedalboard.Plugin.process``:

- ``reset=True`` (the default): forget the stream, process ``audio`` in ``buffer_size`` blocks, then
  flush the latency with silence and return the output **aligned with the input, same length** - what
  pedalboard does for its own plugins that report latency (``process.h`` pads the buffer by the latency
  and trims the head).
- ``reset=False``: continue the stream. The block comes back with the same length, **delayed by**
  :attr:`latency_samples` (pedalboard would instead return a shorter array at the start of a stream; a
  real-time host needs every block back in full, so we return the delayed signal and report the delay).

Parameters are attributes (``interp``, ``mix``, ``residual``, ``bypass``, ``query_a``, ``query_b``). They
may be set from any thread at any time. Control threads that must not touch the audio path directly (the
OSC bridge) post changes to :attr:`pending`; they are applied at the start of the next block.
"""
from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import EventSepError
from engine.streaming import PRESETS, OnnxModels, StreamingSeparator, StreamSettings
from engine.streaming.grid import HostGrid
from engine.streaming.settings import latency_of
from engine.streaming.validate import check_sample_rate, check_unit

from .audio import as_block, check_buffer_size, restore_shape
from .controls import ControlQueue
from .query import QuerySpec, coerce_query, query_from_class, query_from_file

PARAM_NAMES = ("interp", "mix", "residual", "bypass")
SLOTS = ("A", "B")


def check_toggle(name: str, value) -> bool:
    """A switch: bools, 0/1, 0.0/1.0."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)) and value in (0, 1):
        return bool(value)
    raise EventSepError(f"{name} must be 0 or 1 (or True/False), got {value!r}")


@dataclass(frozen=True)
class EffectParams:
    """The effect's knobs. ``interp``: slerp A -> B; ``mix``: wet/dry (1 = only the separated signal);
    ``residual``: 0 = the target, 1 = everything but the target; ``bypass``: pass the input through
    (delayed by the same latency, so switching it never shifts the timing)."""

    interp: float = 0.0
    mix: float = 1.0
    residual: float = 0.0
    bypass: bool = False

    def validated(self) -> "EffectParams":
        return EffectParams(interp=check_unit("interp", self.interp), mix=check_unit("mix", self.mix),
                            residual=check_unit("residual", self.residual),
                            bypass=check_toggle("bypass", self.bypass))


def _slot_key(slot: str) -> str:
    s = str(slot).upper()
    if s not in SLOTS:
        raise EventSepError(f"query slot must be 'A' or 'B', got {slot!r}")
    return s


class SeparatorEffect:
    """EventSep as a pedalboard-style effect.

    ``bundle``: ONNX bundle folder (default: the shipped model); ``settings``: "default", "low_latency"
    or a :class:`~engine.streaming.StreamSettings`; ``query_a``/``query_b``: class name, audio file path,
    latent or :class:`~plugin_host.query.QuerySpec`. Audio is ``(channels, n)`` or ``(n,)`` float32 at any
    rate from 8 to 192 kHz; the output has the input's shape and is float32.
    """

    DEFAULT_SAMPLE_RATE = 48000     # the rate latency_samples refers to before any audio was seen

    def __init__(self, bundle: str | Path | None = None, *, query_a=None, query_b=None, interp: float = 0.0,
                 mix: float = 1.0, residual: float = 0.0, bypass: bool = False,
                 settings: str | StreamSettings = "default", models=None):
        settings = StreamSettings.preset(settings) if isinstance(settings, str) else settings
        if not isinstance(settings, StreamSettings):
            raise EventSepError(f"settings must be one of {', '.join(PRESETS)} or a StreamSettings, got {settings!r}")
        self.models = models if models is not None else OnnxModels(bundle, threads=settings.threads)
        self.settings = settings.resolve(self.models.info)
        self._lock = threading.Lock()            # serialises control threads; held for microseconds
        self._params = EffectParams(interp, mix, residual, bypass).validated()
        self._queries: dict[str, QuerySpec | None] = {"A": None, "B": None}
        self._runtime: StreamingSeparator | None = None
        self._rate: int | None = None
        self._channels: int | None = None
        self._latency_cache: dict[int, int] = {}
        self.pending = ControlQueue()
        self.blocks_processed = 0
        if query_a is not None:
            self.query_a = query_a
        if query_b is not None:
            self.query_b = query_b

    # ----------------------------------------------------------------------------------- model / info

    @property
    def info(self):
        return self.models.info

    @property
    def model_id(self) -> str:
        """SHA-256 of the checkpoint the bundle was exported from (what presets record)."""
        return str(self.info.source.get("sha256", ""))

    def class_names(self) -> dict[str, list[str]]:
        return {level: sorted(self.info.class_latents.get(level, {})) for level in ("coarse", "fine")}

    @property
    def sample_rate(self) -> int | None:
        """Rate of the current stream (None before any audio)."""
        return self._rate

    def latency_for(self, sample_rate: int) -> int:
        rate = check_sample_rate(sample_rate)
        if rate not in self._latency_cache:
            grid = HostGrid(rate, self.info)
            self._latency_cache[rate] = latency_of(self.settings, rate, grid.window_length, grid.hop).samples
        return self._latency_cache[rate]

    @property
    def latency_samples(self) -> int:
        """Constant delay of the stream in samples, at the current stream's rate (48 kHz before any audio).
        ``reset=True`` calls compensate it; ``reset=False`` blocks come back delayed by it."""
        rt = self._runtime
        return rt.latency_samples if rt is not None else self.latency_for(self._rate or self.DEFAULT_SAMPLE_RATE)

    # ----------------------------------------------------------------------------------- parameters

    @property
    def params(self) -> EffectParams:
        return self._params

    def _set_param(self, name: str, value) -> None:
        value = check_toggle(name, value) if name == "bypass" else check_unit(name, value)
        with self._lock:
            self._params = replace(self._params, **{name: value})
            rt = self._runtime
            if rt is not None:
                if name == "bypass":
                    self._push_queries(rt)
                else:
                    setattr(rt, name, value)

    interp = property(lambda self: self._params.interp, lambda self, v: self._set_param("interp", v),
                      doc="Slerp position from query A (0) to query B (1).")
    mix = property(lambda self: self._params.mix, lambda self, v: self._set_param("mix", v),
                   doc="Wet/dry: 1 = only the separated signal, 0 = the input (delayed).")
    residual = property(lambda self: self._params.residual, lambda self, v: self._set_param("residual", v),
                        doc="0 = the target, 1 = everything but the target (booleans work).")
    bypass = property(lambda self: self._params.bypass, lambda self, v: self._set_param("bypass", v),
                      doc="Pass the input through, delayed by the same latency; the separator stops running.")

    def query(self, slot: str) -> QuerySpec | None:
        return self._queries[_slot_key(slot)]

    def set_query(self, slot: str, value) -> QuerySpec | None:
        """Set slot A or B from a class name, audio file, latent or QuerySpec (None clears). Encoding a
        file runs on the calling thread; the swap into a running stream is atomic."""
        key = _slot_key(slot)
        spec = coerce_query(self.models, value)
        with self._lock:
            self._queries = {**self._queries, key: spec}
            rt = self._runtime
            if rt is not None:
                self._push_queries(rt)
        return spec

    query_a = property(lambda self: self._queries["A"], lambda self, v: self.set_query("A", v),
                       doc="Query A: class name, audio file path, latent or QuerySpec (None clears).")
    query_b = property(lambda self: self._queries["B"], lambda self, v: self.set_query("B", v),
                       doc="Query B (the interp target).")

    def resolve_file(self, path: str | Path) -> QuerySpec:
        """Heavy: decode a reference file and run the Query-net. Call off the audio thread."""
        return query_from_file(self.models, path)

    def resolve_class(self, name: str) -> QuerySpec:
        return query_from_class(self.info, name)

    def _push_queries(self, rt: StreamingSeparator) -> None:
        # Bypass clears the runtime's references (ours are kept): its gate fades the effect out, and once
        # faded the separator no longer runs at all. Un-bypassing sets them again and the gate fades in.
        for slot in SLOTS:
            spec = self._queries[slot]
            if spec is None or self._params.bypass:
                rt.clear_reference(slot)
            else:
                rt.set_reference_latent(slot, spec.latent)

    def _push_all(self, rt: StreamingSeparator) -> None:
        p = self._params
        rt.interp, rt.mix, rt.residual = p.interp, p.mix, p.residual
        self._push_queries(rt)

    def apply(self, name: str, value) -> None:
        """Apply one change by name: a parameter or ``query_a``/``query_b`` (a QuerySpec or None)."""
        if name in PARAM_NAMES:
            self._set_param(name, value)
        elif name in ("query_a", "query_b"):
            self.set_query(name[-1], value)
        else:
            raise EventSepError(f"unknown parameter {name!r}; known: {', '.join(PARAM_NAMES + ('query_a', 'query_b'))}")

    def apply_pending(self) -> int:
        """Apply what control threads posted (latest value per parameter, in request order)."""
        changes = self.pending.take()
        for name, value in changes:
            self.apply(name, value)
        return len(changes)

    def state(self, include_pending: bool = True) -> dict[str, Any]:
        """Current parameters and queries (with ``include_pending``: as the next block will see them)."""
        values: dict[str, Any] = asdict(self._params)
        values.update(query_a=self._queries["A"], query_b=self._queries["B"])
        if include_pending:
            values.update(self.pending.peek())
        for slot in ("query_a", "query_b"):
            spec = values[slot]
            values[slot] = spec.describe() if spec is not None else ""
        values.update(sample_rate=self._rate or 0, channels=self._channels or 0,
                      latency_samples=self.latency_samples, model=self.model_id[:12])
        return values

    # ----------------------------------------------------------------------------------- audio

    def prepare(self, sample_rate: int, channels: int) -> None:
        """Make ready for a stream of ``channels`` at ``sample_rate`` (a new runtime only if they changed)."""
        rate = check_sample_rate(sample_rate)
        if self._runtime is not None and (rate, channels) == (self._rate, self._channels):
            return
        rt = StreamingSeparator(self.models, rate, channels, self.settings)
        with self._lock:
            self._push_all(rt)
            self._runtime, self._rate, self._channels = rt, rate, int(channels)

    def reset(self) -> None:
        """Forget the stream (not the parameters); takes effect at the start of the next block."""
        rt = self._runtime
        if rt is not None:
            rt.reset()

    def _stream(self, rt: StreamingSeparator, x: np.ndarray, buffer_size: int) -> np.ndarray:
        n = x.shape[1]
        if n == 0:
            return x.copy()
        outs = []
        for start in range(0, n, buffer_size):
            if len(self.pending):
                self.apply_pending()
            outs.append(rt.process(x[:, start:start + buffer_size]))
            self.blocks_processed += 1
        return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=1)

    def process(self, audio: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True
                ) -> np.ndarray:
        """Process ``audio`` (``(channels, n)`` or ``(n,)``) in blocks of ``buffer_size``; see the module
        docstring for ``reset``. Returns float32 of the input's shape."""
        x, was_1d = as_block(audio)
        rate = check_sample_rate(sample_rate)
        buffer_size = check_buffer_size(buffer_size)
        channels = x.shape[0]
        if reset or self._runtime is None:
            self.prepare(rate, channels)
            self._runtime.reset()
        elif (rate, channels) != (self._rate, self._channels):
            raise EventSepError(f"this stream runs at {self._rate} Hz with {self._channels} channel(s), got "
                                f"{rate} Hz with {channels}; pass reset=True to start a new stream")
        rt = self._runtime
        out = self._stream(rt, x, buffer_size)
        if reset:
            latency = rt.latency_samples
            tail = self._stream(rt, np.zeros((channels, latency), np.float32), buffer_size)
            out = np.concatenate([out, tail], axis=1)[:, latency:]
        return restore_shape(np.ascontiguousarray(out, np.float32), was_1d)

    __call__ = process

    def __repr__(self) -> str:
        p = self._params
        queries = ", ".join(f"{s}={q.describe()}" for s, q in self._queries.items() if q is not None) or "no query"
        return (f"<SeparatorEffect {queries} interp={p.interp:g} mix={p.mix:g} residual={p.residual:g} "
                f"bypass={p.bypass} latency={self.latency_samples}>")
