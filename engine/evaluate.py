"""Scoring a model on a built evaluation set: the thesis' query modes beside the oracle bounds.

Every item of an evaluation set (:mod:`engine.corpus.evalset`) is separated several ways:

- ``gq``: ground-truth query, the latent of the target stem itself (an upper bound for querying);
- ``rq``: reference query, the latent of a clip of the same class from a *different* piece;
- ``class_mean`` / ``fine_mean``: the coarse-class / fine-label mean latent of the checkpoint;
- ``class_mean_refined``: the class mean followed by iterative refinement (thesis §4.5);
- ``irm``: the oracle ideal ratio mask with the model's own STFT (upper bound of any mask on it);
- ``mixture``: the unprocessed mixture (lower bound; its improvement is 0 by definition).

Scores are SI-SDR and BSSEval-v4 SDR (1 s frames, median) and their improvements over the mixture.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from .config import StftConfig
from .metrics import sdr_bsseval, si_sdr
from .models import QuerySeparator
from .separate import apply_model, encode_clip, refine
from .spectral import Stft

METHODS = ("mixture", "irm", "gq", "rq", "class_mean_plain", "class_mean", "class_mean_refined", "fine_mean")
METHOD_TITLES = {"mixture": "Mixture (lower bound)", "irm": "Oracle IRM (upper bound)", "gq": "GQ",
                 "rq": "RQ", "class_mean_plain": "Plain class mean", "class_mean": "Class mean", "class_mean_refined": "Class mean + refine",
                 "fine_mean": "Fine-label mean"}
METRICS = ("si_sdr", "si_sdri", "sdr", "sdri")


def oracle_irm(target: np.ndarray, rest: np.ndarray, stft: StftConfig, power: float = 2.0) -> np.ndarray:
    """Ideal ratio mask ``|T|^p / (|T|^p + |R|^p)`` applied to the mixture STFT (mixture phase).

    target, rest: ``(nb_timesteps,)``; returns the masked mixture, same shape.
    """
    tf = Stft(stft)
    t = tf(torch.from_numpy(np.asarray(target, np.float32)))
    r = tf(torch.from_numpy(np.asarray(rest, np.float32)))
    tp, rp = t.abs() ** power, r.abs() ** power
    mask = tp / (tp + rp).clamp_min(1e-12)
    return tf.inverse(mask * (t + r), target.shape[-1]).numpy()


@dataclass
class Scored:
    """One estimate's scores."""

    item: str
    target_class: str
    method: str
    si_sdr: float
    si_sdri: float
    sdr: float
    sdri: float


def _score(item, method: str, estimate: np.ndarray, base: tuple[float, float], bsseval: bool = True) -> Scored:
    s = si_sdr(item.target, estimate)
    d = sdr_bsseval(item.target, estimate, item.sample_rate) if bsseval else math.nan
    return Scored(item.id, item.target_class, method, s, s - base[0], d, d - base[1])


@torch.no_grad()
def evaluate_item(model: QuerySeparator, item, latents: dict[str, dict[str, torch.Tensor]],
                  refine_iterations: int = 1, methods: tuple[str, ...] = METHODS, bsseval: bool = True
                  ) -> list[Scored]:
    """The ``methods`` (default all) on one :class:`~engine.corpus.evalset.EvalItem` (at the model's
    rate); ``mixture`` is always scored. ``bsseval=False`` skips BSSEval SDR (NaN; about 1 CPU-s per
    estimate, most of an evaluation's cost) and keeps SI-SDR."""
    if item.sample_rate != model.config.sample_rate:
        raise ValueError(f"evaluation set at {item.sample_rate} Hz, model at {model.config.sample_rate} Hz")
    mix = torch.from_numpy(item.mixture)[None]
    base = (si_sdr(item.target, item.mixture),
            sdr_bsseval(item.target, item.mixture, item.sample_rate) if bsseval else math.nan)
    estimates: dict[str, np.ndarray] = {"mixture": item.mixture}
    if "irm" in methods:
        estimates["irm"] = oracle_irm(item.target, item.rest, model.config.stft)

    def run(z: torch.Tensor) -> np.ndarray:
        return apply_model(model, mix, z)[0].numpy()

    if "gq" in methods:
        estimates["gq"] = run(encode_clip(model, torch.from_numpy(item.target)))
    if "rq" in methods:
        estimates["rq"] = run(encode_clip(model, torch.from_numpy(item.reference)))
    z_class = latents["coarse"].get(item.target_class)
    if z_class is not None and "class_mean" in methods:
        estimates["class_mean"] = run(z_class)
    if z_class is not None and "class_mean_refined" in methods:
        estimates["class_mean_refined"] = refine(model, mix, z_class, refine_iterations)[0][0].numpy()
    z_plain = latents.get("coarse_plain", {}).get(item.target_class)
    if z_plain is not None and "class_mean_plain" in methods:
        estimates["class_mean_plain"] = run(z_plain)
    z_fine = latents["fine"].get(item.meta.get("target_fine", ""))
    if z_fine is not None and "fine_mean" in methods:
        estimates["fine_mean"] = run(z_fine)
    return [_score(item, m, estimates[m], base, bsseval) for m in METHODS if m in estimates]


def evaluate_set(model: QuerySeparator, evalset, latents, refine_iterations: int = 1,
                 limit_per_class: int | None = None, progress: bool = True, desc: str = "eval",
                 methods: tuple[str, ...] = METHODS, bsseval: bool = True) -> list[Scored]:
    """Every item (or the first ``limit_per_class`` of each class) of an evaluation set."""
    model.eval()
    indices = list(range(len(evalset)))
    if limit_per_class:
        classes = sorted({evalset.manifest["items"][i]["target_class"] for i in indices})
        indices = sorted(i for c in classes for i in evalset.by_class(c)[:limit_per_class])
    rows: list[Scored] = []
    for i in tqdm(indices, desc=desc, unit="mix", disable=not progress):
        rows += evaluate_item(model, evalset[i], latents, refine_iterations, methods, bsseval)
    return rows


def class_means(rows: list[Scored], metric: str, classes: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """``{method: {class: mean of metric, ..., "mean": mean over the classes' means}}``.

    The overall figure averages the per-class means, so every class weighs the same."""
    out: dict[str, dict[str, float]] = {}
    for method in METHODS:
        per = {}
        for c in classes:
            vals = [getattr(r, metric) for r in rows if r.method == method and r.target_class == c
                    and math.isfinite(getattr(r, metric))]
            if vals:
                per[c] = float(np.mean(vals))
        if per:
            per["mean"] = float(np.mean([per[c] for c in classes if c in per]))
            out[method] = per
    return out
