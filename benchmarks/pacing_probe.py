"""How late this machine wakes a real-time thread, with no effect at all (issue 17's "late starts").

    python benchmarks/pacing_probe.py [--seconds 30] [--rate 48000 --block 128] [--wait sleep,spin]

One thread under SCHED_FIFO (priority 50, as ``stream_bench.py --realtime`` runs its worker) wakes once per
block duration, as a host's audio thread does, and does nothing else: no numpy, no model, no second thread.
A wake-up *after the block's deadline* (its due time plus one block duration) is a deadline that any effect
would have missed on this machine. ``--wait sleep`` sleeps until the due time (what the benchmark does);
``--wait spin`` sleeps until 1 ms before it and then spins on the clock, which rules out the timer's
wake-up latency: if ``spin`` misses as often, the thread was not running at all (the hypervisor took the
virtual CPU). Prints, per mode, the late wake-ups, the worst lateness and percentiles, and the steal time
the kernel reports over the run (``/proc/stat``; 0 on hypervisors that do not report it).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np


def steal_ticks() -> int:
    with open("/proc/stat") as f:
        fields = f.readline().split()
    return int(fields[8]) if len(fields) > 8 else 0


def pace(seconds: float, period: float, wait: str) -> tuple[np.ndarray, int]:
    """Lateness (s) of every wake-up, and the steal ticks over the run."""
    n = int(seconds / period)
    late = np.empty(n)
    steal0 = steal_ticks()
    t0 = time.perf_counter()
    for k in range(n):
        due = t0 + k * period
        if wait == "sleep":
            remaining = due - time.perf_counter()
            if remaining > 0:
                time.sleep(remaining)
        else:
            remaining = due - 0.001 - time.perf_counter()
            if remaining > 0:
                time.sleep(remaining)
            while time.perf_counter() < due:
                pass
        late[k] = time.perf_counter() - due
    return late, steal_ticks() - steal0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=30.0, help="paced seconds per mode (default 30)")
    p.add_argument("--rate", type=int, default=48000, help="sample rate (default 48000)")
    p.add_argument("--block", type=int, default=128, help="block size in samples (default 128)")
    p.add_argument("--wait", default="sleep,spin", help="modes, comma-separated: sleep, spin (default both)")
    p.add_argument("--no-realtime", action="store_true", help="normal scheduling instead of SCHED_FIFO")
    a = p.parse_args(argv)
    modes = [m.strip() for m in a.wait.split(",") if m.strip()]
    if any(m not in ("sleep", "spin") for m in modes):
        p.error(f"--wait: use sleep and/or spin, not {a.wait!r}")
    if a.seconds <= 0 or a.rate <= 0 or a.block <= 0:
        p.error("--seconds, --rate and --block must be positive")
    if not a.no_realtime:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))
        except (AttributeError, PermissionError) as exc:
            p.error(f"cannot switch to SCHED_FIFO ({exc}); run as root or with --no-realtime")
    period = a.block / a.rate
    print(f"pacing_probe: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}, "
          f"{'SCHED_FIFO 50' if not a.no_realtime else 'normal scheduling'}, block {a.block} at {a.rate} Hz "
          f"(deadline {period * 1000:.2f} ms), {a.seconds:g} s per mode")
    print("| wait | wake-ups | after the deadline | p50 ms | p99 ms | p99.9 ms | max ms | steal ticks |")
    print("|---|---|---|---|---|---|---|---|")
    for mode in modes:
        late, steal = pace(a.seconds, period, mode)
        ms = late * 1000.0
        print(f"| {mode} | {len(late)} | {int((late > period).sum())} | {np.percentile(ms, 50):.3f} | "
              f"{np.percentile(ms, 99):.3f} | {np.percentile(ms, 99.9):.3f} | {ms.max():.2f} | {steal} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
