"""Where ``make plugin`` puts the VST3, and whether it is there: for the tests and benchmarks that load it
with ``pedalboard.load_plugin``."""
from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VST3_BUNDLE = REPO / "build" / "EventSep.vst3"
VST3_BINARY = VST3_BUNDLE / "Contents" / "x86_64-linux" / "EventSep.so"


def vst3_missing() -> str | None:
    """None when the plugin is built, else a one-line reason to print."""
    return None if VST3_BINARY.is_file() else f"{VST3_BUNDLE} is not built: run 'make plugin' (make test does)"
