"""Small pieces shared by the training loops (separator, detector, flow): the per-step CSV log of a
resumable run, and the optimizer state saved beside its last checkpoint."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import torch


def trim_log(path: Path, step: int, fields: list[str]) -> list[dict[str, str]]:
    """Make ``path`` a CSV log with ``fields`` holding only the rows up to ``step`` (an interrupted
    process logs past its last checkpoint; a resumed run starts from that checkpoint). Returns the rows
    kept; a missing log is created with its header."""
    rows: list[dict[str, str]] = []
    if path.exists():
        with open(path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fields)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def save_optimizer(optimizer: torch.optim.Optimizer, directory: Path) -> None:
    """``optimizer.pt`` in ``directory``, replaced atomically (run state only: never shipped)."""
    tmp = directory / "optimizer.pt.tmp"
    torch.save(optimizer.state_dict(), tmp)
    os.replace(tmp, directory / "optimizer.pt")
