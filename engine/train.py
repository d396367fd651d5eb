"""Training loop: seeded, resumable, validating, checkpointing; runs as is under ``torchrun``.

Loss (thesis eq. 3.7): ``lambda_recon * L1(|S_T|, mask * |M|)`` with z ~ Q(S_T) reparameterised,
``+ lambda_kl * KL(Q(S_T) || N(0, I))`` ``+ lambda_latent * L1(z', mu(Q(S(M, z'))))`` with z' ~ N(0, I).
"""
from __future__ import annotations

import csv
import json
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from .checkpoint import CONFIG, LATENT_INDEX, LATENTS, WEIGHTS, load_model, read_checkpoint_meta, save_checkpoint
from .config import ModelConfig, TrainConfig
from .errors import EventSepError
from .metrics import si_sdr
from .mixing import MixtureStream, batch_rng, make_batch
from .models import QuerySeparator, kl_to_standard_normal, reparameterise
from .query_objective import QueryObjective, query_batch_maker, validate_query
from .querymix import class_vocabulary
from .runlog import stop_requested, trim_log, wait_while_quiet
from .stems import StemSource

TRAIN_STATE = "train_state.safetensors"
TRAIN_META = "train_state.json"
LOG = "log.csv"
LOG_FIELDS = ["step", "loss", "recon", "kl", "latent", "align", "si_sdr", "lr", "valid_recon", "valid_si_sdri",
              "valid_class_si_sdri", "valid_clip_si_sdri", "valid_absent_db", "seconds", "cpu_seconds"]
RECIPES = ("thesis", "classquery")


class TrainingObjective(nn.Module):
    """The three loss terms in one forward, so DDP sees a single forward/backward per step."""

    def __init__(self, model: QuerySeparator, cfg: TrainConfig):
        super().__init__()
        self.model, self.cfg = model, cfg

    def forward(self, mixture: torch.Tensor, target: torch.Tensor, query: torch.Tensor | None = None
                ) -> dict[str, torch.Tensor]:
        """``query`` (default: ``target``) is the clip the Query-net encodes."""
        stft, q, s = self.model.stft, self.model.query_net, self.model.separator
        mix_mag = stft(mixture).abs()
        tgt_mag = stft(target).abs()
        mu, logvar = q(tgt_mag if query is None else stft(query).abs())
        z = reparameterise(mu, logvar)
        recon = (mix_mag * s(mix_mag, z) - tgt_mag).abs().mean()
        kl = kl_to_standard_normal(mu, logvar)
        z_prior = torch.randn_like(mu)
        mu_back, _ = q(mix_mag * s(mix_mag, z_prior))
        latent = (mu_back - z_prior).abs().mean()
        loss = self.cfg.lambda_recon * recon + self.cfg.lambda_kl * kl + self.cfg.lambda_latent * latent
        return {"loss": loss, "recon": recon, "kl": kl, "latent": latent}


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group when launched by torchrun (gloo on CPU, nccl on GPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        return torch.device("cuda", local_rank)
    return torch.device(name)


def _save_train_state(run_dir: Path, optimizer: torch.optim.Optimizer, step: int, cfg: TrainConfig,
                      best: float) -> None:
    state = optimizer.state_dict()
    tensors = {}
    for pid, slots in state["state"].items():
        for key, value in slots.items():
            tensors[f"{pid}/{key}"] = (value if torch.is_tensor(value) else torch.tensor(value)).cpu()
    tmp = run_dir / (TRAIN_STATE + ".tmp")
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(tmp))
    tmp.replace(run_dir / TRAIN_STATE)
    meta = {"step": step, "train": cfg.to_dict(), "param_groups": state["param_groups"], "best_valid": best}
    tmp = run_dir / (TRAIN_META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    tmp.replace(run_dir / TRAIN_META)


def _load_train_state(run_dir: Path, optimizer: torch.optim.Optimizer) -> tuple[int, float]:
    meta = json.loads((run_dir / TRAIN_META).read_text())
    tensors = load_file(str(run_dir / TRAIN_STATE))
    state: dict = {}
    for name, value in tensors.items():
        pid, key = name.split("/", 1)
        state.setdefault(int(pid), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    return int(meta["step"]), float(meta.get("best_valid", float("inf")))


def _trim_log(path: Path, step: int) -> tuple[float, float]:
    """Keep the log rows up to the checkpoint a run resumes from; returns the wall and CPU seconds
    logged up to it, so both clocks continue."""
    rows = trim_log(path, step, LOG_FIELDS)
    if not rows:
        return 0.0, 0.0
    return float(rows[-1]["seconds"]), float(rows[-1].get("cpu_seconds") or rows[-1]["seconds"])


@torch.no_grad()
def validate(model: QuerySeparator, source: StemSource, num_samples: int, cfg: TrainConfig,
             device: torch.device) -> dict[str, float]:
    """Fixed validation batches: reconstruction L1 with z = mu(Q(target)), and the mean SI-SDR
    improvement over the mixture on the examples whose target is not silent."""
    model.eval()
    recon, improvements = [], []
    # the same validation mixtures whatever the query recipe (drawing other-clip queries would shift them)
    mix_cfg = replace(cfg, query_other=0.0)
    for i in range(cfg.valid_batches):
        batch = make_batch(source, num_samples, cfg.batch_size, batch_rng(cfg.seed, 10_000 + i, 0), mix_cfg)
        mixture, target = batch["mixture"].to(device), batch["target"].to(device)
        spec = model.stft(mixture)
        z, _ = model.query_net(model.stft(target).abs())
        mask = model.separator(spec.abs(), z)
        recon.append(float((spec.abs() * mask - model.stft(target).abs()).abs().mean()))
        estimate = model.stft.inverse(spec * mask, mixture.shape[-1])
        for est, mix, tgt in zip(estimate.cpu().numpy(), mixture.cpu().numpy(), target.cpu().numpy()):
            if np.sqrt(np.mean(tgt ** 2)) > 1e-3 and np.sqrt(np.mean((mix - tgt) ** 2)) > 1e-3:
                improvements.append(si_sdr(tgt, est) - si_sdr(tgt, mix))
    model.train()
    return {"valid_recon": float(np.mean(recon)),
            "valid_si_sdri": float(np.mean(improvements)) if improvements else float("nan")}


def train(run_dir: str | Path, source: StemSource, valid_source: StemSource | None,
          model_config: ModelConfig | None = None, cfg: TrainConfig | None = None, device: str = "auto",
          resume: bool = True, init_from: str | Path | None = None, progress: bool = True,
          on_step: Callable[[int, dict], None] | None = None, max_cpu_seconds: float | None = None,
          recipe_changes: dict | None = None) -> "TrainResult":
    """Train into ``run_dir``; resumes from it when it holds a checkpoint (and ``resume``).

    The run's model config and training config are taken from the checkpoint when resuming, so a
    resumed run continues the same recipe. Returns the run folder and the trained model.

    ``max_cpu_seconds``: stop at the first checkpoint after this much logged CPU time of the process (the
    clock continues across resumes): designs compared at equal CPU time, even when runs share cores.
    ``recipe_changes``: training-config fields that a resumed run (or a fork, see :func:`fork_run`) changes
    from the saved recipe, e.g. ``{"timbre_aug": 0.5}``; saved with the next checkpoint. A
    ``QUIET`` file in the cooperation folder (``runlog.control_directory``) pauses the run (a timing benchmark is on); ``STOP_TRAINING`` stops it at its next checkpoint.
    """
    run_dir = Path(run_dir)
    cfg = cfg or TrainConfig()
    dev = pick_device(device, int(os.environ.get("LOCAL_RANK", "0")))
    info = init_distributed(dev)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    resuming = resume and (run_dir / WEIGHTS).exists() and (run_dir / TRAIN_META).exists()

    if resuming:
        model, meta = load_model(run_dir)
        saved = json.loads((run_dir / TRAIN_META).read_text())["train"]
        steps = cfg.steps
        cfg = TrainConfig.from_dict(saved)
        cfg.steps = max(steps, cfg.steps)  # asking for more steps extends a finished run
        cfg = replace(cfg, **(recipe_changes or {}))
    elif init_from is not None:
        model, _ = load_model(init_from)
    else:
        torch.manual_seed(cfg.seed)
        model_config = model_config or ModelConfig()
        if cfg.recipe == "classquery" and not model_config.class_vocab:
            model_config = replace(model_config, class_vocab=class_vocabulary(source.classes, source.fine_labels))
        model = QuerySeparator(model_config)
    if cfg.recipe not in RECIPES:
        raise ValueError(f"unknown recipe {cfg.recipe!r}; one of {RECIPES}")
    if cfg.p_ensemble and getattr(source, "ensembles", None) is None:
        raise EventSepError("p_ensemble needs a source with ensembles (--source bank+ensembles)")
    query_recipe = cfg.recipe == "classquery"
    model.to(dev).train()
    classes = list(source.classes)
    objective = QueryObjective(model, cfg) if query_recipe else TrainingObjective(model, cfg)
    if info.world_size > 1:
        objective = nn.parallel.DistributedDataParallel(
            objective, device_ids=[dev.index] if dev.type == "cuda" else None)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    start, best = 0, float("inf")
    if resuming:
        start, best = _load_train_state(run_dir, optimizer)
        for state in optimizer.state.values():
            for k, v in state.items():
                if torch.is_tensor(v) and k != "step":
                    state[k] = v.to(dev)
    seconds_before = cpu_before = 0.0
    if info.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        if resuming:
            seconds_before, cpu_before = _trim_log(run_dir / LOG, start)
        else:
            save_checkpoint(run_dir, model, classes, 0)
            _save_train_state(run_dir, optimizer, 0, cfg, best)
            with open(run_dir / LOG, "w", newline="") as f:
                csv.writer(f).writerow(LOG_FIELDS)

    num_samples = model.config.segment_samples
    stream = MixtureStream(source, num_samples, cfg, start_step=start, stream=info.rank,
                           maker=query_batch_maker(model) if query_recipe else None)
    loader = DataLoader(stream, batch_size=None, num_workers=cfg.num_workers,
                        persistent_workers=False, prefetch_factor=4 if cfg.num_workers else None)
    bar = tqdm(total=cfg.steps, initial=start, desc="train", unit="step", disable=not (progress and info.is_main),
               dynamic_ncols=True)
    t0, cpu0, running = time.time(), time.process_time(), {}
    done = start
    for step, batch in loader:
        wait_while_quiet()
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr_at(step)
        torch.manual_seed(cfg.seed * 1_000_003 + step * 7919 + info.rank)
        if query_recipe:
            losses = objective({k: v.to(dev) for k, v in batch.items()})
        else:
            losses = objective(batch["mixture"].to(dev), batch["target"].to(dev), batch["query"].to(dev))
        optimizer.zero_grad(set_to_none=True)
        losses["loss"].backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        for k, v in losses.items():
            running[k] = running.get(k, 0.0) + float(v.detach())
        done = step + 1
        bar.update(1)
        # one reading of the clock per step, for the log and the budget alike: a budget met in the log is
        # met by the stop (the checkpoint written below counts toward the next step)
        cpu_seconds = cpu_before + time.process_time() - cpu0
        row = None
        if done % cfg.log_every == 0 or done == cfg.steps:
            n = done % cfg.log_every or cfg.log_every
            row = {k: running[k] / n for k in running}
            running = {}
            bar.set_postfix(loss=f"{row['loss']:.3f}", recon=f"{row['recon']:.3f}")
        if valid_source is not None and (done % cfg.validate_every == 0 or done == cfg.steps):
            if info.is_main:
                if query_recipe:
                    val = validate_query(model, valid_source, num_samples, cfg, dev)
                    bar.write(f"step {done}: valid SI-SDRi from class {val['valid_class_si_sdri']:.2f} dB, "
                              f"from other clip {val['valid_clip_si_sdri']:.2f} dB, "
                              f"absent {val['valid_absent_db']:.1f} dB")
                    score = -val["valid_score"]          # lower is better, as the reconstruction loss
                else:
                    val = validate(model, valid_source, num_samples, cfg, dev)
                    bar.write(f"step {done}: valid recon {val['valid_recon']:.4f}, "
                              f"SI-SDRi {val['valid_si_sdri']:.2f} dB")
                    score = val["valid_recon"]
                row = {**(row or {}), **val}
                if score < best:
                    best = score
                    save_checkpoint(run_dir / "best", model, classes, done, {"valid": val})
        if row is not None and info.is_main:
            row.update(step=done, lr=cfg.lr_at(step), seconds=round(seconds_before + time.time() - t0, 2),
                       cpu_seconds=round(cpu_seconds, 2))
            with open(run_dir / LOG, "a", newline="") as f:
                csv.DictWriter(f, LOG_FIELDS).writerow({k: row.get(k, "") for k in LOG_FIELDS})
            if on_step:
                on_step(done, row)
        if info.is_main and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            save_checkpoint(run_dir, model, classes, done)
            _save_train_state(run_dir, optimizer, done, cfg, best)
            over_budget = max_cpu_seconds is not None and round(cpu_seconds, 2) >= max_cpu_seconds
            if info.world_size == 1 and (stop_requested() or over_budget):
                bar.write(f"stopping at step {done} ({cpu_seconds:.0f} CPU-s of training logged)")
                break
    bar.close()
    if info.world_size > 1:
        dist.barrier()
    return TrainResult(run_dir, model, done)


FORK_FILES = (WEIGHTS, CONFIG, LATENTS, LATENT_INDEX, TRAIN_STATE, LOG)


def fork_run(parent: str | Path, run_dir: str | Path) -> Path:
    """Start ``run_dir`` as a copy of ``parent``'s last checkpoint (weights, optimiser state, log, CPU clock),
    so a changed recipe continues the same lineage and its curve starts where the parent's was."""
    import shutil

    parent, run_dir = Path(parent), Path(run_dir)
    if not all((parent / name).exists() for name in (WEIGHTS, TRAIN_META)):
        raise FileNotFoundError(f"{parent}: no training run to fork (no {WEIGHTS} and {TRAIN_META})")
    if (run_dir / WEIGHTS).exists():
        raise FileExistsError(f"{run_dir} already holds a run; fork into a new folder")
    run_dir.mkdir(parents=True, exist_ok=True)
    for name in FORK_FILES:
        if (parent / name).exists():
            shutil.copy2(parent / name, run_dir / name)
    # the fork's best/ is its own: the parent's best validation score does not hold it back
    meta = json.loads((parent / TRAIN_META).read_text())
    meta["best_valid"] = float("inf")
    (run_dir / TRAIN_META).write_text(json.dumps(meta, indent=2))
    return run_dir


@dataclass
class TrainResult:
    run_dir: Path
    model: QuerySeparator
    step: int


def read_log(run_dir: str | Path) -> list[dict[str, float]]:
    with open(Path(run_dir) / LOG) as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


__all__ = ["train", "validate", "read_log", "TrainingObjective", "CONFIG", "read_checkpoint_meta"]
