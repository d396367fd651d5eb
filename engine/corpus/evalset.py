"""The fixed, seeded evaluation set: rebuilt bit-identically, one per soundfont.

Each item is a ``seconds``-long mixture (6 s by default) of 2-4 parts of one **test** piece, rendered at the
same window and tempo so the mixture is music, with

- the *target* stem, of one of the 8 core classes (items are spread evenly over the classes);
- every *other* stem individually (each of a different class than the target); their sum is the *rest*;
- 10 ms activity labels of every stem (fractions of each frame covered by notes);
- a *reference* clip of the target's class taken from a **different** test piece (a different work),
  rendered with its own program, for audio-query separation.

Files, under ``out_dir``: ``manifest.json`` and one folder per item with ``target.flac``, ``other1.flac``..,
``mixture.flac`` and ``reference.flac`` (FLAC, 24-bit, 22050 Hz mono). The mixture is scaled with all its
stems so its peak stays at or below 0.9. :func:`load_evalset` returns float32 arrays; it recomputes the
mixture and the rest as exact sums of the stored stems (the stored ``mixture.flac`` is for listening).

Everything follows from ``seed`` (a plan per stem, realized with :func:`engine.corpus.source.realize`), the
pieces and the soundfont, so rebuilding gives the same bytes: :func:`digest` hashes a built set.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..taxonomy import CORE_CLASSES
from .paths import CorpusError, soundfont_path
from .procedural import ROLE_CLASSES
from .scores import Piece, load_score_cache
from .source import (MELODIC_CLASSES, DEFAULT_PROCEDURAL_POOL, StemPlan, draw_plan, lowest_part,
                     part_candidates, procedural_piece, realize)
from .splits import group_of, procedural_seeds, split_of

EVALSET_VERSION = 1
DEFAULT_SEED = 20240603
DEFAULT_PER_CLASS = 26          # 8 x 26 = 208 mixtures
PEAK = 0.9
LABEL_DECIMALS = 4


def split_pieces(split: str = "test", cache_root=None, procedural_pool: int = DEFAULT_PROCEDURAL_POOL,
                 include_scores: bool = True) -> list[Piece]:
    """A split's pieces: its music21 pieces (from the score cache) + its procedural pieces. The *test*
    split makes the evaluation sets; the *valid* split makes look-alike sets on which defaults are chosen."""
    pieces = [p for p in load_score_cache(cache_root, required=include_scores) if split_of(p.id) == split] \
        if include_scores else []
    pieces.sort(key=lambda p: p.id)
    pieces += [procedural_piece(s) for s in procedural_seeds(split, procedural_pool)]
    return pieces


def default_test_pieces(cache_root=None, procedural_pool: int = DEFAULT_PROCEDURAL_POOL,
                        include_scores: bool = True) -> list[Piece]:
    """The test split: music21 test pieces (from the score cache) + procedural test pieces."""
    return split_pieces("test", cache_root, procedural_pool, include_scores)


def _other_classes(piece: Piece, part: int, exclude: set[str], rng: np.random.Generator) -> str | None:
    if piece.source == "procedural":
        options = [c for c in ROLE_CLASSES.get(piece.parts[part].name, ()) if c not in exclude]
    else:
        options = [c for c in MELODIC_CLASSES if c not in exclude and (c != "bass" or part == lowest_part(piece))]
    if not options:
        return None
    return options[int(rng.integers(len(options)))]


def _draw_part(pool, target: str, num_samples: int, rng: np.random.Generator, sample_rate: int):
    """A random piece of ``pool``, one of its parts that can play ``target``, and a dry plan for it."""
    piece = pool[int(rng.integers(len(pool)))]
    cands = part_candidates(piece, target)
    part = int(cands[int(rng.integers(len(cands)))])
    return piece, part, draw_plan(piece, part, target, num_samples, rng, sample_rate, reverb_prob=0.0)


def _sounds_in_window(piece, part: int, plan, seconds: float) -> bool:
    """Whether any note of ``piece.parts[part]``, as ``plan`` times it, sounds in the plan's window."""
    notes = piece.parts[part].notes
    on = notes[:, 0] * plan.time_scale
    off = on + notes[:, 1] * plan.time_scale
    return bool(np.any((off > plan.start_s) & (on < plan.start_s + seconds)))


def _try_ensemble(pool, target: str, num_samples: int, rng: np.random.Generator, sample_rate: int):
    """One attempt at a part of ``target``'s class in a random piece of ``pool`` and 1-3 other parts of the
    same piece (each of another class, at the same window and tempo), all sounding in the window:
    ``(piece, target plan, other plans)``, or None when this draw does not give that."""
    piece, tpart, tplan = _draw_part(pool, target, num_samples, rng, sample_rate)
    dur = num_samples / sample_rate
    if not _sounds_in_window(piece, tpart, tplan, dur):        # the window must hold notes of the target
        return None
    others_idx = [i for i in range(len(piece.parts)) if i != tpart]
    rng.shuffle(others_idx)
    used = {target}
    other_plans = []
    for i in others_idx:
        if len(other_plans) >= 3:
            break
        c = _other_classes(piece, i, used, rng)
        if c is None:
            continue
        p = draw_plan(piece, i, c, num_samples, rng, sample_rate, reverb_prob=0.0)
        p = dataclasses.replace(p, start_s=tplan.start_s, time_scale=tplan.time_scale)
        if not _sounds_in_window(piece, i, p, dur):
            continue
        used.add(c)
        other_plans.append(p)
    return (piece, tplan, other_plans) if other_plans else None


def peak_scale(audio: np.ndarray) -> float:
    """The gain that brings ``audio``'s peak down to :data:`PEAK` (1 when it is there already, or silent)."""
    peak = float(np.abs(audio).max())
    return min(1.0, PEAK / peak) if peak > 0 else 1.0


def ensemble_pools(target: str, pieces: Sequence[Piece], index: int) -> list[Piece]:
    """The pieces an item of ``target`` is drawn from: music21 scores for every other item of a melodic
    class (``index`` even), procedural pieces otherwise and always for drums."""
    scores = [p for p in pieces if p.source != "procedural" and part_candidates(p, target) and len(p.parts) >= 2]
    procs = [p for p in pieces if p.source == "procedural" and part_candidates(p, target) and len(p.parts) >= 2]
    prefer_scores = target != "drums" and index % 2 == 0 and scores
    return scores if prefer_scores else (procs or scores)


def plan_ensemble(index: int, target: str, pieces: Sequence[Piece], rng: np.random.Generator,
                  num_samples: int, sample_rate: int, pool: Sequence[Piece] | None = None):
    """The piece, target plan and other plans of one mixture of parts played together (see
    :func:`_try_ensemble`); ``pool``: the pieces to draw from when the caller has them already."""
    pool = pool if pool is not None else ensemble_pools(target, pieces, index)
    if not pool:
        raise CorpusError(f"no piece can give class {target!r}")
    for _ in range(20):
        drawn = _try_ensemble(pool, target, num_samples, rng, sample_rate)
        if drawn is not None:
            return drawn
    raise CorpusError(f"could not plan a mixture of class {target!r}")


def plan_item(index: int, target: str, pieces: Sequence[Piece], rng: np.random.Generator,
              num_samples: int, sample_rate: int) -> dict:
    """Choose the piece, parts, classes, programs and window of one evaluation item."""
    piece, tplan, other_plans = plan_ensemble(index, target, pieces, rng, num_samples, sample_rate)
    dur = num_samples / sample_rate
    # reference: same class, a different work of the test split
    ref_pool = [p for p in pieces if group_of(p.id) != group_of(piece.id) and part_candidates(p, target)]
    if not ref_pool:
        raise CorpusError(f"class {target!r}: no second test piece for a reference clip")
    for _ in range(20):
        rpiece, rpart, rplan = _draw_part(ref_pool, target, num_samples, rng, sample_rate)
        if _sounds_in_window(rpiece, rpart, rplan, dur):
            break
    return {"piece": piece, "target": tplan, "others": other_plans, "ref_piece": rpiece, "reference": rplan}


def _write_flac(path: Path, audio: np.ndarray, sr: int) -> None:
    import soundfile as sf

    sf.write(str(path), np.clip(audio, -1.0, 1.0).astype(np.float64), sr, format="FLAC", subtype="PCM_24")


def _labels(a: np.ndarray) -> list[float]:
    return [round(float(x), LABEL_DECIMALS) for x in a]


def build_evalset(out_dir: str | Path, soundfont: str = "fluidr3", per_class: int = DEFAULT_PER_CLASS,
                  seconds: float = 6.0, seed: int = DEFAULT_SEED, pieces: Sequence[Piece] | None = None,
                  classes: Sequence[str] = CORE_CLASSES, sample_rate: int = 22050,
                  progress: bool = True) -> Path:
    """Build (or rebuild, overwriting) the evaluation set in ``out_dir``; returns the manifest path."""
    from tqdm import tqdm

    sf_file = soundfont_path(soundfont)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pieces = list(pieces) if pieces is not None else default_test_pieces()
    pieces.sort(key=lambda p: (p.source, p.id))
    by_id = {p.id: p for p in pieces}
    num_samples = int(round(seconds * sample_rate))
    items = []
    order = [(k, c) for k in range(per_class) for c in classes]     # interleaved: spread over classes
    for i, (k, c) in enumerate(tqdm(order, desc=f"eval set ({soundfont})", unit="mix",
                                    disable=not progress, file=sys.stderr)):
        rng = np.random.default_rng([seed, CORE_CLASSES.index(c) if c in CORE_CLASSES else 99, k])
        plan = plan_item(k, c, pieces, rng, num_samples, sample_rate)
        tstem = realize(plan["target"], plan["piece"], soundfont, sample_rate)
        ostems = [realize(p, plan["piece"], soundfont, sample_rate) for p in plan["others"]]
        rstem = realize(plan["reference"], plan["ref_piece"], soundfont, sample_rate)
        mix = tstem.audio.astype(np.float64) + sum(s.audio.astype(np.float64) for s in ostems)
        scale, rscale = peak_scale(mix), peak_scale(rstem.audio)
        name = f"{i:04d}_{c}"
        d = out / name
        d.mkdir(exist_ok=True)
        _write_flac(d / "target.flac", tstem.audio * scale, sample_rate)
        for j, s in enumerate(ostems):
            _write_flac(d / f"other{j + 1}.flac", s.audio * scale, sample_rate)
        _write_flac(d / "mixture.flac", mix * scale, sample_rate)
        _write_flac(d / "reference.flac", rstem.audio * rscale, sample_rate)

        def entry(stem, file):
            return {"file": file, "coarse": stem.coarse, "fine": stem.fine, "piece": stem.piece,
                    "part_name": stem.meta.get("part_name", ""), "plan": dataclasses.asdict(
                        StemPlan(**{f.name: stem.meta[f.name] for f in dataclasses.fields(StemPlan)})),
                    "activity": _labels(stem.activity)}

        items.append({
            "id": name, "target_class": c, "piece": plan["piece"].id, "scale": round(scale, 8),
            "mixture": f"{name}/mixture.flac",
            "target": entry(tstem, f"{name}/target.flac"),
            "others": [entry(s, f"{name}/other{j + 1}.flac") for j, s in enumerate(ostems)],
            "reference": entry(rstem, f"{name}/reference.flac"),
        })
    manifest = {
        "version": EVALSET_VERSION, "soundfont": soundfont if soundfont in ("fluidr3", "musescore", "timgm")
        else Path(soundfont).name, "soundfont_file": sf_file.name, "sample_rate": sample_rate,
        "seconds": seconds, "num_samples": num_samples, "seed": seed, "per_class": per_class,
        "classes": list(classes), "label_frame_seconds": 0.010, "items": items,
        "pieces": sorted({it["piece"] for it in items} | {it["reference"]["piece"] for it in items}),
    }
    del by_id
    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return path


def digest(out_dir: str | Path) -> str:
    """SHA-256 over the manifest and every file it names (in a fixed order): equal digests = same set."""
    out = Path(out_dir)
    man = out / "manifest.json"
    if not man.is_file():
        raise CorpusError(f"no evaluation set in {out} (manifest.json missing)")
    h = hashlib.sha256()
    h.update(man.read_bytes())
    manifest = json.loads(man.read_text())
    files = []
    for it in manifest["items"]:
        files += [it["mixture"], it["target"]["file"], it["reference"]["file"]] + [o["file"] for o in it["others"]]
    for f in sorted(files):
        h.update(f.encode())
        h.update((out / f).read_bytes())
    return h.hexdigest()


@dataclass
class EvalItem:
    id: str
    target_class: str
    mixture: np.ndarray              # target + sum(others), float32
    target: np.ndarray
    others: list[np.ndarray]
    rest: np.ndarray                 # sum(others)
    reference: np.ndarray
    target_activity: np.ndarray      # (frames,) fractions of 10 ms frames
    others_activity: list[np.ndarray]
    others_classes: list[str]
    sample_rate: int
    meta: dict = field(default_factory=dict)


class EvalSet:
    """A built evaluation set (``load_evalset(dir)``): a sequence of :class:`EvalItem`."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        man = self.root / "manifest.json"
        if not man.is_file():
            raise CorpusError(f"no evaluation set in {self.root}: build it with "
                              f"`eventsep corpus eval-set --soundfont NAME --out {self.root}`")
        self.manifest = json.loads(man.read_text())
        self.sample_rate = int(self.manifest["sample_rate"])
        self.soundfont = self.manifest["soundfont"]

    def __len__(self) -> int:
        return len(self.manifest["items"])

    def _read(self, rel: str) -> np.ndarray:
        import soundfile as sf

        audio, sr = sf.read(str(self.root / rel), dtype="float32", always_2d=False)
        if sr != self.sample_rate:
            raise CorpusError(f"{rel}: {sr} Hz in a {self.sample_rate} Hz evaluation set")
        return audio

    def __getitem__(self, i: int) -> EvalItem:
        it = self.manifest["items"][i]
        target = self._read(it["target"]["file"])
        others = [self._read(o["file"]) for o in it["others"]]
        rest = np.sum(others, axis=0, dtype=np.float32) if others else np.zeros_like(target)
        return EvalItem(
            id=it["id"], target_class=it["target_class"], mixture=(target + rest).astype(np.float32),
            target=target, others=others, rest=rest.astype(np.float32),
            reference=self._read(it["reference"]["file"]),
            target_activity=np.asarray(it["target"]["activity"], np.float32),
            others_activity=[np.asarray(o["activity"], np.float32) for o in it["others"]],
            others_classes=[o["coarse"] for o in it["others"]], sample_rate=self.sample_rate,
            meta={"piece": it["piece"], "target_fine": it["target"]["fine"],
                  "reference_piece": it["reference"]["piece"], "reference_fine": it["reference"]["fine"],
                  "others_fine": [o["fine"] for o in it["others"]]})

    def __iter__(self) -> Iterator[EvalItem]:
        for i in range(len(self)):
            yield self[i]

    def by_class(self, coarse: str) -> list[int]:
        return [i for i, it in enumerate(self.manifest["items"]) if it["target_class"] == coarse]


def load_evalset(root: str | Path) -> EvalSet:
    """Open a built evaluation set (see :class:`EvalSet`)."""
    return EvalSet(root)
