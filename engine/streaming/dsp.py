"""Small numpy DSP helpers for the runtime: windows, FFT sizes, the model's STFT magnitude, FFT
resampling and slerp. Shapes: waveforms ``(..., nb_samples)``, spectrograms ``(..., nb_bins, nb_frames)``.
"""
from __future__ import annotations

import numpy as np


def hann(length: int) -> np.ndarray:
    """Periodic Hann window (``torch.hann_window``'s default), float64 ``(length,)``."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(length) / length)


def next_fast_len(n: int) -> int:
    """Smallest ``2^a 3^b 5^c >= n``: FFT sizes pocketfft handles fastest."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def stft_magnitude(waveform: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """``|STFT|`` exactly as ``engine.spectral.Stft`` computes it (periodic Hann, ``center=True``, zero
    padding): ``(..., nb_samples)`` -> ``(..., n_fft // 2 + 1, nb_samples // hop + 1)`` float32."""
    x = np.asarray(waveform, dtype=np.float64)
    pad = [(0, 0)] * (x.ndim - 1) + [(n_fft // 2, n_fft // 2)]
    x = np.pad(x, pad)
    frames = np.lib.stride_tricks.sliding_window_view(x, n_fft, axis=-1)[..., ::hop, :]
    spec = np.fft.rfft(frames * hann(n_fft), axis=-1)          # (..., frames, bins)
    return np.abs(spec).swapaxes(-1, -2).astype(np.float32)


def resample(audio: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling of ``(..., nb_samples)`` by zero-padding / truncating its spectrum.

    Used for reference clips only (a one-off on a control thread), so a whole-clip FFT is fine and needs
    nothing but numpy. Returns float32 ``(..., round(nb_samples * rate_out / rate_in))``.
    """
    x = np.asarray(audio, dtype=np.float64)
    if rate_in == rate_out:
        return x.astype(np.float32)
    n = x.shape[-1]
    m = max(1, int(round(n * rate_out / rate_in)))
    # pad to a fast FFT size with a short silent tail so the circular wrap-around stays out of the clip
    n_pad = next_fast_len(n + max(64, n // 16))
    m_pad = int(round(n_pad * rate_out / rate_in))
    spec = np.fft.rfft(x, n_pad, axis=-1)
    keep = min(spec.shape[-1], m_pad // 2 + 1)
    out_spec = np.zeros(x.shape[:-1] + (m_pad // 2 + 1,), dtype=np.complex128)
    out_spec[..., :keep] = spec[..., :keep]
    y = np.fft.irfft(out_spec, m_pad, axis=-1) * (m_pad / n_pad)
    return y[..., :m].astype(np.float32)


def slerp(z1: np.ndarray, z2: np.ndarray, alpha: float) -> np.ndarray:
    """Spherical interpolation of two latents (``engine.models.slerp`` in numpy); exact at 0 and 1,
    linear when they are (anti)parallel or one is zero."""
    alpha = float(alpha)
    z1 = np.asarray(z1, np.float64)
    z2 = np.asarray(z2, np.float64)
    if alpha == 0.0:
        return z1.astype(np.float32)
    if alpha == 1.0:
        return z2.astype(np.float32)
    n1, n2 = np.linalg.norm(z1), np.linalg.norm(z2)
    cos = float(np.clip(np.dot(z1, z2) / max(n1 * n2, 1e-12), -1.0, 1.0))
    theta = np.arccos(cos)
    s = np.sin(theta)
    if abs(s) <= 1e-6:
        return ((1 - alpha) * z1 + alpha * z2).astype(np.float32)
    return (np.sin((1 - alpha) * theta) / s * z1 + np.sin(alpha * theta) / s * z2).astype(np.float32)


SYNTHESES = ("short", "full")
SHORT_SYNTHESIS_HOPS = 3     # the short synthesis window spans the analysis window's last 3 hops


def synthesis_start(window: int, hop: int, synthesis: str) -> int:
    """Where the synthesis window starts in an analysis frame of ``window`` samples (a multiple of ``hop``):
    0 for ``"full"`` (the analysis window itself), the last ``SHORT_SYNTHESIS_HOPS`` hops for ``"short"``.
    Output waits for the last frame whose synthesis window covers it, so the model delay is the synthesis
    window's length minus a hop: ``short`` saves one hop (11.6 ms); ``benchmarks/short_synthesis.py``
    measures what it costs (-0.013 / -0.004 dB SI-SDRi on the valid look-alike sets)."""
    if synthesis not in SYNTHESES:
        raise ValueError(f"synthesis must be one of {SYNTHESES}, got {synthesis!r}")
    if synthesis == "full":
        return 0
    return max(0, window // hop - SHORT_SYNTHESIS_HOPS) * hop
