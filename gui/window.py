"""The panel window: slots A and B around the interpolation knob, wet/dry, bypass, residual, level meters,
latency and load, the monitor source, the Render box, presets, and the status bar.

One timer (30 Hz) mirrors the running effect into the controls. Controls post their changes to the
effect's pending queue (``PanelSession.post``) and never write the widgets of another control, so an OSC
message and a knob turn go through the same path and the display always shows what the effect will play.
"""
from __future__ import annotations

import time
from pathlib import Path

from PyQt6.QtCore import Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (QFileDialog, QFrame, QGridLayout, QHBoxLayout, QLabel, QMainWindow, QMessageBox,
                             QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from engine.errors import EventSepError
from plugin_host.controls import next_seq

from . import theme
from .errors import ErrorReporter
from .knob import Knob
from .meters import LevelMeter
from .monitor import LIVE, MonitorLoop, live_devices_available
from .render_panel import RenderPanel
from .slot import AUDIO_FILTER, SlotWidget
from .workers import Jobs

TICK_MS = 33
HELP = """<b>Slots.</b> Drop an audio file on slot A or B, use <i>Open file…</i>, or pick a class. The latent is
computed in the background; the badge turns green when it is ready.<br>
<b>Knobs.</b> Drag up/down or around, scroll, or use the arrow keys (0.01), Page Up/Down (0.1), Home/End.
The big knob blends query A (0) into query B (1).<br>
<b>Keys.</b> Ctrl+1 / Ctrl+2 open a reference for A / B, Ctrl+B bypass, Ctrl+E residual, Ctrl+R render a file,
Ctrl+O / Ctrl+S load / save a preset, Ctrl+Q quit.<br>
<b>OSC.</b> The panel listens like <tt>eventsep serve</tt>: /eventsep/interp, /mix, /bypass, /residual,
/class/a, /query/a, /preset/load, /status … Messages move the controls; turning a control is what
/eventsep/status reports.<br>
<b>Monitor.</b> The effect runs continuously on the monitor source (a live audio device when there is
one, otherwise a file in a loop or silence, not audible) to feed the meters, the latency and the load."""


def _group(title: str, *widgets, stretch_last=False) -> QFrame:
    frame = QFrame()
    frame.setObjectName("group")
    frame.setStyleSheet(f"#group {{ background: {theme.PANEL.name()}; border-radius: 8px; "
                        f"border: 1px solid {theme.PANEL_LIGHT.name()}; }}")
    box = QVBoxLayout(frame)
    box.setContentsMargins(12, 8, 12, 10)
    if title:
        label = QLabel(title)
        label.setStyleSheet(f"color: {theme.DIM.name()}; font-weight: bold;")
        box.addWidget(label)
    for w in widgets:
        box.addWidget(w)
    return frame


class PanelWindow(QMainWindow):
    ticked = pyqtSignal()           # after every sync of the controls with the effect (tests wait on it)

    def __init__(self, session, monitor: MonitorLoop | None = None, jobs: Jobs | None = None,
                 live_available: bool | None = None):
        super().__init__()
        self.session = session
        self.effect = session.effect
        self.jobs = jobs or Jobs(parent=self)
        self.monitor = monitor or MonitorLoop(session.chain)
        self.live_available = live_devices_available() if live_available is None else live_available
        self.reporter = ErrorReporter(self)
        self.reporter.install()
        self._shut = False
        self._last_rejection = None
        self._monitor_error_shown = None
        self.setWindowTitle("EventSep")
        self.resize(1220, 800)
        self._build()
        self._menus()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.tick)
        self.timer.start(TICK_MS)
        self.tick()

    # ------------------------------------------------------------------------------------- layout

    def _build(self) -> None:
        root = QWidget()
        outer = QVBoxLayout(root)
        outer.setContentsMargins(14, 10, 14, 6)
        outer.setSpacing(10)

        title = QLabel("EventSep")
        title.setStyleSheet("font-size: 20px; font-weight: bold;")
        self.model_label = QLabel(self.session.describe_model())
        self.osc_label = QLabel()
        for w in (self.model_label, self.osc_label):
            w.setStyleSheet(f"color: {theme.DIM.name()};")
        head = QHBoxLayout()
        head.addWidget(title)
        head.addSpacing(12)
        head.addWidget(self.model_label)
        head.addStretch(1)
        self.load_preset_button = QPushButton("Load preset…")
        self.load_preset_button.clicked.connect(self.load_preset_dialog)
        self.save_preset_button = QPushButton("Save preset…")
        self.save_preset_button.clicked.connect(self.save_preset_dialog)
        head.addWidget(self.osc_label)
        head.addSpacing(12)
        head.addWidget(self.load_preset_button)
        head.addWidget(self.save_preset_button)
        outer.addLayout(head)

        self.slot_a = SlotWidget("A", self.session, self.jobs)
        self.slot_b = SlotWidget("B", self.session, self.jobs)
        for slot in (self.slot_a, self.slot_b):
            slot.message.connect(self.report)
            slot.error.connect(self.report_error)
            slot.setMinimumWidth(330)

        self.knob = Knob("A", "B", theme.SLOT_COLORS["A"], theme.SLOT_COLORS["B"], diameter=190)
        self.knob.setToolTip("Interpolation: 0 = query A, 1 = query B (slerp of the two latents)")
        self.knob.valueChanged.connect(lambda _: self._post("interp", self.knob.value01()))
        self.knob_hint = QLabel()
        self.knob_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.knob_hint.setStyleSheet(f"color: {theme.DIM.name()};")
        self.mix_knob = Knob("dry", "wet", theme.DIM, theme.TEXT, diameter=86, fmt=lambda v: f"{v * 100:.0f}%")
        self.mix_knob.setToolTip("Wet/dry: 100% = only the separated signal, 0% = the input")
        self.mix_knob.valueChanged.connect(lambda _: self._post("mix", self.mix_knob.value01()))
        self.bypass_button = QPushButton("Bypass")
        self.bypass_button.setCheckable(True)
        self.bypass_button.setToolTip("Pass the input through, with the same latency (Ctrl+B)")
        self.bypass_button.toggled.connect(lambda on: self._post("bypass", on))
        self.residual_button = QPushButton("Residual")
        self.residual_button.setCheckable(True)
        self.residual_button.setToolTip("Keep everything but the target instead of the target (Ctrl+E)")
        self.residual_button.toggled.connect(lambda on: self._post("residual", 1.0 if on else 0.0))
        for b in (self.bypass_button, self.residual_button):
            b.setMinimumHeight(34)
            b.setStyleSheet(f"QPushButton:checked {{ background: {theme.BUSY.darker(160).name()}; "
                            f"border: 1px solid {theme.BUSY.name()}; }}")
        switches = QVBoxLayout()
        switches.addWidget(self.bypass_button)
        switches.addWidget(self.residual_button)
        lower = QHBoxLayout()
        lower.addWidget(self.mix_knob)
        lower.addLayout(switches)
        center = QVBoxLayout()
        caption = QLabel("A ↔ B")
        caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        caption.setStyleSheet(f"color: {theme.DIM.name()}; font-weight: bold;")
        center.addWidget(caption)
        center.addWidget(self.knob, 3, Qt.AlignmentFlag.AlignHCenter)
        center.addWidget(self.knob_hint)
        center.addLayout(lower)
        center_frame = QFrame()
        center_frame.setLayout(center)
        center_frame.setMinimumWidth(260)

        self.in_meter = LevelMeter("IN")
        self.out_meter = LevelMeter("OUT")
        meters = QHBoxLayout()
        meters.addWidget(self.in_meter)
        meters.addWidget(self.out_meter)
        meter_frame = QFrame()
        meter_frame.setLayout(meters)

        top = QHBoxLayout()
        top.setSpacing(12)
        top.addWidget(self.slot_a, 3)
        top.addWidget(center_frame, 2)
        top.addWidget(self.slot_b, 3)
        top.addWidget(meter_frame, 0)
        outer.addLayout(top, 5)

        self.monitor_label = QLabel()
        self.latency_label = QLabel()
        self.load_label = QLabel()
        for w in (self.latency_label, self.load_label):
            w.setStyleSheet("font-weight: bold;")
            w.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)
        self.monitor_file_button = QPushButton("Loop a file…")
        self.monitor_file_button.setToolTip("Run the effect on a file in a loop to watch the meters and the load")
        self.monitor_file_button.clicked.connect(self.monitor_file_dialog)
        self.monitor_silence_button = QPushButton("Silence")
        self.monitor_silence_button.clicked.connect(lambda: self.set_monitor_source(None))
        self.monitor_live_button = QPushButton("Live input")
        self.monitor_live_button.setEnabled(self.live_available)
        self.monitor_live_button.setToolTip("Run on the default audio input and output" if self.live_available
                                            else "No audio input and output device on this machine")
        self.monitor_live_button.clicked.connect(lambda: self.set_monitor_source(LIVE))
        mon = QGridLayout()
        mon.addWidget(QLabel("Monitor:"), 0, 0)
        mon.addWidget(self.monitor_label, 0, 1)
        mon.setColumnStretch(1, 1)
        mon.addWidget(self.monitor_file_button, 0, 2)
        mon.addWidget(self.monitor_silence_button, 0, 3)
        mon.addWidget(self.monitor_live_button, 0, 4)
        mon.addWidget(QLabel("Latency"), 0, 5)
        mon.addWidget(self.latency_label, 0, 6)
        mon.addWidget(QLabel("DSP load"), 0, 7)
        mon.addWidget(self.load_label, 0, 8)
        mon.setHorizontalSpacing(10)
        mon_frame = QFrame()
        mon_frame.setObjectName("group")
        mon_frame.setStyleSheet(f"#group {{ background: {theme.PANEL.name()}; border-radius: 8px; "
                                f"border: 1px solid {theme.PANEL_LIGHT.name()}; }}")
        mon_frame.setLayout(mon)
        outer.addWidget(mon_frame)

        self.render_panel = RenderPanel(self.session)
        self.render_panel.message.connect(self.report)
        self.render_panel.error.connect(self.report_error)
        outer.addWidget(self.render_panel, 4)
        self.setCentralWidget(root)
        self.statusBar().showMessage("Ready. Drop a reference clip on slot A, or pick a class.")

    def _menus(self) -> None:
        def action(menu, text, slot, shortcut=None):
            a = QAction(text, self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.triggered.connect(slot)
            menu.addAction(a)
            return a

        m = self.menuBar().addMenu("&File")
        action(m, "Reference for slot &A…", self.slot_a.open_dialog, "Ctrl+1")
        action(m, "Reference for slot &B…", self.slot_b.open_dialog, "Ctrl+2")
        action(m, "&Render file…", self.render_panel.choose_and_render, "Ctrl+R")
        m.addSeparator()
        action(m, "&Load preset…", self.load_preset_dialog, "Ctrl+O")
        action(m, "&Save preset…", self.save_preset_dialog, "Ctrl+S")
        m.addSeparator()
        action(m, "Loop a file on the &monitor…", self.monitor_file_dialog)
        m.addSeparator()
        action(m, "&Quit", self.close, "Ctrl+Q")
        m = self.menuBar().addMenu("&Effect")
        action(m, "&Bypass", self.bypass_button.toggle, "Ctrl+B")
        action(m, "R&esidual", self.residual_button.toggle, "Ctrl+E")
        action(m, "Clear slot A", self.slot_a.clear)
        action(m, "Clear slot B", self.slot_b.clear)
        m = self.menuBar().addMenu("&Help")
        action(m, "&Controls and OSC", lambda: QMessageBox.information(self, "EventSep panel", HELP))

    # ------------------------------------------------------------------------------------- messages

    def report(self, message: str) -> None:
        self.statusBar().setStyleSheet("")
        self.statusBar().showMessage(message, 10000)

    def report_error(self, message: str) -> None:
        # errors stay until the next message: a user looking away must still see what went wrong
        self.statusBar().setStyleSheet(f"color: {theme.ERROR.name()}; font-weight: bold;")
        self.statusBar().showMessage(message)

    # ------------------------------------------------------------------------------------- changes

    def _post(self, name: str, value) -> None:
        try:
            self.session.post(name, value)
        except EventSepError as e:
            self.report_error(str(e))

    def tick(self) -> None:
        """Mirror the effect (and OSC) into the controls; feed the meters, latency and load."""
        v = self.session.values()
        if not self.knob.isSliderDown():
            self.knob.set_value01(v["interp"])
        if not self.mix_knob.isSliderDown():
            self.mix_knob.set_value01(v["mix"])
        for button, on in ((self.bypass_button, bool(v["bypass"])), (self.residual_button, v["residual"] >= 0.5)):
            if button.isChecked() != on:
                was = button.blockSignals(True)
                button.setChecked(on)
                button.blockSignals(was)
        self.slot_a.sync(v["query_a"])
        self.slot_b.sync(v["query_b"])
        a, b = v["query_a"] is not None, v["query_b"] is not None
        self.knob_hint.setText("blending A into B" if a and b else "fill slot B to blend" if a else
                               "only B is set: turn right" if b else "fill slot A to start")
        self._tick_monitor()
        self._tick_osc()
        self.ticked.emit()

    def _tick_monitor(self) -> None:
        m = self.monitor
        levels = m.metered.take()
        if levels.blocks:
            self.in_meter.set_levels(levels.in_peak, levels.in_rms)
            self.out_meter.set_levels(levels.out_peak, levels.out_rms)
            late = " · late" if levels.behind else ""
            self.load_label.setText(f"{levels.load * 100:.0f} % CPU (peak {levels.load_peak * 100:.0f} %){late}")
            self.load_label.setToolTip("CPU time per block / block duration. 'late': a block took longer than "
                                       "its duration in wall-clock time (the machine is busy), a live stream "
                                       "would drop out")
            warn = levels.load > 0.8 or levels.behind
            self.load_label.setStyleSheet(f"font-weight: bold; color: {(theme.ERROR if warn else theme.TEXT).name()};")
        else:
            self.in_meter.decay()
            self.out_meter.decay()
            if not m.running:
                self.load_label.setText("–")
        rate = m.metered.sample_rate or self.effect.sample_rate or self.effect.DEFAULT_SAMPLE_RATE
        latency = self.session.chain.latency_samples if m.metered.sample_rate else self.effect.latency_for(rate)
        self.latency_label.setText(f"{latency / rate * 1000:.1f} ms ({latency} samples at {rate / 1000:g} kHz)")
        state = m.describe() if m.running else f"{m.describe()} (stopped)"
        self.monitor_label.setText(state)
        if m.error and m.error != self._monitor_error_shown:
            self._monitor_error_shown = m.error
            self.report_error(f"monitor: {m.error}; running on silence instead")
            m.start(None)

    def _tick_osc(self) -> None:
        bridge = self.session.bridge
        text = self.session.osc_text()
        if bridge is not None:
            text += f" · {bridge.stats.accepted} accepted"
            if bridge.last_rejection and bridge.last_rejection != self._last_rejection:
                self._last_rejection = bridge.last_rejection
                self.report_error(f"OSC rejected {bridge.last_rejection}")
        self.osc_label.setText(text)

    # ------------------------------------------------------------------------------------- monitor

    def set_monitor_source(self, source) -> None:
        self._monitor_error_shown = None
        self.monitor.start(source)
        self.report(f"monitor: {self.monitor.describe()}")

    def monitor_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "File to loop on the monitor", "", AUDIO_FILTER)
        if path:
            self.set_monitor_source(Path(path))

    # ------------------------------------------------------------------------------------- presets

    def save_preset_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save preset", "eventsep-preset.json", "Presets (*.json)")
        if path:
            self.save_preset(path)

    def save_preset(self, path) -> Path | None:
        path = Path(path)
        if path.suffix.lower() != ".json":
            path = path.with_name(path.name + ".json")
        try:
            written = self.session.save_preset(path)
        except EventSepError as e:
            self.report_error(str(e))
            return None
        self.report(f"saved preset {written}")
        return written

    def load_preset_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load preset", "", "Presets (*.json);;All files (*)")
        if path:
            self.load_preset(path)

    def load_preset(self, path) -> None:
        """Read the preset on the pool (file queries may need the Query-net), then post it as one change."""
        from plugin_host.preset import load_preset

        path = Path(path)
        seq = next_seq()
        models = self.session.models

        def done(result) -> None:
            preset, warnings = result
            for name, value in preset.changes():
                self.session.post(name, value, seq)
            note = "; ".join(warnings)
            if preset.settings is not None and preset.settings != self.effect.settings:
                note = (note + "; " if note else "") + "its stream settings apply to new streams only"
            self.report(f"loaded preset {path.name}" + (f" ({note})" if note else ""))

        self.report(f"loading preset {path.name}…")
        self.jobs.submit(lambda: load_preset(path, models), done, self.report_error)

    # ------------------------------------------------------------------------------------- life cycle

    def wait_idle(self, timeout: float = 20.0) -> bool:
        """Process events until no job is pending (for --screenshot and tests)."""
        from PyQt6.QtWidgets import QApplication

        deadline = time.monotonic() + timeout
        while self.jobs.busy() or self.render_panel.running:
            if time.monotonic() > deadline:
                return False
            QApplication.processEvents()
            time.sleep(0.01)
        QApplication.processEvents()
        return True

    def shutdown(self) -> None:
        if self._shut:
            return
        self._shut = True
        self.timer.stop()
        self.render_panel.shutdown()
        self.monitor.stop()
        self.jobs.wait(10000)
        self.session.close()
        self.reporter.uninstall()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
