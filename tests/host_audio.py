"""Shared by the plugin_host tests: short synthetic music and a little OSC client over real UDP."""
from __future__ import annotations

import socket
import time

import numpy as np
from pythonosc.osc_message import OscMessage
from pythonosc.osc_message_builder import OscMessageBuilder


def music(seconds: float = 0.5, rate: int = 22050, channels: int = 2, seed: int = 0) -> np.ndarray:
    """Plucked harmonic notes, a bass line and noise hits: (channels, n) float32, peak about 0.5."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    x = np.zeros(n)
    for start in np.arange(0.0, seconds, 0.125):
        f0 = 220.0 * 2 ** (rng.integers(0, 12) / 12)
        env = np.where(t >= start, np.exp(-(t - start) * 6.0), 0.0)
        x += env * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6)) * 0.15
    x += 0.2 * np.sin(2 * np.pi * 55.0 * t) * (1 + np.sign(np.sin(2 * np.pi * 2 * t))) / 2
    for start in np.arange(0.0625, seconds, 0.25):
        i = int(start * rate)
        hit = rng.standard_normal(min(n - i, int(0.03 * rate))) * np.exp(-np.arange(min(n - i, int(0.03 * rate))) / (0.005 * rate))
        x[i:i + hit.shape[0]] += 0.3 * hit
    out = np.stack([x * (1.0 - 0.15 * c) + 0.01 * rng.standard_normal(n) for c in range(channels)])
    return (0.5 * out / np.max(np.abs(out))).astype(np.float32)


def osc(address: str, *args) -> bytes:
    b = OscMessageBuilder(address)
    for a in args:
        b.add_arg(a)
    return b.build().dgram


class OscClient:
    """A UDP socket on 127.0.0.1 that sends to the bridge and reads replies."""

    def __init__(self, port: int, host: str = "127.0.0.1"):
        self.target = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def send_msg(self, address: str, *args) -> None:
        self.send(osc(address, *args))

    def status(self, timeout: float = 10.0) -> dict:
        """Ask /eventsep/status and return the reply's name/value pairs as a dict."""
        self.send_msg("/eventsep/status")
        deadline = time.monotonic() + timeout
        while True:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data, _ = self.sock.recvfrom(65536)      # raises socket.timeout when the server never answers
            msg = OscMessage(data)
            if msg.address == "/eventsep/status":
                p = list(msg.params)
                return dict(zip(p[::2], p[1::2]))

    def close(self) -> None:
        self.sock.close()


def wait_for(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.002)
