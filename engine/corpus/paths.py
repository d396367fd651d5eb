"""Where the corpus keeps its caches and where the soundfonts live."""
from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

# Soundfonts by short name. FluidR3 is the training soundfont; MuseScore and TimGM are the unseen-timbre
# test sets; csound and opl3 add training timbres (never in an evaluation set).
SOUNDFONTS: dict[str, dict] = {
    "fluidr3": {
        "candidates": ["/usr/share/sounds/sf2/FluidR3_GM.sf2"],
        "package": "fluid-soundfont-gm",
    },
    "musescore": {
        "candidates": ["/usr/share/sounds/sf3/MuseScore_General.sf3",
                       "/usr/share/sounds/sf3/MuseScore_General_Full.sf3",
                       "/usr/share/sounds/sf2/MuseScore_General.sf2"],
        "package": "musescore-general-soundfont",
    },
    "timgm": {
        "candidates": ["/usr/share/sounds/sf2/TimGM6mb.sf2"],
        "package": "timgm6mb-soundfont",
    },
    # a third set of training timbres (csound's GM bank; TimGM stays the unseen one)
    "csound": {
        "candidates": ["/usr/share/sounds/sf2/sf_GMbank.sf2", "/usr/share/samples/sf_GMbank.sf2"],
        "package": "csound-soundfont",
    },
    # a fourth: an OPL3 FM chip's General MIDI set, timbres far from any sample-based bank
    "opl3": {
        "candidates": ["/usr/share/sounds/sf2/OPL-3_FM_128M.sf2"],
        "package": "opl3-soundfont",
    },
}
TRAINING_SOUNDFONT = "fluidr3"


class CorpusError(RuntimeError):
    """A user-facing problem (missing package, missing cache, bad argument): the CLI prints it plainly."""


def cache_dir() -> Path:
    """The corpus cache: ``$EVENTSEP_CACHE`` if set, else ``<repo>/cache/corpus`` (git-ignored)."""
    env = os.environ.get("EVENTSEP_CACHE")
    return Path(env).expanduser() if env else REPO_ROOT / "cache" / "corpus"


def soundfont_path(name: str) -> Path:
    """The file of soundfont ``name`` (``fluidr3``, ``musescore``, ``timgm``) or an existing file path.

    Raises CorpusError naming the Debian package when it is not installed.
    """
    if name not in SOUNDFONTS:
        p = Path(name)
        if p.is_file():
            return p
        raise CorpusError(f"unknown soundfont {name!r}: use one of {sorted(SOUNDFONTS)} or a path to an .sf2/.sf3 file")
    info = SOUNDFONTS[name]
    for cand in info["candidates"]:
        if Path(cand).is_file():
            return Path(cand)
    raise CorpusError(
        f"soundfont {name!r} not found (looked for {', '.join(info['candidates'])}); "
        f"install the Debian package: apt-get install {info['package']}")
