"""Train the frame-wise detector on rendered corpus mixtures.

    python -m engine.detection.train --out runs/detector [--steps N] [--batch-size B] ...

The same command resumes a run (``OUT/last`` holds weights + optimizer + step). Every
``checkpoint_every`` steps the run is saved; every ``validate_every`` steps it is scored on a fixed set of
mixtures from the corpus' *valid* split (frame F1 over the 8 core classes, mAP) and the best one is kept
in ``OUT/best``. ``OUT/log.csv`` logs every step's loss and every validation.

Cooperation with other jobs on a shared machine: while ``/tmp/bench/QUIET`` exists the run waits (a timing
benchmark is running); when ``/tmp/bench/STOP_TRAINING`` appears it stops after its next checkpoint.
After a resume the stem bank is rendered afresh, so data are not bit-identical to an uninterrupted run
(the batch composition still follows from (seed, step)).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from ..runlog import checkpoint_last, load_optimizer, wait_while_quiet
from ..taxonomy import CORE_CLASSES
from .batches import StemBank, make_batch, make_example
from .checkpoint import save_detector
from .config import DetectorConfig, DetectorTrainConfig, FrontEndConfig
from .metrics import frame_f1, per_class_ap
from .model import FrameDetector, count_parameters

LOG_FIELDS = ["step", "wall_s", "cpu_s", "loss", "lr", "valid_f1_core", "valid_map", "best_f1_core"]


def learning_rate(step: int, cfg: DetectorTrainConfig) -> float:
    """Short linear warm-up, then cosine from lr to lr_final."""
    warm = 200
    if step < warm:
        return cfg.lr * (step + 1) / warm
    t = min(1.0, (step - warm) / max(1, cfg.steps - warm))
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * t))


def validation_set(source, classes, cfg: DetectorTrainConfig, front: FrontEndConfig):
    """Fixed mixtures ``(audio (V, N), labels (V, T, K))`` from the valid split (seeded)."""
    rng = np.random.default_rng([cfg.seed, 777])
    hop = front.hop
    clip_frames = int(round(cfg.clip_seconds * 100))
    bank_cfg = DetectorTrainConfig(**{**asdict(cfg), "bank_initial": max(4, cfg.valid_items * 3 // len(classes) + 1),
                                      "bank_per_class": 1000})
    bank = StemBank(source, classes, bank_cfg, front.sample_rate, rng)
    pairs = [make_example(bank.stems, bank.classes, clip_frames, hop, bank_cfg, rng) for _ in range(cfg.valid_items)]
    return torch.from_numpy(np.stack([p[0] for p in pairs])), torch.from_numpy(np.stack([p[1] for p in pairs]))


@torch.no_grad()
def validate(model: FrameDetector, audio: torch.Tensor, labels: torch.Tensor) -> dict:
    model.eval()
    probs = torch.cat([torch.sigmoid(model(audio[i:i + 16])) for i in range(0, len(audio), 16)])
    model.train()
    p = probs.reshape(-1, probs.shape[-1]).numpy()
    r = labels.reshape(-1, labels.shape[-1]).numpy()
    core = [model.classes.index(c) for c in CORE_CLASSES if c in model.classes]
    f1 = frame_f1(p, r)
    ap = per_class_ap(p, r)
    return {"f1_core": float(np.nanmean(f1[core])), "map": float(np.nanmean(ap)),
            "f1": {c: float(f1[i]) for i, c in enumerate(model.classes)}}


def train(out: str | Path, model_cfg: DetectorConfig, cfg: DetectorTrainConfig, source=None, valid_source=None,
          progress: bool = True, control_dir: str | Path | None = None) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    model = FrameDetector(model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, best, cpu_used = 0, -1.0, 0.0
    last = out / "last"
    if (last / "detector.safetensors").exists():
        # resume: weights, optimizer and counters; the config on disk wins over the command line's model
        meta = json.loads((last / "detector.json").read_text())
        model = FrameDetector(DetectorConfig.from_dict(meta["config"]))
        model.load_state_dict(load_file(str(last / "detector.safetensors")))
        opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        load_optimizer(opt, last)
        step, best, cpu_used = int(meta["step"]), float(meta.get("best_f1_core", -1.0)), float(meta.get("cpu_s", 0))
        print(f"resuming {out} at step {step} (best valid F1 {best:.4f})", flush=True)
    model.train()
    (out / "train_config.json").write_text(json.dumps({"model": model.config.to_dict(), "train": asdict(cfg)},
                                                      indent=1))
    if source is None:
        from ..corpus.source import CorpusStemSource

        source = CorpusStemSource("train", classes=list(model.classes))
        valid_source = CorpusStemSource("valid", classes=list(model.classes))
    front = model.config.front
    t0 = time.time()
    valid = validation_set(valid_source or source, model.classes, cfg, front)
    bank = StemBank(source, model.classes, cfg, front.sample_rate, np.random.default_rng([cfg.seed, 1, step]))
    print(f"{count_parameters(model)} parameters; bank of {len(bank)} stems and {len(valid[0])} validation "
          f"mixtures ready in {time.time() - t0:.1f} s", flush=True)
    log_path = out / "log.csv"
    new_log = not log_path.exists()
    log = open(log_path, "a", newline="")
    writer = csv.DictWriter(log, LOG_FIELDS)
    if new_log:
        writer.writeheader()
    clip_frames = int(round(cfg.clip_seconds * 100))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    cpu0, wall0 = time.process_time(), time.time()
    stopping = False
    while step < cfg.steps and not stopping:
        wait_while_quiet(control_dir)
        rng = np.random.default_rng([cfg.seed, 2, step])
        bank.refresh(cfg.renders_per_step)
        audio, labels = make_batch(bank, clip_frames, front.hop, cfg.batch_size, rng)
        lr = learning_rate(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        logits = model(audio)
        loss = loss_fn(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        row = {"step": step, "wall_s": round(time.time() - wall0, 2),
               "cpu_s": round(cpu_used + time.process_time() - cpu0, 2), "loss": round(loss.item(), 5),
               "lr": f"{lr:.3g}"}
        if step % cfg.validate_every == 0 or step == cfg.steps:
            v = validate(model, *valid)
            row.update(valid_f1_core=round(v["f1_core"], 4), valid_map=round(v["map"], 4))
            if v["f1_core"] > best:
                best = v["f1_core"]
                save_detector(model, out / "best", {"step": step, "valid": v, "best_f1_core": best})
            row["best_f1_core"] = round(best, 4)
            if progress:
                print(f"step {step}: loss {float(loss):.4f} valid F1(core) {v['f1_core']:.4f} mAP {v['map']:.4f}",
                      flush=True)
        writer.writerow(row)
        log.flush()
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            cpu_total = cpu_used + time.process_time() - cpu0
            meta = {"step": step, "best_f1_core": best, "cpu_s": cpu_total}
            stopping = checkpoint_last(lambda d: save_detector(model, d, meta), opt, last, step, control_dir)
        if progress and step % 20 == 0:
            print(f"step {step} loss {float(loss):.4f} lr {lr:.2e} {time.time() - wall0:.0f} s", flush=True)
    log.close()
    return {"step": step, "best_f1_core": best}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m engine.detection.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="run folder (resumes when it holds a run)")
    d = DetectorTrainConfig()
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--clip-seconds", type=float, default=d.clip_seconds)
    p.add_argument("--validate-every", type=int, default=d.validate_every)
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--widths", default="16,32,64,128", help="conv block widths (default 16,32,64,128)")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    widths = tuple(int(w) for w in a.widths.split(","))
    pools = ((2, 2), (2, 2)) + ((1, 2),) * (len(widths) - 2)
    model_cfg = DetectorConfig(widths=widths, pools=pools)
    cfg = DetectorTrainConfig(steps=a.steps, batch_size=a.batch_size, lr=a.lr, clip_seconds=a.clip_seconds,
                              validate_every=a.validate_every, checkpoint_every=a.checkpoint_every,
                              threads=a.threads, seed=a.seed)
    result = train(a.out, model_cfg, cfg, progress=not a.quiet)
    print(f"done: step {result['step']}, best valid F1(core) {result['best_f1_core']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
