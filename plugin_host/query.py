"""Queries for the effect's slots A and B: a reference audio file, a class name, or a latent.

A :class:`QuerySpec` always carries its latent, so setting it on a running effect is one cheap swap;
resolving a file (decode + Query-net) is the heavy part and happens on the caller's thread (the OSC
bridge does it on its loader thread, never on the audio thread).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import EventSepError
from engine.taxonomy import find_class
from engine.streaming.bundle import BundleInfo, MaskModel
from engine.streaming.query import check_latent, latent_from_audio, latent_from_class

# A reference longer than this is cut: the Query-net averages over segment-long windows, and a whole
# album sent by mistake must not occupy the loader for minutes.
MAX_REFERENCE_SECONDS = 60.0
KINDS = ("file", "class", "latent")


@dataclass(frozen=True, eq=False)
class QuerySpec:
    """One query: ``kind`` is "file", "class" or "latent"; ``value`` the path or class name (None for a
    raw latent); ``latent`` the ``(latent_dim,)`` float32 vector the separator is conditioned on."""

    kind: str
    value: str | None
    latent: np.ndarray

    def describe(self) -> str:
        if self.kind == "latent":
            return "latent"
        return f"{self.kind} {self.value}"

    def same_as(self, other: "QuerySpec | None") -> bool:
        return (other is not None and self.kind == other.kind and self.value == other.value
                and np.array_equal(self.latent, other.latent))


def _frozen(z: np.ndarray) -> np.ndarray:
    z = np.array(z, dtype=np.float32)
    z.flags.writeable = False
    return z


def canonical_class(info: BundleInfo, name: str) -> str | None:
    """The bundle's own spelling of a class name or fine label (case/spacing insensitive), or None."""
    found = find_class(info.class_latents, name)
    return None if found is None else found[1]


def read_clip(path: str | Path, max_seconds: float = MAX_REFERENCE_SECONDS) -> tuple[np.ndarray, int]:
    """Decode up to ``max_seconds`` of an audio file -> (``(channels, n)`` float32, rate)."""
    from pedalboard.io import AudioFile

    path = Path(path)
    if not path.exists():
        raise EventSepError(f"{path}: no such file")
    if path.is_dir():
        raise EventSepError(f"{path}: is a folder, not an audio file")
    try:
        with AudioFile(str(path)) as f:
            rate = float(f.samplerate)
            audio = f.read(min(int(f.frames), int(max_seconds * rate)))
    except EventSepError:
        raise
    except Exception as e:  # pedalboard raises ValueError/RuntimeError with its decoder's words
        raise EventSepError(f"{path}: not a readable audio file ({e})") from None
    if audio.shape[-1] == 0:
        raise EventSepError(f"{path}: the file holds no audio")
    if rate != int(rate):
        raise EventSepError(f"{path}: fractional sample rate {rate} is not supported")
    return np.asarray(audio, np.float32), int(rate)


def query_from_file(models: MaskModel, path: str | Path) -> QuerySpec:
    audio, rate = read_clip(path)
    z = latent_from_audio(models, audio, rate)
    return QuerySpec("file", str(path), _frozen(z))


def query_from_class(info: BundleInfo, name: str) -> QuerySpec:
    z = latent_from_class(info, name)        # raises with the list of known classes
    return QuerySpec("class", canonical_class(info, name) or name, _frozen(z))


def query_from_latent(info: BundleInfo, z) -> QuerySpec:
    return QuerySpec("latent", None, _frozen(check_latent(info, z)))


def coerce_query(models: MaskModel, value) -> QuerySpec | None:
    """What a user may assign to ``effect.query_a``: None (clear), a :class:`QuerySpec`, a
    :class:`~pathlib.Path` (audio file), a numpy array or list (latent), or a string: a known class name
    first, else an existing audio file."""
    info = models.info
    if value is None:
        return None
    if isinstance(value, QuerySpec):
        if value.kind not in KINDS:
            raise EventSepError(f"query kind must be one of {KINDS}, got {value.kind!r}")
        return QuerySpec(value.kind, value.value, _frozen(check_latent(info, value.latent)))
    if isinstance(value, Path):
        return query_from_file(models, value)
    if isinstance(value, (np.ndarray, list, tuple)):
        return query_from_latent(info, value)
    if isinstance(value, str):
        if canonical_class(info, value) is not None:
            return query_from_class(info, value)
        if Path(value).exists():
            return query_from_file(models, value)
        coarse = sorted(info.class_latents.get("coarse", {}))
        raise EventSepError(f"{value!r} is neither a class name this model knows nor an existing audio file; "
                            f"classes: {', '.join(coarse)}")
    raise EventSepError(f"a query must be a class name, an audio file path or a latent, got {type(value).__name__}")
