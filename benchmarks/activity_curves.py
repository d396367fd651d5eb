"""Validation curves of target-activity training runs against CPU time (``engine.activity.train`` logs).

    .venv/bin/python benchmarks/activity_curves.py docs/activity_music_log.csv:"9000 examples" \\
        docs/activity_music_x2_log.csv:"18000 examples" [--png docs/figures/activity_music_training.png]

Each argument is a run folder or its ``log.csv``, optionally followed by ``:label``. Draws the frame AUC
and the clip-level presence AUC on the run's validation examples (the corpus' *valid* split) against the
training process's CPU seconds, so runs compare at equal CPU time, and prints each run's best validation
row (the one its ``best`` checkpoint holds: the highest ``best_auc``, the mean of the two).
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path


def read_validations(path: Path) -> list[dict[str, float]]:
    """The rows of a training log that carry a validation, as floats."""
    log = path / "log.csv" if path.is_dir() else path
    with open(log, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f) if row.get("valid_auc")]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="run folders or log.csv files, each optionally ':label'")
    ap.add_argument("--png", default=None, help="write the figure here")
    ap.add_argument("--title", default="target-activity model refit on music")
    a = ap.parse_args(argv)
    runs = []
    for spec in a.runs:
        path, _, label = spec.partition(":")
        if not Path(path).exists():
            ap.error(f"{path}: no such run folder or log")
        rows = read_validations(Path(path))
        if not rows:
            ap.error(f"{path}: no validation rows in its log")
        runs.append((label or Path(path).stem, rows))
    print("| run | best step | CPU-s | frame AUC | presence AUC |\n|---|---|---|---|---|")
    for label, rows in runs:
        best = max(rows, key=lambda r: r["best_auc"])
        print(f"| {label} | {best['step']:.0f} | {best['cpu_s']:.0f} | {best['valid_auc']:.3f} | "
              f"{best['valid_presence_auc']:.3f} |")
    if a.png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.8))
        for i, (label, rows) in enumerate(runs):
            cpu = [r["cpu_s"] for r in rows]
            ax.plot(cpu, [r["valid_auc"] for r in rows], "-o", color=f"C{i}", ms=4, label=f"{label}: frame AUC")
            ax.plot(cpu, [r["valid_presence_auc"] for r in rows], "--s", color=f"C{i}", ms=4,
                    label=f"{label}: presence AUC")
        ax.set_xlabel("CPU seconds of the training process")
        ax.set_ylabel("music-valid AUC")
        ax.set_title(a.title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        fig.tight_layout()
        fig.savefig(a.png, dpi=110)
        print(f"wrote {a.png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
