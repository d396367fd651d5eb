"""The PyQt6 panel, offscreen: real Qt widgets and events (QTest, a QDropEvent carrying file URLs), real WAV
files, the shipped ONNX bundle, real UDP OSC datagrams on 127.0.0.1, the real monitor stream."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PyQt6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PyQt6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PyQt6.QtTest import QSignalSpy, QTest
from PyQt6.QtWidgets import QApplication

from engine.cli import main
from gui.app import make_app
from gui.session import PanelSession
from gui.window import PanelWindow
from plugin_host import SeparatorEffect
from plugin_host.osc import OscBridge, OscConfig

from .host_audio import OscClient, music

REFERENCE = Path(__file__).resolve().parents[1] / "engine" / "assets" / "example" / "reference.flac"


@pytest.fixture(scope="module")
def qapp():
    return make_app()


@pytest.fixture(scope="module")
def models():
    from engine.streaming import OnnxModels
    return OnnxModels()


@pytest.fixture
def panel(qapp, models):
    """A panel on a fresh effect with an OSC bridge on a free port, the monitor running on silence."""
    effect = SeparatorEffect(models=models)
    bridge = OscBridge(effect, OscConfig(port=0)).start()
    window = PanelWindow(PanelSession(effect, bridge), live_available=False)
    window.set_monitor_source(None)
    window.show()
    yield window
    window.close()
    assert not window.monitor.running
    assert window.session.bridge is None


@pytest.fixture
def osc(panel):
    client = OscClient(panel.session.bridge.address[1])
    yield client
    client.close()


def wait_until(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    """Process Qt events until ``predicate()`` holds (PyQt6 has no QTest.qWaitFor)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        QTest.qWait(10)


def write_wav(path: Path, seconds: float = 2.0, rate: int = 44100, channels: int = 2, seed: int = 0) -> Path:
    # one second of music repeated: generating long music directly costs seconds of CPU
    one = music(min(seconds, 1.0), rate, channels, seed)
    audio = np.tile(one, (1, int(np.ceil(seconds * rate / one.shape[1]))))[:, :int(round(seconds * rate))]
    sf.write(path, audio.T, rate, subtype="PCM_16")
    return path


def write_corrupt(path: Path) -> Path:
    path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 8)
    return path


def drop(widget, *paths: Path) -> bool:
    """Drag files onto ``widget`` as a file manager does: enter (returns whether it was accepted), drop."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = widget.rect().center()
    enter = QDragEnterEvent(centre, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    accepted = enter.isAccepted()
    event = QDropEvent(QPointF(centre), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)
    return accepted


# ------------------------------------------------------------------------------------------ slots

def test_drop_of_a_wav_on_slot_a_computes_its_latent_off_the_ui_thread(panel, osc, tmp_path):
    ref = write_wav(tmp_path / "ref.wav", seconds=2.0)
    slot = panel.slot_a
    ready = QSignalSpy(slot.latent_ready)
    assert drop(slot, ref)
    # the drop returned before the latent existed: the Query-net runs on the pool, not in the event handler
    assert slot.state == "computing" and "computing" in slot.badge.text()
    assert panel.effect.query_a is None and len(ready) == 0
    assert ready.wait(60000)
    assert slot.state == "ready" and "latent ready" in slot.badge.text()
    assert slot.title.text() == "ref.wav"
    assert "2.00 s" in slot.info.text() and "44.1 kHz" in slot.info.text() and "stereo" in slot.info.text()
    assert slot.wave.outline is not None and slot.wave.outline.shape[0] == 2
    expected = panel.effect.resolve_file(ref).latent
    wait_until(lambda: panel.effect.query_a is not None, what="the monitor to apply query A")
    np.testing.assert_allclose(panel.effect.query_a.latent, expected, rtol=1e-6, atol=1e-6)
    assert panel.effect.query_a.value == str(ref)
    assert osc.status()["query_a"] == f"file {ref}"


def test_class_combo_and_clear(panel):
    slot = panel.slot_b
    index = slot.classes.findData("bass")
    assert index > 0
    slot.classes.setCurrentIndex(index)
    slot.classes.activated.emit(index)          # what a user's pick in the popup emits
    assert slot.state == "ready" and slot.title.text() == "class: bass"
    wait_until(lambda: panel.effect.query_b is not None and panel.effect.query_b.value == "bass",
               what="query B = bass")
    QTest.mouseClick(slot.clear_button, Qt.MouseButton.LeftButton)
    assert slot.state == "empty"
    wait_until(lambda: panel.effect.query_b is None, what="query B cleared")


def test_corrupt_file_shows_an_error_and_the_panel_stays_usable(panel, tmp_path):
    bad = write_corrupt(tmp_path / "corrupt.wav")
    slot = panel.slot_a
    assert drop(slot, bad)
    wait_until(lambda: slot.state == "error", what="the slot to report the corrupt file")
    message = panel.statusBar().currentMessage()
    assert "slot A" in message and "corrupt.wav" in message and "not a readable audio file" in message
    assert "error" in slot.badge.text() and "corrupt.wav" in slot.info.text()
    assert panel.effect.query_a is None and len(panel.effect.pending) == 0
    assert not panel.reporter.dialogs               # a user error is a message, not a crash dialog
    # still usable: a good file loads, the knob drives the effect, a render of the corrupt file is refused
    good = write_wav(tmp_path / "good.wav", seconds=1.5, rate=22050, channels=1)
    assert drop(slot, good)
    wait_until(lambda: slot.state == "ready", what="the good file")
    panel.knob.setValue(400)
    wait_until(lambda: panel.effect.interp == pytest.approx(0.4), what="interp 0.4")
    done = QSignalSpy(panel.render_panel.error)
    assert panel.render_panel.start(bad, tmp_path / "out.wav")
    assert done.wait(60000)
    assert "corrupt.wav" in panel.statusBar().currentMessage()
    assert not (tmp_path / "out.wav").exists()
    assert panel.render_panel.render_button.isEnabled()


def test_a_folder_or_a_web_link_is_refused(panel, tmp_path):
    assert drop(panel.slot_b, tmp_path)
    wait_until(lambda: panel.slot_b.state == "error", what="the folder to be refused")
    assert "folder" in panel.statusBar().currentMessage()
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/a.wav")])
    enter = QDragEnterEvent(QPoint(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(panel.slot_b, enter)
    assert not enter.isAccepted()


# ------------------------------------------------------------------------------------------ knobs and OSC

def test_the_knob_changes_the_effects_interp_and_status_reports_it(panel, osc):
    panel.slot_a.choose_class("piano")
    panel.slot_b.choose_class("bass")
    panel.knob.setFocus()
    for _ in range(3):
        QTest.keyClick(panel.knob, Qt.Key.Key_PageUp)     # 0.1 each, as a user at the keyboard
    assert panel.knob.value01() == pytest.approx(0.3)
    assert osc.status()["interp"] == pytest.approx(0.3)    # reported at once, before the next block
    wait_until(lambda: panel.effect.interp == pytest.approx(0.3), what="the effect's interp = 0.3")
    QTest.keyClick(panel.knob, Qt.Key.Key_End)
    wait_until(lambda: panel.effect.interp == 1.0, what="interp = 1")
    QTest.mouseClick(panel.bypass_button, Qt.MouseButton.LeftButton)
    QTest.mouseClick(panel.residual_button, Qt.MouseButton.LeftButton)
    panel.mix_knob.setValue(250)
    wait_until(lambda: panel.effect.bypass and panel.effect.residual == 1.0 and panel.effect.mix == 0.25,
               what="bypass, residual and mix")
    status = osc.status()
    assert (status["bypass"], status["residual"], status["mix"]) == (1, pytest.approx(1.0), pytest.approx(0.25))
    assert panel.knob.value01() == 1.0             # the sync did not pull the knob back


def test_an_osc_datagram_over_udp_moves_the_knob(panel, osc, tmp_path):
    ref = write_wav(tmp_path / "osc_ref.wav", seconds=1.5, rate=48000)
    osc.send_msg("/eventsep/interp", 0.8)
    osc.send_msg("/eventsep/mix", 0.5)
    osc.send_msg("/eventsep/bypass", 1)
    osc.send_msg("/eventsep/class/b", "drums")
    osc.send_msg("/eventsep/query/a", str(ref))
    wait_until(lambda: panel.knob.value01() == pytest.approx(0.8), what="the knob to follow OSC")
    wait_until(lambda: panel.mix_knob.value01() == pytest.approx(0.5) and panel.bypass_button.isChecked(),
               what="mix and bypass to follow OSC")
    wait_until(lambda: panel.slot_b.title.text() == "class: drums", what="slot B to show the OSC class")
    assert panel.slot_b.classes.currentData() == "drums"
    wait_until(lambda: panel.slot_a.title.text() == "osc_ref.wav" and panel.slot_a.wave.outline is not None,
               what="slot A to show the file set over OSC, with its waveform")
    assert "1.50 s" in panel.slot_a.info.text()
    # the knob's own signal did not echo the value back as a new change
    assert panel.effect.interp == pytest.approx(0.8) and panel.effect.bypass
    osc.send_msg("/eventsep/interp", float("nan"))
    wait_until(lambda: "OSC rejected" in panel.statusBar().currentMessage(), what="the rejection to show")
    assert panel.knob.value01() == pytest.approx(0.8)
    osc.send_msg("/eventsep/bypass", 0)
    wait_until(lambda: not panel.bypass_button.isChecked(), what="bypass off over OSC")


# ------------------------------------------------------------------------------------------ render

def test_rendering_a_file_through_the_panel_writes_the_output(panel, tmp_path):
    src = write_wav(tmp_path / "mix.wav", seconds=2.0, rate=22050)
    dst = tmp_path / "out" / "piano.wav"
    rp = panel.render_panel
    assert not rp.start(src, dst)                      # no query yet: refused with a reason
    assert "fill slot A or B first" in panel.statusBar().currentMessage()
    panel.slot_a.choose_class("piano")
    done = QSignalSpy(rp.done)
    progress = QSignalSpy(rp.bar.valueChanged)
    assert rp.start(src, dst)
    assert not rp.render_button.isEnabled() and rp.cancel_button.isEnabled()
    assert done.wait(60000)       # generous: the machine may be busy; ~1 s when idle
    info = sf.info(str(dst))
    assert (info.frames, info.samplerate, info.channels) == (2 * 22050, 22050, 2)
    out, _ = sf.read(dst, dtype="float32")
    inp, _ = sf.read(src, dtype="float32")
    assert np.isfinite(out).all() and np.abs(out - inp).max() > 1e-3       # separated, not passed through
    assert len(progress) >= 2 and rp.bar.value() == 1000
    spec = rp.view.spec
    assert spec is not None and spec.image.ndim == 2 and spec.seconds == pytest.approx(2.0)
    assert "Wrote" in rp.status.text() and "piano.wav" in panel.statusBar().currentMessage()
    assert rp.render_button.isEnabled() and rp.play_button.isEnabled()
    # playing: on a machine without an audio output the message says so (and never raises)
    from gui.playback import NO_DEVICE, output_devices
    rp.play_button.click()
    if not output_devices():
        assert NO_DEVICE in panel.statusBar().currentMessage()
    # the monitor stream kept running meanwhile, on its own copy of the effect
    assert panel.monitor.running


def test_a_render_can_be_cancelled_and_leaves_nothing(panel, tmp_path):
    src = write_wav(tmp_path / "long.wav", seconds=10.0, rate=44100, channels=1)
    dst = tmp_path / "long-out.wav"
    panel.slot_a.choose_class("bass")
    rp = panel.render_panel
    cancelled = QSignalSpy(rp.cancelled)
    rp.bar.valueChanged.connect(lambda v: QTimer.singleShot(0, rp.cancel) if 0 < v < 1000 else None)
    assert rp.start(src, dst)
    assert cancelled.wait(60000)
    assert not dst.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["long.wav"]
    assert "cancelled" in rp.status.text() and rp.render_button.isEnabled()


# ------------------------------------------------------------------------------------------ presets, meters, errors

def test_presets_save_and_load(panel, tmp_path):
    panel.slot_a.choose_class("piano")
    panel.slot_b.choose_class("strings")
    panel.knob.setValue(400)
    panel.mix_knob.setValue(700)
    path = panel.save_preset(tmp_path / "p.json")       # saved at once, pending changes included
    data = json.loads(path.read_text())
    assert data["parameters"]["interp"] == pytest.approx(0.4) and data["parameters"]["mix"] == pytest.approx(0.7)
    assert data["queries"]["a"]["name"] == "piano" and data["queries"]["b"]["name"] == "strings"
    panel.knob.setValue(900)
    panel.slot_b.clear()
    wait_until(lambda: panel.effect.query_b is None, what="B cleared")
    panel.load_preset(path)
    wait_until(lambda: panel.knob.value01() == pytest.approx(0.4) and panel.slot_b.title.text() == "class: strings",
               what="the preset to come back")
    wait_until(lambda: panel.effect.interp == pytest.approx(0.4) and panel.effect.mix == pytest.approx(0.7),
               what="the effect to take the preset")
    (tmp_path / "bad.json").write_text("{not json")
    panel.load_preset(tmp_path / "bad.json")
    wait_until(lambda: "not valid JSON" in panel.statusBar().currentMessage(), what="the bad preset error")


def test_meters_latency_and_load_follow_the_monitor_stream(panel, tmp_path):
    loop = write_wav(tmp_path / "loop.wav", seconds=1.0, rate=44100)
    panel.slot_a.choose_class("piano")
    panel.set_monitor_source(loop)
    wait_until(lambda: panel.in_meter.hold_db > -20 and panel.out_meter.rms_db, what="the meters to move")
    assert len(panel.in_meter.rms_db) == 2
    wait_until(lambda: "3071 samples at 44.1 kHz" in panel.latency_label.text(), what="the latency at 44.1 kHz")
    assert panel.latency_label.text().startswith("69.6 ms")       # the stateful default: two frames per run
    assert "% CPU" in panel.load_label.text()
    assert "loop.wav (loop)" in panel.monitor_label.text()
    # an unreadable monitor file: reported, and the stream carries on with silence
    panel.set_monitor_source(write_corrupt(tmp_path / "broken.wav"))
    wait_until(lambda: "monitor:" in panel.statusBar().currentMessage(), what="the monitor error")
    assert "broken.wav" in panel.statusBar().currentMessage()
    wait_until(lambda: panel.monitor.running and panel.monitor.source is None, what="the fallback to silence")


def test_an_unexpected_exception_opens_a_dialog_and_the_panel_keeps_running(panel):
    def broken():
        raise ZeroDivisionError("boom in a slot")

    QTimer.singleShot(0, broken)
    wait_until(lambda: panel.reporter.dialogs, what="the error dialog")
    box = panel.reporter.dialogs[0]
    assert "boom in a slot" in box.text() and "ZeroDivisionError" in box.detailedText()
    assert "boom in a slot" in panel.statusBar().currentMessage()
    assert QSignalSpy(panel.ticked).wait(2000)          # the UI loop is alive
    box.close()
    wait_until(lambda: not panel.reporter.dialogs, what="the dialog to close")
    panel.knob.setValue(100)
    wait_until(lambda: panel.effect.interp == pytest.approx(0.1), what="the knob after the error")


# ------------------------------------------------------------------------------------------ command line

def test_screenshot_with_both_slots_filled(qapp, tmp_path, capsys):
    png = tmp_path / "shots" / "panel.png"
    code = main(["panel", "--query-a", str(REFERENCE), "--class-b", "bass", "--interp", "0.3", "--osc-port", "0",
                 "--size", "1300x820", "--screenshot", str(png)])
    out = capsys.readouterr()
    assert code == 0, out.err
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1300, 820)
    # not a blank frame: the slots' colours are in it
    colours = {image.pixelColor(x, y).name() for x in range(0, 1300, 7) for y in range(0, 820, 7)}
    assert len(colours) > 50


def test_cli_errors_are_one_line(qapp, tmp_path, capsys, monkeypatch):
    bad = write_corrupt(tmp_path / "corrupt.wav")
    code = main(["panel", "--query-a", str(bad), "--no-osc", "--screenshot", str(tmp_path / "x.png")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("eventsep panel: error: ") and "corrupt.wav" in err
    assert (tmp_path / "x.png").exists()            # the shot shows the error in the slot
    for argv, words in ((["--class-a", "kazoo"], "kazoo"),
                        (["--query-b", str(tmp_path / "missing.wav")], "no such file"),
                        (["--screenshot", str(tmp_path / "x.jpg")], "PNG")):
        code = main(["panel", "--no-osc", *argv] + ([] if "--screenshot" in argv else
                                                    ["--screenshot", str(tmp_path / "y.png")]))
        err = capsys.readouterr().err
        assert code == 2 and err.startswith("eventsep panel: error: ") and words in err, err
        assert err.count("\n") == 1
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    code = main(["panel", "--no-osc"])
    err = capsys.readouterr().err
    assert code == 2 and "no display found" in err


def test_building_the_parser_does_not_import_qt():
    code = ("import sys, engine.cli; engine.cli.build_parser(); "
            "sys.exit(1 if any(m.startswith('PyQt6') or m.startswith('gui.app') for m in sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0
