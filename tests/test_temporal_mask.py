"""Temporal masks: soft gains stay in [0, 1]; hard masks never make the gated signal jump more from one
sample to the next than the signal itself does; applying them in the time and STFT domains."""
from __future__ import annotations

import numpy as np
import pytest

from engine.detection.mask import apply_temporal_mask, temporal_mask
from export.onnx_export import synthetic_music

SR = 22050


def switching_curve(frames=400, seed=0):
    """A probability curve that crosses the threshold often, with short and long stretches."""
    rng = np.random.default_rng(seed)
    p = np.zeros(frames)
    i = 0
    while i < frames:
        n = int(rng.integers(3, 40))
        p[i:i + n] = rng.uniform(0.6, 1.0) if rng.random() < 0.5 else rng.uniform(0.0, 0.5)
        i += n
    return p


def max_jump(x):
    return float(np.abs(np.diff(x.astype(np.float64))).max())


@pytest.mark.parametrize("seed", range(4))
def test_soft_mask_in_unit_interval(seed):
    rng = np.random.default_rng(seed)
    p = rng.uniform(-0.5, 1.5, 300)
    p[::37] = np.nan                                   # bad detector values must not leak through
    g = temporal_mask(p, 3 * SR, SR, "soft")
    assert g.dtype == np.float32 and g.shape == (3 * SR,)
    assert np.isfinite(g).all() and g.min() >= 0.0 and g.max() <= 1.0


def test_soft_mask_passes_confident_frames_and_silences_absent_ones():
    p = np.r_[np.zeros(100), np.full(100, 0.9), np.zeros(100)]
    g = temporal_mask(p, 3 * SR, SR, "soft", threshold=0.55)
    assert np.allclose(g[int(1.3 * SR):int(1.7 * SR)], 1.0)
    assert np.allclose(g[:int(0.7 * SR)], 0.0) and np.allclose(g[int(2.3 * SR):], 0.0)
    # a probability half the threshold gives a partial gain, not a hard 0 or 1
    mid = temporal_mask(np.full(100, 0.275), SR, SR, "soft", threshold=0.55)
    assert 0.2 < mid[SR // 2] < 0.8


@pytest.mark.parametrize("signal", ["sine220", "music"])
@pytest.mark.parametrize("seed", range(3))
def test_hard_mask_never_jumps_more_than_the_signal(signal, seed):
    n = 4 * SR
    x = (0.8 * np.sin(2 * np.pi * 220 * np.arange(n) / SR) if signal == "sine220"
         else synthetic_music(SR, 4.0, seed)).astype(np.float32)
    p = switching_curve(400, seed)
    y = apply_temporal_mask(x, p, SR, "hard", threshold=0.55)
    assert max_jump(y) <= max_jump(x) + 1e-6
    g = temporal_mask(p, n, SR, "hard", threshold=0.55)
    assert g.min() == 0.0 and g.max() == 1.0


def test_without_fades_a_hard_mask_would_click():
    """The check above can fail: the same gate with no fade steps from 0 to the signal's full value."""
    n = 4 * SR
    x = (0.8 * np.sin(2 * np.pi * 220 * np.arange(n) / SR)).astype(np.float32)
    y = apply_temporal_mask(x, switching_curve(400, 0), SR, "hard", fade_ms=0.0)
    assert max_jump(y) > 2 * max_jump(x)


def test_hard_mask_is_binary_away_from_edges_with_short_fades():
    p = np.r_[np.zeros(100), np.ones(100), np.zeros(100)]
    g = temporal_mask(p, 3 * SR, SR, "hard", threshold=0.55, fade_ms=20.0)
    assert np.all(g[: int(0.98 * SR)] == 0.0) and np.all(g[int(1.02 * SR):int(1.98 * SR)] == 1.0)
    ramp = np.nonzero((g > 0) & (g < 1))[0]
    assert 0 < len(ramp) <= 2 * int(0.021 * SR)          # two fades of ~20 ms


def test_none_mode_and_bad_arguments():
    assert np.all(temporal_mask(np.zeros(10), 1000, SR, "none") == 1.0)
    with pytest.raises(ValueError):
        temporal_mask(np.zeros(10), 1000, SR, "fuzzy")
    with pytest.raises(ValueError):
        temporal_mask(np.zeros(10), 1000, SR, "soft", threshold=0.0)
    with pytest.raises(ValueError):
        apply_temporal_mask(np.zeros(1000), np.zeros(10), SR, domain="wavelet")


def test_default_threshold_is_the_posters():
    import inspect

    assert inspect.signature(temporal_mask).parameters["threshold"].default == 0.55
    assert inspect.signature(apply_temporal_mask).parameters["threshold"].default == 0.55


@pytest.mark.parametrize("mode", ["soft", "hard"])
def test_stft_domain_keeps_shape_and_gates(mode):
    x = np.stack([synthetic_music(SR, 3.0, 1), synthetic_music(SR, 3.0, 2)])
    on = apply_temporal_mask(x, np.ones(300), SR, mode, domain="stft")
    assert on.shape == x.shape and np.abs(on - x).max() < 1e-4          # all-on: perfect reconstruction
    p = np.r_[np.zeros(150), np.ones(150)]
    y = apply_temporal_mask(x, p, SR, mode, domain="stft")
    assert np.sqrt(np.mean(y[:, : int(1.3 * SR)] ** 2)) < 1e-3
    assert np.allclose(y[:, int(1.8 * SR):], x[:, int(1.8 * SR):], atol=1e-4)
    t = apply_temporal_mask(x, p, SR, mode, domain="time")
    assert t.shape == x.shape and np.allclose(t[:, int(1.8 * SR):], x[:, int(1.8 * SR):])


def test_root_knee_is_open_at_the_threshold_and_above_soft_below_it():
    p = np.concatenate([np.zeros(50), np.full(50, 0.15), np.full(50, 0.3), np.full(50, 0.9)])
    root = temporal_mask(p, 2 * SR, SR, "root", threshold=0.6, smooth_ms=0.0)
    soft = temporal_mask(p, 2 * SR, SR, "soft", threshold=0.6, smooth_ms=0.0)
    at = lambda g, k: g[int((k + 0.5) * SR * 0.01)]          # noqa: E731 (frame k's centre)
    assert at(root, 10) == 0.0 and at(root, 180) == pytest.approx(1.0)
    assert at(root, 70) == pytest.approx(0.5, abs=1e-6)      # sqrt(0.15 / 0.6)
    assert at(root, 120) == pytest.approx(np.sqrt(0.5), abs=1e-6)
    assert at(root, 70) > at(soft, 70) and at(root, 120) > at(soft, 120)
