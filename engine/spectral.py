"""The one STFT/iSTFT pair of EventSep (n_fft 1024, hop 256, Hann; thesis settings).

Shapes follow open-unmix: waveforms ``(nb_samples, nb_channels, nb_timesteps)`` — here written
``(..., nb_timesteps)`` — and spectrograms ``(..., nb_bins, nb_frames)`` complex.
"""
from __future__ import annotations

import torch
from torch import nn

from .config import StftConfig


class Stft(nn.Module):
    """Forward and inverse STFT with ``center=True`` so a signal's length survives the round trip."""

    def __init__(self, config: StftConfig | None = None):
        super().__init__()
        self.config = config or StftConfig()
        if self.config.window != "hann":
            raise ValueError(f"only the Hann window is supported, got {self.config.window!r}")
        self.register_buffer("window", torch.hann_window(self.config.n_fft), persistent=False)

    @property
    def n_fft(self) -> int:
        return self.config.n_fft

    @property
    def hop_length(self) -> int:
        return self.config.hop_length

    def num_frames(self, num_samples: int) -> int:
        return num_samples // self.hop_length + 1

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(..., nb_timesteps)`` real -> ``(..., nb_bins, nb_frames)`` complex."""
        lead = waveform.shape[:-1]
        flat = waveform.reshape(-1, waveform.shape[-1])
        spec = torch.stft(flat, self.n_fft, self.hop_length, window=self.window.to(flat.dtype),
                          center=True, pad_mode="constant", return_complex=True)
        return spec.reshape(*lead, *spec.shape[-2:])

    def inverse(self, spec: torch.Tensor, length: int) -> torch.Tensor:
        """``(..., nb_bins, nb_frames)`` complex -> ``(..., length)`` real."""
        lead = spec.shape[:-2]
        flat = spec.reshape(-1, *spec.shape[-2:])
        wav = torch.istft(flat, self.n_fft, self.hop_length, window=self.window.to(flat.real.dtype),
                          center=True, length=length)
        return wav.reshape(*lead, length)


def magnitude_features(magnitude: torch.Tensor) -> torch.Tensor:
    """What the networks see of a magnitude spectrogram: log-compressed, so quiet parts count too."""
    return torch.log1p(magnitude)
