import numpy as np
import pytest

from engine.metrics import score, sdr_bsseval, sdr_energy, si_sdr


def _signals(seed=0, n=44100):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n), rng.standard_normal(n)


def test_energy_sdr_matches_its_definition():
    s, e = _signals()
    est = s + 0.1 * e
    expected = 10 * np.log10(np.sum(s ** 2) / np.sum((0.1 * e) ** 2))
    assert sdr_energy(s, est) == pytest.approx(expected, abs=1e-6)


def test_si_sdr_is_scale_invariant_and_sdr_is_not():
    s, e = _signals(1)
    est = s + 0.1 * e
    assert si_sdr(s, 3 * est) == pytest.approx(si_sdr(s, est), abs=1e-6)
    assert sdr_energy(s, 3 * est) < sdr_energy(s, est) - 5


def test_bsseval_forgives_a_short_filter_but_energy_sdr_does_not():
    s, e = _signals(2)
    filtered = np.convolve(s, [0.6, 0.3, 0.1])[: len(s)]
    assert sdr_bsseval(s, filtered + 0.01 * e, 22050) > 20
    assert sdr_energy(s, filtered + 0.01 * e) < 10


def test_improvements_over_the_mixture():
    s, e = _signals(3)
    mix = s + e
    result = score(s, s + 0.1 * e, mix, 22050)
    assert result["si_sdri"] == pytest.approx(si_sdr(s, s + 0.1 * e) - si_sdr(s, mix))
    assert result["si_sdri"] > 15 and result["sdri"] > 15


def test_silent_reference_frames_are_skipped():
    s, e = _signals(4)
    s[:22050] = 0.0
    assert np.isfinite(sdr_bsseval(s, s + 0.1 * e, 22050))
    assert np.isnan(sdr_bsseval(np.zeros(44100), e, 22050))
