"""Background jobs for the panel: slow work (decoding a clip, running the Query-net, reading a preset) runs
on a ``QThreadPool`` and reports back on the UI thread, so the window never freezes.

Results travel through one long-lived QObject that belongs to the UI thread: a signal emitted from a pool
thread is then queued to the UI thread, and nothing a queued call needs can be deleted under it (a
per-job QRunnable or signal object could be, as soon as its job returns)."""
from __future__ import annotations

import itertools
import traceback
from typing import Callable

from PyQt6.QtCore import QObject, QThreadPool, pyqtSignal

from engine.errors import EventSepError


def describe_failure(e: BaseException) -> str:
    """A user error is its message; a bug also says where it happened (the dialog is for the traceback)."""
    if isinstance(e, EventSepError):
        return str(e)
    where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    at = f" ({where.filename.rsplit('/', 1)[-1]}:{where.lineno})" if where else ""
    return f"{type(e).__name__}: {e}{at}"


class Jobs(QObject):
    _finished = pyqtSignal(int, bool, object)      # job id, ok, result or message

    def __init__(self, threads: int = 2, parent=None):
        super().__init__(parent)
        self.pool = QThreadPool()
        self.pool.setMaxThreadCount(threads)
        self._ids = itertools.count(1)
        self._callbacks: dict[int, tuple[Callable, Callable]] = {}
        self._finished.connect(self._deliver)

    def submit(self, fn: Callable[[], object], on_done: Callable[[object], None],
               on_failed: Callable[[str], None]) -> int:
        """Run ``fn()`` on the pool; ``on_done(result)`` or ``on_failed(message)`` runs on the UI thread."""
        job = next(self._ids)
        self._callbacks[job] = (on_done, on_failed)

        def run() -> None:
            try:
                result = fn()
            except Exception as e:          # reported to the UI, never lost on a worker thread
                self._finished.emit(job, False, describe_failure(e))
            else:
                self._finished.emit(job, True, result)

        self.pool.start(run)
        return job

    def _deliver(self, job: int, ok: bool, payload) -> None:
        on_done, on_failed = self._callbacks.pop(job)
        (on_done if ok else on_failed)(payload)

    def busy(self) -> bool:
        """Jobs submitted whose callbacks have not run yet."""
        return bool(self._callbacks)

    def wait(self, msecs: int = 10000) -> bool:
        return self.pool.waitForDone(msecs)
