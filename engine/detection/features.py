"""Log-mel front end in the PANNs / torchlibrosa layout.

The STFT is two fixed ``Conv1d`` filter banks (``stft.conv_real``, ``stft.conv_imag``: windowed DFT rows)
and the mel projection a fixed matrix ``melW`` (n_fft/2+1, n_mels, Slaney mel, Slaney norm, as
``librosa.filters.mel``). Keeping these as parameters with PANNs' names means a PANNs checkpoint loads
key for key. The conv form is what ONNX export uses (plain Conv ops); training uses ``torch.stft``
(an FFT, ~10x cheaper) over the same window, which gives the same numbers up to float rounding.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import FrontEndConfig


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    # Slaney: linear below 1 kHz (200/3 Hz per mel), logarithmic above (librosa's htk=False).
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log_part, mel)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    lin = m * (200.0 / 3)
    log_part = 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0))
    return np.where(m >= 15.0, log_part, lin)


def mel_matrix(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """Slaney-normalised triangular mel filters, ``(n_fft // 2 + 1, n_mels)`` float32."""
    freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - freqs[None, :]
    weights = np.zeros((n_mels, len(freqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.T.astype(np.float32)


def dft_kernels(n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed DFT rows as conv kernels ``(n_fft // 2 + 1, 1, n_fft)`` (real, imaginary)."""
    n = np.arange(n_fft)
    k = np.arange(n_fft // 2 + 1)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)          # periodic Hann (fftbins=True)
    phase = 2 * np.pi * np.outer(k, n) / n_fft
    real = (np.cos(phase) * window)[:, None, :]
    imag = (-np.sin(phase) * window)[:, None, :]
    return real.astype(np.float32), imag.astype(np.float32)


class STFT(nn.Module):
    """Power spectrogram. ``(batch, samples) -> (batch, 1, frames, n_fft // 2 + 1)``."""

    def __init__(self, cfg: FrontEndConfig):
        super().__init__()
        self.n_fft, self.hop, self.align = cfg.n_fft, cfg.hop, cfg.align
        bins = cfg.n_fft // 2 + 1
        self.conv_real = nn.Conv1d(1, bins, cfg.n_fft, stride=cfg.hop, bias=False)
        self.conv_imag = nn.Conv1d(1, bins, cfg.n_fft, stride=cfg.hop, bias=False)
        real, imag = dft_kernels(cfg.n_fft)
        with torch.no_grad():
            self.conv_real.weight.copy_(torch.from_numpy(real))
            self.conv_imag.weight.copy_(torch.from_numpy(imag))
        for p in self.parameters():
            p.requires_grad_(False)
        self.register_buffer("window", torch.hann_window(cfg.n_fft, periodic=True), persistent=False)
        # conv path for ONNX export and for checking; the FFT path is the fast default
        self.use_conv = False

    def num_frames(self, n: int) -> int:
        return -(-n // self.hop) if self.align == "label" else 1 + n // self.hop

    def _pad(self, x: torch.Tensor) -> torch.Tensor:
        if self.align == "label":
            # frame k spans [k*hop + hop/2 - n_fft/2, ... + n_fft): centred on the middle of its 10 ms
            left = self.n_fft // 2 - self.hop // 2
            frames = -(-x.shape[-1] // self.hop)
            right = (frames - 1) * self.hop + self.n_fft - left - x.shape[-1]
            return F.pad(x, (left, right))
        return F.pad(x[:, None, :], (self.n_fft // 2, self.n_fft // 2), mode="reflect")[:, 0, :]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._pad(x)
        if self.use_conv:
            x = x[:, None, :]
            power = self.conv_real(x) ** 2 + self.conv_imag(x) ** 2          # (B, bins, T)
        else:
            spec = torch.stft(x, self.n_fft, self.hop, window=self.window, center=False, return_complex=True)
            power = spec.real ** 2 + spec.imag ** 2
        return power.transpose(1, 2)[:, None]


class Spectrogram(nn.Module):
    """Wrapper so parameter names read ``spectrogram_extractor.stft.conv_real.weight`` as in PANNs."""

    def __init__(self, cfg: FrontEndConfig):
        super().__init__()
        self.stft = STFT(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stft(x)


class LogmelFilterBank(nn.Module):
    """``(batch, 1, frames, bins) -> (batch, 1, frames, n_mels)`` in dB (10 log10, amin 1e-10, ref 1)."""

    def __init__(self, cfg: FrontEndConfig):
        super().__init__()
        m = mel_matrix(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
        self.melW = nn.Parameter(torch.from_numpy(m), requires_grad=False)

    def forward(self, power: torch.Tensor) -> torch.Tensor:
        mel = torch.matmul(power, self.melW)
        return 10.0 * torch.log10(torch.clamp(mel, min=1e-10))


def frames_for(num_samples: int, cfg: FrontEndConfig) -> int:
    """Number of detector frames for ``num_samples`` input samples."""
    return -(-num_samples // cfg.hop) if cfg.align == "label" else 1 + num_samples // cfg.hop


def frame_seconds(cfg: FrontEndConfig) -> float:
    return cfg.hop / cfg.sample_rate


__all__ = ["STFT", "Spectrogram", "LogmelFilterBank", "mel_matrix", "dft_kernels", "frames_for",
           "frame_seconds"]
