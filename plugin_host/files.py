"""Stream a file through a chain or effect: read in chunks with ``pedalboard.io.AudioFile``, process with
``reset=False``, write as we go. Memory stays flat in the file's length. The processor's latency is
removed (the first ``latency_samples`` output samples are dropped and the end is flushed with silence),
so the output lines up with the input and has exactly its length, rate and channel count.

The output is written to a temporary file beside the target and renamed at the end: an error or Ctrl-C
never leaves a half-written file under the requested name, and an existing file is only replaced with
``overwrite=True``.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.audio import refuse_existing
from engine.errors import EventSepError

WRITABLE = (".wav", ".flac", ".aiff", ".aif", ".ogg", ".mp3")
PCM_FORMATS = (".wav", ".flac", ".aiff", ".aif")


@dataclass(frozen=True)
class ProcessResult:
    input: Path
    output: Path
    sample_rate: int
    channels: int
    frames: int
    latency_samples: int
    seconds: float          # wall-clock time spent

    @property
    def realtime_factor(self) -> float:
        """Audio seconds processed per wall-clock second."""
        return (self.frames / self.sample_rate) / self.seconds if self.seconds > 0 else float("inf")


def check_paths(src: Path, dst: Path, overwrite: bool) -> None:
    if not src.exists():
        raise EventSepError(f"{src}: no such file")
    if src.is_dir():
        raise EventSepError(f"{src}: is a folder, not an audio file")
    if dst.suffix.lower() not in WRITABLE:
        raise EventSepError(f"{dst}: cannot write '{dst.suffix or '(no extension)'}' files; "
                            f"use one of {', '.join(WRITABLE)}")
    if dst.is_dir():
        raise EventSepError(f"{dst}: is a folder; give an output file name")
    if dst.exists():
        if src.resolve() == dst.resolve():
            raise EventSepError(f"{dst}: the output would overwrite the input it is read from")
        refuse_existing([dst], overwrite)


def _open_input(src: Path):
    from pedalboard.io import AudioFile

    try:
        f = AudioFile(str(src))
    except Exception as e:   # pedalboard's decoders raise ValueError/RuntimeError
        raise EventSepError(f"{src}: not a readable audio file ({e})") from None
    if f.frames <= 0:
        f.close()
        raise EventSepError(f"{src}: the file holds no audio")
    if f.samplerate != int(f.samplerate):
        f.close()
        raise EventSepError(f"{src}: fractional sample rate {f.samplerate} is not supported")
    return f


def _open_output(path: Path, rate: int, channels: int, bit_depth: int):
    from pedalboard.io import AudioFile

    kwargs = {"bit_depth": bit_depth} if path.suffix.lower() in PCM_FORMATS else {}
    try:
        return AudioFile(str(path), "w", rate, channels, **kwargs)
    except Exception as e:
        raise EventSepError(f"{path}: cannot write ({e})") from None


def process_file(processor, src: str | Path, dst: str | Path, *, block: int = 65536, overwrite: bool = False,
                 bit_depth: int = 24, progress: bool = True) -> ProcessResult:
    """Run ``processor`` (a Chain, SeparatorEffect or anything with the effect protocol) over ``src``
    into ``dst``. ``bit_depth`` applies to WAV/FLAC/AIFF (16, 24 or 32 = float WAV)."""
    from tqdm import tqdm

    src, dst = Path(src), Path(dst)
    check_paths(src, dst, overwrite)
    if bit_depth not in (16, 24, 32):
        raise EventSepError(f"bit depth must be 16, 24 or 32, got {bit_depth}")
    if block < 1:
        raise EventSepError(f"block must be at least 1 sample, got {block}")
    t0 = time.perf_counter()
    with _open_input(src) as f:
        rate, channels, frames = int(f.samplerate), int(f.num_channels), int(f.frames)
        processor.reset()
        processor.prepare(rate, channels)
        latency = int(processor.latency_samples)
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.stem}.partial-{os.getpid()}{dst.suffix}")
        written = 0
        try:
            with _open_output(tmp, rate, channels, bit_depth) as out, \
                    tqdm(total=frames, unit="sample", unit_scale=True, desc=src.name, disable=not progress,
                         leave=True, dynamic_ncols=True) as bar:
                to_drop = latency
                read = 0

                def emit(y: np.ndarray) -> None:
                    nonlocal to_drop, written
                    if to_drop:
                        cut = min(to_drop, y.shape[1])
                        y, to_drop = y[:, cut:], to_drop - cut
                    y = y[:, :max(0, read - written)]          # never more than was read
                    if y.shape[1]:
                        out.write(y)
                        written += y.shape[1]

                while read < frames:
                    try:
                        x = f.read(min(block, frames - read))
                    except Exception as e:
                        raise EventSepError(f"{src}: decoding failed after {read} samples ({e})") from None
                    if x.shape[1] == 0:           # the header promised more than the stream holds
                        break
                    read += x.shape[1]
                    emit(processor.process(np.asarray(x, np.float32), rate, buffer_size=block, reset=False))
                    bar.update(x.shape[1])
                remaining = latency
                while written < read and remaining > 0:     # flush: the last `latency` samples
                    n = min(block, remaining)
                    emit(processor.process(np.zeros((channels, n), np.float32), rate, buffer_size=block,
                                           reset=False))
                    remaining -= n
            os.replace(tmp, dst)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return ProcessResult(src, dst, rate, channels, written, latency, time.perf_counter() - t0)
