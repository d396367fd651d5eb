"""Separation metrics (SPEC §5).

- ``sdr_bsseval``: BSSEval v4 SDR (512-tap distortion filter) computed by ``fast_bss_eval`` on 1 s
  frames, median over frames (museval's framewise convention); frames where the reference is silent
  are skipped, as museval does.
- ``sdr_energy``: plain ``10 log10(|s|^2 / |s - ŝ|^2)``, the number AudioSep/USS report.
- ``si_sdr``: scale-invariant SDR (Le Roux et al. 2019), closed form (robust to near-silent estimates).
- improvements (SDRi, SI-SDRi) = metric(estimate) - metric(unprocessed mixture).

Signals are 1-D ``(nb_timesteps,)``; multichannel inputs are scored per channel and averaged.
"""
from __future__ import annotations

import math

import fast_bss_eval
import numpy as np

EPS = 1e-9


def _as_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x[None] if x.ndim == 1 else x


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR (no mean removal), mean over channels: ``10 log10(|a s|^2 / |a s - e|^2)`` with
    ``a = <e, s> / |s|^2``. A silent estimate of a sounding reference is -inf; a silent reference NaN."""
    ref, est = _as_2d(reference), _as_2d(estimate)
    n = min(ref.shape[-1], est.shape[-1])
    values = []
    for r, e in zip(ref[:, :n], est[:, :n]):
        rr = float(r @ r)
        if rr == 0.0 or not np.any(e):
            values.append(-math.inf if rr > 0 else math.nan)
            continue
        a = float(e @ r) / rr
        signal = a * a * rr
        noise = float(np.sum((e - a * r) ** 2))
        if signal <= 0.0:
            values.append(-math.inf)
        elif noise <= 0.0:
            values.append(math.inf)
        else:
            values.append(10.0 * math.log10(signal / noise))
    return float(np.mean(values))


def sdr_energy(reference: np.ndarray, estimate: np.ndarray) -> float:
    ref, est = _as_2d(reference), _as_2d(estimate)
    n = min(ref.shape[-1], est.shape[-1])
    ref, est = ref[:, :n], est[:, :n]
    return float(10 * np.log10((np.sum(ref ** 2) + EPS) / (np.sum((ref - est) ** 2) + EPS)))


def sdr_bsseval(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, window_s: float = 1.0
                ) -> float:
    """Median over 1 s frames of BSSEval v4 SDR (NaN when every frame's reference is silent)."""
    ref, est = _as_2d(reference), _as_2d(estimate)
    n = min(ref.shape[-1], est.shape[-1])
    win = int(round(window_s * sample_rate))
    frames = []
    for r, e in zip(ref[:, :n], est[:, :n]):
        for start in range(0, max(1, n - win + 1), win):
            rf, ef = r[start:start + win], e[start:start + win]
            if np.sum(rf ** 2) < 1e-10 or np.sum(ef ** 2) < 1e-10 or len(rf) < 1024:
                continue
            frames.append(float(fast_bss_eval.sdr(rf[None], ef[None], filter_length=512,
                                                  load_diag=1e-10)[0]))
    return float(np.median(frames)) if frames else math.nan


def score(reference: np.ndarray, estimate: np.ndarray, mixture: np.ndarray | None, sample_rate: int
          ) -> dict[str, float]:
    """All metrics of one estimate, and their improvements over the mixture when it is given."""
    out = {"sdr": sdr_bsseval(reference, estimate, sample_rate),
           "sdr_energy": sdr_energy(reference, estimate),
           "si_sdr": si_sdr(reference, estimate)}
    if mixture is not None:
        out["sdri"] = out["sdr"] - sdr_bsseval(reference, mixture, sample_rate)
        out["sdr_energy_i"] = out["sdr_energy"] - sdr_energy(reference, mixture)
        out["si_sdri"] = out["si_sdr"] - si_sdr(reference, mixture)
    return out
