"""Velocity network of the generative separator: a small FiLM-conditioned 2-D U-Net.

Shapes: features ``(nb_samples, nb_bins, nb_frames)`` with ``nb_bins = n_fft / 2`` (Nyquist dropped),
flow time ``t`` ``(nb_samples,)`` in [0, 1], class latent ``z`` ``(nb_samples, latent_dim)``.
Plain module: tensors in, tensors out, no I/O.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import FlowConfig


def time_features(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding ``(nb_samples, dim)`` of flow times ``(nb_samples,)`` in [0, 1]."""
    half = dim // 2
    freqs = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(1000.0) / max(1, half - 1)))
    angles = 1000.0 * t[:, None].float() * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class FiLMBlock(nn.Module):
    """3x3 conv -> group norm -> FiLM(cond) -> SiLU."""

    def __init__(self, in_ch: int, out_ch: int, cond_dim: int, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1)
        self.norm = nn.GroupNorm(min(4, out_ch), out_ch, affine=False)
        self.film = nn.Linear(cond_dim, 2 * out_ch)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(cond)[:, :, None, None].chunk(2, dim=1)
        return F.silu(self.norm(self.conv(x)) * (1 + scale) + shift)


class VelocityNet(nn.Module):
    """v(x_t, t | mixture, z): U-Net over (frequency, time) with strided-conv downsampling by 2 on both
    axes per level, nearest upsampling and skip connections; every block is FiLM-conditioned on an MLP of
    [time embedding, z]."""

    def __init__(self, config: FlowConfig):
        super().__init__()
        self.config = config
        chans = list(config.channels)
        self.depth = len(chans)
        self.multiple = 2 ** (self.depth - 1)
        self.nb_bins = config.stft.n_fft // 2
        if self.nb_bins % self.multiple:
            raise ValueError(f"{self.nb_bins} bins do not halve {self.depth - 1} times")
        c = config.cond_dim
        self.cond = nn.Sequential(nn.Linear(config.time_embedding + config.latent_dim, c), nn.SiLU(),
                                  nn.Linear(c, c), nn.SiLU())
        self.stem = FiLMBlock(3 if config.prior else 2, chans[0], c)
        self.down = nn.ModuleList(FiLMBlock(chans[i], chans[i + 1], c, stride=2) for i in range(self.depth - 1))
        self.mid = FiLMBlock(chans[-1], chans[-1], c)
        self.up = nn.ModuleList(FiLMBlock(chans[i + 1] + chans[i], chans[i], c)
                                for i in reversed(range(self.depth - 1)))
        self.out = nn.Conv2d(chans[0], 1, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: torch.Tensor, mixture: torch.Tensor, t: torch.Tensor, z: torch.Tensor,
                prior: torch.Tensor | None = None) -> torch.Tensor:
        """``prior``: the U-Net's estimate as a state (:func:`prior_state`), for a model with ``config.prior``."""
        b, f, frames = x.shape
        pad = (-frames) % self.multiple
        if self.config.prior and prior is None:
            raise ValueError("this flow model refines the U-Net's estimate: pass prior=")
        h = torch.stack([x, mixture] + ([prior] if self.config.prior else []), dim=1)
        if pad:
            h = F.pad(h, (0, pad))
        cond = self.cond(torch.cat([time_features(t, self.config.time_embedding), z], dim=-1))
        h = self.stem(h, cond)
        skips = [h]
        for block in self.down:
            h = block(h, cond)
            skips.append(h)
        h = self.mid(skips.pop(), cond)
        for block in self.up:
            skip = skips.pop()
            h = F.interpolate(h, size=skip.shape[-2:], mode="nearest")
            h = block(torch.cat([h, skip], dim=1), cond)
        return self.out(h)[:, 0, :, :frames]


def to_features(magnitude: torch.Tensor, config: FlowConfig) -> torch.Tensor:
    """``(..., nb_bins + 1, nb_frames)`` magnitude -> normalised log features without the Nyquist bin
    (what the network sees of the mixture; the flow's state in the ``logmag`` space)."""
    return (torch.log1p(magnitude[..., :-1, :]) - config.feature_mean) / config.feature_std


def from_features(features: torch.Tensor, config: FlowConfig) -> torch.Tensor:
    """Inverse of :func:`to_features`; the Nyquist bin is set to 0. Magnitudes are >= 0."""
    mag = torch.expm1(features * config.feature_std + config.feature_mean).clamp_min(0.0)
    return F.pad(mag, (0, 0, 0, 1))


def target_state(target_mag: torch.Tensor, mix_mag: torch.Tensor, config: FlowConfig) -> torch.Tensor:
    """Where the flow ends for a target: ``mask`` space: ``2 * clip(|T| / |M|, 0, 1) - 1``;
    ``logmag`` space: the target's log features. Shapes ``(..., nb_bins, nb_frames)`` (Nyquist dropped)."""
    if config.space == "mask":
        ratio = target_mag[..., :-1, :] / mix_mag[..., :-1, :].clamp_min(1e-8)
        return 2.0 * ratio.clamp(0.0, 1.0) - 1.0
    return to_features(target_mag, config)


def start_state(mix_features: torch.Tensor, config: FlowConfig, generator: torch.Generator | None = None,
                prior: torch.Tensor | None = None) -> torch.Tensor:
    """Where the flow starts: ``start_noise`` * N(0, 1) around the U-Net's estimate (``prior``, for a
    model with ``config.prior``), else around 0 in the ``mask`` space or the mixture's features in the
    ``logmag`` space."""
    noise = config.start_noise * torch.randn(mix_features.shape, generator=generator)
    if config.prior:
        return prior + noise
    return noise if config.space == "mask" else mix_features + noise


def prior_state(unet_mask: torch.Tensor, config: FlowConfig) -> torch.Tensor:
    """The U-Net's mask ``(..., nb_bins + 1, nb_frames)`` as a flow state (mask space only)."""
    if config.space != "mask":
        raise ValueError("a U-Net prior needs the mask space")
    return 2.0 * unet_mask[..., :-1, :].clamp(0.0, 1.0) - 1.0


def magnitude_from_state(x: torch.Tensor, mix_mag: torch.Tensor, config: FlowConfig) -> torch.Tensor:
    """The target magnitude ``(..., nb_bins + 1, nb_frames)`` an end state stands for (>= 0)."""
    if config.space == "mask":
        mask = ((x + 1.0) / 2.0).clamp(0.0, 1.0)
        mask = torch.cat([mask, mask[..., -1:, :]], dim=-2)     # Nyquist takes its neighbour's gain
        return mask * mix_mag
    return from_features(x, config)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
