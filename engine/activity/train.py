"""Train the target-activity model (resumable):

    python -m engine.activity.train --out runs/activity [--examples 8000] [--steps 3000] [--threads 2]

Stage 1 renders the examples (``engine.activity.data``: corpus mixtures, the shipped U-Net's estimate of
their target) in shards of ``--shard`` under ``OUT/data`` (a shard on disk is reused, so an interrupted run
picks up where it stopped); the validation examples come from the corpus' *valid* split. Stage 2 fine-tunes
a two-input copy of the shipped detector (the estimate's channel starts from the detector's first layer, the
mixture's from zero) with binary cross-entropy on the target class's output only; ``OUT/last`` is written
every ``--checkpoint-every`` steps with the optimizer, ``OUT/best`` at the best validation AUC, with the
per-class thresholds that maximise frame F1 on the validation examples.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from ..detection.calibrate import GRID
from ..detection.checkpoint import load_detector, save_detector
from ..detection.metrics import f1_from_counts
from ..detection.model import FrameDetector
from ..runlog import checkpoint_last, load_optimizer, trim_log, wait_while_quiet
from .data import ActivityDataConfig, ActivityExamples, make_examples
from .music import MusicDataConfig, music_examples

LOG_FIELDS = ["step", "wall_s", "cpu_s", "loss", "lr", "valid_auc", "valid_f1", "valid_presence_auc", "best_auc"]
PRESENCE_PERCENTILE = 90        # a clip's presence score: this percentile of its curve (targets may come and go)


@dataclass
class ActivityTrainConfig:
    examples: int = 8000
    valid_examples: int = 512
    shard: int = 500
    steps: int = 3000
    batch_size: int = 16
    lr: float = 5e-4
    lr_final: float = 5e-5
    weight_decay: float = 1e-4
    validate_every: int = 200
    checkpoint_every: int = 100
    seed: int = 0
    data: ActivityDataConfig = field(default_factory=ActivityDataConfig)
    music: bool = False           # examples cut from music (engine.activity.music) instead of random stems
    music_data: MusicDataConfig = field(default_factory=MusicDataConfig)


def learning_rate(step: int, cfg: ActivityTrainConfig) -> float:
    t = min(1.0, step / max(1, cfg.steps))
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * t))


def from_detector(detector: FrameDetector) -> FrameDetector:
    """A two-input model (mixture, estimate) holding the detector's weights; the mixture channel of the
    first convolution starts at zero, so at step 0 it *is* the detector run on the estimate."""
    model = FrameDetector(replace(detector.config, inputs=2))
    state = detector.state_dict()
    w = state["blocks.0.conv1.weight"]
    state["blocks.0.conv1.weight"] = torch.cat([torch.zeros_like(w), w], dim=1)
    model.load_state_dict(state)
    return model


def target_logits(model: FrameDetector, inputs: torch.Tensor, classes: torch.Tensor) -> torch.Tensor:
    """``(B, 2, N)``, ``(B,)`` class indices -> ``(B, frames)`` logits of each example's target class."""
    logits = model(inputs)
    return logits.gather(2, classes.view(-1, 1, 1).expand(-1, logits.shape[1], 1))[..., 0]


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney; NaN without both labels)."""
    labels = labels.astype(bool)
    pos, neg = int(labels.sum()), int((~labels).sum())
    if pos == 0 or neg == 0:
        return math.nan
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores, kind="mergesort")] = np.arange(1, len(scores) + 1)
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


@torch.no_grad()
def predict(model: FrameDetector, data: ActivityExamples, batch: int = 32) -> np.ndarray:
    """``(count, frames)`` probabilities of each example's target."""
    was = model.training
    model.eval()
    out = []
    for start in range(0, len(data), batch):
        inputs, _, classes = data.batch(np.arange(start, min(start + batch, len(data))))
        out.append(torch.sigmoid(target_logits(model, inputs, classes)).numpy())
    model.train(was)
    return np.concatenate(out)


def scores(probs: np.ndarray, data: ActivityExamples, class_names: tuple[str, ...]) -> dict:
    """Mean per-example AUC (examples with both labels), frame F1 at 0.5, per-class F1-best thresholds and,
    when the data has absent targets, the clip-level ``presence_auc`` (each example's 90th-percentile
    probability against whether its target is in it). ``select``: what picks the best checkpoint, the frame
    AUC, or its mean with the presence AUC."""
    aucs = [roc_auc(p, y) for p, y in zip(probs, data.labels)]
    labels = data.labels.astype(bool)
    tp = ((probs >= 0.5) & labels).sum()
    fp = ((probs >= 0.5) & ~labels).sum()
    fn = ((probs < 0.5) & labels).sum()
    thresholds = {}
    for k in np.unique(data.classes):
        p, y = probs[data.classes == k].ravel(), labels[data.classes == k].ravel()
        f1s = [f1_from_counts(((p >= t) & y).sum(), ((p >= t) & ~y).sum(), ((p < t) & y).sum()) for t in GRID]
        thresholds[class_names[k]] = float(GRID[int(np.nanargmax(f1s))]) if y.any() else 0.5
    out = {"auc": float(np.nanmean(aucs)), "f1": f1_from_counts(tp, fp, fn), "thresholds": thresholds}
    present = data.presence()
    if present.any() and not present.all():
        out["presence_auc"] = roc_auc(np.percentile(probs, PRESENCE_PERCENTILE, axis=1), present)
    out["select"] = (out["auc"] + out["presence_auc"]) / 2 if "presence_auc" in out else out["auc"]
    return out


def load_examples(folder: Path, name: str, count: int, shard: int, build, progress: bool = True) -> ActivityExamples:
    """Shards ``folder/<name>-<k>.npz`` (made by ``build(k, size)`` when missing), concatenated. The audio
    is copied shard by shard into one array allocated once: concatenating a list of shards would hold
    the data twice (36000 music examples are 13.8 GB of float16)."""
    folder.mkdir(parents=True, exist_ok=True)
    inputs = None
    labels, classes, present = [], [], []
    loaded = 0
    for k, start in enumerate(range(0, count, shard)):
        path = folder / f"{name}-{k:03d}.npz"
        if not path.exists():
            ex = build(k, min(shard, count - start))
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, inputs=ex.inputs, labels=ex.labels, classes=ex.classes, present=ex.presence())
            tmp.replace(path)
        with np.load(path) as z:
            take = count - loaded     # a shard written for a larger count gives only what this one asks
            x = z["inputs"][:take]
            if inputs is None:
                inputs = np.empty((count,) + x.shape[1:], x.dtype)
            inputs[loaded:loaded + len(x)] = x
            loaded += len(x)
            labels.append(z["labels"][:take])
            classes.append(z["classes"][:take])
            present.append(z["present"][:take] if "present" in z else np.ones(len(x), bool))
        if progress:
            print(f"{name}: {loaded}/{count} examples", flush=True)
    return ActivityExamples(inputs[:loaded], np.concatenate(labels), np.concatenate(classes),
                            np.concatenate(present))


def build_data(out: Path, cfg: ActivityTrainConfig, classes: tuple[str, ...], rate: int, unet_dir=None,
               sources: dict | None = None, progress: bool = True) -> tuple[ActivityExamples, ActivityExamples]:
    """Train and valid examples (``sources``: ``{"train": StemSource, "valid": StemSource}``, default the
    corpus splits; ``unet_dir``: the U-Net and latents, default the shipped model)."""
    from ..checkpoint import load_latents, load_model
    from ..shipped import model_dir as _model_dir

    unet_dir = _model_dir(str(unet_dir) if unet_dir else None)
    unet, _ = load_model(unet_dir)
    unet.eval()
    latents = load_latents(unet_dir)
    sources = dict(sources or {})

    def builder(split: str, salt: int):
        def build(k: int, size: int) -> ActivityExamples:
            if split not in sources:
                from ..corpus.source import CorpusStemSource

                sources[split] = CorpusStemSource(split)
            return make_examples(sources[split], unet, latents, classes, size, cfg.data, rate,
                                 np.random.default_rng([cfg.seed, salt, k]), progress=progress)
        return build

    if cfg.music:
        def music_builder(split: str, salt: int):
            def build(k: int, size: int) -> ActivityExamples:
                return music_examples(split, k, cfg.seed + salt, unet, latents, classes, rate, cfg.music_data,
                                      progress)
            return build
        per_shard = cfg.music_data.examples_per_shard
        valid = load_examples(out / "data", "music-valid", cfg.valid_examples, per_shard,
                              music_builder("valid", 777), progress)
        train = load_examples(out / "data", "music-train", cfg.examples, per_shard, music_builder("train", 1),
                              progress)
        return train, valid
    valid = load_examples(out / "data", "valid", cfg.valid_examples, cfg.shard, builder("valid", 777), progress)
    if not cfg.examples:            # validation examples only (engine.activity.thresholds)
        return None, valid
    train = load_examples(out / "data", "train", cfg.examples, cfg.shard, builder("train", 1), progress)
    return train, valid


def train(out: str | Path, cfg: ActivityTrainConfig, threads: int = 2, control_dir: Path | None = None,
          detector_dir=None, unet_dir=None, sources: dict | None = None, progress: bool = True,
          init_dir=None) -> dict:
    """Run (or resume) a training run in ``out``; the defaults are the shipped detector and U-Net and the
    corpus. ``init_dir``: start from this target-activity model (a refit) instead of the detector.
    Returns ``{"step", "best_auc"}`` (best: the checkpoint-picking score, see :func:`scores`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    detector, _ = load_detector(detector_dir)
    classes = detector.classes
    train_set, valid = build_data(out, cfg, classes, detector.config.front.sample_rate, unet_dir, sources,
                                  progress)
    if init_dir is not None:
        from .infer import load_activity

        model, _ = load_activity(init_dir)
        if tuple(model.classes) != tuple(classes):
            raise ValueError(f"{init_dir}: its classes differ from the detector's")
    else:
        model = from_detector(detector)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    last = out / "last"
    step, best, cpu_used = 0, -math.inf, 0.0
    if (last / "detector.safetensors").exists():
        meta = json.loads((last / "detector.json").read_text())
        step, best, cpu_used = int(meta["step"]), float(meta.get("best_auc", -math.inf)), float(meta.get("cpu_s", 0))
        model.load_state_dict(load_file(str(last / "detector.safetensors")))
        load_optimizer(opt, last)
        print(f"resuming {out} at step {step} (best valid AUC {best:.3f})", flush=True)
    elif progress:
        s = scores(predict(model, valid), valid, classes)
        start = "the detector on the estimate" if init_dir is None else f"{init_dir}"
        print(f"step 0 ({start}): valid AUC {s['auc']:.3f}, F1 {s['f1']:.3f}"
              + (f", presence AUC {s['presence_auc']:.3f}" if "presence_auc" in s else ""), flush=True)
    (out / "train_config.json").write_text(json.dumps(asdict(cfg), indent=1))
    log_path = out / "log.csv"
    trim_log(log_path, step, LOG_FIELDS)
    log = open(log_path, "a", newline="")
    writer = csv.DictWriter(log, LOG_FIELDS)
    model.train()
    cpu0, wall0 = time.process_time(), time.time()
    while step < cfg.steps:
        wait_while_quiet(control_dir)
        rng = np.random.default_rng([cfg.seed, 2, step])
        inputs, labels, index = train_set.batch(rng.integers(0, len(train_set), cfg.batch_size))
        # random level change per example: the model must not read loudness as activity
        inputs = inputs * torch.from_numpy(10 ** (rng.uniform(-12, 6, (cfg.batch_size, 1, 1)) / 20)).float()
        lr = learning_rate(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = F.binary_cross_entropy_with_logits(target_logits(model, inputs, index), labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        cpu = cpu_used + time.process_time() - cpu0
        row = {"step": step, "wall_s": round(time.time() - wall0, 2), "cpu_s": round(cpu, 2),
               "loss": round(loss.item(), 5), "lr": f"{lr:.3g}"}
        if step % cfg.validate_every == 0 or step == cfg.steps:
            s = scores(predict(model, valid), valid, classes)
            row.update(valid_auc=round(s["auc"], 4), valid_f1=round(s["f1"], 4),
                       valid_presence_auc=round(s.get("presence_auc", math.nan), 4))
            if s["select"] > best:
                best = s["select"]
                save_detector(model, out / "best", {"step": step, "valid_auc": s["auc"], "valid_f1": s["f1"],
                                                    "valid_presence_auc": s.get("presence_auc"),
                                                    "thresholds": s["thresholds"], "cpu_s": cpu,
                                                    "kind": "target-activity"})
            row["best_auc"] = round(best, 4)
            if progress:
                print(f"step {step}: loss {loss.item():.4f} valid AUC {s['auc']:.3f} F1 {s['f1']:.3f} "
                      + (f"presence AUC {s['presence_auc']:.3f} " if "presence_auc" in s else "")
                      + f"(best {best:.3f})", flush=True)
        writer.writerow(row)
        log.flush()
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            meta = {"step": step, "best_auc": best, "cpu_s": cpu, "kind": "target-activity"}
            if checkpoint_last(lambda d: save_detector(model, d, meta), opt, last, step, control_dir):
                break
        if progress and step % 50 == 0:
            print(f"step {step} loss {loss.item():.4f} lr {lr:.2e} {time.time() - wall0:.0f} s", flush=True)
    log.close()
    return {"step": step, "best_auc": best}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--threads", type=int, default=2)
    defaults = ActivityTrainConfig()
    options = ("examples", "valid_examples", "shard", "steps", "batch_size", "lr", "validate_every",
               "checkpoint_every", "seed")
    for name in options:
        p.add_argument(f"--{name.replace('_', '-')}", type=type(getattr(defaults, name)),
                       default=getattr(defaults, name))
    p.add_argument("--p-absent", type=float, default=defaults.data.p_absent,
                   help="share of examples whose queried class is not in the mixture (default 0)")
    p.add_argument("--music", action="store_true",
                   help="examples cut from music, parts of one piece (engine.activity.music), not random stems")
    p.add_argument("--labels", choices=("notes", "level"), default=MusicDataConfig().labels,
                   help="with --music: what counts as the target sounding, its notes or its level within "
                        f"{MusicDataConfig().level_db:g} dB of its loudest frame (default notes)")
    p.add_argument("--pieces-per-item", type=int, default=MusicDataConfig().pieces_per_item,
                   help="with --music: examples cut from each 6 s mixture (1: the whole mixture, more context "
                        "per example)")
    p.add_argument("--init", default=None, help="start from this target-activity model (a refit)")
    p.add_argument("--unet", default=None, help="separator checkpoint whose estimates the model sees "
                                               "(default: the shipped one)")
    a = p.parse_args(argv)
    cfg = ActivityTrainConfig(**{k: getattr(a, k) for k in options},
                              data=replace(defaults.data, p_absent=a.p_absent), music=a.music,
                              music_data=replace(defaults.music_data, labels=a.labels,
                                                 pieces_per_item=a.pieces_per_item))
    result = train(a.out, cfg, a.threads, init_dir=a.init, unet_dir=a.unet)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
