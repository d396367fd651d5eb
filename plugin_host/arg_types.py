"""argparse value types shared by the command lines of plugin_host and gui (stdlib only: parsers are built
for every ``eventsep`` call)."""
from __future__ import annotations

import argparse


def unit(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:   # also refuses nan
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text}")
    return value


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0..65535 (0 = any free port), got {text}")
    return value


# the names of engine.streaming.StreamSettings' presets (kept here so building a parser imports nothing
# heavy; tests/test_plugin_host.py checks that the two lists agree)
SETTING_NAMES = ("default", "low_latency", "every_frame", "efficient", "background_runs", "windowed",
                 "windowed_low_latency")


def chosen_setting(args, preset):
    """The stream setting a command line asks for: ``--setting`` / ``--low-latency``, else the preset's,
    else ``"default"``."""
    if getattr(args, "low_latency", False):
        return "low_latency"
    if getattr(args, "setting", None):
        return args.setting
    return preset.settings if preset is not None and preset.settings is not None else "default"
