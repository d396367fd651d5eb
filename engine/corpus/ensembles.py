"""Ensembles: parts of one piece rendered together, for training mixtures that are music.

The stem bank (:mod:`engine.corpus.bank`) mixes excerpts of different pieces: other keys, other tempi, notes
that rarely collide. The evaluation items are 2-4 parts of *one* piece at the same window and tempo
(:mod:`engine.corpus.evalset`), where the parts share harmony and rhythm, and the separator trained on bank
mixtures alone scored 2 dB lower on them than on its bank validation mixtures. An ensemble is drawn the way
an evaluation item is (:func:`engine.corpus.evalset.plan_ensemble`, from the split's own pieces: training
ensembles never hold an evaluation piece) and rendered once to disk like the bank; training mixes a share
of its examples from them (``--p-ensemble``).

Layout (resumable: a shard is written atomically and skipped when present)::

    ROOT/ensembles-<split>-<soundfont>/<class>/<shard:04d>.npy   float16 (SHARD, PARTS, nb_samples)
    ROOT/ensembles-<split>-<soundfont>/<class>/<shard:04d>.json  [{"piece", "coarse": [...], "fine": [...]}, ...]

Part 0 is the target (of ``<class>``), parts 1.. the others of the same piece; unused parts are silent
and have no entry in ``coarse``/``fine``.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from ..stems import Stem, StemSource
from ..taxonomy import CORE_CLASSES
from .bank import (DEFAULT_SECONDS, SHARD, bank_root, common_sample_rate, pick_in_proportion, read_shards,
                   render_shards, save_shard)
from .paths import CorpusError

PARTS = 4                     # the target and at most 3 others, as in the evaluation items


def ensembles_dir(root: Path | None, split: str, soundfont: str) -> Path:
    return Path(root or bank_root()) / f"ensembles-{split}-{soundfont}"


_PIECES: dict = {}


def _pieces(split: str, include_scores: bool):
    from .evalset import split_pieces

    key = (split, include_scores)
    if key not in _PIECES:
        _PIECES[key] = sorted(split_pieces(split, include_scores=include_scores), key=lambda p: (p.source, p.id))
    return _PIECES[key]


def _render_shard(args: tuple) -> str:
    """Render one shard of ensembles in a worker process."""
    from .evalset import ensemble_pools, plan_ensemble
    from .source import realize

    out_dir, split, soundfont, coarse, class_idx, shard, num_samples, seed, include_scores, sample_rate = args
    npy = Path(out_dir) / coarse / f"{shard:04d}.npy"
    if npy.exists() and npy.with_suffix(".json").exists():
        return "skip"
    pieces = _pieces(split, include_scores)
    pools = [ensemble_pools(coarse, pieces, k) for k in range(2)]
    rng = np.random.default_rng([seed, class_idx, shard])
    audio = np.zeros((SHARD, PARTS, num_samples), dtype=np.float16)
    meta = []
    for i in range(SHARD):
        piece, tplan, others = plan_ensemble(i, coarse, pieces, rng, num_samples, sample_rate, pools[i % 2])
        stems = [realize(plan, piece, soundfont, sample_rate) for plan in [tplan, *others]]
        for j, stem in enumerate(stems):
            audio[i, j] = np.clip(stem.audio, -60000.0, 60000.0).astype(np.float16)
        meta.append({"piece": piece.id, "coarse": [s.coarse for s in stems], "fine": [s.fine for s in stems]})
    save_shard(npy, audio, meta)
    return "done"


def build_ensembles(split: str = "train", soundfont: str = "fluidr3", per_class: int = 512,
                    seconds: float = DEFAULT_SECONDS, classes: Sequence[str] = CORE_CLASSES,
                    root: Path | None = None, workers: int = 2, seed: int = 11, sample_rate: int = 22050,
                    progress: bool = True, include_scores: bool = True) -> Path:
    """Render (or complete) the ensembles of one split, ``per_class`` per target class (rounded up to whole
    shards, interleaved over classes so an interrupted build holds every class); returns the folder."""
    out = ensembles_dir(root, split, soundfont)
    num_samples = int(round(seconds * sample_rate))
    info = {"split": split, "soundfont": soundfont, "num_samples": num_samples, "sample_rate": sample_rate,
            "seed": seed, "classes": list(classes), "shard": SHARD, "parts": PARTS}
    shards = -(-per_class // SHARD)
    jobs = [(str(out), split, soundfont, c, i, s, num_samples, seed, include_scores, sample_rate)
            for s in range(shards) for i, c in enumerate(classes)]
    return render_shards(out / "ensembles.json", info, _render_shard, jobs, workers, f"ensembles {split}",
                         progress)


@dataclass
class _ClassEnsembles:
    shards: list[np.ndarray]          # memory-mapped (SHARD, PARTS, nb_samples) float16
    meta: list[dict]


class Ensembles:
    """Random crops of rendered ensembles: :meth:`draw` gives the target part and the others of one
    ensemble, all cropped at the same place."""

    def __init__(self, directory: str | Path):
        directory = Path(directory)
        info_path = directory / "ensembles.json"
        if not info_path.exists():
            raise CorpusError(f"{directory}: no ensembles here (build them with `eventsep corpus ensembles`)")
        info = json.loads(info_path.read_text())
        self.sample_rate = int(info["sample_rate"])
        self.by_class: dict[str, _ClassEnsembles] = {}
        for coarse in info["classes"]:
            shards, meta = read_shards(directory / coarse)
            if shards:
                self.by_class[coarse] = _ClassEnsembles(shards, meta)
        if not self.by_class:
            raise CorpusError(f"{directory}: no ensembles rendered yet")

    @property
    def classes(self) -> list[str]:
        return list(self.by_class)

    def __len__(self) -> int:
        return sum(len(e.meta) for e in self.by_class.values())

    def draw(self, coarse: str, num_samples: int, rng: np.random.Generator) -> list[Stem]:
        """The target part (of ``coarse``) then the other parts of a random ensemble."""
        ens = self.by_class[coarse]
        index = int(rng.integers(len(ens.meta)))
        parts, meta = ens.shards[index // SHARD][index % SHARD], ens.meta[index]
        length = parts.shape[-1]
        start = int(rng.integers(length - num_samples + 1)) if num_samples < length else 0
        stems = []
        for j, (c, fine) in enumerate(zip(meta["coarse"], meta["fine"])):
            audio = np.zeros(num_samples, dtype=np.float32)
            piece = np.asarray(parts[j, start:start + num_samples], dtype=np.float32)
            audio[:len(piece)] = piece
            stems.append(Stem(audio, self.sample_rate, c, fine, meta["piece"]))
        return stems


class EnsembleMixture:
    """Ensembles of one split rendered by several soundfonts, drawn from as one: each draw picks a
    soundfont in proportion to its ensembles of the class (as :class:`~engine.corpus.bank.BankMixture` does
    for stems)."""

    def __init__(self, sets: Sequence[Ensembles]):
        self.sample_rate = common_sample_rate(sets, "ensembles")
        self.sets = list(sets)

    @property
    def classes(self) -> list[str]:
        return list(dict.fromkeys(c for e in self.sets for c in e.classes))

    def __len__(self) -> int:
        return sum(len(e) for e in self.sets)

    def draw(self, coarse: str, num_samples: int, rng: np.random.Generator) -> list[Stem]:
        sizes = [len(e.by_class[coarse].meta) if coarse in e.by_class else 0 for e in self.sets]
        return self.sets[pick_in_proportion(sizes, rng, f"no ensembles of class {coarse!r}")].draw(coarse, num_samples, rng)


class WithEnsembles(StemSource):
    """A stem source (the bank) and the ensembles of the same split: draws, query clips and segments are
    the source's; training takes :attr:`ensembles` for its ensemble share (``TrainConfig.p_ensemble``)."""

    def __init__(self, source: StemSource, ensembles: Ensembles | EnsembleMixture):
        if getattr(source, "sample_rate", ensembles.sample_rate) != ensembles.sample_rate:
            raise CorpusError(f"ensembles at {ensembles.sample_rate} Hz, stems at {source.sample_rate} Hz")
        self.source = source
        self.ensembles = ensembles
        self.sample_rate = ensembles.sample_rate

    @property
    def classes(self) -> Sequence[str]:
        return self.source.classes

    def fine_labels(self, coarse: str) -> Sequence[str]:
        return self.source.fine_labels(coarse)

    def __len__(self) -> int:
        return len(self.source)

    def draw(self, coarse: str, num_samples: int, rng: np.random.Generator) -> Stem:
        return self.source.draw(coarse, num_samples, rng)

    def draw_query(self, target: Stem, num_samples: int, rng: np.random.Generator, same_fine: bool) -> Stem:
        from ..querymix import draw_query

        return draw_query(self.source, target, num_samples, rng, same_fine)

    def segments(self, num_samples: int) -> Iterator[Stem]:
        return self.source.segments(num_samples)
