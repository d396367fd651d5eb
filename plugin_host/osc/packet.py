"""Strict structural check of incoming datagrams before python-osc parses them.

python-osc is lenient where a bridge must not be: a message whose type tags promise more bytes than it
holds parses with made-up zeros (``/eventsep/interp ,f`` and no float reads as 0.0), and a bundle element
that is neither a message nor a bundle is dropped with a warning on the root logger. Here both are
rejected with a reason, and the bytes python-osc then sees are well formed.
"""
from __future__ import annotations

from pythonosc.osc_message import OscMessage

from .address import Rejected

BUNDLE = b"#bundle\x00"
MAX_DEPTH = 8
_FIXED = {**{t: 4 for t in "ifcrm"}, **{t: 8 for t in "hdt"}, **{t: 0 for t in "TFNI[]"}}


def _string_end(d: bytes, i: int, what: str) -> int:
    j = d.find(b"\x00", i)
    if j < 0:
        raise Rejected(f"truncated message: unterminated {what}")
    return (j + 4) & ~3          # strings are NUL-terminated and padded to 4 bytes


def check_message(d: bytes) -> None:
    i = _string_end(d, 0, "address")
    if i >= len(d):
        return                   # no type tags at all: a message without arguments
    if d[i:i + 1] != b",":
        raise Rejected("malformed message: no type tag string after the address")
    j = d.find(b"\x00", i)
    if j < 0:
        raise Rejected("truncated message: unterminated type tags")
    tags = d[i + 1:j].decode("latin-1")
    i = (j + 4) & ~3
    for t in tags:
        if t in _FIXED:
            i += _FIXED[t]
        elif t in "sS":
            i = _string_end(d, i, "string argument")
        elif t == "b":
            size = int.from_bytes(d[i:i + 4], "big", signed=True) if i + 4 <= len(d) else -1
            if size < 0:
                raise Rejected("truncated message: bad blob size")
            i += 4 + ((size + 3) & ~3)
        else:
            raise Rejected(f"malformed message: unknown type tag {t!r}")
        if i > len(d):
            raise Rejected(f"truncated message: type tags ,{tags[:20]} promise more data than its {len(d)} bytes")


def _walk(d: bytes, depth: int, out: list[bytes]) -> None:
    if d.startswith(BUNDLE):
        if depth >= MAX_DEPTH:
            raise Rejected("bundles nested too deep")
        if len(d) < 16:
            raise Rejected("truncated bundle")
        i = 16
        while i < len(d):
            size = int.from_bytes(d[i:i + 4], "big", signed=True) if i + 4 <= len(d) else -1
            if size <= 0 or size % 4 or i + 4 + size > len(d):
                raise Rejected("malformed bundle: an element's size does not fit the datagram")
            _walk(d[i + 4:i + 4 + size], depth + 1, out)
            i += 4 + size
    elif d.startswith(b"/"):
        check_message(d)
        out.append(d)
    else:
        raise Rejected(f"not an OSC packet ({len(d)} bytes starting {d[:8]!r})")


def messages(dgram: bytes) -> list[OscMessage]:
    """The messages of a datagram (bundles flattened, in order); Rejected if anything is malformed."""
    parts: list[bytes] = []
    _walk(dgram, 0, parts)
    if not parts:
        raise Rejected("an OSC bundle without messages")
    try:
        return [OscMessage(p) for p in parts]
    except Exception as e:          # python-osc's ParseError, and others on odd bytes
        raise Rejected(f"unreadable OSC message ({str(e)[:120]})") from None
