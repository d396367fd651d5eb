"""Detector checkpoints: ``detector.safetensors`` (weights) + ``detector.json`` (config, classes, metrics).
No pickles: what ships is loadable without executing code."""
from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from ..checkpoint import write_weights
from ..errors import EventSepError
from .config import DetectorConfig
from .model import FrameDetector

WEIGHTS = "detector.safetensors"
CONFIG = "detector.json"
SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "detector"


def save_detector(model: FrameDetector, directory: str | Path, extra: dict | None = None) -> Path:
    meta = {"format": "eventsep-detector-1", "config": model.config.to_dict(), **(extra or {})}
    return write_weights(directory, model, WEIGHTS, CONFIG, meta)


def read_meta(directory: str | Path) -> dict:
    path = Path(directory) / CONFIG
    if not path.is_file():
        raise EventSepError(f"{directory}: not a detector folder (no {CONFIG})")
    return json.loads(path.read_text())


def load_detector(directory: str | Path | None = None) -> tuple[FrameDetector, dict]:
    """The detector in ``directory`` (default: the shipped one), in eval mode, and its metadata."""
    d = Path(directory) if directory else SHIPPED
    if not (d / WEIGHTS).is_file():
        if directory is None:
            raise EventSepError(f"the shipped detector is missing from this installation ({d}); "
                                "pass --detector DIR (a folder written by the detector training)")
        raise EventSepError(f"{d}: not a detector folder (no {WEIGHTS})")
    meta = read_meta(d)
    model = FrameDetector(DetectorConfig.from_dict(meta["config"]))
    model.load_state_dict(load_file(str(d / WEIGHTS)))
    model.eval()
    return model, meta


def count_bytes(directory: str | Path) -> int:
    return sum(p.stat().st_size for p in Path(directory).iterdir() if p.is_file())


__all__ = ["save_detector", "load_detector", "read_meta", "SHIPPED", "WEIGHTS", "CONFIG"]
