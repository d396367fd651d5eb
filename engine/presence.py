"""WHETHER: is the class a prompt names in the file at all?

The rest of the pipeline assumes it is: the separator gives its best estimate of the class and the activity
curve says when it sounds. Asked for a class the file does not hold, the separator (trained with absent
targets) is often quiet but not always (on the valid split the level of its output spreads from -30 to -2
dB re the mixture), and the activity model answers "sounding" readily. The detector's clip-level evidence is
a strong cue (ROC AUC about 0.98 on validation mixtures, against 0.85 for the separator's output level),
and the target-activity model, trained with absent targets as well, the one that hears a target playing in
only part of the file best. The presence score combines four numbers by a logistic regression fitted on the
corpus' *valid* split (``python -m engine.presence_fit``):

- ``level``: the separator's estimate energy re the mixture, dB / 10, clipped to [-4, 0];
- ``detector_mixture``: the logit of the detector's mean probability of the class over the mixture;
- ``detector_estimate``: the same over the separator's estimate of the class;
- ``activity_max``: the logit of the target-activity model's highest probability over the file (mixture
  and estimate in; 2-fold on the valid look-alike, the worst of whole / intermittent / absent went from
  0.73 with the first three to 0.80 with it: its curve's maximum was the best of its mean, median, 75th and
  90th percentiles and maximum for targets that play in part of the file).

The decision threshold is chosen on the same valid data (the one that maximises the worse of the two
accuracies, present and absent). Silencing is a separate, stricter line: the *gate threshold*, the score
below which only a small share of the valid items that hold the class fall (``engine.presence_fit``), so
that a wrong "absent" decision near the threshold reports but does not throw a sounding target away. Fitted to one separator: the calibration names the checkpoint (its step and
the digest of its weights file) and the pipeline says so when another separator runs with it.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .errors import EventSepError

FEATURES = ("level", "detector_mixture", "detector_estimate", "activity_max")
SHIPPED = Path(__file__).resolve().parent / "assets" / "presence.json"
LEVEL_FLOOR_DB = -40.0
_EPS = 1e-4


def logit(p):
    """The logit of probabilities (a number or an array), clipped to [_EPS, 1 - _EPS] first."""
    p = np.clip(np.asarray(p, np.float64), _EPS, 1.0 - _EPS)
    return np.log(p / (1.0 - p))


def _logit(p: float) -> float:
    return float(logit(p))


def level_db(mixture: np.ndarray, estimate: np.ndarray) -> float:
    """Energy of ``estimate`` re ``mixture`` in dB (both any shape, same length); -inf-safe."""
    num = float(np.sum(np.square(estimate, dtype=np.float64)))
    den = float(np.sum(np.square(mixture, dtype=np.float64)))
    return 10.0 * float(np.log10((num + 1e-12) / (den + 1e-12)))


def presence_features(level: float, detector_mixture: np.ndarray, detector_estimate: np.ndarray,
                      activity: np.ndarray) -> np.ndarray:
    """The ``(4,)`` feature vector (see the module docstring) from the output level in dB, the detector's
    ``(frames,)`` curves of the class on the mixture and on the estimate, and the target-activity model's
    ``(frames,)`` curve (before any calibration or scaling)."""
    return np.array([max(LEVEL_FLOOR_DB, min(0.0, level)) / 10.0,
                     _logit(float(np.mean(detector_mixture))) if len(detector_mixture) else 0.0,
                     _logit(float(np.mean(detector_estimate))) if len(detector_estimate) else 0.0,
                     _logit(float(np.max(activity))) if len(activity) else 0.0])


@dataclass
class PresenceCalibration:
    """Logistic-regression weights over :data:`FEATURES`, the decision threshold on its probability, the
    (lower) gate threshold under which the pipeline silences, and what it was fitted to."""

    weights: list[float]
    bias: float
    threshold: float = 0.5
    separator: dict = field(default_factory=dict)      # {"step": ..., "weights_sha256": ...}
    fitted_on: str = ""
    valid: dict = field(default_factory=dict)          # accuracies measured when fitting
    gate_threshold: float | None = None                # None: the decision threshold (older files)

    def score(self, features: np.ndarray) -> float:
        """P(the class is in the file), in [0, 1]."""
        return float(1.0 / (1.0 + np.exp(-(float(np.dot(self.weights, features)) + self.bias))))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps({"features": list(FEATURES), **asdict(self)}, indent=1))
        return path

    @classmethod
    def load(cls, path: str | Path | None = None) -> "PresenceCalibration":
        path = Path(path) if path else SHIPPED
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise EventSepError(f"{path}: no presence calibration (fit one with `python -m engine.presence_fit`, "
                                f"or pass --presence off)") from None
        except json.JSONDecodeError as e:
            raise EventSepError(f"{path}: not a presence calibration ({e})") from None
        if tuple(data.get("features", ())) != FEATURES or len(data.get("weights", ())) != len(FEATURES):
            raise EventSepError(f"{path}: a presence calibration for other features {data.get('features')}")
        return cls(**{k: data[k] for k in ("weights", "bias", "threshold", "gate_threshold", "separator",
                                           "fitted_on", "valid") if k in data})


@dataclass
class Presence:
    """The decision for one file: ``score`` P(present), ``present`` = score >= threshold; ``gated``: the
    score is under the gate threshold too (the evidence is strong enough to silence the output)."""

    score: float
    present: bool
    threshold: float
    features: dict[str, float]
    gate_threshold: float = 0.0

    @property
    def gated(self) -> bool:
        return self.score < self.gate_threshold

    def to_dict(self) -> dict:
        return {"score": round(self.score, 4), "present": self.present, "threshold": round(self.threshold, 4),
                "gate_threshold": round(self.gate_threshold, 4), "gated": self.gated,
                "features": {k: round(v, 4) for k, v in self.features.items()}}


def judge(calibration: PresenceCalibration, features: np.ndarray) -> Presence:
    score = calibration.score(features)
    gate = calibration.threshold if calibration.gate_threshold is None else min(calibration.gate_threshold,
                                                                                  calibration.threshold)
    return Presence(score, score >= calibration.threshold, calibration.threshold,
                    dict(zip(FEATURES, map(float, features))), gate)


def separator_identity(model_dir: str | Path) -> dict:
    """What a calibration is tied to: the checkpoint's step and the SHA-256 of its weights file."""
    d = Path(model_dir)
    step = json.loads((d / "config.json").read_text()).get("step")
    digest = hashlib.sha256((d / "model.safetensors").read_bytes()).hexdigest()
    return {"step": step, "weights_sha256": digest}


def fit_logistic(features: np.ndarray, labels: np.ndarray, l2: float = 1e-2, iterations: int = 50
                 ) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression (Newton's method): ``features`` ``(n, k)``,
    ``labels`` ``(n,)`` 0/1."""
    x = np.c_[np.asarray(features, np.float64), np.ones(len(features))]
    y = np.asarray(labels, np.float64)
    w = np.zeros(x.shape[1])
    reg = l2 * np.eye(len(w))
    reg[-1, -1] = 0.0                                  # the bias is not shrunk
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) + reg @ w
        hess = (x * (p * (1.0 - p))[:, None]).T @ x + reg
        step = np.linalg.solve(hess + 1e-9 * np.eye(len(w)), grad)
        w -= step
        if np.max(np.abs(step)) < 1e-9:
            break
    return w[:-1], float(w[-1])


def balanced_threshold(scores: np.ndarray, present: np.ndarray) -> tuple[float, float, float]:
    """The threshold on ``scores`` that maximises the worse of the two accuracies (present items at or above
    it, absent items below); returns it and the two accuracies."""
    scores, present = np.asarray(scores, np.float64), np.asarray(present, bool)
    candidates = np.unique(np.r_[scores, 0.5])
    best = (-1.0, 0.5, 0.0, 0.0)
    for t in candidates:
        acc_p = float(np.mean(scores[present] >= t)) if present.any() else 1.0
        acc_a = float(np.mean(scores[~present] < t)) if (~present).any() else 1.0
        if min(acc_p, acc_a) > best[0]:
            best = (min(acc_p, acc_a), float(t), acc_p, acc_a)
    _, t, acc_p, acc_a = best
    # midway down to the next lower score: the same decisions on these items, a margin for new ones
    below = scores[scores < t]
    if len(below):
        t = float((t + below.max()) / 2.0)
    return t, acc_p, acc_a
