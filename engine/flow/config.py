"""Typed configuration of the generative separator and of its training run."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ..config import StftConfig, config_kwargs


@dataclass
class FlowConfig:
    """Velocity network and the space the flow moves in.

    The network sees the mixture as ``(log1p(|S|) - feature_mean) / feature_std`` of the U-Net's STFT
    (22.05 kHz, 1024/256) without the Nyquist bin, so the flow's estimate lies on the U-Net's
    time-frequency grid. The flow's state (``space``):

    - ``mask`` (default): the target's magnitude as a ratio of the mixture's, ``2 * clip(|T|/|M|, 0, 1) - 1``;
      the flow runs from N(0, start_noise^2) to it;
    - ``logmag``: the target's log features; the flow runs from the mixture's features plus
      ``start_noise`` * N(0, 1) (a first run in this space did not separate: docs/eventsep.md).

    ``prior``: the flow refines the U-Net: the U-Net's mask (as a state) is a third input channel and the
    flow starts at it plus ``start_noise`` * N(0, 1) instead of at noise alone.
    """

    sample_rate: int = 22050
    stft: StftConfig = field(default_factory=StftConfig)
    latent_dim: int = 32
    channels: tuple[int, ...] = (12, 24, 48, 96)
    cond_dim: int = 128
    time_embedding: int = 64
    feature_mean: float = 0.25
    feature_std: float = 0.5
    space: str = "mask"
    start_noise: float = 1.0
    # refine the U-Net: its mask is an input channel and the flow starts around it (see sampler)
    prior: bool = False
    segment_seconds: float = 1.5

    @property
    def segment_samples(self) -> int:
        return int(round(self.segment_seconds * self.sample_rate))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FlowConfig":
        data = dict(data)
        stft = StftConfig(**data.pop("stft", {}))
        return cls(stft=stft, **config_kwargs(cls, data, "flow", ("channels",)))


def tiny_flow_config(**overrides: Any) -> FlowConfig:
    """A small flow model for tests (trains in seconds)."""
    base = dict(channels=(4, 8), cond_dim=16, time_embedding=8, segment_seconds=0.5)
    base.update(overrides)
    return FlowConfig(**base)


@dataclass
class FlowTrainConfig:
    steps: int = 3000
    batch_size: int = 8
    lr: float = 1e-3
    lr_final: float = 1e-4
    warmup: int = 100
    max_classes: int = 4
    p_active: float = 0.8
    gain_low: float = 0.25
    gain_high: float = 1.25
    # probability that the condition is the target's fine-label latent instead of its coarse-class latent
    p_fine: float = 0.5
    bank_per_class: int = 48
    bank_initial: int = 8
    renders_per_step: int = 1
    stem_seconds: float = 6.0
    seed: int = 0
    checkpoint_every: int = 50
    validate_every: int = 250
    valid_items: int = 48
    grad_clip: float = 1.0
    # weigh the loss per bin by the mixture magnitude (see engine.flow.train.flow_loss)
    weighted_loss: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
