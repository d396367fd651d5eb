"""Headless runner: a chain driven over OSC, fed with a file in a loop (or silence) at real-time pace,
so a DAW or an OSC tool can turn the knobs and hear (or record) the result."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import EventSepError

log = logging.getLogger("eventsep.serve")


@dataclass(frozen=True)
class ServeConfig:
    input: Path | None = None       # None: silence
    output: Path | None = None      # optional recording of the processed stream (delayed by the latency)
    seconds: float | None = None    # stop after this much audio; None: until stopped
    block: int = 512
    sample_rate: int = 48000        # for silence (a file brings its own)
    channels: int = 2               # for silence
    overwrite: bool = False


@dataclass(frozen=True)
class ServeReport:
    frames: int
    sample_rate: int
    wall_seconds: float
    late_blocks: int


class _Source:
    """Blocks of the input file, rewound at its end, or of silence."""

    def __init__(self, config: ServeConfig):
        self._file = None
        if config.input is None:
            self.sample_rate, self.channels = config.sample_rate, config.channels
            return
        from pedalboard.io import AudioFile

        path = Path(config.input)
        if not path.is_file():
            raise EventSepError(f"{path}: no such file")
        try:
            self._file = AudioFile(str(path))
        except Exception as e:
            raise EventSepError(f"{path}: not a readable audio file ({e})") from None
        if self._file.frames <= 0:
            raise EventSepError(f"{path}: the file holds no audio")
        self.sample_rate, self.channels = int(self._file.samplerate), int(self._file.num_channels)

    def read(self, n: int) -> np.ndarray:
        if self._file is None:
            return np.zeros((self.channels, n), np.float32)
        parts, need = [], n
        while need:
            if self._file.tell() >= self._file.frames:
                self._file.seek(0)
            x = self._file.read(min(need, self._file.frames - self._file.tell()))
            if x.shape[1] == 0:          # the header promised more than the stream holds: loop now
                self._file.seek(0)
                continue
            parts.append(x)
            need -= x.shape[1]
        return np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def run_serve(chain, config: ServeConfig, stop: threading.Event) -> ServeReport:
    """Process blocks at real-time pace until ``stop`` is set or ``config.seconds`` of audio are done."""
    from pedalboard.io import AudioFile

    if config.block < 16:
        raise EventSepError(f"--block must be at least 16 samples, got {config.block}")
    if config.seconds is not None and not config.seconds > 0:
        raise EventSepError(f"--seconds must be positive, got {config.seconds}")
    if config.output is not None and config.output.exists() and not config.overwrite:
        raise EventSepError(f"{config.output}: already exists (pass --overwrite to replace it)")
    source = _Source(config)
    rate, channels, block = source.sample_rate, source.channels, config.block
    writer = None
    try:
        chain.reset()
        chain.prepare(rate, channels)
        if config.output is not None:
            try:
                writer = AudioFile(str(config.output), "w", rate, channels)
            except Exception as e:
                raise EventSepError(f"{config.output}: cannot write ({e})") from None
        limit = None if config.seconds is None else int(round(config.seconds * rate))
        log.info("serving %s at %d Hz, %d channel(s), blocks of %d (latency %d samples)",
                 config.input or "silence", rate, channels, block, chain.latency_samples)
        frames = late = 0
        t0 = time.monotonic()
        next_warning = 0.0
        while not stop.is_set() and (limit is None or frames < limit):
            n = block if limit is None else min(block, limit - frames)
            y = chain.process(source.read(n), rate, buffer_size=n, reset=False)
            if writer is not None:
                writer.write(y)
            frames += n
            ahead = t0 + frames / rate - time.monotonic()
            if ahead > 0:
                stop.wait(ahead)
            elif ahead < -0.5:
                late += 1
                now = time.monotonic()
                if now >= next_warning:
                    log.warning("running %.2f s behind real time (machine too busy); catching up", -ahead)
                    next_warning = now + 10.0
                t0 = now - frames / rate     # re-anchor instead of racing to catch up
        return ServeReport(frames, rate, time.monotonic() - t0 if frames else 0.0, late)
    finally:
        if writer is not None:
            writer.close()
        source.close()
