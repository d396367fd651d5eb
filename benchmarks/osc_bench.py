"""OSC round-trip time against a running bridge with a running chain (issue 6).

    .venv/bin/python benchmarks/osc_bench.py                  # starts 'eventsep serve' itself, 2000 of each
    .venv/bin/python benchmarks/osc_bench.py --target 127.0.0.1:9000 -n 500   # an already running serve

Without ``--target`` it starts ``python -m engine.cli serve --osc-port 0 --silence --class piano`` (48 kHz
stereo, 512-sample blocks at real-time pace: a running chain whose audio thread applies changes at each
block) and measures over UDP on 127.0.0.1:

- ``status``: send ``/eventsep/status``, wait for the reply;
- ``change``: send ``/eventsep/interp v`` then ``/eventsep/status``, wait for a reply that shows ``v``
  (the change was received, checked and queued);
- ``applied``: after a change, poll ``/eventsep/status`` until nothing is pending (the audio thread took it
  at its next block): bounded by one block (10.7 ms at 512/48 kHz) plus scheduling.

Prints p50 / p90 / p99 / max in milliseconds.
"""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder

ROOT = Path(__file__).resolve().parents[1]


def _msg(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


STATUS = _msg("/eventsep/status")


class Client:
    def __init__(self, target: tuple[str, int], timeout: float):
        self.target = target
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout)

    def status(self) -> dict:
        self.sock.sendto(STATUS, self.target)
        while True:
            data, _ = self.sock.recvfrom(65536)
            msg = OscMessage(data)
            if msg.address == "/eventsep/status":
                p = list(msg.params)
                return dict(zip(p[::2], p[1::2]))


def _start_serve(args) -> tuple[subprocess.Popen, tuple[str, int]]:
    cmd = [sys.executable, "-m", "engine.cli", "serve", "--osc-port", "0", "--silence", "--class", "piano",
           "--class-b", "bass", "--block", str(args.block), "--sample-rate", str(args.rate), "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if "OSC on 127.0.0.1:" in line:
            port = int(line.split("OSC on 127.0.0.1:")[1].split(";")[0])
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()   # drain
            return proc, ("127.0.0.1", port)
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise SystemExit("eventsep serve did not start")


def _summary(name: str, ms: list[float]) -> dict:
    a = np.asarray(ms)
    row = {"what": name, "n": len(a), "p50_ms": float(np.percentile(a, 50)), "p90_ms": float(np.percentile(a, 90)),
           "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max())}
    print(f"| {name} | {row['n']} | {row['p50_ms']:.3f} | {row['p90_ms']:.3f} | {row['p99_ms']:.3f} | {row['max_ms']:.3f} |")
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=2000, help="round trips per measurement (default: 2000)")
    ap.add_argument("--target", default=None, help="HOST:PORT of a running 'eventsep serve' (default: start one)")
    ap.add_argument("--block", type=int, default=512, help="block size of the started serve (default: 512)")
    ap.add_argument("--rate", type=int, default=48000, help="sample rate of the started serve (default: 48000)")
    ap.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for one reply (default: 5)")
    ap.add_argument("--json", default=None, help="also write the rows here")
    args = ap.parse_args(argv)

    proc = None
    if args.target:
        host, port = args.target.rsplit(":", 1)
        target = (host, int(port))
    else:
        proc, target = _start_serve(args)
    try:
        client = Client(target, args.timeout)
        for _ in range(50):                       # warm up both ends
            client.status()
        status_ms, change_ms, applied_ms = [], [], []
        rng = np.random.default_rng(0)
        for _ in range(args.n):
            t0 = time.perf_counter()
            client.status()
            status_ms.append(1e3 * (time.perf_counter() - t0))
        for _ in range(args.n):
            v = float(np.float32(rng.random()))
            t0 = time.perf_counter()
            client.sock.sendto(_msg("/eventsep/interp", v), target)
            s = client.status()
            change_ms.append(1e3 * (time.perf_counter() - t0))
            if abs(s["interp"] - v) > 1e-6:
                raise SystemExit(f"the status after a change shows interp {s['interp']}, sent {v}")
            while s["pending"]:
                s = client.status()
            applied_ms.append(1e3 * (time.perf_counter() - t0))
        print(f"\nOSC round trips over UDP on 127.0.0.1 to {target[0]}:{target[1]}")
        print("| measurement | n | p50 ms | p90 ms | p99 ms | max ms |\n|---|---|---|---|---|---|")
        rows = [_summary("status request -> reply", status_ms),
                _summary("knob change + status -> reply showing it", change_ms),
                _summary("knob change -> applied by the audio thread", applied_ms)]
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=2))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
