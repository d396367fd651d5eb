"""Combining the U-Net's and the generative separator's estimates in the STFT domain (the poster's step b).

Both estimates are resampled to a common rate, aligned in time (the lag that maximises their
cross-correlation, within ``max_lag_ms``), RMS-normalised (the generative estimate takes the U-Net's RMS:
the U-Net's level follows the mixture, the flow's is a sample), then mixed per STFT bin with a weight
``w(f)`` on the U-Net and ``1 - w(f)`` on the generative estimate:

- ``rate``: ``w(f) = weight`` for every frequency;
- ``band``: ``w = 1`` below ``crossover_hz``, ``0`` above (low band from the U-Net, high band from the
  generative model, which is meant to restore highs);
- ``progressive``: ``w`` falls smoothly from 1 to 0 as a logistic of log-frequency centred on
  ``crossover_hz`` with width ``width_octaves``;
- ``unet`` / ``flow``: one model alone (``w = 1`` / ``w = 0``).
"""
from __future__ import annotations

import numpy as np
import torch

from .audio import match_length, resample
from .text_options import ENSEMBLES, EnsembleConfig  # noqa: F401  (re-exported: the pipeline's names)


def unet_weight(freqs: np.ndarray, cfg: EnsembleConfig) -> np.ndarray:
    """``w(f)`` of the docstring for bin frequencies ``freqs`` (Hz)."""
    if cfg.mode == "rate":
        return np.full_like(freqs, cfg.weight, dtype=np.float64)
    if cfg.mode == "unet":
        return np.ones_like(freqs, dtype=np.float64)
    if cfg.mode == "flow":
        return np.zeros_like(freqs, dtype=np.float64)
    if cfg.mode == "band":
        return (freqs < cfg.crossover_hz).astype(np.float64)
    octaves = np.log2(np.maximum(freqs, 1.0) / cfg.crossover_hz)
    return 1.0 / (1.0 + np.exp(octaves * 4.0 / max(cfg.width_octaves, 1e-3)))


def best_lag(reference: np.ndarray, other: np.ndarray, max_lag: int) -> int:
    """The shift (samples) of ``other`` that best matches ``reference`` (mono ``(samples,)``), |lag| <=
    max_lag; positive = ``other`` is late."""
    if max_lag <= 0:
        return 0
    n = len(reference)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    xc = np.fft.irfft(np.fft.rfft(other, size) * np.conj(np.fft.rfft(reference, size)), size)
    lags = np.r_[np.arange(0, max_lag + 1), np.arange(-max_lag, 0)]
    values = np.r_[xc[:max_lag + 1], xc[-max_lag:]]
    return int(lags[int(np.argmax(values))])


def _shift(x: np.ndarray, lag: int) -> np.ndarray:
    """Advance ``x`` (``(..., samples)``) by ``lag`` samples (delay when negative), zero-filled."""
    if lag == 0:
        return x
    out = np.zeros_like(x)
    if lag > 0:
        out[..., :-lag] = x[..., lag:]
    else:
        out[..., -lag:] = x[..., :lag]
    return out


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def combine(unet: np.ndarray, flow: np.ndarray, sample_rate: int, cfg: EnsembleConfig | None = None
            ) -> tuple[np.ndarray, dict]:
    """Combine two estimates ``(nb_channels, nb_samples)`` at ``sample_rate``; returns the combination at
    ``sample_rate`` (same shape) and what was done (lag, gain)."""
    cfg = cfg or EnsembleConfig()
    cfg.check()
    unet = np.asarray(unet, np.float32)
    flow = np.asarray(flow, np.float32)
    if cfg.mode == "unet":
        return unet.copy(), {"lag_samples": 0, "flow_gain": 0.0}
    n = unet.shape[-1]
    u = resample(unet, sample_rate, cfg.rate)
    g = match_length(resample(flow, sample_rate, cfg.rate), u.shape[-1])
    lag = best_lag(u.mean(axis=0), g.mean(axis=0), int(cfg.max_lag_ms * 1e-3 * cfg.rate))
    g = _shift(g, lag)
    gain = _rms(u) / _rms(g) if _rms(g) > 1e-9 else 0.0
    g = g * gain
    window = torch.hann_window(cfg.n_fft)
    stft = lambda x: torch.stft(torch.from_numpy(x.astype(np.float32)), cfg.n_fft, cfg.hop, window=window,  # noqa: E731
                                center=True, return_complex=True)
    su, sg = stft(u), stft(g)                                       # (C, F, T)
    freqs = np.fft.rfftfreq(cfg.n_fft, 1.0 / cfg.rate)
    w = torch.from_numpy(unet_weight(freqs, cfg).astype(np.float32))[None, :, None]
    mixed = w * su + (1 - w) * sg
    out = torch.istft(mixed, cfg.n_fft, cfg.hop, window=window, center=True, length=u.shape[-1]).numpy()
    out = match_length(resample(out, cfg.rate, sample_rate), n)
    return out.astype(np.float32), {"lag_samples": lag, "flow_gain": gain}
