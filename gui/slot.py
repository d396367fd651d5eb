"""A reference slot (A or B): drop a file, open one, or pick a class. Shows the clip's outline, duration
and whether its latent is ready; the latent is computed on the job pool, never on the UI thread.

The slot does not own the query: the running effect does. A slot posts what the user chose and then
mirrors the effect (``sync``), so a query set over OSC or by a preset shows up here too."""
from __future__ import annotations

from pathlib import Path

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (QComboBox, QFileDialog, QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy,
                             QVBoxLayout)

from engine.errors import EventSepError
from plugin_host.controls import next_seq
from plugin_host.query import QuerySpec

from . import theme
from .clips import ClipView, file_query, view_clip
from .waveform import WaveformView

AUDIO_FILTER = "Audio files (*.wav *.flac *.mp3 *.ogg *.aiff *.aif *.m4a);;All files (*)"
PICK_CLASS = "pick a class…"


def _same(a: QuerySpec | None, b: QuerySpec | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.same_as(b)


def local_files(mime) -> list[Path]:
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []


class SlotWidget(QFrame):
    message = pyqtSignal(str)           # for the status bar
    error = pyqtSignal(str)
    latent_ready = pyqtSignal(object)   # the QuerySpec now driving the effect

    def __init__(self, name: str, session, jobs, parent=None):
        super().__init__(parent)
        self.name, self.key = name, f"query_{name.lower()}"
        self.session, self.jobs = session, jobs
        self.color = theme.SLOT_COLORS[name]
        self.state = "empty"            # empty | computing | ready | error
        self.shown: QuerySpec | None = None     # what the effect holds, as this slot displays it
        self.view: ClipView | None = None
        self.last_error: str | None = None
        self._request: int | None = None        # sequence number of the file being encoded
        self._view_request: object = None       # spec whose outline is being read (display only)
        self.setAcceptDrops(True)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName(f"slot{name}")
        self.setStyleSheet(f"#slot{name} {{ background: {theme.PANEL.name()}; border-radius: 8px; "
                           f"border: 1px solid {theme.PANEL_LIGHT.name()}; }}")
        self._build()
        self._show(None)

    # ------------------------------------------------------------------------------------- layout

    def _build(self) -> None:
        letter = QLabel(self.name)
        letter.setStyleSheet(f"color: {self.color.name()}; font-size: 26px; font-weight: bold;")
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 14px; font-weight: bold;")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.badge = QLabel()
        head = QHBoxLayout()
        head.addWidget(letter)
        head.addSpacing(6)
        head.addWidget(self.title, 1)
        head.addWidget(self.badge)
        self.wave = WaveformView(self.color)
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setMinimumHeight(34)
        self.info.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.open_button = QPushButton("Open file…")
        self.open_button.setToolTip(f"Choose a reference clip for slot {self.name} (or drop one on the slot)")
        self.open_button.clicked.connect(self.open_dialog)
        self.classes = QComboBox()
        self.classes.setToolTip(f"Use a class the model knows as query {self.name}")
        self.classes.setMinimumContentsLength(12)
        self.classes.addItem(PICK_CLASS, None)
        names = self.session.class_names()
        for n in names["coarse"]:
            self.classes.addItem(n, n)
        if names["fine"]:
            self.classes.insertSeparator(self.classes.count())
            for n in names["fine"]:
                self.classes.addItem(n, n)
        self.classes.activated.connect(self._class_picked)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip(f"Empty slot {self.name}")
        self.clear_button.clicked.connect(self.clear)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.classes, 1)
        row.addWidget(self.clear_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(12, 10, 12, 12)
        box.setSpacing(8)
        box.addLayout(head)
        box.addWidget(self.wave, 1)
        box.addWidget(self.info)
        box.addLayout(row)

    def _set_state(self, state: str, info: str = "", error: bool = False) -> None:
        self.state = state
        text, color = {"empty": ("○ empty", theme.DIM), "computing": ("◌ computing latent…", theme.BUSY),
                       "ready": ("● latent ready", theme.OK), "error": ("✕ error", theme.ERROR)}[state]
        self.badge.setText(text)
        self.badge.setStyleSheet(f"color: {color.name()}; font-weight: bold;")
        self.info.setText(info)
        self.info.setStyleSheet(f"color: {(theme.ERROR if error else theme.DIM).name()};")

    def _show(self, spec: QuerySpec | None, view: ClipView | None = None) -> None:
        """Display what the effect holds for this slot."""
        self.view = view
        self._select_class(spec.value if spec is not None and spec.kind == "class" else None)
        if spec is None:
            self.title.setText("empty")
            self.wave.clear()
            self._set_state("empty", "Drop an audio file, open one, or pick a class.")
        elif spec.kind == "class":
            self.title.setText(f"class: {spec.value}")
            self.wave.show_title(spec.value, "class latent from the model")
            self._set_state("ready", "The model's mean latent for this class.")
        elif spec.kind == "file":
            path = Path(spec.value)
            self.title.setText(path.name)
            self.title.setToolTip(str(path))
            if view is not None:
                self.wave.show_outline(view.outline)
                self._set_state("ready", view.describe())
            else:
                self.wave.show_title(path.name, "reading waveform…")
                self._set_state("ready", str(path))
                self._read_outline(spec)
        else:
            self.title.setText("latent")
            self.wave.show_title("latent", "set from a preset or over OSC")
            self._set_state("ready", "A raw latent vector (no clip to show).")

    def _select_class(self, name: str | None) -> None:
        index = self.classes.findData(name) if name is not None else 0
        self.classes.setCurrentIndex(max(index, 0))

    # ------------------------------------------------------------------------------------- user actions

    def load_file(self, path: str | Path) -> None:
        """Encode ``path`` on the pool; the effect gets it when its latent is ready."""
        path = Path(path)
        seq = next_seq()
        self._request = seq
        self.title.setText(path.name)
        self._set_state("computing", f"Reading {path.name} and running the Query-net…")
        self.message.emit(f"slot {self.name}: computing the latent of {path.name}…")
        models = self.session.models
        self.jobs.submit(lambda: file_query(models, path), lambda result: self._file_done(seq, result),
                         lambda msg: self._file_failed(seq, msg))

    def _file_done(self, seq: int, result) -> None:
        if seq != self._request:
            return                      # the user chose something else meanwhile
        self._request = None
        view, spec = result
        if not self.session.post(self.key, spec, seq):
            return                      # a newer change (OSC, preset) won; sync() shows it
        self.shown = spec
        self._show(spec, view)
        self.last_error = None
        self.message.emit(f"slot {self.name}: latent of {view.path.name} ready")
        self.latent_ready.emit(spec)

    def _file_failed(self, seq: int, message: str) -> None:
        if seq != self._request:
            return
        self._request = None
        self.last_error = message
        self._show(self.shown, self.view)         # the effect still holds the previous query
        self._set_state("error", f"Could not use that file: {message}", error=True)
        self.error.emit(f"slot {self.name}: {message}")

    def choose_class(self, name: str) -> None:
        try:
            spec = self.session.effect.resolve_class(name)
        except EventSepError as e:
            self.last_error = str(e)
            self._set_state("error", str(e), error=True)
            self.error.emit(f"slot {self.name}: {e}")
            return
        self._request = None
        self.session.post(self.key, spec)
        self.shown = spec
        self._show(spec)
        self.message.emit(f"slot {self.name}: class {spec.value}")
        self.latent_ready.emit(spec)

    def clear(self) -> None:
        self._request = None
        self.session.post(self.key, None)
        self.shown = None
        self._show(None)
        self.message.emit(f"slot {self.name} cleared")

    def _class_picked(self, index: int) -> None:
        name = self.classes.itemData(index)
        if name:
            self.choose_class(name)

    def open_dialog(self) -> None:
        start = str(Path(self.shown.value).parent) if self.shown is not None and self.shown.kind == "file" else ""
        path, _ = QFileDialog.getOpenFileName(self, f"Reference clip for slot {self.name}", start, AUDIO_FILTER)
        if path:
            self.load_file(path)

    # ------------------------------------------------------------------------------------- mirroring

    def sync(self, spec: QuerySpec | None) -> None:
        """Called with the effect's query for this slot (pending changes included) on every UI tick."""
        if _same(spec, self.shown):
            return
        self._request = None            # an outside change (OSC, preset) replaces whatever we were encoding
        self.shown = spec
        self._show(spec)

    def _read_outline(self, spec: QuerySpec) -> None:
        self._view_request = spec
        self.jobs.submit(lambda: view_clip(spec.value)[0], lambda view: self._outline_done(spec, view),
                         lambda msg: self._outline_failed(spec, msg))

    def _outline_done(self, spec: QuerySpec, view: ClipView) -> None:
        if self._view_request is spec and _same(spec, self.shown):
            self.view = view
            self.wave.show_outline(view.outline)
            self._set_state("ready", view.describe())

    def _outline_failed(self, spec: QuerySpec, message: str) -> None:
        if self._view_request is spec and _same(spec, self.shown):
            self.wave.show_title(Path(spec.value).name, "waveform unavailable")
            self._set_state("ready", f"Latent ready; cannot show the waveform: {message}")

    # ------------------------------------------------------------------------------------- drag and drop

    def dragEnterEvent(self, event) -> None:
        if local_files(event.mimeData()):
            event.acceptProposedAction()
            self.wave.set_highlight(True)
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:
        self.wave.set_highlight(False)

    def dropEvent(self, event) -> None:
        self.wave.set_highlight(False)
        files = local_files(event.mimeData())
        if not files:
            self.error.emit(f"slot {self.name}: only local audio files can be dropped here")
            event.ignore()
            return
        event.acceptProposedAction()
        if len(files) > 1:
            self.message.emit(f"slot {self.name}: using the first of {len(files)} dropped files")
        self.load_file(files[0])
