"""A stem bank: corpus stems rendered once to disk, so training spends its CPU on the model.

Rendering a stem costs 10-40 ms of FluidSynth; a training batch of 16 mixtures needs some 80 stems, more
than the model step itself on 2 cores. The bank renders ``per_class`` excerpts of every class of a split
once (the same draws :class:`CorpusStemSource` makes, seeded per class and shard), stores them as float16
shards, and :class:`BankStemSource` serves random crops of them from memory-mapped files: a draw costs
microseconds, and random mixing across pieces still gives endless distinct mixtures.

Layout (resumable: a shard is written atomically and skipped when present)::

    ROOT/<split>-<soundfont>/<class>/<shard:04d>.npy    float16 (SHARD, nb_samples)
    ROOT/<split>-<soundfont>/<class>/<shard:04d>.json   [{"fine", "piece", "program"}, ...]
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..stems import Stem, StemSource
from ..taxonomy import fine_labels_of
from .paths import CorpusError, cache_dir

SHARD = 64
DEFAULT_SECONDS = 4.0


def bank_root() -> Path:
    return cache_dir() / "bank"


def bank_dir(root: Path | None, split: str, soundfont: str) -> Path:
    return Path(root or bank_root()) / f"{split}-{soundfont}"


def _render_shard(args: tuple) -> str:
    """Render one shard in a worker process (one soundfont load per process, as in training)."""
    out_dir, split, soundfont, coarse, class_idx, shard, num_samples, seed, include_scores = args
    npy = Path(out_dir) / coarse / f"{shard:04d}.npy"
    if npy.exists() and npy.with_suffix(".json").exists():
        return "skip"
    source = _worker_source(split, soundfont, include_scores)
    rng = np.random.default_rng([seed, class_idx, shard])
    audio = np.zeros((SHARD, num_samples), dtype=np.float16)
    meta = []
    for i in range(SHARD):
        stem = source.draw(coarse, num_samples, rng)
        audio[i] = np.clip(stem.audio, -60000.0, 60000.0).astype(np.float16)
        meta.append({"fine": stem.fine, "piece": stem.piece, "program": int(stem.meta.get("program", -1))})
    save_shard(npy, audio, meta)
    return "done"


def save_shard(npy: Path, audio: np.ndarray, meta: list[dict]) -> None:
    """Write a shard's audio and metadata, each atomically (an interrupted write leaves no shard)."""
    npy.parent.mkdir(parents=True, exist_ok=True)
    tmp = npy.with_suffix(".tmp.npy")
    np.save(tmp, audio)
    tmp.replace(npy)
    tmp = npy.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta))
    tmp.replace(npy.with_suffix(".json"))


_SOURCES: dict = {}


def _worker_source(split: str, soundfont: str, include_scores: bool = True):
    from .source import CorpusStemSource

    key = (split, soundfont, include_scores)
    if key not in _SOURCES:
        _SOURCES[key] = CorpusStemSource(split=split, soundfont=soundfont, include_scores=include_scores)
    return _SOURCES[key]


def build_bank(split: str = "train", soundfont: str = "fluidr3", per_class: int = 1024,
               seconds: float = DEFAULT_SECONDS, classes: Sequence[str] | None = None, root: Path | None = None,
               workers: int = 2, seed: int = 7, sample_rate: int = 22050, progress: bool = True,
               include_scores: bool = True) -> Path:
    """Render (or complete) the bank of one split; returns its folder. Shards are interleaved over classes,
    so an interrupted build still holds every class. ``include_scores=False``: procedural pieces only
    (no music21 score cache needed; tests)."""
    out = bank_dir(root, split, soundfont)
    names = list(classes or _worker_source(split, soundfont, include_scores).classes)
    num_samples = int(round(seconds * sample_rate))
    info = {"split": split, "soundfont": soundfont, "num_samples": num_samples, "sample_rate": sample_rate,
            "seed": seed, "classes": names, "shard": SHARD}
    shards = -(-per_class // SHARD)
    jobs = [(str(out), split, soundfont, c, names.index(c), s, num_samples, seed, include_scores)
            for s in range(shards) for c in names]
    return render_shards(out / "bank.json", info, _render_shard, jobs, workers, f"bank {split}", progress)


def render_shards(info_path: Path, info: dict, render, jobs: list, workers: int, desc: str, progress: bool) -> Path:
    """Record ``info`` in ``info_path`` (refusing a folder that holds shards of another length or seed) and
    run ``render`` over ``jobs`` in worker processes; returns the folder."""
    from tqdm import tqdm

    out = info_path.parent
    if info_path.exists():
        old = json.loads(info_path.read_text())
        if old["num_samples"] != info["num_samples"] or old["seed"] != info["seed"]:
            raise CorpusError(f"{out} holds shards of another length or seed; use another --root")
    out.mkdir(parents=True, exist_ok=True)
    info_path.write_text(json.dumps(info))
    with ProcessPoolExecutor(max_workers=max(1, workers)) as pool:
        for _ in tqdm(pool.map(render, jobs), total=len(jobs), desc=desc, unit="shard", disable=not progress):
            pass
    return out


def read_shards(folder: Path) -> tuple[list[np.ndarray], list[dict]]:
    """The complete shards of one class folder, memory-mapped in order, and their items' metadata (a shard
    whose metadata is not written yet is skipped)."""
    shards, meta = [], []
    for npy in sorted(folder.glob("[0-9][0-9][0-9][0-9].npy")):
        if npy.with_suffix(".json").exists():
            shards.append(np.load(npy, mmap_mode="r"))
            meta += json.loads(npy.with_suffix(".json").read_text())
    return shards, meta


@dataclass
class _ClassStems:
    shards: list[np.ndarray]          # memory-mapped (SHARD, nb_samples) float16
    fine: list[str]
    piece: list[str]

    def __len__(self) -> int:
        return len(self.fine)

    def audio(self, index: int) -> np.ndarray:
        return self.shards[index // SHARD][index % SHARD]


class BankStemSource(StemSource):
    """Random crops of a rendered stem bank (see the module docstring); the StemSource contract plus
    :meth:`draw_query`, another clip of a class from another piece."""

    def __init__(self, directory: str | Path, classes: Sequence[str] | None = None):
        directory = Path(directory)
        info_path = directory / "bank.json"
        if not info_path.exists():
            raise CorpusError(f"{directory}: no stem bank here (build it with `eventsep corpus bank`)")
        info = json.loads(info_path.read_text())
        self.sample_rate = int(info["sample_rate"])
        self.stem_samples = int(info["num_samples"])
        self.stems: dict[str, _ClassStems] = {}
        for coarse in classes or info["classes"]:
            shards, meta = read_shards(directory / coarse)
            if shards:
                self.stems[coarse] = _ClassStems(shards, [m["fine"] for m in meta], [m["piece"] for m in meta])
        if not self.stems:
            raise CorpusError(f"{directory}: the stem bank is empty")
        self._by_fine = {c: _group(s.fine) for c, s in self.stems.items()}

    @property
    def classes(self) -> Sequence[str]:
        return list(self.stems)

    def fine_labels(self, coarse: str) -> Sequence[str]:
        return fine_labels_of(coarse)

    def __len__(self) -> int:
        return sum(len(s) for s in self.stems.values())

    def _crop(self, coarse: str, index: int, num_samples: int, rng: np.random.Generator) -> Stem:
        stems = self.stems[coarse]
        audio = stems.audio(index)
        if num_samples >= len(audio):
            out = np.zeros(num_samples, dtype=np.float32)
            out[:len(audio)] = audio
        else:
            start = int(rng.integers(len(audio) - num_samples + 1))
            out = np.asarray(audio[start:start + num_samples], dtype=np.float32)
        return Stem(out, self.sample_rate, coarse, stems.fine[index], stems.piece[index])

    def draw(self, coarse: str, num_samples: int, rng: np.random.Generator) -> Stem:
        if coarse not in self.stems:
            raise KeyError(f"unknown class {coarse!r}; this bank has {self.classes}")
        return self._crop(coarse, int(rng.integers(len(self.stems[coarse]))), num_samples, rng)

    def draw_query(self, target: Stem, num_samples: int, rng: np.random.Generator, same_fine: bool) -> Stem:
        """Another clip of ``target``'s class from another piece; of the same fine label when ``same_fine``
        and the bank has one from another piece (else any fine label of the class)."""
        stems = self.stems[target.coarse]
        pool = self._by_fine[target.coarse].get(target.fine, []) if same_fine else []
        for candidates in (pool, None):
            for _ in range(8):
                i = (int(candidates[int(rng.integers(len(candidates)))]) if candidates
                     else int(rng.integers(len(stems))))
                if stems.piece[i] != target.piece:
                    return self._crop(target.coarse, i, num_samples, rng)
            if candidates is None:
                break
        return self._crop(target.coarse, int(rng.integers(len(stems))), num_samples, rng)

    def segments(self, num_samples: int) -> Iterator[Stem]:
        rng = np.random.default_rng(0)
        for coarse, stems in self.stems.items():
            for i in range(len(stems)):
                yield self._crop(coarse, i, num_samples, rng)


def common_sample_rate(parts: Sequence, what: str) -> int:
    """The one sample rate of several renderings drawn as one (banks, ensembles); CorpusError otherwise."""
    if not parts:
        raise CorpusError(f"no {what} to mix")
    rates = {p.sample_rate for p in parts}
    if len(rates) > 1:
        raise CorpusError(f"{what} at different sample rates: {sorted(rates)}")
    return parts[0].sample_rate


def pick_in_proportion(sizes: Sequence[int], rng: np.random.Generator, what: str) -> int:
    """The index of one of several renderings, drawn in proportion to ``sizes`` (their items of a class)."""
    weights = np.asarray(sizes, np.float64)
    if not weights.sum():
        raise KeyError(what)
    return int(rng.choice(len(weights), p=weights / weights.sum()))


class BankMixture(StemSource):
    """Banks of one split rendered by several soundfonts, drawn from as one source: each draw picks a
    bank in proportion to its stems of the class; a query clip comes from any bank (so often another
    soundfont than the target's: the query names the class, not the synthesizer)."""

    def __init__(self, banks: Sequence[BankStemSource]):
        self.sample_rate = common_sample_rate(banks, "stem banks")
        self.banks = list(banks)
        self.stem_samples = min(b.stem_samples for b in banks)
        self._classes = list(dict.fromkeys(c for b in banks for c in b.classes))

    @property
    def classes(self) -> Sequence[str]:
        return self._classes

    def fine_labels(self, coarse: str) -> Sequence[str]:
        return fine_labels_of(coarse)

    def __len__(self) -> int:
        return sum(len(b) for b in self.banks)

    def _bank(self, coarse: str, rng: np.random.Generator) -> BankStemSource:
        sizes = [len(b.stems[coarse]) if coarse in b.stems else 0 for b in self.banks]
        return self.banks[pick_in_proportion(sizes, rng, f"unknown class {coarse!r}; these banks have {self.classes}")]

    def draw(self, coarse: str, num_samples: int, rng: np.random.Generator) -> Stem:
        return self._bank(coarse, rng).draw(coarse, num_samples, rng)

    def draw_query(self, target: Stem, num_samples: int, rng: np.random.Generator, same_fine: bool) -> Stem:
        return self._bank(target.coarse, rng).draw_query(target, num_samples, rng, same_fine)

    def segments(self, num_samples: int) -> Iterator[Stem]:
        for bank in self.banks:
            yield from bank.segments(num_samples)


def _group(labels: list[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        out.setdefault(label, []).append(i)
    return out


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))
