"""Where the shipped default model lives, and the checkpoint folder a ``--model`` option names.
Standard library only: every command line imports it while building its parser."""
from __future__ import annotations

from pathlib import Path

from .errors import EventSepError

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "assets" / "default_model"


def model_dir(arg: str | Path | None) -> Path:
    """The checkpoint folder a ``--model`` option names (None: the shipped default), checked."""
    path = Path(arg) if arg else DEFAULT_MODEL_DIR
    if not (path / "config.json").exists():
        if arg is None:
            raise EventSepError(f"the default model is missing from this installation ({path}); "
                                f"pass --model CHECKPOINT_DIR (a folder written by 'eventsep train')")
        raise EventSepError(f"{path}: not an EventSep checkpoint folder (no config.json)")
    return path
