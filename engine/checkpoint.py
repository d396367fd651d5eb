"""Checkpoints: ``model.safetensors`` (weights) + ``config.json`` (everything needed to rebuild).

``config.json`` holds the model config, sample rate, STFT, class list, training step and source commit;
:func:`load_model` rebuilds the model from it alone. Never pickle.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .config import ModelConfig
from .errors import EventSepError
from .models import QuerySeparator

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
LATENTS = "latents.safetensors"
LATENT_INDEX = "latents.json"
FORMAT_VERSION = 1


def source_commit() -> str:
    """The git commit of the code that wrote a checkpoint ("unknown" outside a checkout)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=5)
        if out.returncode == 0:
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                   cwd=Path(__file__).resolve().parent, capture_output=True, text=True,
                                   timeout=5).stdout.strip()
            return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def write_weights(directory: str | Path, module: torch.nn.Module, weights_name: str, config_name: str,
                  meta: dict[str, Any], metadata: dict[str, str] | None = None) -> Path:
    """Write ``module``'s weights (safetensors) and ``meta`` (JSON) into ``directory`` (created); each
    file is replaced atomically, so a reader never sees a half-written checkpoint."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu().clone() for k, v in module.state_dict().items()}
    tmp = directory / (weights_name + ".tmp")
    save_file(state, str(tmp), metadata=metadata)
    tmp.replace(directory / weights_name)
    tmp = directory / (config_name + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    tmp.replace(directory / config_name)
    return directory


def save_checkpoint(directory: str | Path, model: QuerySeparator, classes: list[str] | None = None,
                    step: int = 0, extra: dict[str, Any] | None = None) -> Path:
    """Write weights + JSON into ``directory`` (created); files are replaced atomically."""
    cfg = model.config
    meta = {
        "format": "eventsep-checkpoint",
        "format_version": FORMAT_VERSION,
        "model": cfg.to_dict(),
        "sample_rate": cfg.sample_rate,
        "stft": cfg.to_dict()["stft"],
        "classes": list(classes or []),
        "step": int(step),
        "source_commit": source_commit(),
        **(extra or {}),
    }
    out = write_weights(directory, model, WEIGHTS, CONFIG, meta,
                        {"format": "eventsep", "version": str(FORMAT_VERSION)})
    if model.config.class_vocab:
        save_learned_latents(directory, model)
    return out


def save_learned_latents(directory: str | Path, model: QuerySeparator) -> Path:
    """The learned class embeddings as the checkpoint's class latents (what ``--class NAME`` uses):
    coarse classes by name, fine labels without their ``fine:`` prefix; count 0 marks them as learned."""
    latents: dict[str, dict[str, torch.Tensor]] = {"coarse": {}, "fine": {}}
    for name, z in model.class_latents().items():
        level, key = ("fine", name[len("fine:"):]) if name.startswith("fine:") else ("coarse", name)
        latents[level][key] = z
    counts = {level: {k: 0 for k in latents[level]} for level in latents}
    return save_latents(directory, latents, counts)


def read_checkpoint_meta(directory: str | Path) -> dict[str, Any]:
    directory = Path(directory)
    path = directory / CONFIG
    if not path.exists():
        raise EventSepError(f"{directory}: not an EventSep checkpoint (no {CONFIG})")
    try:
        meta = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise EventSepError(f"{path}: unreadable checkpoint config ({e})") from None
    if meta.get("format") != "eventsep-checkpoint":
        raise EventSepError(f"{path}: not an EventSep checkpoint config")
    return meta


def load_model(directory: str | Path) -> tuple[QuerySeparator, dict[str, Any]]:
    """Rebuild the model from ``config.json`` and load ``model.safetensors``; eval mode."""
    directory = Path(directory)
    meta = read_checkpoint_meta(directory)
    config = ModelConfig.from_dict(meta["model"])
    model = QuerySeparator(config)
    weights = directory / WEIGHTS
    if not weights.exists():
        raise EventSepError(f"{directory}: checkpoint has no {WEIGHTS}")
    model.load_state_dict(load_file(str(weights)))
    model.eval()
    return model, meta


def save_latents(directory: str | Path, latents: dict[str, dict[str, torch.Tensor]],
                 counts: dict[str, dict[str, int]], scales: dict[str, dict[str, float]] | None = None) -> Path:
    """Class-mean latents beside a checkpoint: ``{"coarse": {name: z}, "fine": {name: z}}``; ``scales``:
    how much each was rescaled from the plain mean (engine.latents), 1 when not given."""
    directory = Path(directory)
    tensors, index = {}, {"coarse": {}, "fine": {}}
    for level in ("coarse", "fine"):
        for name, z in latents.get(level, {}).items():
            key = f"{level}/{len(index[level]):04d}"
            tensors[key] = z.detach().float().cpu().clone()
            scale = float((scales or {}).get(level, {}).get(name, 1.0))
            index[level][name] = {"key": key, "count": int(counts[level][name]), "scale": scale}
    save_file(tensors, str(directory / LATENTS))
    (directory / LATENT_INDEX).write_text(json.dumps(index, indent=2))
    return directory / LATENTS


def load_latents(directory: str | Path, plain: bool = False) -> dict[str, dict[str, torch.Tensor]]:
    """``{"coarse": {name: z}, "fine": {name: z}}``; empty dicts when none were computed.
    ``plain``: the plain means (before norm matching; see engine.latents)."""
    directory = Path(directory)
    if not (directory / LATENT_INDEX).exists():
        return {"coarse": {}, "fine": {}}
    index = json.loads((directory / LATENT_INDEX).read_text())
    tensors = load_file(str(directory / LATENTS))
    return {level: {name: tensors[entry["key"]] / (entry.get("scale", 1.0) if plain else 1.0)
                    for name, entry in index.get(level, {}).items()}
            for level in ("coarse", "fine")}
