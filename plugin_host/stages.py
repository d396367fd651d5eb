"""How a chain drives each kind of element block by block: native pedalboard plugins, Python effects,
and plain delay lines. Every stage takes and returns ``(channels, n)`` float32 blocks of equal length,
delayed by the stage's ``latency`` samples.

Native plugins are driven with ``plugin.process(block, sample_rate, buffer_size, reset=False)``, which
keeps their state. Two pedalboard 0.9 behaviours make naive block-by-block calls diverge from one-shot
processing, so a stream begins with a *priming* call (``PRIME_BLOCK`` samples of silence, ``reset=True``):

- a plugin is re-prepared - its state cleared - whenever a call's block is longer than any since the
  last reset, so the priming call fixes the largest block up front and longer blocks are split;
- a block with fewer samples than channels is laid out by guesswork (``(2, 1)`` reads as one channel of
  two samples) unless the plugin has seen a non-square block since its last reset: the priming call is one.

Silence leaves linear and dynamics plugins (filters, reverb, delay, compressor, gain) exactly as reset;
only free-running modulators (Chorus, Phaser LFOs) start at another phase than a fresh plugin's.
"""
from __future__ import annotations

import numpy as np

from engine.errors import EventSepError

PRIME_BLOCK = 8192


def is_native(element) -> bool:
    import pedalboard

    return isinstance(element, pedalboard.Plugin)


def is_python_effect(element) -> bool:
    return callable(getattr(element, "process", None)) and not is_native(element)


def _name(element) -> str:
    return type(element).__name__


class NativeStage:
    """A pedalboard plugin (any ``pedalboard.Plugin``: built-ins, ``Pedalboard``, ``Mix``, VST3/AU)."""

    def __init__(self, plugin, latency: int | None = None):
        self.plugin = plugin
        self.declared_latency = latency
        self.sample_rate = 0
        self.channels = 0

    @property
    def latency(self) -> int:
        if self.declared_latency is not None:
            return int(self.declared_latency)
        # VST3/AU plugins say what they add; pedalboard's built-ins keep it to themselves (declare it
        # with Native(plugin, latency=N) for those that have some, e.g. PitchShift)
        return int(getattr(self.plugin, "reported_latency_samples", 0) or 0)

    def _layout(self, block: np.ndarray) -> np.ndarray:
        return block[0] if self.channels == 1 else block     # mono as (n,): no layout guessing at all

    def start(self, sample_rate: int, channels: int) -> None:
        self.sample_rate, self.channels = sample_rate, channels
        silence = np.zeros((channels, PRIME_BLOCK), np.float32)
        self.plugin.process(self._layout(silence), sample_rate, buffer_size=PRIME_BLOCK, reset=True)

    def process(self, block: np.ndarray) -> np.ndarray:
        n = block.shape[1]
        outs = []
        for start in range(0, n, PRIME_BLOCK):
            chunk = block[:, start:start + PRIME_BLOCK]
            y = np.asarray(self.plugin.process(self._layout(chunk), self.sample_rate, buffer_size=PRIME_BLOCK,
                                               reset=False), np.float32)
            y = y.reshape(self.channels, -1)
            short = chunk.shape[1] - y.shape[1]
            if short > 0:
                # pedalboard hands back fewer samples while a latent plugin fills up; keep the block length
                # (the stream stays sample-continuous, delayed by the shortfall)
                y = np.concatenate([np.zeros((self.channels, short), np.float32), y], axis=1)
            elif short < 0:
                raise EventSepError(f"{_name(self.plugin)} returned {y.shape[1]} samples for a block of "
                                    f"{chunk.shape[1]}")
            outs.append(y)
        return outs[0] if len(outs) == 1 else np.concatenate(outs, axis=1)


class EffectStage:
    """A Python effect with pedalboard's call signature: ``process(audio, sample_rate, buffer_size, reset)``;
    optional ``prepare(sample_rate, channels)``, ``reset()`` and ``latency_samples``."""

    def __init__(self, effect):
        self.effect = effect
        self.sample_rate = 0
        self.channels = 0

    @property
    def latency(self) -> int:
        return int(getattr(self.effect, "latency_samples", 0) or 0)

    def start(self, sample_rate: int, channels: int) -> None:
        self.sample_rate, self.channels = sample_rate, channels
        prepare = getattr(self.effect, "prepare", None)
        if callable(prepare):
            prepare(sample_rate, channels)
        reset = getattr(self.effect, "reset", None)
        if callable(reset):
            reset()

    def process(self, block: np.ndarray) -> np.ndarray:
        n = block.shape[1]
        y = self.effect.process(block, self.sample_rate, buffer_size=max(1, n), reset=False)
        if not isinstance(y, np.ndarray) or y.shape != block.shape:
            got = getattr(y, "shape", type(y).__name__)
            raise EventSepError(f"{_name(self.effect)} returned {got} for a block of shape {block.shape}; a "
                                f"streamed effect must return a block of the same shape")
        return np.asarray(y, np.float32)


def make_stage(element):
    if isinstance(element, Native):
        return NativeStage(element.plugin, element.latency)
    if is_native(element):
        return NativeStage(element)
    if is_python_effect(element):
        return EffectStage(element)
    raise EventSepError(f"a chain holds pedalboard plugins and effects with a process(audio, sample_rate, "
                        f"buffer_size, reset) method; got {_name(element)}")


class Native:
    """A native pedalboard plugin with its latency declared, for plugins that add delay without reporting
    it to Python (``Native(pedalboard.PitchShift(), latency=...)``), so chains can compensate it."""

    def __init__(self, plugin, latency: int = 0):
        if not is_native(plugin):
            raise EventSepError(f"Native() wraps a pedalboard plugin, got {_name(plugin)}")
        if isinstance(latency, bool) or not isinstance(latency, (int, np.integer)) or latency < 0:
            raise EventSepError(f"latency must be a whole number of samples >= 0, got {latency!r}")
        self.plugin = plugin
        self.latency = int(latency)

    def __repr__(self) -> str:
        return f"Native({self.plugin!r}, latency={self.latency})"


class DelayLine:
    """Delays every channel by a whole number of samples (the chain's latency alignment uses it)."""

    def __init__(self, samples: int):
        if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 0:
            raise EventSepError(f"delay must be a whole number of samples >= 0, got {samples!r}")
        self.samples = int(samples)
        self._history = None

    @property
    def latency_samples(self) -> int:
        return self.samples

    def prepare(self, sample_rate: int, channels: int) -> None:
        self._history = np.zeros((channels, self.samples), np.float32)

    def reset(self) -> None:
        if self._history is not None:
            self._history[:] = 0.0

    def process(self, audio: np.ndarray, sample_rate: float, buffer_size: int = 8192, reset: bool = True
                ) -> np.ndarray:
        x = np.asarray(audio, np.float32)
        x2 = x[None] if x.ndim == 1 else x
        if self._history is None or self._history.shape[0] != x2.shape[0] or reset:
            self.prepare(int(sample_rate), x2.shape[0])
        if self.samples == 0:
            return x.copy()
        joined = np.concatenate([self._history, x2], axis=1)
        n = x2.shape[1]
        out, self._history = joined[:, :n], joined[:, n:].copy()
        return out[0] if x.ndim == 1 else out

    __call__ = process

    def __repr__(self) -> str:
        return f"DelayLine({self.samples})"
