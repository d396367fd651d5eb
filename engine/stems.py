"""The stem-source interface: where training, class latents and benchmarks get class-labelled stems.

A *stem* is one instrument part of one piece, mono, at the source's sample rate. Anything that can hand
out stems by coarse class plugs into training: the rendered corpus (``engine.corpus``), MUSDB18-style and
Slakh2100-style folders (``engine.folders``), and the synthetic tones/noise source used by the tests.

The contract is small on purpose:

- ``classes``: the coarse classes this source can give (names from the taxonomy, e.g. ``"piano"``);
- ``draw(coarse, num_samples, rng)``: a random excerpt of a random stem of that class (random mixing
  across pieces, as in the thesis), preferring excerpts where the stem actually sounds;
- ``segments(num_samples)``: a deterministic pass over every stem cut into excerpts, for class-mean
  latents and evaluation.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np

# Frame rate of activity labels: 10 ms frames (220.5 samples at 22050 Hz, hence fractional edges).
LABEL_FRAME_SECONDS = 0.010


@dataclass
class Stem:
    """One mono excerpt of one instrument part.

    audio: ``(nb_samples,)`` float32 at ``sample_rate``.
    activity: optional ``(nb_frames,)`` float32 in [0, 1], 10 ms frames, 1 where the part sounds.
    """

    audio: np.ndarray
    sample_rate: int
    coarse: str
    fine: str = ""
    piece: str = ""
    activity: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.audio = np.asarray(self.audio, dtype=np.float32)
        if self.audio.ndim != 1:
            raise ValueError(f"Stem audio must be mono (nb_samples,), got shape {self.audio.shape}")
        if not self.fine:
            self.fine = self.coarse


class StemSource(ABC):
    """A collection of class-labelled stems (see the module docstring for the contract)."""

    sample_rate: int = 22050

    @property
    @abstractmethod
    def classes(self) -> Sequence[str]:
        """Coarse classes this source can draw from."""

    @abstractmethod
    def draw(self, coarse: str, num_samples: int, rng: np.random.Generator) -> Stem:
        """A random excerpt of ``num_samples`` samples of a random stem of class ``coarse``."""

    @abstractmethod
    def segments(self, num_samples: int) -> Iterator[Stem]:
        """Every stem cut into consecutive excerpts of ``num_samples`` (a deterministic order)."""

    def fine_labels(self, coarse: str) -> Sequence[str]:
        """Fine labels under ``coarse`` (default: the coarse name only)."""
        return [coarse]


def fit_length(audio: np.ndarray, num_samples: int) -> np.ndarray:
    """Zero-pad or crop a 1-D signal to exactly ``num_samples``."""
    if len(audio) >= num_samples:
        return audio[:num_samples]
    return np.pad(audio, (0, num_samples - len(audio)))


def pick_excerpt(audio: np.ndarray, num_samples: int, rng: np.random.Generator, tries: int = 8,
                 min_rms: float = 1e-3) -> tuple[np.ndarray, int]:
    """A random window of ``audio``, retried a few times to avoid windows of near silence.

    Returns the excerpt (exactly ``num_samples`` long) and its start sample.
    """
    if len(audio) <= num_samples:
        return fit_length(audio, num_samples), 0
    best, best_start, best_rms = None, 0, -1.0
    for _ in range(tries):
        start = int(rng.integers(0, len(audio) - num_samples + 1))
        excerpt = audio[start:start + num_samples]
        rms = float(np.sqrt(np.mean(excerpt.astype(np.float64) ** 2)))
        if rms > best_rms:
            best, best_start, best_rms = excerpt, start, rms
        if rms >= min_rms:
            break
    return best, best_start


class ArrayStemSource(StemSource):
    """Stems held in memory: ``{coarse: [Stem, ...]}``. Useful for small folders and tests."""

    def __init__(self, stems: Sequence[Stem], sample_rate: int = 22050):
        self.sample_rate = sample_rate
        self._by_class: dict[str, list[Stem]] = {}
        for stem in stems:
            if stem.sample_rate != sample_rate:
                raise ValueError(f"stem at {stem.sample_rate} Hz in a {sample_rate} Hz source")
            self._by_class.setdefault(stem.coarse, []).append(stem)
        if not self._by_class:
            raise ValueError("an ArrayStemSource needs at least one stem")

    @property
    def classes(self) -> Sequence[str]:
        return sorted(self._by_class)

    def fine_labels(self, coarse: str) -> Sequence[str]:
        return sorted({s.fine for s in self._by_class.get(coarse, [])})

    def stems_of(self, coarse: str) -> list[Stem]:
        return self._by_class[coarse]

    def draw(self, coarse: str, num_samples: int, rng: np.random.Generator) -> Stem:
        pool = self._by_class[coarse]
        stem = pool[int(rng.integers(len(pool)))]
        excerpt, _ = pick_excerpt(stem.audio, num_samples, rng)
        return Stem(excerpt, self.sample_rate, stem.coarse, stem.fine, stem.piece)

    def segments(self, num_samples: int) -> Iterator[Stem]:
        for coarse in self.classes:
            for stem in self._by_class[coarse]:
                for start in range(0, max(1, len(stem.audio) - num_samples + 1), num_samples):
                    yield Stem(fit_length(stem.audio[start:start + num_samples], num_samples),
                               self.sample_rate, stem.coarse, stem.fine, stem.piece)


class SyntheticStemSource(StemSource):
    """Two classes that a tiny model can learn in seconds: ``tones`` (harmonic notes) and ``noise``
    (band-limited noise bursts). Deterministic from the rng it is handed; used by tests and demos of the
    training loop, never for the shipped model.
    """

    def __init__(self, sample_rate: int = 22050):
        self.sample_rate = sample_rate

    @property
    def classes(self) -> Sequence[str]:
        return ["noise", "tones"]

    def draw(self, coarse: str, num_samples: int, rng: np.random.Generator) -> Stem:
        if coarse == "tones":
            audio = self._tones(num_samples, rng)
        elif coarse == "noise":
            audio = self._noise(num_samples, rng)
        else:
            raise KeyError(f"unknown synthetic class {coarse!r}; known: {list(self.classes)}")
        return Stem(audio, self.sample_rate, coarse, coarse, "synthetic")

    def segments(self, num_samples: int, count: int = 16, seed: int = 1234) -> Iterator[Stem]:
        rng = np.random.default_rng(seed)
        for coarse in self.classes:
            for _ in range(count):
                yield self.draw(coarse, num_samples, rng)

    def _tones(self, n: int, rng: np.random.Generator) -> np.ndarray:
        sr = self.sample_rate
        out = np.zeros(n, dtype=np.float64)
        t = 0
        while t < n:
            dur = int(rng.uniform(0.15, 0.5) * sr)
            f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
            tt = np.arange(min(dur, n - t)) / sr
            note = sum((0.6 ** k) * np.sin(2 * np.pi * f0 * (k + 1) * tt) for k in range(6))
            env = np.minimum(1.0, tt / 0.01) * np.exp(-tt * rng.uniform(1.0, 4.0))
            out[t:t + len(tt)] += note * env
            t += dur
        return (0.3 * out / (np.abs(out).max() + 1e-9)).astype(np.float32)

    def _noise(self, n: int, rng: np.random.Generator) -> np.ndarray:
        from scipy.signal import butter, sosfilt

        sr = self.sample_rate
        out = np.zeros(n, dtype=np.float64)
        t = int(rng.integers(0, sr // 10))
        while t < n:
            dur = int(rng.uniform(0.05, 0.25) * sr)
            burst = rng.standard_normal(min(dur, n - t))
            env = np.exp(-np.arange(len(burst)) / (0.3 * dur))
            out[t:t + len(burst)] += burst * env
            t += dur + int(rng.uniform(0.05, 0.3) * sr)
        sos = butter(4, 2000.0, btype="highpass", fs=sr, output="sos")
        out = sosfilt(sos, out)
        return (0.3 * out / (np.abs(out).max() + 1e-9)).astype(np.float32)
