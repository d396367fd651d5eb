"""Temporal masks from a detector's probability curve (the poster's step c), and applying them.

- ``soft``: a smooth 0-1 gain. ``g = smoothstep(min(p / threshold, 1))``: 1 where the class is detected
  with at least ``threshold`` (poster default 0.55), falling smoothly to 0 as p -> 0; then smoothed over
  ``smooth_ms`` with a Hann kernel and interpolated linearly between frame centres to the sample rate.
- ``root``: ``g = sqrt(min(p / threshold, 1))``, smoothed and interpolated as ``soft``: a knee that stays
  open longer below the threshold (the square root rises fastest near 0), so a target the curve is less
  sure of keeps more of its level; picked with the target-activity model of issue 18 on validation data.
- ``hard``: 1 where ``p >= threshold``, else 0, held per frame, then every edge turned into a raised-cosine
  fade of ``fade_ms`` (a Hann-kernel convolution) so the gain never steps: a gated signal does not click.
- ``none``: all ones.

Curves are ``(frames,)`` with frame k describing ``[k, k + 1) * frame_seconds`` (the detector's frames).
"""
from __future__ import annotations

import numpy as np

MODES = ("soft", "root", "hard", "none")


def _hann_kernel(length: int) -> np.ndarray:
    length = max(1, int(length))
    k = np.hanning(length + 2)[1:-1]
    return k / k.sum()


def hann_smooth(x: np.ndarray, length: int) -> np.ndarray:
    """``x`` convolved with a ``length``-point Hann kernel (unit sum), its ends padded with their own values:
    the smoothing every mask here applies (and the studies of masks, benchmarks/temporal_mask_sweep.py)."""
    if length <= 1:
        return x
    k = _hann_kernel(length)
    pad = len(k) // 2
    # edge padding: the gain at the ends keeps its own value instead of fading towards 0
    y = np.convolve(np.pad(x, (pad, len(k) - 1 - pad), mode="edge"), k, mode="valid")
    return y


def knee_gain(prob: np.ndarray, threshold: float, mode: str = "soft") -> np.ndarray:
    """The per-frame gain of a ``soft`` (smoothstep) or ``root`` (square-root) knee, before smoothing:
    0 at p = 0, 1 from p = ``threshold`` on."""
    x = np.minimum(np.clip(prob, 0.0, 1.0) / threshold, 1.0)
    return np.sqrt(x) if mode == "root" else x * x * (3.0 - 2.0 * x)


def temporal_mask(prob: np.ndarray, num_samples: int, sample_rate: int, mode: str = "soft",
                  threshold: float = 0.55, frame_seconds: float = 0.01, smooth_ms: float = 50.0,
                  fade_ms: float = 20.0) -> np.ndarray:
    """Gain ``(num_samples,)`` float32 in [0, 1] from a probability curve ``(frames,)``."""
    if mode not in MODES:
        raise ValueError(f"unknown mask mode {mode!r}; one of {MODES}")
    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    if mode == "none":
        return np.ones(num_samples, np.float32)
    p = np.clip(np.nan_to_num(np.asarray(prob, np.float64)), 0.0, 1.0)
    t_samples = (np.arange(num_samples) + 0.5) / sample_rate
    frame_idx = np.minimum((t_samples / frame_seconds).astype(np.int64), len(p) - 1)
    if mode == "hard":
        step = (p >= threshold).astype(np.float64)[frame_idx]
        gain = hann_smooth(step, int(round(fade_ms * 1e-3 * sample_rate)))
    else:
        g = hann_smooth(knee_gain(p, threshold, mode), int(round(smooth_ms * 1e-3 / frame_seconds)))
        centres = (np.arange(len(p)) + 0.5) * frame_seconds
        gain = np.interp(t_samples, centres, g)
    return np.clip(gain, 0.0, 1.0).astype(np.float32)


def apply_temporal_mask(signal: np.ndarray, prob: np.ndarray, sample_rate: int, mode: str = "soft",
                        threshold: float = 0.55, frame_seconds: float = 0.01, domain: str = "time",
                        n_fft: int = 1024, hop: int = 256, **kw) -> np.ndarray:
    """Gate a separated signal ``(..., samples)`` by the class's probability curve.

    ``domain="time"`` multiplies the samples by the gain; ``domain="stft"`` multiplies every STFT frame
    (Hann, ``n_fft``/``hop``) by the gain at its centre and resynthesises (overlap-add smooths it further),
    which is how issue 9's pipeline combines it with spectral masks. The output has the input's shape.
    """
    signal = np.asarray(signal, np.float32)
    n = signal.shape[-1]
    gain = temporal_mask(prob, n, sample_rate, mode, threshold, frame_seconds, **kw)
    if domain == "time":
        return signal * gain
    if domain != "stft":
        raise ValueError(f"domain must be 'time' or 'stft', got {domain!r}")
    import torch

    x = torch.from_numpy(signal.reshape(-1, n))
    window = torch.hann_window(n_fft)
    spec = torch.stft(x, n_fft, hop, window=window, center=True, return_complex=True)   # (C, F, T)
    centres = np.minimum(np.arange(spec.shape[-1]) * hop, n - 1)
    spec = spec * torch.from_numpy(gain[centres]).to(spec.real.dtype)
    y = torch.istft(spec, n_fft, hop, window=window, center=True, length=n)
    return y.numpy().reshape(signal.shape).astype(np.float32)
