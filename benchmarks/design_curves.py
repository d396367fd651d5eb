"""Validation curves of training runs against training time: the design comparison at equal CPU time.

    .venv/bin/python benchmarks/design_curves.py runs/cmp_fcgru runs/cmp_melgru runs/cmp_tcn \\
        [--at-seconds 1500] [--png docs/figures/design_curves.png] [--md docs/design_comparison.md]

Reads each run's log.csv (the clocks continue across resumes) and config.json, draws class-name and
other-clip SI-SDRi on the corpus *validation* split against the training process's logged CPU seconds,
and tabulates each run at the last validation at or before ``--at-seconds`` CPU seconds (equal CPU time), with its parameter count and
training speed. No evaluation-set item is used here.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.checkpoint import load_model
from engine.models import count_parameters
from engine.train import read_log

ROOT = Path(__file__).resolve().parents[1]


def _cpu(row: dict) -> float:
    """CPU seconds of the training process at a log row (older logs: wall seconds)."""
    return row.get("cpu_seconds", row.get("seconds", float("nan")))


def run_summary(run: Path, at_seconds: float | None) -> dict:
    rows = read_log(run)
    valid = [r for r in rows if "valid_class_si_sdri" in r]
    if at_seconds is not None:
        valid = [r for r in valid if _cpu(r) <= at_seconds * 1.02] or valid[:1]
    model, meta = load_model(run)
    cfg = meta["model"]
    last = valid[-1] if valid else {}
    steps = [r for r in rows if "loss" in r]
    rate = steps[-1]["step"] / _cpu(steps[-1]) if steps and _cpu(steps[-1]) else float("nan")
    return {"run": run.name, "arch": cfg.get("arch", "unet"), "hidden": cfg.get("hidden"),
            "params": count_parameters(model), "steps_per_s": rate, "step": int(last.get("step", 0)),
            "seconds": _cpu(last) if last else float("nan"),
            "class": last.get("valid_class_si_sdri", float("nan")),
            "clip": last.get("valid_clip_si_sdri", float("nan")),
            "absent_db": last.get("valid_absent_db", float("nan")),
            "curve": [(_cpu(r), r["valid_class_si_sdri"], r["valid_clip_si_sdri"])
                      for r in rows if "valid_class_si_sdri" in r
                      and (at_seconds is None or _cpu(r) <= at_seconds * 1.02)]}


def plot(summaries: list[dict], path: Path, at_seconds: float | None, marks: list[tuple[float, str]]) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for s in summaries:
        t = [c[0] / 60 for c in s["curve"]]
        for ax, k in zip(axes, (1, 2)):
            ax.plot(t, [c[k] for c in s["curve"]], marker="o", ms=3, label=f"{s['run']} ({s['arch']})")
    for ax, title in zip(axes, ("from the class name", "from another clip of the class")):
        ax.set_title(f"validation SI-SDRi {title}")
        ax.set_xlabel("training CPU time (min, logged)")
        ax.grid(alpha=0.3)
        if at_seconds:
            ax.axvline(at_seconds / 60, color="k", lw=0.8, ls="--")
        for x, label in marks:
            ax.axvline(x / 60, color="grey", lw=0.8, ls=":")
            ax.text(x / 60, ax.get_ylim()[1], f" {label}", fontsize=7, va="top", color="grey")
    axes[0].set_ylabel("dB")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="run folders (each with log.csv and config.json)")
    ap.add_argument("--at-seconds", type=float, default=None, help="compare at this logged training time")
    ap.add_argument("--png", default=str(ROOT / "docs/figures/design_curves.png"), help="figure to write")
    ap.add_argument("--md", default=None, help="also write the table as Markdown here")
    ap.add_argument("--mark", action="append", default=[], metavar="SECONDS:LABEL",
                    help="a dotted line at this CPU time with a label (a recipe change, a resume)")
    args = ap.parse_args()
    summaries = [run_summary(Path(r), args.at_seconds) for r in args.runs]
    head = ("| run | design | params | steps per CPU-s | at step | at CPU time (min) | class-name SI-SDRi | "
            "other-clip SI-SDRi | absent output (dB) |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for s in summaries:
        lines.append(f"| {s['run']} | {s['arch']} (hidden {s['hidden']}) | {s['params'] / 1e6:.2f} M | "
                     f"{s['steps_per_s']:.2f} | {s['step']} | {s['seconds'] / 60:.1f} | {s['class']:.2f} | "
                     f"{s['clip']:.2f} | {s['absent_db']:.1f} |")
    print("\n".join(lines))
    marks = [(float(m.split(":", 1)[0]), m.split(":", 1)[1]) for m in args.mark]
    plot(summaries, Path(args.png), args.at_seconds, marks)
    print(f"wrote {args.png}")
    if args.md:
        Path(args.md).write_text("\n".join(lines) + "\n")
    print(json.dumps([{k: v for k, v in s.items() if k != "curve"} for s in summaries]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
