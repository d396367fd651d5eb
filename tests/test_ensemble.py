"""STFT-domain ensembles of two estimates."""
import numpy as np
import pytest

from engine.ensemble import EnsembleConfig, best_lag, combine, unet_weight


def _music(n=22050, rate=22050, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    x = sum(0.2 * np.sin(2 * np.pi * f * t) for f in (220, 1500, 6000)) + 0.02 * rng.standard_normal(n)
    return x.astype(np.float32)[None]


def test_weights_per_mode():
    f = np.fft.rfftfreq(1024, 1 / 22050)
    assert np.all(unet_weight(f, EnsembleConfig(mode="rate", weight=0.3)) == 0.3)
    band = unet_weight(f, EnsembleConfig(mode="band", crossover_hz=4000))
    assert np.all(band[f < 4000] == 1) and np.all(band[f >= 4000] == 0)
    prog = unet_weight(f, EnsembleConfig(mode="progressive", crossover_hz=4000))
    assert np.all(np.diff(prog) <= 0) and prog[1] > 0.95 and prog[-1] < 0.05
    assert abs(prog[np.argmin(abs(f - 4000))] - 0.5) < 0.05


@pytest.mark.parametrize("mode", ["rate", "band", "progressive", "flow", "unet"])
def test_same_estimate_twice_comes_back(mode):
    x = _music()
    out, info = combine(x, x, 22050, EnsembleConfig(mode=mode))
    assert out.shape == x.shape
    assert np.max(np.abs(out - x)) < 1e-4


@pytest.mark.parametrize("rate", [44100, 16000])
def test_other_rates_and_stereo(rate):
    x = np.concatenate([_music(rate, rate), _music(rate, rate, seed=1)])
    out, _ = combine(x, x, rate, EnsembleConfig(mode="band"))
    assert out.shape == x.shape
    # resampled to 22.05 kHz and back: content above 11 kHz is lost at 44.1 kHz, the rest survives
    assert np.corrcoef(out.ravel(), x.ravel())[0, 1] > 0.99


def test_alignment_and_level_of_the_generative_estimate():
    x = _music()
    late = np.roll(x, 37, axis=-1) * 3.0
    assert best_lag(x[0], late[0], 441) == 37
    out, info = combine(x, late, 22050, EnsembleConfig(mode="flow"))
    assert info["lag_samples"] == 37 and abs(info["flow_gain"] - 1 / 3) < 1e-3
    inner = slice(100, -100)
    assert np.max(np.abs(out[0, inner] - x[0, inner])) < 1e-3


def test_band_takes_low_from_unet_and_high_from_flow():
    rate, n = 22050, 22050
    t = np.arange(n) / rate
    low = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)[None]
    high = (0.3 * np.sin(2 * np.pi * 8000 * t)).astype(np.float32)[None]
    both = low + high
    # U-Net gives both tones, flow gives both tones at the same level; band keeps low from U-Net only
    unet = both.copy()
    flow = (low * 0 + high * 1).astype(np.float32) * np.sqrt(2)   # flow's level is normalised to the U-Net's
    out, _ = combine(unet, flow, rate, EnsembleConfig(mode="band", crossover_hz=4000, max_lag_ms=0))
    spec = np.abs(np.fft.rfft(out[0]))
    f = np.fft.rfftfreq(n, 1 / rate)
    assert spec[np.argmin(abs(f - 300))] > 0.9 * np.abs(np.fft.rfft(low[0])).max()
    ratio = spec[np.argmin(abs(f - 8000))] / np.abs(np.fft.rfft(high[0])).max()
    assert 1.3 < ratio < 1.5          # the flow's louder (sqrt 2) high tone, not the U-Net's


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="unknown ensemble"):
        combine(_music(), _music(), 22050, EnsembleConfig(mode="average"))
    with pytest.raises(ValueError, match="weight"):
        combine(_music(), _music(), 22050, EnsembleConfig(weight=1.5))
