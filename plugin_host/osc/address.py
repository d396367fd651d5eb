"""The EventSep OSC address space and the checks on each message's arguments.

| address | arguments | effect |
|---|---|---|
| /eventsep/interp | f 0..1 | slerp A -> B |
| /eventsep/mix | f 0..1 | wet/dry |
| /eventsep/bypass | i 0/1 | pass through (same latency) |
| /eventsep/residual | i 0/1 | everything but the target |
| /eventsep/query/a, /eventsep/query/b | s | reference audio file (encoded off the audio thread) |
| /eventsep/class/a, /eventsep/class/b | s | class name |
| /eventsep/preset/load | s | preset JSON file |
| /eventsep/status | (none) | reply to the sender: /eventsep/status with name/value pairs |
"""
from __future__ import annotations

import math
from dataclasses import dataclass

PREFIX = "/eventsep"
MAX_STRING = 4096


class Rejected(Exception):
    """A message the bridge refuses; the text is the logged reason."""


@dataclass(frozen=True)
class Address:
    path: str
    kind: str          # "unit" | "toggle" | "file" | "class" | "preset" | "status"
    target: str        # parameter or slot it drives
    types: str         # OSC type tags it takes, for the docs and the status of errors
    help: str


ADDRESSES: dict[str, Address] = {a.path: a for a in [
    Address("/eventsep/interp", "unit", "interp", "f", "slerp position from query A (0) to query B (1)"),
    Address("/eventsep/mix", "unit", "mix", "f", "wet/dry: 1 = only the separated signal"),
    Address("/eventsep/bypass", "toggle", "bypass", "i", "1 = pass the input through (same latency)"),
    Address("/eventsep/residual", "toggle", "residual", "i", "1 = everything but the target"),
    Address("/eventsep/query/a", "file", "query_a", "s", "reference audio file for query A"),
    Address("/eventsep/query/b", "file", "query_b", "s", "reference audio file for query B"),
    Address("/eventsep/class/a", "class", "query_a", "s", "class name for query A"),
    Address("/eventsep/class/b", "class", "query_b", "s", "class name for query B"),
    Address("/eventsep/preset/load", "preset", "preset", "s", "load a preset JSON file"),
    Address("/eventsep/status", "status", "status", "", "reply to the sender with the current state"),
]}


def _one(args: list, address: str) -> object:
    if len(args) != 1:
        raise Rejected(f"{address} takes exactly one argument, got {len(args)}")
    return args[0]


def unit_value(value, address: str) -> float:
    """A normalised 0..1 number (int or float, not bool, not NaN/Inf)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Rejected(f"{address} takes a number 0..1, got {type(value).__name__} {value!r:.40}")
    v = float(value)
    if not math.isfinite(v):
        raise Rejected(f"{address} takes a finite number, got {v}")
    if not 0.0 <= v <= 1.0:
        raise Rejected(f"{address} takes a value between 0 and 1, got {v:g}")
    return v


def toggle_value(value, address: str) -> bool:
    """0/1 as int, float or OSC True/False."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise Rejected(f"{address} takes 0 or 1, got {type(value).__name__} {value!r:.40}")


def string_value(value, address: str) -> str:
    if not isinstance(value, str):
        raise Rejected(f"{address} takes a string, got {type(value).__name__}")
    if not value.strip():
        raise Rejected(f"{address} takes a non-empty string")
    if len(value) > MAX_STRING or "\x00" in value:
        raise Rejected(f"{address}: string too long or with NUL characters")
    return value


def parse(address: str, args: list) -> tuple[Address, object]:
    """Check a message against the address table -> (its Address, the checked value)."""
    spec = ADDRESSES.get(address)
    if spec is None:
        raise Rejected(f"unknown address {address!r:.80}")
    if spec.kind == "status":
        return spec, None
    value = _one(args, address)
    if spec.kind == "unit":
        return spec, unit_value(value, address)
    if spec.kind == "toggle":
        return spec, toggle_value(value, address)
    return spec, string_value(value, address)
