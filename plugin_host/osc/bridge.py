"""The OSC bridge: a UDP server (python-osc parses and builds the packets) that turns messages into
changes of a running :class:`~plugin_host.effect.SeparatorEffect`.

Threads and what they may do:

- the **server thread** receives datagrams, checks them (address table, DAW mapping, types, ranges) and
  posts accepted values to ``effect.pending`` - the latest value per parameter, so a flood of knob moves
  costs the audio thread one assignment per parameter at its next block;
- the **loader thread** does the slow work (decoding a reference file and running the Query-net, reading
  a preset), newest request per slot first-come, and posts the result the same way;
- the **audio thread** (whoever calls ``effect.process``) applies what is pending at the start of each
  block and never waits on either of them.

Anything wrong - garbage bytes, unknown addresses, wrong types, NaN, out-of-range values, unreadable
files - is rejected with a logged reason (rate-limited, with a count of what was not shown) and the
server carries on.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from pythonosc.osc_message_builder import OscMessageBuilder

from engine.errors import EventSepError

from ..controls import next_seq
from ..query import QuerySpec
from .address import ADDRESSES, Rejected, parse
from .mapping import DawMapping, is_daw_address
from .packet import messages as parse_packet

log = logging.getLogger("eventsep.osc")

STATUS_KEYS = ("interp", "mix", "bypass", "residual", "query_a", "query_b", "sample_rate", "channels",
               "latency_samples", "model", "blocks", "pending")


@dataclass(frozen=True)
class OscConfig:
    """Where the bridge listens and how it reads DAW messages. Port 0 picks a free port."""

    host: str = "127.0.0.1"
    port: int = 9000
    allow_remote: bool = False
    mapping: DawMapping = field(default_factory=DawMapping)
    log_limit: int = 20              # rejection warnings shown per second; the rest are counted


@dataclass
class BridgeStats:
    datagrams: int = 0
    messages: int = 0
    accepted: int = 0
    rejected: int = 0
    ignored: int = 0                 # DAW feedback that is not mapped to a knob
    replies: int = 0
    loaded: int = 0
    load_failed: int = 0


def _fmt_sender(sender) -> str:
    return f"{sender[0]}:{sender[1]}" if isinstance(sender, tuple) and len(sender) >= 2 else str(sender)


def _show(value) -> str:
    if isinstance(value, QuerySpec):
        return value.describe()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def resolve_host(host: str, allow_remote: bool) -> str:
    """The IPv4 address to bind; refuses a non-loopback one unless ``allow_remote``."""
    try:
        ip = socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_DGRAM)[0][4][0]
    except (socket.gaierror, UnicodeError) as e:
        raise EventSepError(f"OSC host {host!r}: cannot resolve it ({e})") from None
    if not ipaddress.ip_address(ip).is_loopback and not allow_remote:
        raise EventSepError(f"OSC host {host} ({ip}) is reachable from other machines, which could then drive "
                            f"the effect and make it read files; pass --allow-remote to confirm")
    return ip


class _Loader:
    """One worker thread for slow requests; per key only the newest waiting request is kept."""

    def __init__(self):
        self._cond = threading.Condition()
        self._jobs: dict[str, tuple[int, Callable[[], None]]] = {}
        self._stop = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="eventsep-osc-loader", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, key: str, seq: int, job: Callable[[], None]) -> None:
        with self._cond:
            self._jobs[key] = (seq, job)
            self._cond.notify()

    def idle(self) -> bool:
        with self._cond:
            return not self._jobs and not self._busy

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                key = min(self._jobs, key=lambda k: self._jobs[k][0])
                _, job = self._jobs.pop(key)
                self._busy = True
            try:
                job()
            except Exception:       # a job reports its own errors; this only keeps the thread alive
                log.exception("OSC loader job failed")
            finally:
                with self._cond:
                    self._busy = False

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


class OscBridge:
    """Drive ``effect`` over OSC. ``start()`` binds and starts the threads; ``stop()`` (or leaving a
    ``with`` block) ends them. ``address`` is the bound (host, port)."""

    def __init__(self, effect, config: OscConfig | None = None):
        self.effect = effect
        self.config = config or OscConfig()
        port = self.config.port
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise EventSepError(f"OSC port must be 0..65535 (0 = any free port), got {port!r}")
        self._host = resolve_host(self.config.host, self.config.allow_remote)
        self.stats = BridgeStats()
        self.last_rejection: str | None = None
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._loader = _Loader()
        self._window_start = 0.0
        self._window_count = 0
        self._suppressed = 0

    # ----------------------------------------------------------------------------------- life cycle

    @property
    def address(self) -> tuple[str, int]:
        if self._sock is None:
            raise EventSepError("the OSC bridge is not running")
        return self._sock.getsockname()[:2]

    def start(self) -> "OscBridge":
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            # room for bursts while the (low-priority) server thread is descheduled
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            sock.bind((self._host, self.config.port))
        except OSError as e:
            sock.close()
            raise EventSepError(f"cannot listen for OSC on {self._host}:{self.config.port} "
                                f"({e.strerror or e})") from None
        sock.settimeout(0.1)          # wake up to notice stop()
        self._sock = sock
        self._loader.start()
        self._thread = threading.Thread(target=self._serve, name="eventsep-osc", daemon=True)
        self._thread.start()
        host, port = self.address
        log.info("listening for OSC on %s:%d", host, port)
        for line in self.config.mapping.describe():
            log.info("DAW mapping: %s", line)
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loader.stop()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> "OscBridge":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def loader_idle(self) -> bool:
        return self._loader.idle()

    # ----------------------------------------------------------------------------------- receiving

    def _serve(self) -> None:
        sock = self._sock
        while not self._stop.is_set():
            try:
                data, sender = sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError as e:
                if self._stop.is_set():
                    break
                log.warning("OSC socket error (%s); still listening", e)
                continue
            try:
                self._handle_datagram(data, sender)
            except Exception as e:       # last line of defence: one datagram never ends the server
                self._reject(sender, None, f"internal error ({type(e).__name__}: {e})")

    def _handle_datagram(self, data: bytes, sender) -> None:
        self.stats.datagrams += 1
        try:
            messages = parse_packet(data)
        except Rejected as r:
            self._reject(sender, None, str(r))
            return
        # bundles are applied at once, in order: their time tags are not honoured
        for message in messages:
            try:
                address, args = message.address, list(message.params)
            except Exception as e:
                self._reject(sender, None, f"unreadable OSC message ({str(e)[:120]})")
                continue
            self._handle_message(address, args, sender)

    def _handle_message(self, address: str, args: list, sender) -> None:
        self.stats.messages += 1
        try:
            if address in ADDRESSES:
                spec, value = parse(address, args)
                if spec.kind == "status":
                    self._reply_status(sender)
                elif spec.kind in ("unit", "toggle"):
                    self._post(spec.target, value, address, sender)
                elif spec.kind == "class":
                    try:
                        query = self.effect.resolve_class(value)
                    except EventSepError as e:
                        raise Rejected(str(e)) from None
                    self._post(spec.target, query, address, sender)
                elif spec.kind == "file":
                    self._queue_file(spec.target, value, address, sender)
                else:
                    self._queue_preset(value, address, sender)
                return
            hit = self.config.mapping.match(address, args)
            if hit is not None:
                self._post(hit[0], hit[1], address, sender)
            elif is_daw_address(address):
                self.stats.ignored += 1          # DAW feedback we were not asked to map: not an error
                log.debug("ignored unmapped DAW message %s from %s", address, _fmt_sender(sender))
            else:
                raise Rejected(f"unknown address {address!r:.80}")
        except Rejected as r:
            self._reject(sender, address, str(r))

    # ----------------------------------------------------------------------------------- changes

    def _post(self, name: str, value, address: str, sender, seq: int | None = None) -> None:
        if self.effect.pending.put(name, value, seq):
            self.stats.accepted += 1
            log.info("%s from %s: %s = %s", address, _fmt_sender(sender), name, _show(value))
        else:
            log.info("%s from %s: %s = %s superseded by a newer change", address, _fmt_sender(sender), name,
                     _show(value))

    def _queue_file(self, target: str, path: str, address: str, sender) -> None:
        seq = next_seq()

        def job():
            try:
                query = self.effect.resolve_file(path)
            except EventSepError as e:
                self.stats.load_failed += 1
                self._reject(sender, address, str(e))
                return
            self.stats.loaded += 1
            self._post(target, query, address, sender, seq)

        self._loader.submit(target, seq, job)
        log.info("%s from %s: encoding %s for %s", address, _fmt_sender(sender), path, target)

    def _queue_preset(self, path: str, address: str, sender) -> None:
        from ..preset import load_preset

        seq = next_seq()

        def job():
            try:
                preset, warnings = load_preset(Path(path), self.effect.models)
            except EventSepError as e:
                self.stats.load_failed += 1
                self._reject(sender, address, str(e))
                return
            for w in warnings:
                log.warning("%s", w)
            if preset.settings is not None and preset.settings != self.effect.settings:
                log.warning("%s: its stream settings apply to new streams only; kept %s", path,
                            self.effect.settings)
            self.stats.loaded += 1
            for name, value in preset.changes():
                self._post(name, value, address, sender, seq)

        self._loader.submit("preset", seq, job)
        log.info("%s from %s: loading preset %s", address, _fmt_sender(sender), path)

    # ----------------------------------------------------------------------------------- replies

    def status_values(self) -> dict:
        state = self.effect.state(include_pending=True)
        state.update(blocks=int(self.effect.blocks_processed), pending=len(self.effect.pending))
        return {key: state[key] for key in STATUS_KEYS}

    def _reply_status(self, sender) -> None:
        builder = OscMessageBuilder("/eventsep/status")
        for key, value in self.status_values().items():
            builder.add_arg(key, "s")
            if isinstance(value, bool):
                builder.add_arg(int(value), "i")
            elif isinstance(value, float):
                builder.add_arg(value, "f")
            elif isinstance(value, int):
                builder.add_arg(value, "i")
            else:
                builder.add_arg(str(value), "s")
        self.stats.replies += 1         # counted first: the reply may arrive before the next statement
        try:
            self._sock.sendto(builder.build().dgram, sender)
        except OSError as e:
            log.warning("cannot reply to %s (%s)", _fmt_sender(sender), e)

    def _reject(self, sender, address: str | None, reason: str) -> None:
        self.stats.rejected += 1
        what = address if address is not None else "datagram"
        self.last_rejection = f"{what}: {reason}"
        now = time.monotonic()
        if now - self._window_start >= 1.0:
            if self._suppressed:
                log.warning("%d more rejected OSC messages were not shown", self._suppressed)
            self._window_start, self._window_count, self._suppressed = now, 0, 0
        if self._window_count < self.config.log_limit:
            self._window_count += 1
            log.warning("rejected %s from %s: %s", what, _fmt_sender(sender), reason)
        else:
            self._suppressed += 1
