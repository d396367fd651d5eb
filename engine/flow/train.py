"""Train the generative separator (conditional rectified flow) on rendered corpus mixtures.

    python -m engine.flow.train --out runs/flow [--steps N] [--latents DIR] ...

Loss: ``w * || v(x_t, t | mixture, z) - (x1 - x0) ||^2`` (w: the mixture's magnitude per bin) with x1 the
target's state and x0 the start state (``engine.flow.model``), ``x_t = (1 - t) x0 + t x1``, t ~ U[0, 1]. The condition z is
a class latent of the default model (``--latents``), as the text pipeline picks one.

The same command resumes a run (``OUT/last``: weights, optimizer, step); every ``validate_every`` steps the
model is scored on fixed valid-split mixtures (SI-SDRi with 4 Euler steps, mixture phase) and the best
is kept in ``OUT/best``. ``OUT/log.csv`` logs every step. Honours ``/tmp/bench/QUIET`` (wait) and
``/tmp/bench/STOP_TRAINING`` (stop at the next checkpoint) as the detector's training does.
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

from ..checkpoint import load_latents
from ..metrics import si_sdr
from ..runlog import checkpoint_last, load_optimizer, trim_log, wait_while_quiet
from ..spectral import Stft
from .checkpoint import save_flow
from .config import FlowConfig, FlowTrainConfig
from .data import FlowBank, make_batch
from .model import VelocityNet, count_parameters, prior_state, start_state, target_state, to_features
from .sampler import flow_separate

DEFAULT_LATENTS = Path(__file__).resolve().parents[1] / "assets" / "default_model"
WEIGHT_FLOOR = 0.05
LOG_FIELDS = ["step", "wall_s", "cpu_s", "loss", "lr", "valid_si_sdri", "best_si_sdri"]


def learning_rate(step: int, cfg: FlowTrainConfig) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr_final + 0.5 * (cfg.lr - cfg.lr_final) * (1 + math.cos(math.pi * t))


def flow_loss(model: VelocityNet, stft: Stft, mixture: torch.Tensor, target: torch.Tensor, z: torch.Tensor,
              generator: torch.Generator | None = None, weighted: bool = True, prior_mask=None) -> torch.Tensor:
    """Flow-matching loss; ``weighted`` weighs each bin by the mixture's magnitude (normalised to mean 1
    per example, floored at ``WEIGHT_FLOOR``). Why: unweighted, the many quiet bins dominate the log-domain
    error while SI-SDR is decided by the loud ones (measured: a run reached a low unweighted loss with a
    negative SI-SDRi)."""
    cfg = model.config
    mix_mag = stft(mixture).abs()
    xm = to_features(mix_mag, cfg)
    x1 = target_state(stft(target).abs(), mix_mag, cfg)
    prior = None
    if cfg.prior:
        with torch.no_grad():
            prior = prior_state(prior_mask(mix_mag, z), cfg)
    x0 = start_state(xm, cfg, generator, prior)
    t = torch.rand(xm.shape[0], generator=generator)
    xt = (1 - t[:, None, None]) * x0 + t[:, None, None] * x1
    err = (model(xt, xm, t, z, prior) - (x1 - x0)).pow(2)
    if not weighted:
        return err.mean()
    w = mix_mag[:, :-1]
    w = (w / w.mean(dim=(1, 2), keepdim=True).clamp_min(1e-8)).clamp_min(WEIGHT_FLOOR)
    return (w * err).mean()


@torch.no_grad()
def validate(model: VelocityNet, valid: tuple[torch.Tensor, torch.Tensor, torch.Tensor], steps: int = 4,
             prior_mask=None) -> float:
    model.eval()
    mixture, target, z = valid
    gains = []
    for i in range(0, len(mixture), 16):
        est = flow_separate(model, mixture[i:i + 16], z[i:i + 16], steps=steps, seed=i, prior_mask=prior_mask)
        for e, m, t in zip(est.numpy(), mixture[i:i + 16].numpy(), target[i:i + 16].numpy()):
            if np.sqrt(np.mean(t ** 2)) > 1e-3 and np.sqrt(np.mean((m - t) ** 2)) > 1e-3:
                gains.append(si_sdr(t, e) - si_sdr(t, m))
    model.train()
    return float(np.mean(gains))


def train(out: str | Path, model_cfg: FlowConfig, cfg: FlowTrainConfig, latents_dir: str | Path = DEFAULT_LATENTS,
          source=None, valid_source=None, threads: int = 1, progress: bool = True,
          control_dir: str | Path | None = None) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(threads)
    torch.manual_seed(cfg.seed)
    last = out / "last"
    step, best, cpu_used = 0, -math.inf, 0.0
    if (last / "flow.safetensors").exists():
        meta = json.loads((last / "flow.json").read_text())
        model_cfg = FlowConfig.from_dict(meta["config"])
        step, best, cpu_used = int(meta["step"]), float(meta.get("best_si_sdri", -math.inf)), float(meta.get("cpu_s", 0))
    model = VelocityNet(model_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=1e-4)
    if step:
        model.load_state_dict(load_file(str(last / "flow.safetensors")))
        load_optimizer(opt, last)
        print(f"resuming {out} at step {step} (best valid SI-SDRi {best:.2f} dB)", flush=True)
    model.train()
    (out / "train_config.json").write_text(json.dumps({"model": model_cfg.to_dict(), "train": asdict(cfg),
                                                      "latents": str(latents_dir)}, indent=1))
    latents = load_latents(latents_dir)
    prior_mask = None
    if model_cfg.prior:       # the U-Net whose latents condition us is the one we refine
        from ..checkpoint import load_model

        unet, _ = load_model(latents_dir)
        unet.eval()
        for p in unet.parameters():
            p.requires_grad_(False)
        prior_mask = unet.separator
    if source is None:
        from ..corpus.source import CorpusStemSource

        source = CorpusStemSource("train")
        valid_source = CorpusStemSource("valid")
    n = model_cfg.segment_samples
    t0 = time.time()
    vbank = FlowBank(valid_source or source, cfg, np.random.default_rng([cfg.seed, 777]))
    valid = make_batch(vbank, n, cfg.valid_items, latents, np.random.default_rng([cfg.seed, 778]))
    bank = FlowBank(source, cfg, np.random.default_rng([cfg.seed, 1, step]))
    print(f"{count_parameters(model)} parameters; banks ready in {time.time() - t0:.1f} s", flush=True)
    stft = Stft(model_cfg.stft)
    log_path = out / "log.csv"
    trim_log(log_path, step, LOG_FIELDS)
    log = open(log_path, "a", newline="")
    writer = csv.DictWriter(log, LOG_FIELDS)
    cpu0, wall0 = time.process_time(), time.time()
    stopping = False
    while step < cfg.steps and not stopping:
        wait_while_quiet(control_dir)
        rng = np.random.default_rng([cfg.seed, 2, step])
        bank.refresh(cfg.renders_per_step)
        mixture, target, z = make_batch(bank, n, cfg.batch_size, latents, rng)
        lr = learning_rate(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = flow_loss(model, stft, mixture, target, z, torch.Generator().manual_seed(cfg.seed * 100_003 + step),
                         cfg.weighted_loss, prior_mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        step += 1
        row = {"step": step, "wall_s": round(time.time() - wall0, 2),
               "cpu_s": round(cpu_used + time.process_time() - cpu0, 2), "loss": round(loss.item(), 5),
               "lr": f"{lr:.3g}"}
        if step % cfg.validate_every == 0 or step == cfg.steps:
            v = validate(model, valid, prior_mask=prior_mask)
            row["valid_si_sdri"] = round(v, 3)
            if v > best:
                best = v
                save_flow(model, out / "best", {"step": step, "valid_si_sdri": v, "best_si_sdri": best})
            row["best_si_sdri"] = round(best, 3)
            if progress:
                print(f"step {step}: loss {loss.item():.4f} valid SI-SDRi {v:.2f} dB (best {best:.2f})", flush=True)
        writer.writerow(row)
        log.flush()
        if step % cfg.checkpoint_every == 0 or step == cfg.steps:
            meta = {"step": step, "best_si_sdri": best, "cpu_s": cpu_used + time.process_time() - cpu0}
            stopping = checkpoint_last(lambda d: save_flow(model, d, meta), opt, last, step, control_dir)
        if progress and step % 20 == 0:
            print(f"step {step} loss {loss.item():.4f} lr {lr:.2e} {time.time() - wall0:.0f} s", flush=True)
    log.close()
    return {"step": step, "best_si_sdri": best}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m engine.flow.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="run folder (resumes when it holds a run)")
    d, m = FlowTrainConfig(), FlowConfig()
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--segment-seconds", type=float, default=m.segment_seconds)
    p.add_argument("--widths", default=",".join(map(str, m.channels)), help="U-Net widths per level")
    p.add_argument("--validate-every", type=int, default=d.validate_every)
    p.add_argument("--checkpoint-every", type=int, default=d.checkpoint_every)
    p.add_argument("--space", choices=("mask", "logmag"), default=m.space, help="the flow's state space")
    p.add_argument("--prior", action="store_true", help="refine the U-Net of --latents (mask space)")
    p.add_argument("--start-noise", type=float, default=None, help="noise around the start state "
                   "(default: 1.0 in the mask space, 0.5 in logmag, 0.3 with --prior)")
    p.add_argument("--latents", default=str(DEFAULT_LATENTS), help="checkpoint folder whose class latents condition")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args(argv)
    model_cfg = FlowConfig(channels=tuple(int(w) for w in a.widths.split(",")), segment_seconds=a.segment_seconds,
                           space=a.space, prior=a.prior,
                           start_noise=a.start_noise if a.start_noise is not None else
                           (0.3 if a.prior else 1.0 if a.space == "mask" else 0.5))
    cfg = FlowTrainConfig(steps=a.steps, batch_size=a.batch_size, lr=a.lr, validate_every=a.validate_every,
                          checkpoint_every=a.checkpoint_every, seed=a.seed)
    result = train(a.out, model_cfg, cfg, a.latents, threads=a.threads, progress=not a.quiet)
    print(f"done: step {result['step']}, best valid SI-SDRi {result['best_si_sdri']:.2f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
