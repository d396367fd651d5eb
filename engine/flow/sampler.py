"""Euler sampling of the flow and waveform reconstruction.

``phase="mixture"`` (default) turns the sampled magnitude into a ratio mask bounded by 1 and applies it to
the mixture's STFT (the mixture phase, as the U-Net does); ``phase="griffinlim"`` runs Griffin-Lim from a
random phase on the unbounded magnitude. docs/eventsep.md compares the two.
"""
from __future__ import annotations

from typing import Callable

import torch

from ..spectral import Stft
from .model import VelocityNet, magnitude_from_state, prior_state, start_state, to_features

DEFAULT_STEPS = 1


@torch.no_grad()
def sample_features(model: VelocityNet, mixture_features: torch.Tensor, z: torch.Tensor, steps: int = DEFAULT_STEPS,
                    generator: torch.Generator | None = None, prior: torch.Tensor | None = None) -> torch.Tensor:
    """Integrate dx/dt = v(x, t) from t=0 (:func:`start_state`) to t=1 with ``steps`` Euler steps.

    mixture_features ``(nb_samples, nb_bins, nb_frames)``, z ``(nb_samples, latent_dim)``.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    x = start_state(mixture_features, model.config, generator, prior)
    dt = 1.0 / steps
    for i in range(steps):
        t = torch.full((x.shape[0],), i * dt)
        x = x + dt * model(x, mixture_features, t, z, prior)
    return x


def griffin_lim(magnitude: torch.Tensor, stft: Stft, length: int, iterations: int = 32,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """``(..., nb_bins, nb_frames)`` magnitude -> ``(..., length)`` waveform, random initial phase."""
    phase = torch.rand(magnitude.shape, generator=generator) * 2 * torch.pi
    spec = torch.polar(magnitude, phase)
    for _ in range(iterations):
        wav = stft.inverse(spec, length)
        rebuilt = stft(wav)
        spec = magnitude * torch.exp(1j * torch.angle(rebuilt))
    return stft.inverse(spec, length)


@torch.no_grad()
def flow_separate(model: VelocityNet, mixture: torch.Tensor, z: torch.Tensor, steps: int = DEFAULT_STEPS,
                  phase: str = "mixture", seed: int = 0, stft: Stft | None = None,
                  prior_mask: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """``(nb_samples, nb_timesteps)`` mixture at the model rate, ``(nb_samples, latent_dim)`` z ->
    the estimate, same shape. ``prior_mask(magnitude, z) -> mask`` (the U-Net's separator) is needed by
    a model with ``config.prior``."""
    stft = stft or Stft(model.config.stft)
    spec = stft(mixture)
    mix_mag = spec.abs()
    generator = torch.Generator().manual_seed(seed)
    prior = None
    if model.config.prior:
        if prior_mask is None:
            raise ValueError("this flow model refines the U-Net's estimate: pass prior_mask=")
        prior = prior_state(prior_mask(mix_mag, z), model.config)
    feats = sample_features(model, to_features(mix_mag, model.config), z, steps, generator, prior)
    mag = magnitude_from_state(feats, mix_mag, model.config)
    if phase == "mixture":
        mask = (mag / mix_mag.clamp_min(1e-8)).clamp(0.0, 1.0)
        return stft.inverse(spec * mask, mixture.shape[-1])
    if phase == "griffinlim":
        return griffin_lim(mag, stft, mixture.shape[-1], generator=generator)
    raise ValueError(f"phase must be 'mixture' or 'griffinlim', got {phase!r}")
