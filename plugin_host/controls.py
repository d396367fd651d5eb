"""Coalescing control changes: control threads (OSC, loader) post the latest value per parameter; the
audio thread takes them all at the start of its next block and never waits.

Every change carries a global sequence number so the order between parameters survives coalescing
(a preset posted after a knob move overrides it, not the reverse) and a slow job that finishes late (a
reference file still being encoded) cannot overwrite a newer change of the same parameter.
"""
from __future__ import annotations

import itertools
import threading
from typing import Any

_SEQ = itertools.count(1)


def next_seq() -> int:
    """A process-wide increasing number stamping the moment a change was requested."""
    return next(_SEQ)


class ControlQueue:
    """Latest value per parameter name, applied in request order."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[int, Any]] = {}
        self._newest: dict[str, int] = {}       # newest sequence number accepted per name

    def put(self, name: str, value: Any, seq: int | None = None) -> bool:
        """Post a change; returns False when a newer change of ``name`` was already posted."""
        seq = next_seq() if seq is None else seq
        with self._lock:
            if seq < self._newest.get(name, 0):
                return False
            self._newest[name] = seq
            self._pending[name] = (seq, value)
        return True

    def take(self) -> list[tuple[str, Any]]:
        """All pending changes in request order, or [] if a control thread holds the lock right now (they
        stay queued for the next block: the audio thread must not wait)."""
        if not self._pending:
            return []
        if not self._lock.acquire(blocking=False):
            return []
        try:
            pending, self._pending = self._pending, {}
        finally:
            self._lock.release()
        return [(name, value) for name, (_, value) in sorted(pending.items(), key=lambda kv: kv[1][0])]

    def peek(self) -> dict[str, Any]:
        """Pending values by name (for status replies: the state the next block will have)."""
        with self._lock:
            return {name: value for name, (_, value) in self._pending.items()}

    def __len__(self) -> int:
        return len(self._pending)
