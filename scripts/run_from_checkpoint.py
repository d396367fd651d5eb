"""Make a training run folder from a shipped checkpoint, so that `eventsep train --out RUN` continues its
lineage at the checkpoint's step (when the run folder itself was lost with a machine).

The weights and class latents are the checkpoint's; the optimiser starts with fresh Adam moments (they
are not shipped); the recipe is the JSON given (TrainConfig fields); the log is the lineage's log up to the
checkpoint's step, so the step count and the CPU clock go on where they were.

  .venv/bin/python scripts/run_from_checkpoint.py engine/assets/default_model runs/tcn_r27500 \
      --log docs/training_log.csv --recipe '{"recipe": "classquery", "batch_size": 16, ...}'
"""
from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from engine.checkpoint import load_model  # noqa: E402
from engine.config import TrainConfig  # noqa: E402
from engine.train import CONFIG, LATENT_INDEX, LATENTS, LOG, LOG_FIELDS, WEIGHTS, _save_train_state  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="checkpoint folder (config.json, model.safetensors, latents.*)")
    p.add_argument("run", help="new run folder (must not exist)")
    p.add_argument("--recipe", required=True, help="TrainConfig fields as a JSON object")
    p.add_argument("--log", default=None, help="the lineage's log.csv (rows after the checkpoint's step are dropped)")
    args = p.parse_args(argv)
    src, run = Path(args.checkpoint), Path(args.run)
    if run.exists():
        p.error(f"{run} exists; choose a new folder")
    cfg = TrainConfig.from_dict(json.loads(args.recipe))
    model, meta = load_model(src)
    step = int(json.loads((src / CONFIG).read_text())["step"])
    run.mkdir(parents=True)
    for name in (WEIGHTS, CONFIG, LATENTS, LATENT_INDEX):
        shutil.copy2(src / name, run / name)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas)
    _save_train_state(run, optimizer, step, cfg, float("inf"))
    if args.log:
        with open(args.log, newline="") as f:
            rows = [{k: r.get(k, "") for k in LOG_FIELDS} for r in csv.DictReader(f) if int(r["step"]) <= step]
        with open(run / LOG, "w", newline="") as f:
            writer = csv.DictWriter(f, LOG_FIELDS)
            writer.writeheader()
            writer.writerows(rows)
        print(f"log: {len(rows)} rows up to step {step}")
    print(f"{run}: step {step}, lr {cfg.lr}, fresh Adam moments")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
