"""Loss and validation of the class-query recipe (SPEC §2a; the examples come from engine.querymix).

Loss: ``lambda_recon * L1(|S_T|, mask(M, z) * |M|)`` where z is the learned embedding of the target's
class (or fine label) or the Query-net's latent of another clip of the class, plus
``lambda_align * CE`` of a cosine classifier that puts each clip latent next to its class embedding (coarse
classes, and fine labels where known): class names and clips live in one latent space; optionally
``- lambda_si_sdr * SI-SDR`` (dB) of the waveform estimate (mixture phase) where the target sounds.
"""
from __future__ import annotations

from dataclasses import replace
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import TrainConfig
from .metrics import si_sdr
from .mixing import batch_rng
from .models import QuerySeparator
from .querymix import FINE_PREFIX, make_query_batch
from .stems import StemSource
from .streamnet import to_sphere


def vocab_split(vocab) -> int:
    """Number of coarse classes at the head of the vocabulary (fine labels follow)."""
    return sum(1 for name in vocab if not name.startswith(FINE_PREFIX))


def query_batch_maker(model: QuerySeparator):
    index = {name: i for i, name in enumerate(model.config.class_vocab)}
    return partial(make_query_batch, vocab_index=index)


class QueryObjective(nn.Module):
    """All loss terms in one forward (one forward/backward per step, as DDP wants)."""

    def __init__(self, model: QuerySeparator, cfg: TrainConfig):
        super().__init__()
        if not model.config.class_vocab:
            raise ValueError("the class-query recipe needs a model with class embeddings (class_vocab)")
        self.model, self.cfg = model, cfg
        self.n_coarse = vocab_split(model.config.class_vocab)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        m = self.model
        spec = m.stft(batch["mixture"])
        mix_mag = spec.abs()
        tgt_mag = m.stft(batch["target"]).abs()
        z_clip, _ = m.query_net(m.stft(batch["query"]).abs())
        emb = to_sphere(m.class_embedding, m.config.latent_dim ** 0.5)
        z = torch.where(batch["use_class"][:, None], emb[batch["class_query"]], z_clip)
        mask = m.separator(mix_mag, z)
        recon = (mix_mag * mask - tgt_mag).abs().mean()
        unit = F.normalize(z_clip, dim=-1)
        protos = F.normalize(emb, dim=-1)
        scale = self.cfg.align_scale
        align = F.cross_entropy(scale * unit @ protos[:self.n_coarse].t(), batch["coarse"])
        has_fine = batch["fine"] >= 0
        if bool(has_fine.any()) and len(protos) > self.n_coarse:
            logits = scale * unit[has_fine] @ protos[self.n_coarse:].t()
            align = align + 0.5 * F.cross_entropy(logits, batch["fine"][has_fine] - self.n_coarse)
        loss = self.cfg.lambda_recon * recon + self.cfg.lambda_align * align
        out = {"loss": loss, "recon": recon, "align": align}
        present = ~batch["absent"]
        if self.cfg.lambda_si_sdr and bool(present.any()):
            estimate = m.stft.inverse(spec[present] * mask[present], batch["mixture"].shape[-1])
            out["si_sdr"] = si_sdr_torch(batch["target"][present], estimate).mean()
            out["loss"] = loss - self.cfg.lambda_si_sdr * out["si_sdr"]
        return out


def si_sdr_torch(reference: torch.Tensor, estimate: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """SI-SDR in dB per row of ``(batch, nb_timesteps)`` tensors (differentiable; Le Roux et al. 2019)."""
    scale = (estimate * reference).sum(-1, keepdim=True) / (reference.pow(2).sum(-1, keepdim=True) + eps)
    target = scale * reference
    return 10 * torch.log10((target.pow(2).sum(-1) + eps) / ((estimate - target).pow(2).sum(-1) + eps))


@torch.no_grad()
def validate_query(model: QuerySeparator, source: StemSource, num_samples: int, cfg: TrainConfig,
                   device: torch.device) -> dict[str, float]:
    """Fixed validation batches: SI-SDRi from the class name (coarse embedding) and from the other clip
    on the examples whose target sounds, the output energy relative to the mixture (dB) where it does
    not, and ``valid_score`` = the mean of the two SI-SDRi (what picks the best checkpoint)."""
    model.eval()
    maker = query_batch_maker(model)
    emb = to_sphere(model.class_embedding, model.config.latent_dim ** 0.5)
    by_class, by_clip, absent_db = [], [], []
    cfg = replace(cfg, timbre_aug=0.0)      # validation mixtures as they are: runs compare on the same data
    for i in range(cfg.valid_batches):
        batch = maker(source, num_samples, cfg.batch_size, batch_rng(cfg.seed, 10_000 + i, 0), cfg)
        mixture, target = batch["mixture"].to(device), batch["target"].to(device)
        spec = model.stft(mixture)
        z_clip, _ = model.query_net(model.stft(batch["query"].to(device)).abs())
        for z, out in ((emb[batch["coarse"].to(device)], by_class), (z_clip, by_clip)):
            est = model.stft.inverse(spec * model.separator(spec.abs(), z), mixture.shape[-1])
            for e, mx, t, a in zip(est.cpu().numpy(), mixture.cpu().numpy(), target.cpu().numpy(),
                                   batch["absent"].numpy()):
                if a:
                    if out is by_class:
                        absent_db.append(10 * np.log10((np.sum(e ** 2) + 1e-10) / (np.sum(mx ** 2) + 1e-10)))
                elif np.sqrt(np.mean(t ** 2)) > 1e-3 and np.sqrt(np.mean((mx - t) ** 2)) > 1e-3:
                    out.append(si_sdr(t, e) - si_sdr(t, mx))
    model.train()
    cls, clip = float(np.mean(by_class)), float(np.mean(by_clip))
    return {"valid_class_si_sdri": cls, "valid_clip_si_sdri": clip,
            "valid_absent_db": float(np.median(absent_db)) if absent_db else float("nan"),
            "valid_score": (cls + clip) / 2}
