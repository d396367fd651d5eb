"""Flow checkpoints: ``flow.safetensors`` (weights) + ``flow.json`` (config and metadata). No pickles."""
from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from ..checkpoint import write_weights
from ..errors import EventSepError
from .config import FlowConfig
from .model import VelocityNet

WEIGHTS = "flow.safetensors"
CONFIG = "flow.json"
SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "flow"


def save_flow(model: VelocityNet, directory: str | Path, extra: dict | None = None) -> Path:
    meta = {"format": "eventsep-flow-1", "config": model.config.to_dict(), **(extra or {})}
    return write_weights(directory, model, WEIGHTS, CONFIG, meta)


def load_flow(directory: str | Path | None = None) -> tuple[VelocityNet, dict]:
    """The flow model in ``directory`` (default: the shipped one), in eval mode, and its metadata."""
    d = Path(directory) if directory else SHIPPED
    if not (d / WEIGHTS).is_file() or not (d / CONFIG).is_file():
        where = "the shipped generative model is missing from this installation" if directory is None \
            else f"{d}: not a flow-model folder (needs {WEIGHTS} and {CONFIG})"
        raise EventSepError(where)
    meta = json.loads((d / CONFIG).read_text())
    model = VelocityNet(FlowConfig.from_dict(meta["config"]))
    model.load_state_dict(load_file(str(d / WEIGHTS)))
    model.eval()
    return model, meta
