"""Draw the valid look-alike scores of training runs: the curves checkpoints are picked on.

    .venv/bin/python benchmarks/lookalike_curves.py [docs/lookalike_scores.csv] [-o docs/figures/lookalike_curves.png]

The CSV holds one row per checkpoint and set (``run, step, set, class_name, other_clip``), appended by
``benchmarks/valid_scores.py CKPT... --evalset valid-fluidr3 --csv docs/lookalike_scores.csv`` (and
``valid-timgm``). Three panels: class-name SI-SDRi on the FluidR3 look-alike, on the TimGM look-alike (timbres
never trained on), and TimGM as a share of FluidR3 with the issue's 70 % line. Arms of an A/B are forks run
side by side at one thread each, so equal steps after a fork are equal CPU time.
"""
from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def read_scores(path: Path) -> dict[str, dict[str, dict[int, float]]]:
    """``{run: {set: {step: class-name SI-SDRi}}}``; a later row for the same point replaces an earlier one."""
    scores: dict = defaultdict(lambda: defaultdict(dict))
    with path.open() as f:
        for row in csv.DictReader(f):
            scores[row["run"]][row["set"]][int(row["step"])] = float(row["class_name"])
    return scores


def draw(scores, out: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for run, sets in scores.items():
        fluid, timgm = sets.get("valid-fluidr3", {}), sets.get("valid-timgm", {})
        for ax, points in ((axes[0], fluid), (axes[1], timgm)):
            if points:
                steps = sorted(points)
                ax.plot(steps, [points[s] for s in steps], marker="o", label=run)
        both = sorted(set(fluid) & set(timgm))
        if both:
            axes[2].plot(both, [100 * timgm[s] / fluid[s] for s in both], marker="o", label=run)
    axes[2].axhline(70, color="k", linestyle="--", linewidth=1, label="bar (70 %)")
    for ax, title, unit in ((axes[0], "FluidR3 look-alike (training timbres)", "class-name SI-SDRi (dB)"),
                            (axes[1], "TimGM look-alike (unseen timbres)", "class-name SI-SDRi (dB)"),
                            (axes[2], "TimGM as a share of FluidR3", "%")):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.set_ylabel(unit)
        ax.grid(alpha=0.3)
    axes[2].legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv", nargs="?", default=str(REPO / "docs" / "lookalike_scores.csv"),
                    help="scores (default docs/lookalike_scores.csv)")
    ap.add_argument("-o", "--out", default=str(REPO / "docs" / "figures" / "lookalike_curves.png"),
                    help="PNG to write (default docs/figures/lookalike_curves.png)")
    args = ap.parse_args()
    path = Path(args.csv)
    if not path.is_file():
        sys.exit(f"lookalike_curves: no such file: {path}")
    try:
        scores = read_scores(path)
    except (KeyError, ValueError) as e:
        sys.exit(f"lookalike_curves: {path} is not a scores CSV (run,step,set,class_name,other_clip): {e}")
    if not scores:
        sys.exit(f"lookalike_curves: {path} has no rows")
    draw(scores, Path(args.out))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
