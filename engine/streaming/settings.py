"""Settings of the streaming runtime (the latency/quality trade-off) and the latency they imply.

Time is counted in STFT frames of the model (hop 256 at 22.05 kHz = 11.6 ms). Two ways to run:

- ``stateful`` (bundles of a separator streamable by construction): every ``hop_frames`` host hops the
  step graph takes the frames it has not seen and the carried state, and gives the masks of the frames
  ``lookahead_frames`` behind them. Each frame is computed once; with the model's own lookahead the stream
  is the offline result (``eventsep separate``) delayed. ``lookahead_frames`` below the model's own runs
  a second, speculative step in which the newest frame stands in for the frames not heard yet: less
  latency, a slightly different mask, the committed state unchanged.
- ``windowed`` (any bundle, the thesis U-Net included; the previous runtime): every ``hop_frames`` frames
  the separator runs once on the last ``context_frames`` frames and gives the masks of ``hop_frames``
  frames that sit ``lookahead_frames`` before the newest one.

``auto`` (the default) is stateful when the bundle has a step graph, else windowed.

Latency, as neutone splits it:

- *buffering delay*: a separator run needs ``hop_frames`` new hops of input, ``hop_frames * H - 1``
  samples of waiting in the worst case (H = the hop at the host rate);
- *model delay*: the synthesis window's overlap plus the lookahead, ``M - H + lookahead_frames * H``
  (M = the synthesis window at the host rate: the analysis window's last 3 hops with the stateful
  runtime's ``"short"`` synthesis, the whole analysis window L = 4 hops with ``"full"``; grid.py).

With ``background`` runs (on a worker thread) the buffering is longer by the worker's margin: one hop
(``(hop_frames + 1) H - 1`` in all) unless ``background_margin_ms`` says otherwise.

Their sum is the constant ``latency_samples``. With the shipped model (lookahead 1) and the short
synthesis: ``default`` (2 frames per run, on a worker thread) 69.6 ms, ``efficient`` (3 frames per run,
inline) 69.6 ms, ``every_frame`` (inline) 46.4 ms, ``low_latency`` (no lookahead, on a worker thread)
46.4 ms, ``background_runs`` (a run every frame on a worker thread) 58.0 ms; the windowed presets (full
synthesis) 92.9 ms and 58.0 ms (at any rate, to rounding).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..errors import EventSepError
from .dsp import SYNTHESES, synthesis_start

CHANNEL_MODES = ("mono", "per_channel")
MODES = ("auto", "stateful", "windowed")
WINDOWED_LOOKAHEAD = 1       # the windowed runtime's lookahead when none is given


@dataclass(frozen=True)
class StreamSettings:
    """The latency/quality setting of :class:`~engine.streaming.StreamingSeparator`. The presets are the
    classmethods below; a bare ``StreamSettings(...)`` runs inline (``background=False``), so it is the
    ``default`` preset's computation without its worker thread: the same samples, one hop earlier."""

    context_frames: int = 32      # windowed: frames the separator sees per run (32 = 372 ms)
    hop_frames: int | None = None  # frames per separator run (None: 2 or 1 stateful, 4 or 2 windowed; resolve)
    lookahead_frames: int | None = None   # future frames heard before a frame is masked (None: the model's own)
    smoothing_ms: float = 30.0    # time for mix / residual to swing fully, and the latent's time constant
    channel_mode: str = "mono"    # "mono": one mask from the channel mean; "per_channel": one per channel
    threads: int = 1              # onnxruntime intra-op threads (of the thread that calls process)
    mode: str = "auto"            # "auto", "stateful" or "windowed" (see the module docstring)
    # stateful: the runs on a worker thread, one hop behind (engine.streaming.background): the audio
    # thread only moves samples. True needs the stateful mode; "stateful": on a worker thread in the
    # stateful mode, inline in the windowed mode (the low_latency preset, which any bundle runs).
    background: bool | str = False
    # background: how long the worker has for a run beyond the block that completes it, in ms of audio
    # (None: one hop, 11.6 ms); this much more latency
    background_margin_ms: float | None = None
    # the synthesis window ("short": the analysis window's last 3 hops, one hop less latency; "full"; None:
    # short in the stateful mode, full in the windowed one)
    synthesis: str | None = None

    @classmethod
    def default(cls) -> "StreamSettings":
        """Stateful: 2 frames per run, the runs on a worker thread with one hop of margin (69.6 ms): two
        frames per call cost a third less than one, and the audio thread never computes a run, so a slow
        run is not a missed block; windowed bundles: the windowed runtime, inline."""
        return cls(background="stateful")

    @classmethod
    def low_latency(cls) -> "StreamSettings":
        """Stateful: no lookahead (a second, speculative step per run), a run every frame, on a worker
        thread with one hop of margin: 46.4 ms; windowed bundles: a run every 2 frames, inline."""
        return cls(lookahead_frames=0, background="stateful")

    @classmethod
    def every_frame(cls) -> "StreamSettings":
        """Stateful, a run every frame, inline: the lowest latency with the offline output (46.4 ms), for
        the most CPU (the VST3's C++ port runs this)."""
        return cls(hop_frames=1)

    @classmethod
    def efficient(cls) -> "StreamSettings":
        """Stateful, 3 frames per run, inline: the least CPU within 70 ms (69.6 ms), each run's work in the
        block that completes it (at 128-sample blocks the slowest of them can miss their deadline)."""
        return cls(hop_frames=3)

    @classmethod
    def background_runs(cls) -> "StreamSettings":
        """Stateful, a run every frame, on a worker thread: nothing heavy on the audio thread, for one hop
        (11.6 ms) more latency than ``every_frame`` (58.0 ms)."""
        return cls(hop_frames=1, background=True)

    @classmethod
    def windowed(cls) -> "StreamSettings":
        """The previous runtime's default: a 32-frame window recomputed every 4 frames."""
        return cls(context_frames=32, hop_frames=4, lookahead_frames=1, mode="windowed")

    @classmethod
    def windowed_low_latency(cls) -> "StreamSettings":
        # on one thread the slowest 512-sample blocks at 48 kHz came within 1 ms of their deadline on the
        # 2-core machine; two threads halve a run (docs/streaming.md)
        return cls(context_frames=32, hop_frames=2, lookahead_frames=0, threads=2, mode="windowed")

    @classmethod
    def preset(cls, name: str) -> "StreamSettings":
        if name not in PRESETS:
            raise EventSepError(f"unknown setting {name!r}; use one of {', '.join(PRESETS)}")
        return getattr(cls, name)()

    def resolve(self, info) -> "StreamSettings":
        """These settings made concrete for a bundle (``info``: its :class:`BundleInfo`) and checked: the
        mode chosen, the lookahead and the run length filled in. Raises a one-line :class:`EventSepError`
        when they cannot work.

        ``hop_frames=None``: stateful, 2 (each call reads the weights once for two frames: a third less
        CPU than a run every frame), or 1 without lookahead; windowed, 4, or 2 without lookahead (the
        previous runtime's two presets). ``synthesis=None``: short in the stateful mode, full in the
        windowed one."""
        for name in ("context_frames", "threads") + (("hop_frames",) if self.hop_frames is not None else ()):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise EventSepError(f"{name} must be a positive whole number, got {value!r}")
        la = self.lookahead_frames
        if la is not None and (isinstance(la, bool) or not isinstance(la, int) or la < 0):
            raise EventSepError(f"lookahead_frames must be 0 or more, got {la!r}")
        if not isinstance(self.smoothing_ms, (int, float)) or not 0.0 <= self.smoothing_ms <= 10_000:
            raise EventSepError(f"smoothing_ms must be between 0 and 10000, got {self.smoothing_ms}")
        if self.channel_mode not in CHANNEL_MODES:
            raise EventSepError(f"channel_mode must be one of {CHANNEL_MODES}, got {self.channel_mode!r}")
        if self.mode not in MODES:
            raise EventSepError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.synthesis is not None and self.synthesis not in SYNTHESES:
            raise EventSepError(f"synthesis must be one of {SYNTHESES} (or none), got {self.synthesis!r}")
        if not isinstance(self.background, bool) and self.background != "stateful":
            raise EventSepError(f"background must be true, false or 'stateful', got {self.background!r}")
        margin = self.background_margin_ms
        if margin is not None and (isinstance(margin, bool) or not isinstance(margin, (int, float))
                                   or not 0.0 <= margin <= 1000.0):
            raise EventSepError(f"background_margin_ms must be between 0 and 1000 (or none), got {margin!r}")
        mode = self.mode if self.mode != "auto" else ("stateful" if info.stateful else "windowed")
        if self.background and mode != "stateful":
            if self.background is True:
                raise EventSepError("background runs need the stateful mode (a bundle with a step graph)")
            return replace(self, background=False, background_margin_ms=None).resolve(info)   # "stateful"
        if mode == "stateful":
            if not info.stateful:
                raise EventSepError("this model has no stateful separator (a windowed-only bundle, e.g. the "
                                    "thesis U-Net); use the mode 'windowed' or 'auto'")
            la = info.lookahead if la is None else la
            if la > info.lookahead:
                raise EventSepError(f"this model looks {info.lookahead} frame(s) ahead; lookahead_frames can "
                                    f"be 0 to {info.lookahead} in the stateful mode")
            hop = self.hop_frames or (DEFAULT_RUN_FRAMES if la else 1)
            return replace(self, mode=mode, hop_frames=hop, lookahead_frames=la, background=bool(self.background),
                           synthesis=self.synthesis or DEFAULT_SYNTHESIS)
        if self.synthesis == "short":
            raise EventSepError("the windowed mode synthesises with the full window (synthesis 'full' or none)")
        la = WINDOWED_LOOKAHEAD if la is None else la
        hop = self.hop_frames or (4 if la else 2)
        if self.context_frames % info.time_multiple:
            raise EventSepError(f"context_frames must be a multiple of {info.time_multiple} (the separator's "
                                f"time stride), got {self.context_frames}")
        if hop + la > self.context_frames:
            raise EventSepError("hop_frames + lookahead_frames must fit in context_frames")
        return replace(self, mode=mode, hop_frames=hop, lookahead_frames=la, synthesis="full")


PRESETS = ("default", "low_latency", "every_frame", "efficient", "background_runs", "windowed",
           "windowed_low_latency")
DEFAULT_RUN_FRAMES = 2          # stateful runs with the model's lookahead, unless hop_frames says otherwise
DEFAULT_SYNTHESIS = "short"     # the stateful mode's synthesis window, and eventsep separate's


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
    """Latency of resolved ``settings`` (:meth:`StreamSettings.resolve`) with an analysis window of
    ``window`` and hop ``hop`` host samples."""
    # buffering: waiting for a run's hops, and with background runs the worker's margin to finish it
    synthesis_length = window - synthesis_start(window, hop, settings.synthesis or "full")
    return Latency(sample_rate=sample_rate,
                   buffering_samples=settings.hop_frames * hop - 1 + background_margin(settings, sample_rate, hop),
                   model_samples=synthesis_length - hop + settings.lookahead_frames * hop)


def background_margin(settings: StreamSettings, sample_rate: int, hop: int) -> int:
    """Samples the worker of background runs has beyond the block that completes a run (0 inline; one hop
    unless ``background_margin_ms`` says otherwise)."""
    if not settings.background:
        return 0
    if settings.background_margin_ms is None:
        return hop
    return int(round(settings.background_margin_ms * sample_rate / 1000.0))
