"""DAW conventions: let a DAW's own OSC messages turn EventSep's knobs.

- REAPER sends ``/track/N/fx/M/fxparam/K/value f`` (normalised 0..1) for parameter K of FX M on track N.
- Ardour sends ``/strip/plugin/parameter ssid piid param value`` (strip, plugin and parameter ids, value).

A :class:`DawMapping` says which (N, M, K) or (ssid, piid, param) drives which of ``interp``, ``mix``,
``bypass``, ``residual``. Values are normalised 0..1; a switch is on from 0.5 (a DAW sends toggles as
floats). On the command line: ``--map reaper:1/2/1=interp --map ardour:1/1/3=mix``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from engine.errors import EventSepError

from .address import Rejected, unit_value

KNOBS = ("interp", "mix", "bypass", "residual")
TOGGLES = ("bypass", "residual")
REAPER = re.compile(r"^/track/(\d+)/fx/(\d+)/fxparam/(\d+)/value$")
ARDOUR = "/strip/plugin/parameter"
DAW_PREFIXES = ("/track/", "/strip/", "/master/", "/transport", "/time", "/beat")


@dataclass(frozen=True)
class DawMapping:
    reaper: dict[tuple[int, int, int], str] = field(default_factory=dict)
    ardour: dict[tuple[int, int, int], str] = field(default_factory=dict)

    @classmethod
    def parse(cls, specs: list[str] | None) -> "DawMapping":
        """``["reaper:1/2/1=interp", "ardour:1/1/3=mix"]`` -> DawMapping (clear errors on typos)."""
        tables: dict[str, dict[tuple[int, int, int], str]] = {"reaper": {}, "ardour": {}}
        for spec in specs or []:
            m = re.fullmatch(r"\s*(reaper|ardour):(\d+)/(\d+)/(\d+)=(\w+)\s*", spec or "")
            if not m:
                raise EventSepError(f"--map {spec!r}: expected reaper:TRACK/FX/PARAM=KNOB or "
                                    f"ardour:STRIP/PLUGIN/PARAM=KNOB (e.g. reaper:1/1/1=interp)")
            daw, a, b, c, knob = m.groups()
            if knob not in KNOBS:
                raise EventSepError(f"--map {spec!r}: unknown knob {knob!r}; use one of {', '.join(KNOBS)}")
            tables[daw][(int(a), int(b), int(c))] = knob
        return cls(**tables)

    def __bool__(self) -> bool:
        return bool(self.reaper or self.ardour)

    def describe(self) -> list[str]:
        return [f"reaper /track/{n}/fx/{m}/fxparam/{k}/value -> {knob}" for (n, m, k), knob in self.reaper.items()] + \
               [f"ardour /strip/plugin/parameter {s} {p} {k} -> {knob}" for (s, p, k), knob in self.ardour.items()]

    def match(self, address: str, args: list) -> tuple[str, float | bool] | None:
        """(knob, value) for a mapped DAW message; None if this message is not mapped (a DAW sends a lot
        of feedback that is not for us). Raises Rejected for a mapped message with a bad value."""
        m = REAPER.match(address)
        if m:
            knob = self.reaper.get((int(m[1]), int(m[2]), int(m[3])))
            if knob is None:
                return None
            if len(args) != 1:
                raise Rejected(f"{address} takes one value, got {len(args)}")
            return knob, self._value(knob, args[0], address)
        if address == ARDOUR:
            if len(args) != 4 or not all(isinstance(a, int) and not isinstance(a, bool) for a in args[:3]):
                raise Rejected(f"{address} takes ssid piid param value (three ints and a number)")
            knob = self.ardour.get((args[0], args[1], args[2]))
            if knob is None:
                return None
            return knob, self._value(knob, args[3], address)
        return None

    @staticmethod
    def _value(knob: str, raw, address: str) -> float | bool:
        v = unit_value(raw, address)
        return v >= 0.5 if knob in TOGGLES else v


def is_daw_address(address: str) -> bool:
    return address.startswith(DAW_PREFIXES)
