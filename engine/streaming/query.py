"""Query latents for the runtime: from a reference clip (Query-net in ONNX), a class name (class-mean
latents stored in the bundle) or a latent given directly. numpy + onnxruntime only.

The clip path mirrors :func:`engine.separate.encode_clip`: mono, model rate, mu of the Query-net averaged
over segment-long windows, silent windows ignored unless all are silent.
"""
from __future__ import annotations

import numpy as np

from ..errors import EventSepError
from ..taxonomy import find_class
from .bundle import BundleInfo, MaskModel
from .dsp import resample, stft_magnitude
from .validate import check_sample_rate

SILENCE_RMS = 1e-4  # as engine.separate


def _windows(mono: np.ndarray, window: int) -> list[np.ndarray]:
    if mono.shape[-1] <= window:
        return [mono]
    starts = list(range(0, mono.shape[-1] - window + 1, window))
    windows = [mono[s:s + window] for s in starts]
    if mono.shape[-1] - (starts[-1] + window) > window // 2:
        windows.append(mono[-window:])
    return windows


def latent_from_audio(models: MaskModel, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Latent of a reference clip ``(nb_channels, nb_samples)`` or ``(nb_samples,)`` at any rate ->
    ``(latent_dim,)`` float32. NaN/Inf samples count as silence."""
    info = models.info
    sample_rate = check_sample_rate(sample_rate)
    x = np.asarray(audio)
    if x.dtype.kind != "f" or x.ndim not in (1, 2) or x.size == 0:
        raise EventSepError(f"a reference clip must be a non-empty float array (nb_channels, nb_samples) "
                            f"or (nb_samples,), got {x.dtype} with shape {x.shape}")
    x = np.nan_to_num(x.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    mono = x.mean(axis=0) if x.ndim == 2 else x
    mono = resample(mono, sample_rate, info.sample_rate)
    if mono.shape[-1] < info.n_fft:
        raise EventSepError(
            f"the reference clip is too short ({mono.shape[-1] / info.sample_rate * 1000:.0f} ms); it needs "
            f"at least one STFT frame ({info.n_fft / info.sample_rate * 1000:.0f} ms), ideally a few seconds")
    windows = _windows(mono, info.segment_samples)
    loud = [w for w in windows if float(np.sqrt(np.mean(w.astype(np.float64) ** 2))) > SILENCE_RMS]
    windows = loud or windows
    mus = []
    for length in sorted({w.shape[-1] for w in windows}):
        batch = np.stack([w for w in windows if w.shape[-1] == length])
        mag = stft_magnitude(batch, info.n_fft, info.hop_length)
        short = info.query_min_frames - mag.shape[-1]
        if short > 0:  # too short for the conv stack: pad with silence, as the PyTorch model does
            mag = np.pad(mag, ((0, 0), (0, 0), (0, short)))
        mus.append(models.encode(mag))
    return np.concatenate(mus).mean(axis=0).astype(np.float32)


def latent_from_class(info: BundleInfo, name: str) -> np.ndarray:
    """Class-mean latent by coarse class or fine label (case and spacing insensitive)."""
    if not isinstance(name, str):
        raise EventSepError(f"a class name must be a string, got {type(name).__name__}")
    coarse, fine = info.class_latents.get("coarse", {}), info.class_latents.get("fine", {})
    if not coarse and not fine:
        raise EventSepError("this model has no class latents (export it from a checkpoint after "
                            "'eventsep latents'); use a reference clip instead")
    found = find_class(info.class_latents, name)
    if found is not None:
        level, key = found
        return np.asarray(info.class_latents[level][key], np.float32)
    raise EventSepError(f"unknown class {name!r}; coarse classes: {', '.join(sorted(coarse))} "
                        f"(and {len(fine)} fine labels: see class_names())")


def check_latent(info: BundleInfo, z) -> np.ndarray:
    z = np.asarray(z, dtype=np.float32).reshape(-1) if np.ndim(z) else None
    if z is None or z.shape != (info.latent_dim,):
        raise EventSepError(f"a latent must have {info.latent_dim} values")
    if not np.isfinite(z).all():
        raise EventSepError("a latent must be finite (no NaN or Inf)")
    return z
