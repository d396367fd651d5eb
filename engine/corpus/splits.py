"""Train / valid / test splits by piece, deterministic.

A piece's split comes from a hash of its *group* (not of anything random), so it never changes and never
depends on which other pieces exist. The group is the work a piece belongs to, so no work is split across
train and test: movements of one work (``beethoven/opus18no1/movement1..4``), the tunes of one opus file,
variants and old copies of one score (``bwv112.5`` / ``bwv112.5-sc``, ``madrigal.3.1_old``), the movements
and sections of one Palestrina mass (``Kyrie_31_a``, ``Credo_31_c``, ``Agnus_II_31``: mass 31) and the sections
of one trecento piece (``PMFC_12_10a`` / ``PMFC_12_10b``). Procedural pieces and speech seeds are their own
groups.
"""
from __future__ import annotations

import hashlib
import re
from typing import Iterable, Sequence

SPLITS = ("train", "valid", "test")
FRACTIONS = {"train": 0.8, "valid": 0.1, "test": 0.1}
SALT = "eventsep-corpus-v1"


def group_of(piece_id: str) -> str:
    """The work a piece belongs to (the unit that is never split)."""
    source, _, rest = piece_id.partition(":")
    if source != "music21":
        return piece_id
    rest = rest.split("#", 1)[0]                          # tunes of one opus file: one group
    rest = re.sub(r"\.(mxl|xml|musicxml|krn|abc|rntxt|mid|midi)$", "", rest, flags=re.I)
    rest = re.sub(r"-[A-Za-z]{1,3}$", "", rest)          # variants of one work: bwv112.5-sc, bwv120.8-a
    rest = re.sub(r"_(old|bak)$", "", rest)              # older copies of the same score
    parts = rest.split("/")
    if len(parts) >= 3:                                   # composer/work/movement -> composer/work
        return f"music21:{'/'.join(parts[:2])}"
    if len(parts) == 2 and parts[0] == "palestrina":
        # Agnus_II_31, Credo_31_c, Sanctus_rpt_00 ...: the number is the mass; its movements are one work
        m = re.match(r"[A-Za-z]+(?:_[IVX]+)?(?:_rpt)?_(\d+)", parts[1])
        if m:
            return f"music21:palestrina/mass_{m.group(1)}"
    if len(parts) == 2 and parts[0] == "trecento":
        # PMFC_12_10a / PMFC_12_10b, PMFC_06-Jacopo-03a / 03b: sections of one piece
        m = re.match(r"(PMFC_\d+[_-](?:[A-Za-z]+[_-])?\d+)", parts[1])
        if m:
            return f"music21:trecento/{m.group(1)}"
    return f"music21:{rest}"


def split_of(piece_id: str, fractions: dict[str, float] | None = None) -> str:
    """``train``, ``valid`` or ``test`` for a piece id (stable: a hash of its group)."""
    fr = fractions or FRACTIONS
    h = hashlib.sha1(f"{SALT}:{group_of(piece_id)}".encode()).digest()
    u = int.from_bytes(h[:8], "big") / 2.0 ** 64
    acc = 0.0
    for name in SPLITS:
        acc += fr[name]
        if u < acc:
            return name
    return SPLITS[-1]


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; use one of {list(SPLITS)}")
    return split


def filter_split(piece_ids: Iterable[str], split: str) -> list[str]:
    check_split(split)
    return [p for p in piece_ids if split_of(p) == split]


def procedural_seeds(split: str, count: int) -> list[int]:
    """The seeds ``0 .. count-1`` of the procedural pool whose piece falls in ``split``."""
    check_split(split)
    return [s for s in range(int(count)) if split_of(f"proc:{s:06d}") == split]


def split_table(piece_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {s: [] for s in SPLITS}
    for p in piece_ids:
        out[split_of(p)].append(p)
    return out
