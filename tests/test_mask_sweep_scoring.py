"""benchmarks/temporal_mask_sweep.py scores every mask from per-item sums: the same SI-SDR as the
samples, gated."""
import importlib.util
import math
from pathlib import Path

import numpy as np

from engine.metrics import si_sdr

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _sweep():
    spec = importlib.util.spec_from_file_location("temporal_mask_sweep", BENCH / "temporal_mask_sweep.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gain_scorer_is_the_si_sdr_of_the_gated_samples():
    sweep = _sweep()
    rng = np.random.default_rng(3)
    rate, fs = 22050, 0.01
    target = rng.standard_normal(rate * 2 + 123).astype(np.float32)
    estimate = (0.7 * target + 0.4 * rng.standard_normal(len(target))).astype(np.float32)
    frames = int(math.ceil(len(target) / rate / fs))
    scorer = sweep.GainScorer(estimate, target, rate, fs, frames)
    centres = (np.arange(frames) + 0.5) * fs
    times = (np.arange(len(estimate)) + 0.5) / rate
    for gain in (np.ones(frames), rng.uniform(0, 1, frames), (rng.uniform(0, 1, frames) > 0.5) * 1.0,
                 np.linspace(0, 1, frames) ** 2):
        direct = si_sdr(target, estimate * np.interp(times, centres, gain))
        assert abs(scorer.si_sdr(gain) - direct) < 1e-6
    assert scorer.si_sdr(np.zeros(frames)) == -math.inf
    assert math.isnan(sweep.GainScorer(estimate, np.zeros_like(target), rate, fs, frames).si_sdr(np.ones(frames)))
