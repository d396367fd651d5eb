"""``eventsep panel``: the option parser (imports nothing heavy: it is built for every ``eventsep`` call) and
the command, which imports PyQt6 only when it runs."""
from __future__ import annotations

import argparse


from plugin_host.arg_types import SETTING_NAMES as PRESETS, port as _port, unit as _unit


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1220x800, got {text!r}") from None
    if not (400 <= w <= 8000 and 300 <= h <= 8000):
        raise argparse.ArgumentTypeError(f"size out of range (400x300 to 8000x8000), got {text}")
    return w, h


def add_parser(sub) -> None:
    p = sub.add_parser(
        "panel", help="the control panel (PyQt6): reference slots, A<->B knob, meters, render, presets, OSC",
        description="Open the EventSep control panel: drop reference clips on slots A and B (or pick classes), "
                    "turn the A<->B knob, wet/dry, bypass and residual, watch the levels, latency and load, "
                    "render files and save presets. The panel drives a running effect that also listens for "
                    "OSC, like 'eventsep serve'. --screenshot renders it offscreen to a PNG and exits.")
    p.add_argument("--model", metavar="BUNDLE", default=None,
                   help="ONNX bundle folder written by 'eventsep export' (default: the shipped model)")
    qa = p.add_mutually_exclusive_group()
    qa.add_argument("--query-a", metavar="FILE", default=None, help="fill slot A with this reference audio file")
    qa.add_argument("--class-a", metavar="NAME", default=None, help="fill slot A with this class ('eventsep classes')")
    qb = p.add_mutually_exclusive_group()
    qb.add_argument("--query-b", metavar="FILE", default=None, help="fill slot B with this reference audio file")
    qb.add_argument("--class-b", metavar="NAME", default=None, help="fill slot B with this class")
    p.add_argument("--preset", metavar="P.json", default=None,
                   help="start from a preset (slot and knob options given here override it)")
    p.add_argument("--interp", type=_unit, default=None, help="A<->B knob position, 0..1 (default: 0)")
    p.add_argument("--mix", type=_unit, default=None, help="wet/dry, 1 = only the separated signal (default: 1)")
    p.add_argument("--residual", action="store_true", help="start with residual on (everything but the target)")
    p.add_argument("--bypass", action="store_true", help="start bypassed")
    p.add_argument("--setting", choices=PRESETS, default=None,
                   help="streaming setting (see 'eventsep process --help'); default: the preset's, else default")
    p.add_argument("--low-latency", action="store_true", help="same as --setting low_latency")
    mon = p.add_mutually_exclusive_group()
    mon.add_argument("--input", metavar="FILE", default=None,
                     help="monitor source: run the effect on this file in a loop at real-time pace, for the "
                          "meters and the load (default: silence)")
    mon.add_argument("--live", action="store_true",
                     help="monitor source: the default audio input and output devices (mind feedback with "
                          "speakers)")
    p.add_argument("--osc-port", type=_port, default=9000,
                   help="UDP port of the OSC bridge (default: 9000; 0 = any free port). If it is taken the "
                        "panel starts without OSC and says so")
    p.add_argument("--osc-host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow an --osc-host reachable from other machines (they can then drive the effect "
                        "and make it read files)")
    p.add_argument("--map", action="append", default=[], metavar="DAW:A/B/C=KNOB",
                   help="drive a knob from a DAW message (reaper:TRACK/FX/PARAM=KNOB, ardour:STRIP/PLUGIN/PARAM=KNOB); "
                        "repeatable")
    p.add_argument("--no-osc", action="store_true", help="do not start the OSC bridge")
    p.add_argument("--screenshot", metavar="PATH.png", default=None,
                   help="render the panel offscreen to this PNG once the slots are ready, then exit")
    p.add_argument("--render", nargs=2, metavar=("IN", "OUT"), default=None,
                   help="render IN into OUT through the panel's effect at start (with --screenshot: before the "
                        "shot, so it shows the spectrogram)")
    p.add_argument("--size", type=_size, default=None, metavar="WxH", help="window size (default: 1220x800)")
    p.set_defaults(func=cmd_panel)


def cmd_panel(args) -> int:
    from .app import run

    return run(args)
