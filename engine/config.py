"""Typed configuration: the model's architecture and the training recipe (thesis defaults)."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StftConfig:
    """The one STFT of EventSep (thesis: 1024-sample Hann window, 75 % overlap)."""

    n_fft: int = 1024
    hop_length: int = 256
    window: str = "hann"

    @property
    def nb_bins(self) -> int:
        return self.n_fft // 2 + 1


@dataclass
class ModelConfig:
    """Query-net + Separator architecture (SPEC §2). Widths may change, the structure does not."""

    sample_rate: int = 22050
    stft: StftConfig = field(default_factory=StftConfig)
    latent_dim: int = 32
    # Query-net: 6 strided 4x4 convs (+ instance norm + ReLU) -> GRU -> mu, log-variance
    query_channels: tuple[int, ...] = (32, 32, 64, 64, 128, 128)
    query_kernel: int = 4
    # Strides along time per layer (frequency is always strided by 2); 1 keeps time resolution for the GRU.
    query_time_strides: tuple[int, ...] = (1, 2, 1, 2, 1, 2)
    query_gru: int = 128
    # Separator U-Net: 5x5 kernels, stride 2 in frequency everywhere and in time everywhere except the
    # first encoder / last decoder layer (thesis §4.2); widths as the Jansson et al. U-Net it cites.
    separator_channels: tuple[int, ...] = (16, 32, 64, 128, 256, 512)
    separator_kernel: int = 5
    leaky_slope: float = 0.2
    # AdaIN on the mask layer too (thesis: every decoder layer; the last ends in a sigmoid).
    adain_last_layer: bool = True
    # Length of the segments the network sees (thesis: 3 s); offline separation chunks at this size.
    segment_seconds: float = 3.0
    # "unet": the thesis' Query-net + U-Net (above). A streamable design (engine.streamnet): "fcgru",
    # "melgru" or "tcn", with the light Query-net; the fields below size it.
    arch: str = "unet"
    hidden: int = 256
    core_layers: int = 2
    context_past: int = 2
    lookahead: int = 1
    mel_bands: int = 96
    query_hidden: int = 256
    # Names of the learned class embeddings (coarse classes, then "fine:<label>"), in the latent space
    # of the Query-net; empty for models whose class latents are means taken after training.
    class_vocab: tuple[str, ...] = ()
    # A streamable separator's weight matrices snapped onto a grid of `weight_bits`-bit integers times one
    # scale per `weight_block` input rows (engine.weight_grid, `eventsep quantize`); 0: plain float32.
    weight_bits: int = 0
    weight_block: int = 32

    @property
    def segment_samples(self) -> int:
        return int(round(self.segment_seconds * self.sample_rate))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        data = dict(data)
        stft = StftConfig(**data.pop("stft", {}))
        return cls(stft=stft, **config_kwargs(cls, data, "model",
                                              ("query_channels", "query_time_strides", "separator_channels",
                                               "class_vocab")))


def config_kwargs(cls, data: dict[str, Any], what: str, tuple_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """``data`` (read from JSON) as keyword arguments of the dataclass ``cls``: unknown keys are refused
    (a checkpoint from another version should fail loudly), JSON lists become the tuples the fields hold."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {what} config keys: {sorted(unknown)}")
    return {k: tuple(v) if k in tuple_keys else v for k, v in data.items()}


@dataclass
class TrainConfig:
    """The training recipe (thesis §3.2 and §4.2), all in one place."""

    steps: int = 10000
    batch_size: int = 5
    lr: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    # Thesis: after 200k iterations, lower lr by 5e-6 every 10k iterations.
    lr_decay_start: int = 200_000
    lr_decay_every: int = 10_000
    lr_decay_amount: float = 5e-6
    lr_min: float = 1e-6
    lambda_recon: float = 10.0
    lambda_kl: float = 0.01
    lambda_latent: float = 0.5
    # Mixtures (thesis §3.2.1)
    max_classes: int = 4
    p_active: float = 0.5
    # One always-sounding target class per mixture (see engine.mixing); False = the thesis' groups.
    single_target: bool = False
    # single_target only: probability that the Query-net sees another excerpt of the target's class, from
    # another piece, instead of the target itself. Users query with other clips and class means, never
    # with the hidden target; 0 = the thesis' recipe (the query is the target).
    query_other: float = 0.0
    gain_low: float = 0.25
    gain_high: float = 1.25
    # "thesis": the losses and mixtures above. "classquery" (SPEC §2a, engine.querymix): the query is a
    # learned class embedding or another clip of the class, never the target; absent targets are trained.
    recipe: str = "thesis"
    p_absent: float = 0.1          # the queried class is not in the mixture (answer: silence)
    p_class_query: float = 0.5     # condition on the class embedding instead of the other clip's latent
    p_fine_query: float = 0.3      # ... the fine label's embedding instead of the coarse class's
    p_same_fine: float = 0.5       # the other clip has the target's fine label
    lambda_align: float = 0.1      # weight of the clip-latent -> class-embedding classification loss
    align_scale: float = 10.0      # cosine-logit scale of that classification
    lambda_si_sdr: float = 0.0     # weight of -SI-SDR (dB) of the waveform estimate, present targets only
    timbre_aug: float = 0.0        # probability that a stem goes through a random equaliser (engine.timbre)
    # share of mixtures made of parts of one piece played together (engine.corpus.ensembles; the source must
    # have them: --source bank+ensembles); the evaluation items are such mixtures, bank mixtures are not
    p_ensemble: float = 0.0
    # Housekeeping
    seed: int = 0
    num_workers: int = 0
    validate_every: int = 500
    checkpoint_every: int = 250
    valid_batches: int = 8
    log_every: int = 10
    grad_clip: float = 5.0

    def lr_at(self, step: int) -> float:
        if step < self.lr_decay_start:
            return self.lr
        drops = (step - self.lr_decay_start) // self.lr_decay_every + 1
        return max(self.lr_min, self.lr - drops * self.lr_decay_amount)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        return cls(**config_kwargs(cls, dict(data), "training", ("betas",)))


def tiny_model_config(**overrides: Any) -> ModelConfig:
    """A small registered model for tests and CLI smoke runs (trains in seconds on a CPU)."""
    base = dict(latent_dim=4, query_channels=(4, 4, 8, 8, 16, 16), query_time_strides=(2, 2, 2, 1, 1, 1),
                query_gru=16, separator_channels=(4, 8, 16, 32), segment_seconds=1.0)
    base.update(overrides)
    return ModelConfig(**base)
