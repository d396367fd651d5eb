"""What an exported bundle says about itself: :class:`engine.streaming.BundleInfo` built from a model,
its class-mean latents and where it came from."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch

from engine.checkpoint import WEIGHTS, source_commit
from engine.models import QuerySeparator
from engine.streaming.bundle import BundleInfo


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


def bundle_info(model: QuerySeparator, latents: dict[str, dict[str, torch.Tensor]] | None = None,
                classes: list[str] | None = None, source: dict[str, Any] | None = None) -> BundleInfo:
    cfg = model.config
    class_latents = {level: {name: [float(v) for v in z.detach().float().reshape(-1)]
                             for name, z in sorted((latents or {}).get(level, {}).items())}
                     for level in ("coarse", "fine")}
    return BundleInfo(sample_rate=cfg.sample_rate, n_fft=cfg.stft.n_fft, hop_length=cfg.stft.hop_length,
                      latent_dim=cfg.latent_dim, time_multiple=model.separator.time_multiple,
                      query_min_frames=model.query_net.min_frames, segment_samples=cfg.segment_samples,
                      class_latents=class_latents, classes=list(classes or []),
                      source=dict(source or {}), model=cfg.to_dict())


def source_record(model: QuerySeparator, checkpoint_dir: str | Path | None = None,
                  checkpoint_meta: dict[str, Any] | None = None, opset: int = 17) -> dict[str, Any]:
    meta = checkpoint_meta or {}
    return {"checkpoint": str(checkpoint_dir) if checkpoint_dir is not None else None,
            "sha256": weights_sha256(model, checkpoint_dir), "step": meta.get("step"),
            "source_commit": meta.get("source_commit"), "export_commit": source_commit(),
            "torch": torch.__version__, "opset": opset}
