"""Typed configurations of the frame-wise sound event detector and of its training run."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from ..taxonomy import CORE_CLASSES

# The classes the shipped detector knows: the 8 core classes first (metrics average over them), then every
# other class the rendered corpus can draw, and speech (espeak-ng). synth_effects, percussive and
# sound_effects exist in the taxonomy but the corpus draws none of them, so no detector output is trained
# for them (a prompt that maps there is told so by `eventsep detect`).
DETECTOR_CLASSES: tuple[str, ...] = CORE_CLASSES + (
    "organ", "reed", "voice", "synth_lead", "chromatic_percussion", "ethnic", "speech")


@dataclass
class FrontEndConfig:
    """Log-mel front end (PANNs layout: STFT as two conv filter banks, a mel matrix, 10*log10).

    At 16 kHz with hop 160 one frame is exactly 10 ms, the corpus label frame, so detector frames and label
    frames line up without resampling the labels (22050 Hz would make the hop 220.5 samples).
    """

    sample_rate: int = 16000
    n_fft: int = 1024
    hop: int = 160
    n_mels: int = 64
    fmin: float = 25.0
    fmax: float = 8000.0
    # "label": frame k is centred on (k + 0.5) * hop and there are ceil(n / hop) frames, i.e. frame k
    # describes [k * hop, (k + 1) * hop) like the corpus labels; "panns": centre=True with reflect padding,
    # 1 + n // hop frames, as torchlibrosa / PANNs.
    align: str = "label"


@dataclass
class DetectorConfig:
    """A Cnn14-style CRNN: log-mel -> bn0 -> conv blocks (2 x conv3x3-BN-ReLU, then avg pool) -> mean over
    mel -> max+avg smoothing (as Cnn14_DecisionLevelMax) -> optional BiGRU -> fc1 -> per-class logits ->
    upsampled back to the 10 ms frame rate."""

    classes: tuple[str, ...] = DETECTOR_CLASSES
    front: FrontEndConfig = field(default_factory=FrontEndConfig)
    widths: tuple[int, ...] = (16, 32, 64, 128)
    # pool (time, mel) after each block; the product of time pools is the upsampling factor of the head
    pools: tuple[tuple[int, int], ...] = ((2, 2), (2, 2), (1, 2), (1, 2))
    gru_hidden: int = 64          # 0: no recurrent layer (pure Cnn14_DecisionLevelMax head)
    fc_hidden: int = 128
    # audio channels in: 1 = the mixture (the detector); 2 = the mixture and a separated estimate of one
    # target, each its own log-mel image (the target-activity model, engine.activity)
    inputs: int = 1

    @property
    def time_factor(self) -> int:
        f = 1
        for t, _ in self.pools:
            f *= t
        return f

    def to_dict(self) -> dict:
        d = asdict(self)
        d["classes"] = list(self.classes)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "DetectorConfig":
        d = dict(d)
        front = FrontEndConfig(**d.pop("front", {}))
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["classes"] = tuple(kw.get("classes", DETECTOR_CLASSES))
        kw["widths"] = tuple(kw.get("widths", cls.widths))
        kw["pools"] = tuple(tuple(p) for p in kw.get("pools", cls.pools))
        return cls(front=front, **kw)


def tiny_detector_config(**overrides) -> DetectorConfig:
    """A few thousand parameters: for tests (shape, parity, training smoke) only."""
    base = dict(widths=(4, 8), pools=((2, 2), (2, 2)), gru_hidden=8, fc_hidden=16,
                front=FrontEndConfig(n_fft=256, n_mels=32))
    base.update(overrides)
    return DetectorConfig(**base)


@dataclass
class DetectorTrainConfig:
    """How a detector is trained (``python -m engine.detection.train``)."""

    steps: int = 20000
    batch_size: int = 16
    clip_seconds: float = 3.0
    stem_seconds: float = 4.0          # stems in the bank are this long; clips are random crops
    lr: float = 1e-3
    lr_final: float = 1e-4              # cosine decay from lr to lr_final over `steps`
    weight_decay: float = 1e-4
    max_classes: int = 4
    p_active: float = 0.85              # each drawn class sounds with this probability (else silent)
    gain_low: float = 0.25              # per-stem gain beta ~ U[gain_low, gain_high] (engine.mixing's)
    gain_high: float = 1.25
    level_db: tuple[float, float] = (-24.0, 6.0)   # overall mixture level change
    bank_per_class: int = 80            # rendered stems kept per class
    bank_initial: int = 24              # stems per class rendered before the first step
    renders_per_step: int = 6           # fresh stems per step (they replace random old ones)
    valid_items: int = 64
    validate_every: int = 250
    checkpoint_every: int = 100
    seed: int = 0
    threads: int = 1
