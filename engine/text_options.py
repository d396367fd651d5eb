"""The text pipeline's choices and their defaults, apart from the code that runs them: the command-line
parser reads them without importing torch (``eventsep --help`` and every other command stay quick)."""
from __future__ import annotations

from dataclasses import dataclass

ENSEMBLES = ("rate", "band", "progressive", "unet", "flow")


@dataclass
class EnsembleConfig:
    # "unet": picked on the valid look-alike set (docs/eventsep_valid.md) for the step-34500 separator, which
    # the generative model refining it no longer improves on
    mode: str = "unet"
    weight: float = 0.7           # rate: the U-Net's share
    crossover_hz: float = 4000.0  # band / progressive
    width_octaves: float = 1.0    # progressive
    rate: int = 22050             # common rate of the combination
    n_fft: int = 1024
    hop: int = 256
    max_lag_ms: float = 20.0

    def check(self) -> None:
        if self.mode not in ENSEMBLES:
            raise ValueError(f"unknown ensemble {self.mode!r}; one of {', '.join(ENSEMBLES)}")
        if not 0.0 <= self.weight <= 1.0:
            raise ValueError(f"ensemble weight must be in [0, 1], got {self.weight}")
        if not 0.0 < self.crossover_hz < self.rate / 2:
            raise ValueError(f"crossover must be between 0 and {self.rate / 2:.0f} Hz, got {self.crossover_hz}")


MASKS = ("soft", "root", "hard", "none")
# the temporal mask's defaults, picked on the valid look-alike sets by the fixed rule of
# benchmarks/eventsep_eval.py (best intermittent SI-SDRi, whole within 0.1 dB of the separator alone), with
# the target-activity model shipped in the fourteenth session: benchmarks/temporal_mask_sweep.py, 832 valid
# items, thresholds 0.2..1.0, picked the square-root knee at 1.0 (the square root of the curve) on the curve
# scaled by its 95th percentile (+1.21 dB intermittent, -0.07 whole; the same on the calibrated curve as it
# is: +1.21 / -0.07; the thirteenth session's root 0.60 on it, whose pick sat at the then grid's edge:
# +1.05 / -0.05)
DEFAULT_MASK = "root"
# each mask's own default threshold, by the same rule within that mask (`temporal_mask_sweep.py --per-mask`,
# fifteenth session): soft 0.30 (+0.84 / -0.08); root 1.00 (+1.21 / -0.07); hard: no threshold keeps the
# whole items within 0.1 dB, 0.10 costs them least of those that gain (+0.62 / -0.10; at 1.0 the hard
# mask's step sits at the curve's top and throws the target away: -9.4 / -14.4 dB). "none" reads none.
DEFAULT_THRESHOLDS = {"soft": 0.3, "root": 1.0, "hard": 0.1, "none": 1.0}
DEFAULT_THRESHOLD = DEFAULT_THRESHOLDS[DEFAULT_MASK]


def default_threshold(mask: str) -> float:
    """The threshold a mask runs at when none is given."""
    return DEFAULT_THRESHOLDS.get(mask, DEFAULT_THRESHOLD)


DEFAULT_RELATIVE = True
# WHETHER (engine.presence): "gate" judges whether the class is in the file at all and gives near-silence
# when the evidence says it is not; "report" judges and reports it, the output unchanged; "off" assumes the
# class is there
PRESENCE = ("gate", "report", "off")
DEFAULT_PRESENCE = "gate"
# how far the gate turns a judged-absent output down, as a noise gate's range: far enough to be near-silence
# (the separator's answer for an absent class is -13 dB re the mixture at the median on valid), not to
# zero, so a wrong decision loses nothing a user cannot turn back up
DEFAULT_GATE_DEPTH_DB = 40.0
# where the temporal mask's curve comes from: the target-activity model (the mixture and the U-Net's
# estimate of the target, engine.activity) or the detector on the mixture alone
WHENS = ("activity", "detector")
DEFAULT_STEPS = 1
