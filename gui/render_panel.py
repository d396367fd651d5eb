"""The Render box: choose an input and an output, watch the progress (cancel any time), see the result's
spectrogram, play it where the machine has an audio output."""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import (QFileDialog, QGroupBox, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                             QVBoxLayout)

from engine.errors import EventSepError

from . import playback, theme
from .clips import format_duration
from .render import RenderJob, RenderOutcome
from .slot import AUDIO_FILTER
from .spectrogram import SpectrogramView

OUTPUT_FILTER = "WAV (*.wav);;FLAC (*.flac);;AIFF (*.aiff);;OGG (*.ogg);;MP3 (*.mp3)"


class RenderPanel(QGroupBox):
    message = pyqtSignal(str)
    error = pyqtSignal(str)
    done = pyqtSignal(object)           # RenderOutcome
    cancelled = pyqtSignal()
    _play_failed = pyqtSignal(str)      # from the playback thread

    def __init__(self, session, parent=None):
        super().__init__("Render", parent)
        self.session = session
        self.job: RenderJob | None = None
        self.last_output: Path | None = None
        self.render_button = QPushButton("Render file…")
        self.render_button.setToolTip("Process a whole file through the effect as it is set now (Ctrl+R)")
        self.render_button.clicked.connect(self.choose_and_render)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setFormat("%p %")
        self.bar.setValue(0)
        self.play_button = QPushButton("Play result")
        self.play_button.setEnabled(False)
        self.play_button.clicked.connect(self.play)
        self.status = QLabel("Renders use a copy of the effect: the monitor keeps running meanwhile.")
        self.status.setStyleSheet(f"color: {theme.DIM.name()};")
        self.status.setWordWrap(True)
        self.view = SpectrogramView()
        row = QHBoxLayout()
        row.addWidget(self.render_button)
        row.addWidget(self.cancel_button)
        row.addWidget(self.bar, 1)
        row.addWidget(self.play_button)
        box = QVBoxLayout(self)
        box.addLayout(row)
        box.addWidget(self.status)
        box.addWidget(self.view, 1)
        self._play_failed.connect(self._fail)

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.isRunning()

    def choose_and_render(self) -> None:
        src, _ = QFileDialog.getOpenFileName(self, "File to render", "", AUDIO_FILTER)
        if not src:
            return
        suggestion = str(Path(src).with_name(f"{Path(src).stem}-eventsep.wav"))
        # the save dialog asks before replacing an existing file, so a confirmed name may be overwritten
        dst, _ = QFileDialog.getSaveFileName(self, "Write the result to", suggestion, OUTPUT_FILTER)
        if dst:
            self.start(src, dst, overwrite=True)

    def start(self, src, dst, overwrite: bool = False) -> bool:
        if self.running:
            self._fail("a render is already running; cancel it first")
            return False
        try:
            chain = self.session.render_chain()
        except EventSepError as e:
            self._fail(str(e))
            return False
        self.job = RenderJob(chain, Path(src), Path(dst), overwrite, self)
        self.job.progress.connect(self.bar.setValue)
        self.job.finished_ok.connect(self._finished)
        self.job.failed.connect(self._fail_job)
        self.job.cancelled.connect(self._cancelled)
        self.bar.setValue(0)
        self.render_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._say(f"Rendering {Path(src).name} → {Path(dst).name}…")
        self.message.emit(f"rendering {src}")
        self.job.start()
        return True

    def cancel(self) -> None:
        if self.running:
            self.job.cancel()
            self._say("Cancelling…")

    def _idle(self) -> None:
        self.render_button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def _finished(self, outcome: RenderOutcome) -> None:
        self._idle()
        r = outcome.result
        self.last_output = r.output
        self.bar.setValue(1000)
        self.view.set_spectrogram(outcome.spectrogram)
        self.play_button.setEnabled(True)
        text = (f"Wrote {r.output.name} ({format_duration(r.frames / r.sample_rate)}, {r.sample_rate} Hz, "
                f"{r.channels} ch) in {r.output.parent}; {r.seconds:.1f} s = {r.realtime_factor:.1f}x real time")
        self._say(text)
        self.status.setToolTip(str(r.output))
        self.message.emit(text)
        if outcome.spectrogram_error:
            self._fail(outcome.spectrogram_error)
        self.done.emit(outcome)

    def _fail_job(self, message: str) -> None:
        self._idle()
        self.bar.setValue(0)
        self._fail(f"render failed: {message}")

    def _cancelled(self) -> None:
        self._idle()
        self.bar.setValue(0)
        self._say("Render cancelled; nothing was written.")
        self.message.emit("render cancelled; nothing was written")
        self.cancelled.emit()

    def play(self) -> None:
        if self.last_output is None:
            return
        try:
            playback.play_file(self.last_output, self._play_failed.emit)
        except EventSepError as e:
            self._fail(str(e))
            return
        self.message.emit(f"playing {self.last_output.name}")

    def _say(self, text: str, color=theme.DIM) -> None:
        self.status.setText(text)
        self.status.setStyleSheet(f"color: {color.name()};")

    def _fail(self, message: str) -> None:
        self._say(message, theme.ERROR)
        self.error.emit(message)

    def shutdown(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job.wait(10000)
