"""The separator's runs on a worker thread, one hop behind the audio thread (``StreamSettings.background``).

The audio thread then only moves samples: it keeps the host hops of a run and, on the hop that finishes
it, hands them over to a worker thread with the query latent it would have used, and takes finished hops
back when it needs them. The output FIFO is pre-filled with one hop more (or
``StreamSettings.background_margin_ms``), so the worker has 11.6 ms to finish a run before its samples are
due, whatever the host's block size; a run that takes longer makes the audio thread wait for it (a late
block, never different samples). Every run is the inline core's, in the same order, with the same latent:
the output is the inline stream's, delayed by the margin, and so still ``eventsep separate``'s.

onnxruntime releases the GIL while a graph runs; between its calls the worker runs Python, so the GIL's
switch interval bounds how long the audio thread can wait for it (5 ms by default in CPython): a background
stream lowers it to 0.5 ms for the process (``sys.setswitchinterval``), as a host running this effect would.
"""
from __future__ import annotations

import atexit
import queue
import sys
import threading
import time
import weakref
from collections import deque
from typing import Callable

import numpy as np

from .stateful import StatefulCore

SWITCH_INTERVAL_S = 0.0005
RECENT_RUNS = 10_000         # run durations kept (a minute of runs every frame at 48 kHz is 5200)
_LIVE: "weakref.WeakSet[BackgroundRuns]" = weakref.WeakSet()


@atexit.register
def _stop_workers() -> None:
    """End every worker before the interpreter shuts down: a worker thread still alive while
    onnxruntime's globals are destroyed aborts the process ("terminate called without an active
    exception", exit code 134)."""
    for runs in list(_LIVE):
        runs.close()


def _work(core: StatefulCore, jobs: queue.SimpleQueue, results: queue.SimpleQueue, durations: deque) -> None:
    """The worker: run the core on each job's hops in order (a job: the hops of one run, the last one
    finishing it); a ``None`` job ends it. References only its queues, the core and ``durations`` (each
    job's wall and CPU seconds, the newest ``RECENT_RUNS``), so the :class:`BackgroundRuns` that owns it
    can be collected (which ends it)."""
    while True:
        job = jobs.get()
        if job is None:
            return
        hops, z = job
        start, cpu_start = time.perf_counter(), time.thread_time()
        try:
            done = [(core.advance(hop_samples, lambda: z), tag) for hop_samples, tag in hops]
        except BaseException as e:          # re-raised on the audio thread, where process() can report it
            done = e
        durations.append((time.perf_counter() - start, time.thread_time() - cpu_start))
        results.put(done)


class BackgroundRuns:
    """A :class:`StatefulCore` driven from a worker thread. :meth:`submit` takes one hop, and hands the
    hops over to the worker once per run (the hop that finishes it): one wake-up per run, not per hop;
    :meth:`collect` gives back, in order, a run's ``[(rows, tag), ...]`` per hop (``rows``: the finished
    hops, as ``StatefulCore.advance`` returns them; ``tag``: what was submitted with the hop)."""

    def __init__(self, core: StatefulCore, margin: int | None = None):
        """``margin``: output samples pre-filled beyond the inline core's, the time the worker has for a
        run past the block that completes it (default: one hop)."""
        self.core = core
        self.batch, self.run_frames = core.batch, core.run_frames
        self.margin = core.grid.hop if margin is None else int(margin)
        self.prefill = core.prefill + self.margin
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._results: queue.SimpleQueue = queue.SimpleQueue()
        self._held: list = []       # hops submitted, not handed over yet (the run is not complete)
        self._frames = 0            # hops submitted since the last reset (the audio thread's count)
        self._pending = 0           # runs handed over, not collected
        # (wall, CPU) seconds of the newest runs on the worker, and the audio thread's longest wait for one:
        # a run whose wall time is far above its CPU time was not running (the machine's, or the GIL's)
        self.run_seconds: deque[tuple[float, float]] = deque(maxlen=RECENT_RUNS)
        self.longest_wait = 0.0
        if sys.getswitchinterval() > SWITCH_INTERVAL_S:
            sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._thread = threading.Thread(target=_work, args=(core, self._jobs, self._results, self.run_seconds),
                                        daemon=True,
                                        name="eventsep-separator")
        self._thread.start()
        weakref.finalize(self, self._jobs.put, None)
        _LIVE.add(self)

    def close(self, timeout: float = 5.0) -> None:
        """End the worker (after the hops already submitted); the stream cannot run after this."""
        if self._thread.is_alive():
            self._jobs.put(None)
            self._thread.join(timeout)

    def reset(self) -> None:
        while self._pending:
            self.collect()
        self._held = []
        self.core.reset()
        self._frames = 0

    def submit(self, hop_samples: np.ndarray, latent: Callable[[], np.ndarray | None], tag) -> None:
        """One hop; ``latent()`` (as ``StatefulCore.advance`` takes it) is called here, on the caller's
        thread, on the hop that finishes a run, exactly when the inline core would call it."""
        self._frames += 1
        self._held.append((hop_samples, tag))
        if self.core.is_run(self._frames):            # the run's hops, to the worker at once
            self._pending += 1
            self._jobs.put((self._held, latent()))
            self._held = []

    @property
    def pending(self) -> int:
        return self._pending

    def collect(self, wait: bool = True):
        """The oldest handed-over run's ``[(rows, tag), ...]``; None when ``wait`` is false and it is not
        done (checked without raising: this runs on the audio thread every block)."""
        if not wait and self._results.empty():
            return None
        waits = self._results.empty()             # the run is not done: the audio thread waits for it
        start = time.perf_counter()
        done = self._results.get()
        if waits:
            self.longest_wait = max(self.longest_wait, time.perf_counter() - start)
        self._pending -= 1
        if isinstance(done, BaseException):
            raise done
        return done
