"""``Chain`` (series) and ``Parallel`` (summed branches, like ``pedalboard.Mix``): list-like containers
that run native pedalboard plugins and Python effects together, block by block.

Streaming semantics mirror pedalboard: ``chain(audio, sr, buffer_size, reset=True)`` starts afresh;
``reset=False`` carries every element's state (reverb tails, the separator's buffers) into the next call.
Latency: a ``Parallel`` delays its shorter branches so all branches line up (``align=True``); a ``Chain``
reports the sum of its elements' latencies in ``latency_samples`` and, with ``compensate=True`` (the
default), removes it from ``reset=True`` calls (flush with silence, trim the head) so the output lines up
with the input and has its length - as pedalboard does for its own latent plugins. ``reset=False`` blocks
come back delayed by ``latency_samples`` (a live stream cannot look ahead).
"""
from __future__ import annotations

import threading

import numpy as np

from engine.errors import EventSepError
from engine.streaming.validate import check_sample_rate

from .audio import as_block, check_buffer_size, restore_shape
from .stages import DelayLine, Native, make_stage

__all__ = ["Chain", "Parallel", "Mix", "Native", "DelayLine"]


class _Container:
    """List behaviour, per-element stage objects and the block loop shared by Chain and Parallel."""

    def __init__(self, plugins=None):
        self._mutate = threading.Lock()
        self._elements: list = []
        self._stages: dict[int, tuple[object, object]] = {}      # id(element) -> (element, stage)
        self._started: set = set()                              # stages started for the stream
        self._stream: tuple[int, int] | None = None             # (sample rate, channels) of the stream
        for element in list(plugins or []):
            self.append(element)

    # ------------------------------------------------------------------------------------- list API

    def _coerce(self, element):
        return element

    def _replace(self, elements: list) -> None:
        elements = [self._coerce(e) for e in elements]
        ids = [id(e) for e in elements]
        if len(set(ids)) != len(ids):
            raise EventSepError("the same plugin instance appears twice in this chain; its state would be "
                                "shared - use two instances")
        stages = {}
        for e in elements:
            stages[id(e)] = self._stages.get(id(e)) or (e, make_stage(e))
        with self._mutate:
            # copy-on-write: the audio thread iterates over whichever list it picked up
            self._elements, self._stages = elements, stages

    def __len__(self) -> int:
        return len(self._elements)

    def __iter__(self):
        return iter(list(self._elements))

    def __getitem__(self, index):
        return self._elements[index]

    def __setitem__(self, index, value) -> None:
        elements = list(self._elements)
        elements[index] = value
        self._replace(elements)

    def __delitem__(self, index) -> None:
        elements = list(self._elements)
        del elements[index]
        self._replace(elements)

    def __contains__(self, element) -> bool:
        return any(e is element for e in self._elements)

    def append(self, element) -> None:
        self._replace(self._elements + [element])

    def extend(self, elements) -> None:
        self._replace(self._elements + list(elements))

    def insert(self, index: int, element) -> None:
        elements = list(self._elements)
        elements.insert(index, element)
        self._replace(elements)

    def remove(self, element) -> None:
        for i, e in enumerate(self._elements):
            if e is element:
                del self[i]
                return
        raise ValueError(f"{element!r} is not in this {type(self).__name__}")

    def index(self, element) -> int:
        for i, e in enumerate(self._elements):
            if e is element:
                return i
        raise ValueError(f"{element!r} is not in this {type(self).__name__}")

    def clear(self) -> None:
        self._replace([])

    def __repr__(self) -> str:
        return f"<{type(self).__name__} [{', '.join(repr(e) for e in self._elements)}]>"

    # ------------------------------------------------------------------------------------- streaming

    def _current(self) -> list:
        elements, stages = self._elements, self._stages
        return [stages[id(e)][1] for e in elements]

    def prepare(self, sample_rate: int, channels: int) -> None:
        """Start every element not yet started for a stream of ``channels`` at ``sample_rate``."""
        rate = check_sample_rate(sample_rate)
        for stage in self._current():
            if stage not in self._started or (stage.sample_rate, stage.channels) != (rate, channels):
                stage.start(rate, channels)
                self._started.add(stage)
        self._stream = (rate, channels)
        self._after_prepare()

    def _after_prepare(self) -> None:
        pass

    def reset(self) -> None:
        """Forget the stream: every element is reset (native plugins re-primed) before the next block."""
        self._started = set()
        self._stream = None

    def _process_block(self, block: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _run(self, x: np.ndarray, buffer_size: int) -> np.ndarray:
        n = x.shape[1]
        if n == 0:
            return x.copy()
        outs = [self._process_block(x[:, s:s + buffer_size]) for s in range(0, n, buffer_size)]
        return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=1)

    def _compensates(self) -> bool:
        return False

    def process(self, audio: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True
                ) -> np.ndarray:
        """``audio``: ``(channels, n)`` or ``(n,)`` float; returns float32 of the same shape. ``reset=True``:
        a fresh stream (latency removed when compensating); ``reset=False``: continue the stream."""
        x, was_1d = as_block(audio)
        rate = check_sample_rate(sample_rate)
        buffer_size = check_buffer_size(buffer_size)
        channels = x.shape[0]
        if reset:
            self.reset()
        elif self._stream is not None and self._stream != (rate, channels):
            raise EventSepError(f"this stream runs at {self._stream[0]} Hz with {self._stream[1]} channel(s), got "
                                f"{rate} Hz with {channels}; pass reset=True to start a new stream")
        self.prepare(rate, channels)
        out = self._run(x, buffer_size)
        latency = self.latency_samples
        if reset and self._compensates() and latency:
            tail = self._run(np.zeros((channels, latency), np.float32), buffer_size)
            out = np.concatenate([out, tail], axis=1)[:, latency:]
        return restore_shape(np.ascontiguousarray(out, np.float32), was_1d)

    __call__ = process


class Chain(_Container):
    """Elements in series: native pedalboard plugins (any ``pedalboard.Plugin``, VST3/AU included),
    Python effects (``SeparatorEffect``, your own), ``Parallel`` groups and nested chains.

    ``compensate``: remove the total latency from ``reset=True`` calls (default True, as pedalboard).
    """

    def __init__(self, plugins=None, compensate: bool = True):
        self.compensate = bool(compensate)
        super().__init__(plugins)

    def _compensates(self) -> bool:
        return self.compensate

    @property
    def latency_samples(self) -> int:
        """Sum of the elements' latencies, in samples at the current stream's rate."""
        return sum(stage.latency for stage in self._current())

    def _process_block(self, block: np.ndarray) -> np.ndarray:
        for stage in self._current():
            block = stage.process(block)
        return block


class Parallel(_Container):
    """Branches fed the same input, outputs summed (``pedalboard.Mix`` for mixed native/Python elements).
    A list given as a branch becomes a ``Chain``. With ``align`` (default) every branch is delayed to
    the slowest one's latency, so a dry branch lines up with a separated one."""

    def __init__(self, branches=None, align: bool = True):
        self.align = bool(align)
        self._delays: dict[int, DelayLine] = {}
        super().__init__(branches)

    def _coerce(self, element):
        return Chain(element, compensate=False) if isinstance(element, list) else element

    @property
    def latency_samples(self) -> int:
        return max((stage.latency for stage in self._current()), default=0)

    def _after_prepare(self) -> None:
        if not self.align:
            self._delays = {}
            return
        stages = self._current()
        top = max((s.latency for s in stages), default=0)
        rate, channels = self._stream
        delays = {}
        for stage in stages:
            old = self._delays.get(id(stage))
            need = top - stage.latency
            if old is not None and old.samples == need:
                delays[id(stage)] = old
            elif need:
                delays[id(stage)] = DelayLine(need)
                delays[id(stage)].prepare(rate, channels)
        self._delays = delays

    def reset(self) -> None:
        super().reset()
        for delay in self._delays.values():
            delay.reset()

    def _process_block(self, block: np.ndarray) -> np.ndarray:
        total = None
        delays = self._delays
        for stage in self._current():
            y = stage.process(block)
            delay = delays.get(id(stage))
            if delay is not None:
                y = delay.process(y, 0, reset=False)
            total = y if total is None else total + y
        return block.copy() if total is None else total


Mix = Parallel
