"""Settings of the streaming runtime (the latency/quality trade-off) and the latency they imply.

Time is counted in STFT frames of the model (hop 256 at 22.05 kHz = 11.6 ms). Every
``hop_frames`` frames the separator runs once on the last ``context_frames`` frames and gives the masks of
``hop_frames`` frames that sit ``lookahead_frames`` before the newest one.

Latency, as neutone splits it:

- *buffering delay*: a separator run needs ``hop_frames`` new hops of input, ``hop_frames * H - 1``
  samples of waiting in the worst case (H = the hop at the host rate);
- *model delay*: the analysis/synthesis window overlap plus the lookahead, ``L - H + lookahead_frames * H``
  (L = the window at the host rate).

Their sum is the constant ``latency_samples``. Preset ``default`` (context 32, hop 4, lookahead 1): 92.9 ms;
``low_latency`` (context 32, hop 2, lookahead 0): 58.0 ms (at any rate, to rounding).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import EventSepError

CHANNEL_MODES = ("mono", "per_channel")


@dataclass(frozen=True)
class StreamSettings:
    """The latency/quality setting of :class:`~engine.streaming.StreamingSeparator`."""

    context_frames: int = 32      # frames the separator sees per run (32 = 372 ms); a multiple of its time stride
    hop_frames: int = 4           # frames per separator run: fewer = lower latency, more runs per second
    lookahead_frames: int = 1     # future frames the separator sees beyond the frames it masks
    smoothing_ms: float = 30.0    # time for mix / residual to swing fully, and the latent's time constant
    channel_mode: str = "mono"    # "mono": one mask from the channel mean; "per_channel": one per channel
    threads: int = 1              # onnxruntime intra-op threads (of the thread that calls process)

    @classmethod
    def default(cls) -> "StreamSettings":
        return cls()

    @classmethod
    def low_latency(cls) -> "StreamSettings":
        # Twice as many separator runs per second as the default: on one thread the slowest 512-sample
        # blocks at 48 kHz came within 1 ms of their deadline on the 2-core machine; two threads halve a
        # run (benchmarks/stream_bench.py, docs/streaming.md).
        return cls(context_frames=32, hop_frames=2, lookahead_frames=0, threads=2)

    @classmethod
    def preset(cls, name: str) -> "StreamSettings":
        presets = {"default": cls.default, "low_latency": cls.low_latency}
        if name not in presets:
            raise EventSepError(f"unknown setting {name!r}; use one of {', '.join(presets)}")
        return presets[name]()

    def validate(self, time_multiple: int) -> "StreamSettings":
        for name in ("context_frames", "hop_frames", "threads"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise EventSepError(f"{name} must be a positive whole number, got {value!r}")
        if not isinstance(self.lookahead_frames, int) or self.lookahead_frames < 0:
            raise EventSepError(f"lookahead_frames must be 0 or more, got {self.lookahead_frames!r}")
        if self.context_frames % time_multiple:
            raise EventSepError(f"context_frames must be a multiple of {time_multiple} (the separator's time "
                                f"stride), got {self.context_frames}")
        if self.hop_frames + self.lookahead_frames > self.context_frames:
            raise EventSepError("hop_frames + lookahead_frames must fit in context_frames")
        if not self.smoothing_ms >= 0.0 or self.smoothing_ms > 10_000:
            raise EventSepError(f"smoothing_ms must be between 0 and 10000, got {self.smoothing_ms}")
        if self.channel_mode not in CHANNEL_MODES:
            raise EventSepError(f"channel_mode must be one of {CHANNEL_MODES}, got {self.channel_mode!r}")
        return self


@dataclass(frozen=True)
class Latency:
    """Latency at one host rate, in samples of that rate."""

    sample_rate: int
    buffering_samples: int
    model_samples: int

    @property
    def samples(self) -> int:
        return self.buffering_samples + self.model_samples

    @property
    def ms(self) -> float:
        return 1000.0 * self.samples / self.sample_rate

    @property
    def buffering_ms(self) -> float:
        return 1000.0 * self.buffering_samples / self.sample_rate

    @property
    def model_ms(self) -> float:
        return 1000.0 * self.model_samples / self.sample_rate


def latency_of(settings: StreamSettings, sample_rate: int, window: int, hop: int) -> Latency:
    """Latency of ``settings`` with an analysis window of ``window`` and hop ``hop`` host samples."""
    return Latency(sample_rate=sample_rate, buffering_samples=settings.hop_frames * hop - 1,
                   model_samples=window - hop + settings.lookahead_frames * hop)
