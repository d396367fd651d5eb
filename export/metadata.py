"""What an exported bundle says about itself: :class:`engine.streaming.BundleInfo` built from a model,
its class-mean latents and where it came from."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from engine.checkpoint import WEIGHTS, source_commit
from engine.models import QuerySeparator
from engine.stepmodel import bundle_info  # noqa: F401  (re-exported: export builds its metadata with it)


def weights_sha256(model: QuerySeparator, checkpoint_dir: str | Path | None = None) -> str:
    """SHA-256 of the checkpoint's ``model.safetensors`` when there is one, else of the weights as
    safetensors bytes (a model that lives only in memory)."""
    if checkpoint_dir is not None and (Path(checkpoint_dir) / WEIGHTS).is_file():
        h = hashlib.sha256()
        with open(Path(checkpoint_dir) / WEIGHTS, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    from safetensors.torch import save

    state = {k: v.detach().contiguous().cpu() for k, v in sorted(model.state_dict().items())}
    return hashlib.sha256(save(state)).hexdigest()


def source_record(model: QuerySeparator, checkpoint_dir: str | Path | None = None,
                  checkpoint_meta: dict[str, Any] | None = None, opset: int = 17) -> dict[str, Any]:
    meta = checkpoint_meta or {}
    return {"checkpoint": str(checkpoint_dir) if checkpoint_dir is not None else None,
            "sha256": weights_sha256(model, checkpoint_dir), "step": meta.get("step"),
            "source_commit": meta.get("source_commit"), "export_commit": source_commit(),
            "torch": torch.__version__, "opset": opset}
