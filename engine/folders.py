"""Stem sources over folders users own: MUSDB18(-HQ)-style and Slakh2100-style layouts.

MUSDB18-HQ: ``ROOT/{train,test}/<track>/{vocals,drums,bass,other}.wav``.
Slakh2100:  ``ROOT/{train,validation,test}/<TrackNNNNN>/metadata.yaml`` + ``stems/SNN.flac``; the
``inst_class`` of each stem gives the coarse class and ``midi_program_name`` the fine label.
Excerpts are read lazily (seeking in the file), so the dataset never has to fit in memory.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import soundfile as sf

from .audio import load_audio, resample
from .errors import EventSepError
from .stems import Stem, StemSource, fit_length
from .taxonomy import coarse_from_musdb, coarse_from_slakh

MUSDB_STEMS = ("vocals", "drums", "bass", "other")
MUSDB_SPLITS = {"train": "train", "valid": "train", "test": "test"}
SLAKH_SPLITS = {"train": "train", "valid": "validation", "test": "test"}


def musdb_class(stem_name: str) -> str:
    """MUSDB stem name -> coarse class; ``other`` (everything else, no single class) stays ``other``."""
    return coarse_from_musdb(stem_name) or "other"


@dataclass
class FileStem:
    path: Path
    coarse: str
    fine: str
    piece: str


class FileStemSource(StemSource):
    """Stems as files on disk, any rate/channels (mixed down to mono, resampled to ``sample_rate``)."""

    def __init__(self, entries: Sequence[FileStem], sample_rate: int = 22050):
        if not entries:
            raise EventSepError("no stems found")
        self.sample_rate = sample_rate
        self.entries = list(entries)
        self._by_class: dict[str, list[FileStem]] = {}
        for e in self.entries:
            self._by_class.setdefault(e.coarse, []).append(e)

    @property
    def classes(self) -> Sequence[str]:
        return sorted(self._by_class)

    def fine_labels(self, coarse: str) -> Sequence[str]:
        return sorted({e.fine for e in self._by_class.get(coarse, [])})

    def _read(self, entry: FileStem, start_s: float | None, seconds: float | None) -> np.ndarray:
        info = sf.info(str(entry.path))
        start = 0 if start_s is None else int(start_s * info.samplerate)
        frames = -1 if seconds is None else int(np.ceil(seconds * info.samplerate)) + 64
        data, rate = sf.read(str(entry.path), start=start, frames=frames, dtype="float32", always_2d=True)
        return resample(data.mean(axis=1), rate, self.sample_rate)

    def draw(self, coarse: str, num_samples: int, rng: np.random.Generator) -> Stem:
        pool = self._by_class[coarse]
        entry = pool[int(rng.integers(len(pool)))]
        duration = sf.info(str(entry.path)).duration
        seconds = num_samples / self.sample_rate
        best, best_rms = None, -1.0
        for _ in range(4):  # a few tries to avoid silent windows
            start = float(rng.uniform(0, max(0.0, duration - seconds)))
            audio = fit_length(self._read(entry, start, seconds), num_samples)
            rms = float(np.sqrt(np.mean(audio ** 2)))
            if rms > best_rms:
                best, best_rms = audio, rms
            if rms > 1e-3:
                break
        return Stem(best, self.sample_rate, entry.coarse, entry.fine, entry.piece)

    def segments(self, num_samples: int) -> Iterator[Stem]:
        for entry in self.entries:
            audio, _ = load_audio(entry.path, self.sample_rate, mono=True)
            audio = audio[0]
            for start in range(0, max(1, len(audio) - num_samples + 1), num_samples):
                yield Stem(fit_length(audio[start:start + num_samples], num_samples), self.sample_rate,
                           entry.coarse, entry.fine, entry.piece)


def _split_dir(root: Path, split: str, names: dict[str, str], kind: str) -> Path:
    root = Path(root)
    if not root.is_dir():
        raise EventSepError(f"{root}: no such folder ({kind} layout expected)")
    folder = root / names.get(split, split)
    return folder if folder.is_dir() else root


def musdb_source(root: str | Path, split: str = "train", sample_rate: int = 22050) -> FileStemSource:
    """A MUSDB18-HQ-style folder. ``valid`` uses every 10th training track, ``train`` the others."""
    folder = _split_dir(Path(root), split, MUSDB_SPLITS, "MUSDB18")
    tracks = sorted(p for p in folder.iterdir() if p.is_dir())
    if split in ("train", "valid") and folder.name == "train":
        keep = (lambda i: i % 10 == 0) if split == "valid" else (lambda i: i % 10 != 0)
        tracks = [t for i, t in enumerate(tracks) if keep(i)]
    entries = []
    for track in tracks:
        for stem in MUSDB_STEMS:
            files = [p for p in track.glob(f"{stem}.*") if p.suffix.lower() in (".wav", ".flac")]
            if files:
                entries.append(FileStem(files[0], musdb_class(stem), stem, track.name))
    if not entries:
        raise EventSepError(f"{folder}: no MUSDB18-style tracks (<track>/vocals.wav ...) found")
    return FileStemSource(entries, sample_rate)


def slakh_source(root: str | Path, split: str = "train", sample_rate: int = 22050) -> FileStemSource:
    """A Slakh2100-style folder (``metadata.yaml`` per track, stems in ``stems/``)."""
    import yaml

    folder = _split_dir(Path(root), split, SLAKH_SPLITS, "Slakh2100")
    entries = []
    for meta_path in sorted(folder.glob("*/metadata.yaml")):
        track = meta_path.parent
        meta = yaml.safe_load(meta_path.read_text()) or {}
        audio_dir = track / meta.get("audio_dir", "stems")
        for stem_id, stem in (meta.get("stems") or {}).items():
            if not stem.get("audio_rendered", True):
                continue
            files = [p for p in audio_dir.glob(f"{stem_id}.*") if p.suffix.lower() in (".wav", ".flac")]
            if not files:
                continue
            try:
                coarse = coarse_from_slakh(stem.get("inst_class"), stem.get("program_num"),
                                           bool(stem.get("is_drum")))
            except KeyError as e:
                raise EventSepError(f"{meta_path}: stem {stem_id}: {e.args[0]}") from None
            fine = str(stem.get("midi_program_name") or coarse)
            entries.append(FileStem(files[0], coarse, fine, track.name))
    if not entries:
        raise EventSepError(f"{folder}: no Slakh2100-style tracks (<Track>/metadata.yaml) found")
    return FileStemSource(entries, sample_rate)
