"""Small pieces shared by the training loops (separator, detector, flow): the per-step CSV log of a
resumable run, the optimizer state saved beside its last checkpoint, and the cooperation files of a shared
machine (while ``CONTROL_DIR/QUIET`` exists a run waits: a timing benchmark is running; when
``CONTROL_DIR/STOP_TRAINING`` appears it stops at its next checkpoint)."""
from __future__ import annotations

import csv
import os
import time
from pathlib import Path
from typing import Callable

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


CONTROL_DIR = Path("/tmp/bench")


def control_directory(control_dir: str | Path | None = None) -> Path:
    """The cooperation folder: ``control_dir`` when given, else ``$EVENTSEP_CONTROL_DIR``, else
    ``/tmp/bench`` (the test suite points the variable at its own folder, so a benchmark's ``QUIET`` on
    the machine never stalls the tests' small training runs)."""
    if control_dir is not None:
        return Path(control_dir)
    return Path(os.environ.get("EVENTSEP_CONTROL_DIR") or CONTROL_DIR)


def wait_while_quiet(control_dir: str | Path | None = None) -> None:
    while (control_directory(control_dir) / "QUIET").exists():
        time.sleep(5)


def stop_requested(control_dir: str | Path | None = None) -> bool:
    return (control_directory(control_dir) / "STOP_TRAINING").exists()


def save_optimizer(optimizer: torch.optim.Optimizer, directory: Path) -> None:
    """``optimizer.pt`` in ``directory``, replaced atomically (run state only: never shipped)."""
    tmp = directory / "optimizer.pt.tmp"
    torch.save(optimizer.state_dict(), tmp)
    os.replace(tmp, directory / "optimizer.pt")


def load_optimizer(optimizer: torch.optim.Optimizer, directory: Path) -> None:
    """Restore the state :func:`save_optimizer` wrote in ``directory``."""
    optimizer.load_state_dict(torch.load(Path(directory) / "optimizer.pt", weights_only=True))


def checkpoint_last(save: Callable[[Path], object], optimizer: torch.optim.Optimizer, directory: Path, step: int,
                    control_dir: str | Path | None = None) -> bool:
    """Write a run's last checkpoint (``save(directory)``) with its optimizer beside it; True when
    ``STOP_TRAINING`` asks the run to stop here."""
    save(directory)
    save_optimizer(optimizer, directory)
    if stop_requested(control_dir):
        print(f"STOP_TRAINING in {control_directory(control_dir)}: stopping at step {step}", flush=True)
        return True
    return False
