"""Render file...: a copy of the panel's chain over a whole file (``plugin_host.files.process_file``: chunked,
latency removed, written to a temporary file and renamed), with progress, cancel, and the result's
spectrogram."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from PyQt6.QtCore import QThread, pyqtSignal

from engine.errors import EventSepError
from plugin_host.files import ProcessResult, check_paths, process_file

from . import spectrogram

BLOCK = 16384           # about 0.35 s at 48 kHz: progress moves smoothly and cancel answers quickly


class Cancelled(Exception):
    """Raised inside the chain's process call; process_file then removes its temporary file."""


class _Watched:
    """The chain as process_file sees it, counting the input it is fed and stopping on cancel."""

    def __init__(self, chain, frames: int, progress: Callable[[float], None], cancel: threading.Event):
        self.chain, self.frames, self.progress, self.cancel = chain, frames, progress, cancel
        self.fed = 0

    def reset(self) -> None:
        self.chain.reset()

    def prepare(self, sample_rate: int, channels: int) -> None:
        self.chain.prepare(sample_rate, channels)

    @property
    def latency_samples(self) -> int:
        return self.chain.latency_samples

    def process(self, audio, sample_rate, buffer_size: int = 8192, reset: bool = True):
        if self.cancel.is_set():
            raise Cancelled()
        out = self.chain.process(audio, sample_rate, buffer_size=buffer_size, reset=reset)
        self.fed += audio.shape[-1]
        self.progress(min(self.fed / max(self.frames, 1), 1.0))
        return out


@dataclass(frozen=True)
class RenderOutcome:
    result: ProcessResult
    spectrogram: spectrogram.Spectrogram | None
    spectrogram_error: str | None


def input_frames(src: Path) -> int:
    from pedalboard.io import AudioFile

    try:
        with AudioFile(str(src)) as f:
            return int(f.frames)
    except Exception as e:
        raise EventSepError(f"{src}: not a readable audio file ({e})") from None


def render(chain, src: str | Path, dst: str | Path, *, progress: Callable[[float], None] = lambda _: None,
           cancel: threading.Event | None = None, overwrite: bool = False) -> RenderOutcome:
    """Process ``src`` into ``dst`` through ``chain``; raises Cancelled when ``cancel`` is set."""
    src, dst = Path(src), Path(dst)
    check_paths(src, dst, overwrite)
    watched = _Watched(chain, input_frames(src), progress, cancel or threading.Event())
    result = process_file(watched, src, dst, block=BLOCK, overwrite=overwrite, progress=False)
    try:
        spec, error = spectrogram.compute(dst), None
    except EventSepError as e:      # the file is written; only the picture is missing
        spec, error = None, str(e)
    return RenderOutcome(result, spec, error)


class RenderJob(QThread):
    """One render on its own thread. ``progress`` carries 0..1000; exactly one of ``finished_ok``,
    ``failed`` or ``cancelled`` ends it."""

    progress = pyqtSignal(int)
    finished_ok = pyqtSignal(object)
    failed = pyqtSignal(str)
    cancelled = pyqtSignal()

    def __init__(self, chain, src: Path, dst: Path, overwrite: bool, parent=None):
        super().__init__(parent)
        self.chain, self.src, self.dst, self.overwrite = chain, Path(src), Path(dst), overwrite
        self.cancel_event = threading.Event()
        self._last_emit = 0.0

    def cancel(self) -> None:
        self.cancel_event.set()

    def _progress(self, fraction: float) -> None:
        now = time.monotonic()
        if now - self._last_emit > 0.05 or fraction >= 1.0:     # at most 20 repaints a second
            self._last_emit = now
            self.progress.emit(int(fraction * 1000))

    def run(self) -> None:
        try:
            outcome = render(self.chain, self.src, self.dst, progress=self._progress, cancel=self.cancel_event,
                             overwrite=self.overwrite)
        except Cancelled:
            self.cancelled.emit()
        except EventSepError as e:
            self.failed.emit(str(e))
        except Exception as e:
            self.failed.emit(f"render failed: {type(e).__name__}: {e}")
        else:
            self.finished_ok.emit(outcome)
