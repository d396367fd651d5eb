"""Training curve of a flow run: ``python -m engine.flow.curve RUN --png OUT.png --csv OUT.csv``.

Plots the loss (mean over 50 steps) and the validation SI-SDRi against the step, and copies the run's
log (one row per step) to ``--csv``.
"""
from __future__ import annotations

import argparse
import csv
import shutil
from pathlib import Path

import numpy as np


def plot(run: Path, png: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(run / "log.csv")))
    step = np.array([int(r["step"]) for r in rows])
    loss = np.array([float(r["loss"]) for r in rows])
    k = min(50, len(loss))
    smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
    val = [(int(r["step"]), float(r["valid_si_sdri"])) for r in rows if r.get("valid_si_sdri")]
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.plot(step[k - 1:], smooth, lw=1.2, label="training loss (50-step mean)")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("weighted flow-matching loss")
    if val:
        ax2 = ax.twinx()
        ax2.plot(*zip(*val), "o-", color="C1", label="valid SI-SDRi (4 steps)")
        ax2.set_ylabel("valid SI-SDRi (dB)")
        ax2.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    cpu = float(rows[-1]["cpu_s"]) / 60 if rows else 0.0
    ax.set_title(f"generative separator: {step[-1]} steps, {cpu:.0f} CPU min")
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return png


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run")
    p.add_argument("--png", required=True)
    p.add_argument("--csv", default=None)
    a = p.parse_args(argv)
    run = Path(a.run)
    print(plot(run, Path(a.png)))
    if a.csv:
        shutil.copyfile(run / "log.csv", a.csv)
        print(a.csv)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
