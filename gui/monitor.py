"""The monitor stream: the panel's chain running block after block so the meters, the latency and the
real-time load show what the effect is doing while the knobs turn.

With an audio input and output device it runs live (``plugin_host.live.run_live``). Without one (a
headless machine, a server) it plays the loaded monitor file in a loop, or silence, at real-time pace
(``plugin_host.serve.run_serve``, what ``eventsep serve`` does): nothing is heard, but the effect runs
exactly as it would in a host, and OSC changes are applied block by block.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from engine.errors import EventSepError

LIVE = "live"       # the source value meaning: the default audio input device


@dataclass
class Levels:
    """What happened since the last look: per channel peak and RMS (linear), CPU load of the blocks."""

    in_peak: list[float] = field(default_factory=list)
    in_rms: list[float] = field(default_factory=list)
    out_peak: list[float] = field(default_factory=list)
    out_rms: list[float] = field(default_factory=list)
    load: float = 0.0               # smoothed CPU time of a block / its duration
    load_peak: float = 0.0          # worst block since the last look
    behind: bool = False            # some block took longer than its duration in wall-clock time
    blocks: int = 0                 # blocks since the last look


class MeteredChain:
    """Wraps a chain for the monitor loop: the loop calls it like the chain, it measures the levels going in
    and out and how long each block took. ``take()`` hands the accumulated figures to the UI."""

    def __init__(self, chain):
        self.chain = chain
        self.sample_rate: int | None = None
        self._lock = threading.Lock()     # audio thread and UI hold it for a few arithmetic operations
        self._reset_figures()
        self._load = 0.0

    def _reset_figures(self) -> None:
        self._in_peak = self._out_peak = None
        self._in_sq = self._out_sq = None
        self._frames = 0
        self._load_peak = 0.0
        self._blocks = 0
        self._behind = False

    # the chain protocol run_serve / run_live use
    def reset(self) -> None:
        self.chain.reset()

    def prepare(self, sample_rate: int, channels: int) -> None:
        self.chain.prepare(sample_rate, channels)
        self.sample_rate = int(sample_rate)

    @property
    def latency_samples(self) -> int:
        return int(self.chain.latency_samples)

    def process(self, audio, sample_rate, buffer_size: int = 8192, reset: bool = True):
        # CPU time is what the effect costs; wall time also counts the moments a busy machine gave the
        # thread no core, which is what makes a live stream drop out: both are reported
        c0, t0 = time.thread_time(), time.perf_counter()
        out = self.chain.process(audio, sample_rate, buffer_size=buffer_size, reset=reset)
        cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
        x = np.asarray(audio, np.float32).reshape(-1, np.shape(audio)[-1])
        y = np.asarray(out, np.float32).reshape(-1, np.shape(out)[-1])
        n = x.shape[1]
        if n:
            duration = n / float(sample_rate)
            load = cpu / duration
            with self._lock:
                self._in_peak = _accumulate_max(self._in_peak, np.abs(x).max(axis=1))
                self._out_peak = _accumulate_max(self._out_peak, np.abs(y).max(axis=1))
                self._in_sq = _accumulate_sum(self._in_sq, np.square(x, dtype=np.float64).sum(axis=1))
                self._out_sq = _accumulate_sum(self._out_sq, np.square(y, dtype=np.float64).sum(axis=1))
                self._frames += n
                # one separator run lands in one block of several: smooth so the figure is readable
                self._load += 0.05 * (load - self._load)
                self._load_peak = max(self._load_peak, load)
                self._behind = self._behind or wall > duration
                self._blocks += 1
        return out

    def take(self) -> Levels:
        with self._lock:
            frames = max(self._frames, 1)
            levels = Levels(
                in_peak=[] if self._in_peak is None else self._in_peak.tolist(),
                in_rms=[] if self._in_sq is None else np.sqrt(self._in_sq / frames).tolist(),
                out_peak=[] if self._out_peak is None else self._out_peak.tolist(),
                out_rms=[] if self._out_sq is None else np.sqrt(self._out_sq / frames).tolist(),
                load=self._load, load_peak=self._load_peak, behind=self._behind, blocks=self._blocks)
            self._reset_figures()
        return levels


def _accumulate_max(acc, values):
    return values.astype(np.float64) if acc is None or acc.shape != values.shape else np.maximum(acc, values)


def _accumulate_sum(acc, values):
    return values if acc is None or acc.shape != values.shape else acc + values


def live_devices_available() -> bool:
    """True when pedalboard sees both an audio input and an output device."""
    try:
        from plugin_host.live import audio_devices

        inputs, outputs = audio_devices()
    except EventSepError:
        return False
    return bool(inputs and outputs)


class MonitorLoop:
    """Runs the metered chain on its own thread. ``start(source)``: a file path (looped), None (silence)
    or :data:`LIVE`. A failure (an unreadable file, a device that vanished) ends the thread and is left in
    ``error`` for the UI to show; the UI decides what to run next."""

    def __init__(self, chain, block: int = 512, sample_rate: int = 48000, channels: int = 2):
        self.metered = MeteredChain(chain)
        self.block, self.sample_rate, self.channels = block, sample_rate, channels
        self.source: Path | str | None = None
        self.error: str | None = None
        self.late_blocks = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def describe(self) -> str:
        if self.source == LIVE:
            return "live audio device"
        if self.source is None:
            return "silence"
        return f"{Path(self.source).name} (loop)"

    def start(self, source: Path | str | None = None) -> None:
        self.stop()
        self.source = LIVE if source == LIVE else (Path(source) if source is not None else None)
        self.error = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(self.source, self._stop),
                                        name="eventsep-panel-monitor", daemon=True)
        self._thread.start()

    def _run(self, source, stop: threading.Event) -> None:
        try:
            if source == LIVE:
                from plugin_host.live import pick_devices, run_live

                inp, out = pick_devices(None, None)
                run_live(self.metered, inp, out, None, self.block, self.channels, stop)
            else:
                from plugin_host.serve import ServeConfig, run_serve

                config = ServeConfig(input=source, block=self.block, sample_rate=self.sample_rate,
                                     channels=self.channels)
                report = run_serve(self.metered, config, stop)
                self.late_blocks += report.late_blocks
        except EventSepError as e:
            self.error = str(e)
        except Exception as e:      # never silently: the UI shows it and falls back to silence
            self.error = f"monitor stopped: {type(e).__name__}: {e}"

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
