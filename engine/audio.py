"""Audio files in and out (WAV, FLAC, OGG, MP3...) and high-quality resampling.

Arrays are ``(nb_channels, nb_samples)`` float32 everywhere in EventSep.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioFileError

SUPPORTED_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".w64", ".m4a")


def _read_with_pedalboard(path: Path) -> tuple[np.ndarray, int]:
    from pedalboard.io import AudioFile

    with AudioFile(str(path)) as f:
        audio = f.read(f.frames)
        return np.asarray(audio, dtype=np.float32), int(round(f.samplerate))


def load_audio(path: str | os.PathLike, sample_rate: int | None = None, mono: bool = False
               ) -> tuple[np.ndarray, int]:
    """Read an audio file as ``(nb_channels, nb_samples)`` float32.

    sample_rate: resample to this rate when given (else the file's own rate is kept).
    mono: average the channels into one.
    Returns ``(audio, rate)``. Raises :class:`AudioFileError` for a missing, unreadable, empty or
    zero-length file.
    """
    path = Path(path)
    if not path.exists():
        raise AudioFileError(f"{path}: no such file")
    if path.is_dir():
        raise AudioFileError(f"{path}: is a folder, not an audio file")
    if path.stat().st_size == 0:
        raise AudioFileError(f"{path}: the file is empty (0 bytes)")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
        audio = data.T
    except Exception as sf_error:  # libsndfile does not know it: try pedalboard's decoders (m4a...)
        try:
            audio, rate = _read_with_pedalboard(path)
        except Exception:
            raise AudioFileError(f"{path}: not a readable audio file ({sf_error})") from None
    if audio.shape[-1] == 0:
        raise AudioFileError(f"{path}: the file holds no audio (zero length)")
    audio = np.ascontiguousarray(audio, dtype=np.float32)
    if mono and audio.shape[0] > 1:
        audio = audio.mean(axis=0, keepdims=True)
    if sample_rate is not None and sample_rate != rate:
        audio = resample(audio, rate, sample_rate)
        rate = sample_rate
    return audio, int(rate)


WRITE_FORMATS = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".mp3": "MP3", ".aif": "AIFF", ".aiff": "AIFF",
                 ".w64": "W64"}


def output_format(path: str | Path) -> str:
    """The soundfile format :func:`save_audio` writes ``path`` in; a one-line AudioFileError for an extension
    it cannot write."""
    ext = Path(path).suffix.lower()
    if ext not in WRITE_FORMATS:
        raise AudioFileError(f"{path}: cannot write '{ext or '(no extension)'}' files; use .wav, .flac, .ogg or .mp3")
    return WRITE_FORMATS[ext]


def save_audio(path: str | os.PathLike, audio: np.ndarray, sample_rate: int, subtype: str | None = None
               ) -> Path:
    """Write ``(nb_channels, nb_samples)`` or ``(nb_samples,)`` audio; the format follows the extension.

    WAV and FLAC get 24-bit PCM by default unless ``subtype`` says otherwise (float WAV: "FLOAT").
    Samples beyond [-1, 1] are kept in float formats and clipped in integer ones (never wrapped).
    """
    path = Path(path)
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    fmt = output_format(path)
    if subtype is None:
        subtype = {"WAV": "PCM_24", "FLAC": "PCM_24", "AIFF": "PCM_24", "W64": "PCM_24",
                   "OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}[fmt]
    if not subtype.startswith(("FLOAT", "DOUBLE")):
        audio = np.clip(audio, -1.0, 1.0)
    ensure_writable(path)
    try:
        sf.write(str(path), audio.T, int(sample_rate), subtype=subtype, format=fmt)
    except (OSError, sf.LibsndfileError) as e:
        raise AudioFileError(f"{path}: cannot write this file ({_short_reason(e)})") from None
    return path


def _short_reason(error: Exception) -> str:
    text = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text


def ensure_writable(path: str | Path) -> Path:
    """Create ``path``'s folder if needed and check that a file can be written there; raises
    AudioFileError with a one-line reason otherwise (called before long work, so none is lost)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise AudioFileError(f"{path}: cannot create its folder ({e.strerror or e})") from None
    if path.is_dir():
        raise AudioFileError(f"{path}: is a folder, not a file name")
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise AudioFileError(f"{path}: not writable (permission denied)")
    return path


def input_clash(src: str | Path, outputs) -> str | None:
    """Why ``src`` cannot be processed with these ``outputs`` (None entries skipped): one of them is ``src``
    itself, which the run would write over after reading it; None when none is."""
    for out in outputs:
        if out is not None and Path(out).resolve() == Path(src).resolve():
            return f"{out}: is the input file itself; choose another output name"
    return None


def refuse_existing(paths, overwrite: bool) -> None:
    """Raise a one-line AudioFileError when any of ``paths`` (None entries skipped) already exists and
    ``overwrite`` is not set: called before the work, so a rerun never replaces a file unasked."""
    if overwrite:
        return
    existing = [Path(p) for p in paths if p is not None and Path(p).exists()]
    if existing:
        if len(existing) == 1:
            raise AudioFileError(f"{existing[0]}: already exists (pass --overwrite to replace it)")
        raise AudioFileError(f"{existing[0]}: already exists, as do {len(existing) - 1} more of the outputs "
                             f"(pass --overwrite to replace them)")


def refuse_shared_outputs(writes) -> None:
    """``writes``: ``(input, output or None)`` pairs of one run, each input once with each of its outputs.
    Raise a one-line AudioFileError when two of them name the same file (``a/song.wav`` and ``b/song.flac``
    both giving ``OUT/song.wav``, or an output that is also the residual): the second would replace the
    first, so the command stops before any work."""
    writer: dict[Path, Path] = {}
    for src, out in writes:
        if out is None:
            continue
        key = Path(out).resolve()
        if key in writer:
            first = writer[key]
            if first == Path(src):
                raise AudioFileError(f"{out}: is both the output and the residual of {src}; give the residual "
                                     f"another name")
            raise AudioFileError(f"{out}: both {first} and {src} would be written there; "
                                 f"process them in two runs or rename one")
        writer[key] = Path(src)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Resample ``(..., nb_samples)`` with soxr's very-high-quality filter (linear phase)."""
    if rate_in == rate_out:
        return np.asarray(audio, dtype=np.float32)
    audio = np.asarray(audio, dtype=np.float32)
    lead = audio.shape[:-1]
    flat = audio.reshape(-1, audio.shape[-1])
    # soxr wants (frames, channels)
    out = soxr.resample(flat.T, rate_in, rate_out, quality="VHQ")
    out = np.asarray(out, dtype=np.float32).reshape(-1, flat.shape[0]).T
    return out.reshape(*lead, out.shape[-1])


def match_length(audio: np.ndarray, num_samples: int) -> np.ndarray:
    """Crop or zero-pad the last axis to ``num_samples``."""
    n = audio.shape[-1]
    if n >= num_samples:
        return audio[..., :num_samples]
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, num_samples - n)]
    return np.pad(audio, pad)


def is_audio_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in SUPPORTED_EXTENSIONS
