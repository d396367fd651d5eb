"""Starting the panel: the effect and the OSC bridge first (option errors are one line on the terminal,
before any window), then the Qt application, the window and the monitor stream."""
from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from engine.errors import EventSepError

SCREENSHOT_SETTLE_S = 1.5       # let the meters and the load show real figures before the shot
SCREENSHOT_WAIT_S = 300         # for the latents and --render; minutes only on a machine busy with others' work


def check_display(screenshot: bool) -> None:
    """Qt aborts the process when it cannot reach a display: say it in one line instead."""
    if screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        return
    if sys.platform.startswith("linux") and not (os.environ.get("QT_QPA_PLATFORM") or os.environ.get("DISPLAY")
                                                 or os.environ.get("WAYLAND_DISPLAY")):
        raise EventSepError("no display found (DISPLAY and WAYLAND_DISPLAY are unset); run it in a desktop "
                            "session, or use --screenshot PATH.png (or QT_QPA_PLATFORM=offscreen) without one")


def _existing(path: str | None, what: str) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise EventSepError(f"{what} {p}: {'is a folder' if p.is_dir() else 'no such file'}")
    return p


def build_session(args):
    """The effect (preset, classes, knobs from the options) and its OSC bridge -> PanelSession."""
    from engine.streaming import OnnxModels
    from plugin_host import SeparatorEffect
    from plugin_host.arg_types import chosen_setting
    from plugin_host.preset import apply_preset, load_preset

    from .session import PanelSession

    models = OnnxModels(args.model)
    preset = None
    if args.preset:
        preset, warnings = load_preset(args.preset, models)
        for w in warnings:
            print(f"eventsep panel: warning: {w}", file=sys.stderr)
    settings = chosen_setting(args, preset)
    effect = SeparatorEffect(models=models, settings=settings)
    if preset is not None:
        apply_preset(effect, preset)
    for slot, name in (("A", args.class_a), ("B", args.class_b)):
        if name is not None:
            effect.set_query(slot, effect.resolve_class(name))
    for name in ("interp", "mix"):
        if getattr(args, name) is not None:
            setattr(effect, name, getattr(args, name))
    if args.residual:
        effect.residual = 1.0
    if args.bypass:
        effect.bypass = True
    bridge, osc_error = None, None
    if not args.no_osc:
        from plugin_host.osc import DawMapping, OscBridge, OscConfig

        # a bad host or mapping is the user's typo: fail now. A busy port is common (another panel or
        # 'eventsep serve' running): start without OSC and say so in the window.
        config = OscConfig(host=args.osc_host, port=args.osc_port, allow_remote=args.allow_remote,
                           mapping=DawMapping.parse(args.map))
        bridge = OscBridge(effect, config)
        try:
            bridge.start()
        except EventSepError as e:
            bridge, osc_error = None, str(e)
            print(f"eventsep panel: warning: {e}; the panel runs without OSC", file=sys.stderr)
    return PanelSession(effect, bridge, osc_error)


def _qt_messages(kind, context, message: str) -> None:
    # the offscreen platform notes on every window that it ignores size hints: noise, not a problem
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def make_app():
    from PyQt6.QtCore import qInstallMessageHandler
    from PyQt6.QtWidgets import QApplication

    from . import theme

    qInstallMessageHandler(_qt_messages)
    app = QApplication.instance() or QApplication(["eventsep panel"])
    app.setApplicationName("EventSep")
    theme.apply(app)
    return app


class _StopRequests:
    """Ctrl+C and SIGTERM close the panel like Ctrl+Q, also while it is still starting. Python runs the
    handler between bytecodes (the window's 30 Hz timer makes sure there are some); without it, Ctrl+C in
    the terminal would do nothing while Qt's loop runs."""

    def __init__(self):
        self.requested = False
        self.window = None
        self._previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _handle(self, *_):
        self.requested = True
        if self.window is not None:
            self.window.close()

    def restore(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def run(args) -> int:
    stops = _StopRequests() if threading.current_thread() is threading.main_thread() else None
    try:
        return _run(args, stops)
    finally:
        if stops is not None:
            stops.restore()


def _run(args, stops) -> int:
    check_display(args.screenshot is not None)
    if args.screenshot is not None and Path(args.screenshot).suffix.lower() != ".png":
        raise EventSepError(f"{args.screenshot}: the screenshot is written as PNG; give a name ending in .png")
    files = {"A": _existing(args.query_a, "--query-a"), "B": _existing(args.query_b, "--query-b")}
    monitor_input = _existing(args.input, "--input")
    render_in = _existing(args.render[0], "--render input") if args.render else None
    # the panel shows a late monitor stream in its load figure; the serve loop's warnings would only
    # scroll the terminal
    logging.getLogger("eventsep.serve").setLevel(logging.ERROR)
    session = build_session(args)
    if session.bridge is not None:
        host, port = session.bridge.address
        print(f"eventsep panel: OSC on {host}:{port}; send /eventsep/status for the state", file=sys.stderr,
              flush=True)
    try:
        app = make_app()
        from .monitor import LIVE, live_devices_available
        from .window import PanelWindow

        live = live_devices_available()
        window = PanelWindow(session, live_available=live)
    except BaseException:
        session.close()
        raise
    if args.size:
        window.resize(*args.size)
    for slot, path in files.items():
        if path is not None:
            (window.slot_a if slot == "A" else window.slot_b).load_file(path)
    if args.live and not live:
        window.report_error("--live: no audio input and output device on this machine; monitoring silence")
    # live is opt-in: a microphone routed to laptop speakers would howl
    window.set_monitor_source(monitor_input if monitor_input is not None else (LIVE if args.live and live else None))
    if args.render:
        window.wait_idle()              # the slots' latents first: the render uses them
        window.render_panel.start(render_in, args.render[1])
    if args.screenshot is not None:
        return screenshot(app, window, Path(args.screenshot))
    window.show()
    if stops is not None:
        stops.window = window
        if stops.requested:         # Ctrl+C while it was starting
            window.close()
            return 0
    try:
        app.exec()
        return 0
    finally:
        window.shutdown()
        # delete the widgets while the QApplication is still alive: left to the interpreter's exit, the
        # order is arbitrary and Qt can crash on the way out
        _delete(window)


def _delete(window) -> None:
    from PyQt6 import sip

    sip.delete(window)


def screenshot(app, window, path: Path) -> int:
    window.show()
    finished = window.wait_idle(timeout=SCREENSHOT_WAIT_S)
    deadline = time.monotonic() + SCREENSHOT_SETTLE_S
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    window.tick()
    app.processEvents()
    errors = [s.last_error for s in (window.slot_a, window.slot_b) if s.last_error]
    if window.render_panel.status.text() and window.render_panel.last_output is None and window.render_panel.job:
        errors.append(window.render_panel.status.text())
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not window.grab().save(str(path), "PNG"):
            raise EventSepError(f"{path}: cannot write the screenshot")
    finally:
        window.shutdown()
        window.close()
        _delete(window)
    if not finished:
        raise EventSepError(f"the slots or the render did not finish within {SCREENSHOT_WAIT_S} s; screenshot "
                            f"written anyway")
    if errors:
        raise EventSepError(f"screenshot {path} written, but: {'; '.join(errors)}")
    print(f"wrote {path}")
    return 0
