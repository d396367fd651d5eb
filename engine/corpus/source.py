"""``CorpusStemSource``: the rendered corpus behind the stem-source interface (``engine.stems``).

Stems are rendered on the fly (FluidSynth, ~100x+ real time per core; one soundfont load per worker
process), so training never waits on disk: a 6 s stem costs some 10-40 ms of CPU in the DataLoader worker.

How a stem of class ``c`` is drawn (:meth:`CorpusStemSource.draw`):

1. a piece of the split: a music21 score (any melodic class; a score's *lowest* part for ``bass``) or a
   procedural piece (a part whose role may play ``c``: :data:`engine.corpus.procedural.ROLE_CLASSES`;
   drums only come from here), chosen with probability ``procedural_share`` when both can give ``c``;
2. a GM program drawn uniformly within ``c`` (a drum kit for ``drums``), the part moved by octaves into a
   comfortable register of that program, a tempo factor (0.85-1.15, scores only), velocity scale and jitter;
3. a window that starts near a random note of the part (so the stem sounds), rendered with a 1 s pre-roll
   so notes held into the window sound naturally; retried when the window holds no note;
4. level: RMS over the frames where the part sounds set to -20 dBFS, then a gain of -6..+3 dB; optional
   seeded convolution reverb (``reverb_prob``).

Every choice is a :class:`StemPlan`; :func:`realize` turns a plan into audio + labels deterministically,
so a stem can be re-rendered bit-identically (the evaluation set relies on this).
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Iterator, Sequence

import numpy as np

from ..stems import LABEL_FRAME_SECONDS, Stem, StemSource, fit_length
from ..taxonomy import (COARSE_CLASSES, CORE_CLASSES, DRUM_KITS, drum_kit_name, fine_labels_of, program_to_fine,
                        programs_of)
from .labels import activity_from_notes, frame_mask
from .paths import CorpusError
from .procedural import ROLE_CLASSES, generate_piece
from .render import add_reverb, db_to_gain, render_notes
from .scores import Part, Piece, load_score_cache
from .splits import check_split, procedural_seeds, split_of

MELODIC_CLASSES: tuple[str, ...] = (
    "piano", "bass", "guitar", "strings", "synth_pad", "pipe", "brass", "organ", "reed", "voice",
    "synth_lead", "chromatic_percussion", "ethnic")
DEFAULT_CLASSES: tuple[str, ...] = CORE_CLASSES + ("organ", "reed", "voice", "synth_lead",
                                                   "chromatic_percussion", "ethnic")
TARGET_RMS_DB = -20.0
DEFAULT_PROCEDURAL_POOL = 4000
DEFAULT_SPEECH_POOL = 20000
SPEECH_SEGMENT_SEEDS = 200

# Comfortable register (median MIDI pitch) per class, with per-program overrides.
CLASS_RANGE = {"piano": (50, 74), "chromatic_percussion": (62, 86), "organ": (50, 74), "guitar": (50, 70),
               "bass": (33, 47), "strings": (52, 80), "voice": (52, 72), "brass": (52, 74),
               "reed": (52, 76), "pipe": (64, 86), "synth_lead": (58, 82), "synth_pad": (50, 74),
               "synth_effects": (50, 76), "ethnic": (52, 76), "percussive": (48, 72),
               "sound_effects": (50, 76)}
PROGRAM_RANGE = {40: (64, 86), 41: (55, 74), 42: (43, 62), 43: (33, 48), 46: (50, 80), 44: (52, 76),
                 56: (62, 80), 57: (45, 64), 58: (33, 50), 59: (62, 80), 60: (50, 70),
                 64: (62, 82), 65: (56, 76), 66: (48, 68), 67: (40, 58), 68: (62, 84), 69: (55, 74),
                 70: (40, 60), 71: (52, 78), 72: (76, 96), 73: (64, 88), 74: (64, 86),
                 8: (64, 90), 9: (72, 96), 10: (66, 90), 12: (55, 80), 13: (66, 92), 14: (60, 80)}


@dataclass(frozen=True)
class StemPlan:
    """Everything that decides one rendered stem (JSON-able; :func:`realize` is deterministic)."""
    piece: str
    part: int
    coarse: str
    program: int
    is_drum: bool
    start_s: float
    num_samples: int
    transpose: int = 0
    time_scale: float = 1.0
    velocity_scale: float = 1.0
    velocity_seed: int = 0
    gain_db: float = 0.0
    reverb_seed: int = -1            # -1: dry


def comfortable_range(coarse: str, program: int) -> tuple[int, int]:
    return PROGRAM_RANGE.get(program, CLASS_RANGE.get(coarse, (48, 76)))


def octave_shift(notes: np.ndarray, coarse: str, program: int) -> int:
    """Octaves (in semitones) that bring the part's median pitch into the program's register."""
    if len(notes) == 0:
        return 0
    lo, hi = comfortable_range(coarse, program)
    med = float(np.median(notes[:, 2]))
    shift = 12 * int(round(((lo + hi) / 2 - med) / 12))
    while med + shift > hi and shift > -48:
        shift -= 12
    while med + shift < lo and shift < 48:
        shift += 12
    return shift


def transformed_notes(part: Part, plan: StemPlan) -> np.ndarray:
    """The part's notes as they are rendered: time-scaled, transposed, velocity-scaled and jittered."""
    n = part.notes.astype(np.float64).copy()
    if len(n) == 0:
        return n.reshape(0, 4)
    n[:, 0] *= plan.time_scale
    n[:, 1] *= plan.time_scale
    if not plan.is_drum:
        n[:, 2] = np.clip(n[:, 2] + plan.transpose, 0, 127)
    jitter = np.random.default_rng(plan.velocity_seed).normal(0.0, 6.0, len(n))
    n[:, 3] = np.clip(np.round(n[:, 3] * plan.velocity_scale + jitter), 1, 127)
    return n


def realize(plan: StemPlan, piece: Piece, soundfont: str = "fluidr3", sample_rate: int = 22050,
            normalize: bool = True) -> Stem:
    """Render a plan: the stem's audio, its 10 ms activity labels and its metadata."""
    part = piece.parts[plan.part]
    notes = transformed_notes(part, plan)
    dur = plan.num_samples / sample_rate
    audio = render_notes(notes, plan.program, dur, is_drum=plan.is_drum, soundfont=soundfont,
                         sample_rate=sample_rate, start_s=plan.start_s)
    audio = fit_length(audio, plan.num_samples)
    activity = activity_from_notes(notes, plan.start_s, dur, LABEL_FRAME_SECONDS)
    if normalize:
        audio = audio * _level(audio, activity, sample_rate, plan.gain_db)
    if plan.reverb_seed >= 0:
        audio = add_reverb(audio, np.random.default_rng(plan.reverb_seed), sample_rate)
    fine = drum_kit_name(plan.program) if plan.is_drum else program_to_fine(plan.program)
    meta = asdict(plan)
    meta.update(source=piece.source, part_name=part.name, soundfont=soundfont)
    return Stem(audio.astype(np.float32), sample_rate, plan.coarse, fine, piece.id, activity, meta)


def _level(audio: np.ndarray, activity: np.ndarray, sr: int, gain_db: float) -> float:
    """Gain that puts the RMS over the sounding frames at TARGET_RMS_DB + gain_db."""
    mask = frame_mask(activity, len(audio), sr)
    x = audio[mask] if mask.any() else audio
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0
    if rms < 1e-7:
        return 1.0
    return db_to_gain(TARGET_RMS_DB + gain_db) / rms


def _seed(*parts) -> int:
    return int.from_bytes(hashlib.sha1(":".join(map(str, parts)).encode()).digest()[:4], "big")


def lowest_part(piece: Piece) -> int:
    meds = [float(np.median(p.notes[:, 2])) if len(p.notes) else 1e9 for p in piece.parts]
    return int(np.argmin(meds))


def part_candidates(piece: Piece, coarse: str) -> list[int]:
    """Parts of ``piece`` that may be rendered as ``coarse``."""
    if piece.source == "procedural":
        return [i for i, p in enumerate(piece.parts) if coarse in ROLE_CLASSES.get(p.name, ())]
    if coarse not in MELODIC_CLASSES:
        return []
    if coarse == "bass":
        return [lowest_part(piece)]
    return [i for i, p in enumerate(piece.parts) if len(p.notes)]


def draw_plan(piece: Piece, part: int, coarse: str, num_samples: int, rng: np.random.Generator,
              sample_rate: int = 22050, reverb_prob: float = 0.0, program: int | None = None) -> StemPlan:
    """Random rendering choices for one part of one piece (a window near one of its notes)."""
    is_drum = coarse == "drums"
    if program is None:
        pool = sorted(DRUM_KITS) if is_drum else programs_of(coarse)
        program = int(pool[int(rng.integers(len(pool)))])
    p = piece.parts[part]
    time_scale = float(rng.uniform(0.85, 1.15)) if piece.source == "music21" else 1.0
    transpose = 0 if is_drum else octave_shift(p.notes, coarse, program)
    dur = num_samples / sample_rate
    end = p.end * time_scale
    if len(p.notes):
        onset = float(p.notes[int(rng.integers(len(p.notes))), 0]) * time_scale
        start = onset - float(rng.uniform(0.0, 0.6)) * dur
        start = float(np.clip(start, 0.0, max(0.0, end - 0.5 * dur)))
    else:
        start = 0.0
    start = round(start, 4)
    return StemPlan(piece=piece.id, part=part, coarse=coarse, program=program, is_drum=is_drum,
                    start_s=start, num_samples=int(num_samples), transpose=transpose,
                    time_scale=round(time_scale, 4), velocity_scale=round(float(rng.uniform(0.75, 1.15)), 4),
                    velocity_seed=int(rng.integers(2 ** 31)), gain_db=round(float(rng.uniform(-6.0, 3.0)), 3),
                    reverb_seed=int(rng.integers(2 ** 31)) if rng.random() < reverb_prob else -1)


@lru_cache(maxsize=512)
def procedural_piece(seed: int) -> Piece:
    return generate_piece(seed)


class CorpusStemSource(StemSource):
    """Stems of the rendered corpus for one split, rendered on the fly.

    Args:
        split: ``train``, ``valid`` or ``test`` (pieces never cross splits: :mod:`engine.corpus.splits`).
        soundfont: ``fluidr3`` (training), ``musescore`` or ``timgm`` (unseen-timbre tests), or a path.
        classes: coarse classes to offer (default: those of the 8 core classes + organ, reed, voice,
            synth_lead, chromatic_percussion, ethnic that the split's pieces can give; naming a class that
            no piece can give raises CorpusError).
        include_scores: use the music21 note-list cache (raises a clear error when it was not built).
        procedural_pool: procedural seeds ``0..N-1`` form the procedural pool (split by seed).
        procedural_share: probability of drawing from a procedural piece when scores can give the class.
        reverb_prob: probability that a drawn stem gets the seeded convolution reverb.
        pieces: explicit pieces to use instead of the cache + pool (tests, experiments); they are still
            filtered by ``split`` unless ``filter_split=False``.
        sample_rate: output rate (the model's 22050 Hz by default).
        speech_pool: speech seeds ``0..N-1`` (split by seed) when ``speech`` is among ``classes``; speech
            is opt-in (pass it in ``classes``) and needs the ``espeak-ng`` Debian package.
    """

    def __init__(self, split: str = "train", soundfont: str = "fluidr3", classes: Sequence[str] | None = None,
                 include_scores: bool = True, procedural_pool: int = DEFAULT_PROCEDURAL_POOL,
                 procedural_share: float = 0.5, reverb_prob: float = 0.25,
                 pieces: Sequence[Piece] | None = None, filter_split: bool = True,
                 sample_rate: int = 22050, cache_root=None, speech_pool: int = DEFAULT_SPEECH_POOL):
        self.split = check_split(split)
        self.soundfont = soundfont
        self.sample_rate = int(sample_rate)
        self.reverb_prob = float(reverb_prob)
        self.procedural_share = float(procedural_share)
        if pieces is not None:
            chosen = [p for p in pieces if not filter_split or split_of(p.id) == split]
            self.score_pieces = [p for p in chosen if p.source != "procedural"]
            self._proc_explicit = [p for p in chosen if p.source == "procedural"]
            self.proc_seeds: list[int] = []
        else:
            self.score_pieces = [p for p in load_score_cache(cache_root, required=include_scores)
                                 if split_of(p.id) == split] if include_scores else []
            self._proc_explicit = []
            self.proc_seeds = procedural_seeds(split, procedural_pool)
        self.score_pieces.sort(key=lambda p: p.id)
        self.speech_seeds: list[int] = []
        if classes is None:
            self._classes = [c for c in DEFAULT_CLASSES if self._has_class(c)]
        else:
            self._classes = list(classes)
        if "speech" in self._classes:
            from . import speech

            speech.espeak_path()                  # clear error naming the Debian package if missing
            self.speech_seeds = [s for s in range(int(speech_pool)) if split_of(f"speech:{s:06d}") == split]
        for c in self._classes:
            if c not in COARSE_CLASSES:
                raise CorpusError(f"unknown class {c!r}; known coarse classes: {', '.join(COARSE_CLASSES)}")
            if not self._has_class(c):
                raise CorpusError(f"class {c!r} cannot be drawn from this corpus split "
                                  f"(no piece offers it); pass classes= without it")

    # -- the StemSource contract -------------------------------------------------------------------
    @property
    def classes(self) -> Sequence[str]:
        return list(self._classes)

    def fine_labels(self, coarse: str) -> Sequence[str]:
        return fine_labels_of(coarse)

    def draw(self, coarse: str, num_samples: int, rng: np.random.Generator) -> Stem:
        """A random excerpt of a random stem of class ``coarse`` (see the module docstring)."""
        if coarse not in self._classes:
            raise KeyError(f"unknown class {coarse!r}; this source has {self._classes}")
        if coarse == "speech":
            from .speech import speech_stem

            seed = int(self.speech_seeds[int(rng.integers(len(self.speech_seeds)))])
            stem = speech_stem(seed, num_samples, rng, self.sample_rate, gain_db=float(rng.uniform(-6.0, 3.0)))
            if rng.random() < self.reverb_prob:
                stem.audio = add_reverb(stem.audio, np.random.default_rng(int(rng.integers(2 ** 31))),
                                        self.sample_rate)
            return stem
        stem = None
        for _ in range(6):
            piece, part = self._pick(coarse, rng)
            plan = draw_plan(piece, part, coarse, num_samples, rng, self.sample_rate, self.reverb_prob)
            stem = realize(plan, piece, self.soundfont, self.sample_rate)
            if stem.activity is not None and stem.activity.max() > 0 and np.abs(stem.audio).max() > 0:
                return stem
        return stem

    def segments(self, num_samples: int, max_pieces: int | None = None) -> Iterator[Stem]:
        """Every stem of the split, in a fixed order, cut into consecutive excerpts of ``num_samples``.

        Each part of each piece has one canonical class and program (:meth:`canonical_assignment`), dry,
        at its own tempo; windows where the part has no note are skipped. With ``speech`` among the
        classes, one excerpt of each of the first 200 speech seeds of the split comes first.
        """
        if "speech" in self._classes:
            from .speech import speech_stem

            for seed in self.speech_seeds[:SPEECH_SEGMENT_SEEDS]:
                yield speech_stem(seed, num_samples, np.random.default_rng(seed), self.sample_rate)
        for piece in self._all_pieces(max_pieces):
            for part_idx, coarse, program in self.canonical_assignment(piece):
                if coarse not in self._classes:
                    continue
                part = piece.parts[part_idx]
                dur = num_samples / self.sample_rate
                transpose = 0 if coarse == "drums" else octave_shift(part.notes, coarse, program)
                n_win = max(1, int(np.ceil(part.end / dur)))
                for w in range(n_win):
                    plan = StemPlan(piece.id, part_idx, coarse, program, coarse == "drums", round(w * dur, 6),
                                    int(num_samples), transpose, 1.0, 1.0, _seed(piece.id, part_idx, w), 0.0, -1)
                    on = part.notes[:, 0]
                    off = on + part.notes[:, 1]
                    if not np.any((off > plan.start_s) & (on < plan.start_s + dur)):
                        continue
                    yield realize(plan, piece, self.soundfont, self.sample_rate)

    # -- helpers ----------------------------------------------------------------------------------
    def canonical_assignment(self, piece: Piece) -> list[tuple[int, str, int]]:
        """One (part, coarse class, program) per part of ``piece``, fixed by the piece id."""
        return canonical_assignment(piece)

    def _all_pieces(self, max_pieces: int | None = None) -> list[Piece]:
        out = list(self.score_pieces) + list(self._proc_explicit)
        out += [procedural_piece(s) for s in self.proc_seeds[: (max_pieces or len(self.proc_seeds))]]
        return out[:max_pieces] if max_pieces else out

    def _has_class(self, coarse: str) -> bool:
        if coarse == "speech":
            return True
        if coarse in MELODIC_CLASSES and self.score_pieces:
            return True
        if self.proc_seeds:
            return any(coarse in v for v in ROLE_CLASSES.values())
        return any(part_candidates(p, coarse) for p in self._proc_explicit)

    def _pick(self, coarse: str, rng: np.random.Generator) -> tuple[Piece, int]:
        score_ok = coarse in MELODIC_CLASSES and bool(self.score_pieces)
        proc_ok = bool(self.proc_seeds) or any(part_candidates(p, coarse) for p in self._proc_explicit)
        use_proc = proc_ok and (not score_ok or rng.random() < self.procedural_share)
        if not use_proc:
            piece = self.score_pieces[int(rng.integers(len(self.score_pieces)))]
            cands = part_candidates(piece, coarse)
            return piece, int(cands[int(rng.integers(len(cands)))])
        for _ in range(50):
            if self.proc_seeds:
                piece = procedural_piece(int(self.proc_seeds[int(rng.integers(len(self.proc_seeds)))]))
            else:
                piece = self._proc_explicit[int(rng.integers(len(self._proc_explicit)))]
            cands = part_candidates(piece, coarse)
            if cands:
                return piece, int(cands[int(rng.integers(len(cands)))])
        raise CorpusError(f"no procedural piece offers class {coarse!r}")


def canonical_assignment(piece: Piece) -> list[tuple[int, str, int]]:
    """The fixed class/program of every part of a piece (used by ``segments`` and ``stats``).

    Scores: the lowest part is ``bass`` in half of the pieces with 3+ parts; the other parts get classes
    drawn from the melodic classes (core ones three times as likely), distinct within a piece where
    possible. Procedural parts: a class their role allows.
    """
    rng = np.random.default_rng(_seed("canonical", piece.id))
    out = []
    if piece.source == "procedural":
        for i, p in enumerate(piece.parts):
            options = ROLE_CLASSES.get(p.name, ())
            if not options:
                continue
            c = options[int(rng.integers(len(options)))]
            pool = sorted(DRUM_KITS) if c == "drums" else programs_of(c)
            out.append((i, c, int(pool[int(rng.integers(len(pool)))])))
        return out
    weights = np.array([3.0 if c in CORE_CLASSES else 1.0 for c in MELODIC_CLASSES])
    used: set[str] = set()
    low = lowest_part(piece)
    bass_low = len(piece.parts) >= 3 and rng.random() < 0.5
    for i, p in enumerate(piece.parts):
        if i == low and bass_low:
            c = "bass"
        else:
            w = weights.copy()
            for j, name in enumerate(MELODIC_CLASSES):
                if name in used or name == "bass":
                    w[j] = 0.0
            if w.sum() == 0:
                w = weights.copy()
            c = MELODIC_CLASSES[int(rng.choice(len(MELODIC_CLASSES), p=w / w.sum()))]
        used.add(c)
        pool = programs_of(c)
        out.append((i, c, int(pool[int(rng.integers(len(pool)))])))
    return out
