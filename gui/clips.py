"""Reference clips for the slots: decode once, keep a waveform outline for display and the latent."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.errors import EventSepError
from engine.streaming.query import latent_from_audio
from plugin_host.query import MAX_REFERENCE_SECONDS, QuerySpec, read_clip

OUTLINE_COLUMNS = 480


@dataclass(frozen=True)
class ClipView:
    """What a slot shows about a file: its full duration and format and a min/max outline of the part the
    Query-net hears (the first ``MAX_REFERENCE_SECONDS``)."""

    path: Path
    sample_rate: int
    channels: int
    seconds: float              # the whole file
    used_seconds: float         # the part encoded
    outline: np.ndarray         # (2, columns): min and max per column, mono mix

    def describe(self) -> str:
        ch = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels} ch")
        text = f"{format_duration(self.seconds)} · {self.sample_rate / 1000:g} kHz · {ch}"
        if self.seconds > self.used_seconds + 0.01:
            text += f" (first {self.used_seconds:.0f} s used)"
        return text


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def outline(audio: np.ndarray, columns: int = OUTLINE_COLUMNS) -> np.ndarray:
    """(channels, n) -> (2, columns) min/max of the mono mix; short clips get fewer columns."""
    mono = audio.mean(axis=0) if audio.ndim == 2 else audio
    columns = max(1, min(columns, mono.shape[-1]))
    edges = np.linspace(0, mono.shape[-1], columns + 1).astype(int)
    lo = np.minimum.reduceat(mono, edges[:-1])
    hi = np.maximum.reduceat(mono, edges[:-1])
    return np.stack([lo, hi]).astype(np.float32)


def _full_seconds(path: Path, fallback: float) -> float:
    from pedalboard.io import AudioFile

    try:
        with AudioFile(str(path)) as f:
            return float(f.frames) / float(f.samplerate)
    except Exception:       # read_clip already decoded the head; its length is the best we know
        return fallback


def view_clip(path: str | Path) -> tuple[ClipView, np.ndarray]:
    """Decode the encoded part of ``path`` -> (its view, the audio as (channels, n) float32)."""
    path = Path(path)
    audio, rate = read_clip(path, MAX_REFERENCE_SECONDS)
    used = audio.shape[-1] / rate
    view = ClipView(path, rate, audio.shape[0], _full_seconds(path, used), used, outline(audio))
    return view, audio


def file_query(models, path: str | Path) -> tuple[ClipView, QuerySpec]:
    """Heavy (run it off the UI thread): the view and the Query-net latent of a reference file. The file
    is decoded once for both; the latent is what ``SeparatorEffect.resolve_file`` would give."""
    view, audio = view_clip(path)
    z = latent_from_audio(models, audio, view.sample_rate)
    if not np.all(np.isfinite(z)):
        raise EventSepError(f"{path}: the Query-net gave a non-finite latent for this clip")
    return view, QuerySpec("file", str(path), z)
