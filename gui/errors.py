"""Every error reaches the user: expected ones (EventSepError: a bad file, a busy port) go to the status
bar; anything unexpected - an exception escaping a Qt slot or a worker thread - opens a dialog with the
one-line reason and the traceback under "Show Details", and the panel keeps running."""
from __future__ import annotations

import sys
import threading
import traceback

from PyQt6.QtCore import QObject, pyqtSignal
from PyQt6.QtWidgets import QMessageBox

from engine.errors import EventSepError


class ErrorReporter(QObject):
    _post = pyqtSignal(str, str)        # queued to the UI thread from any thread

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.dialogs: list[QMessageBox] = []
        self._old_hooks = None
        self._post.connect(self._show)

    def install(self) -> None:
        self._old_hooks = (sys.excepthook, threading.excepthook)
        sys.excepthook = self._excepthook
        threading.excepthook = lambda args: self._excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    def uninstall(self) -> None:
        if self._old_hooks is not None:
            sys.excepthook, threading.excepthook = self._old_hooks
            self._old_hooks = None

    def _excepthook(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self.window.close()
            return
        if issubclass(exc_type, EventSepError):
            self._post.emit(str(exc), "")
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        print(details, file=sys.stderr)         # for bug reports; the dialog is for the user
        self._post.emit(f"{exc_type.__name__}: {exc}", details)

    def _show(self, message: str, details: str) -> None:
        self.window.report_error(message)
        if not details:
            return
        box = QMessageBox(QMessageBox.Icon.Critical, "EventSep: unexpected error",
                          f"Something went wrong, but the panel is still running.\n\n{message}",
                          QMessageBox.StandardButton.Close, self.window)
        box.setDetailedText(details)
        box.setModal(False)                 # never block the knobs (or a test) behind a dialog
        box.finished.connect(lambda _=0, b=box: self.dialogs.remove(b) if b in self.dialogs else None)
        self.dialogs.append(box)
        box.show()
