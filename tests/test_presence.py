"""WHETHER (engine.presence): the calibration's maths, its file, and the decision in the text pipeline."""
import json
from pathlib import Path

import numpy as np
import pytest

from engine.audio import load_audio
from engine.cli import main
from engine.errors import EventSepError
from engine.pipeline import EventSep, PipelineConfig
from engine.presence import (FEATURES, SHIPPED, PresenceCalibration, balanced_threshold, fit_logistic, judge,
                             level_db, presence_features, separator_identity)
from engine.shipped import DEFAULT_MODEL_DIR

EXAMPLE = Path(__file__).resolve().parents[1] / "engine" / "assets" / "example" / "mixture.flac"


def test_logistic_fit_recovers_the_direction_that_separates():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 3))
    y = (x @ [2.0, -1.0, 0.0] + 0.5 + 0.3 * rng.standard_normal(400)) > 0
    w, b = fit_logistic(x, y)
    assert w[0] > 0 and w[1] < 0 and b > 0
    assert w[0] / -w[1] == pytest.approx(2.0, rel=0.25) and abs(w[2]) < 0.1 * w[0]
    assert np.mean(((x @ w + b) > 0) == y) > 0.93


def test_the_balanced_threshold_keeps_both_accuracies_up():
    present = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    scores = np.r_[np.linspace(0.4, 1.0, 50), np.linspace(0.0, 0.45, 50)]
    t, acc_p, acc_a = balanced_threshold(scores, present)
    assert acc_p >= 0.95 and acc_a >= 0.9
    assert np.mean(scores[present] >= t) == acc_p and np.mean(scores[~present] < t) == acc_a


def test_features_and_decision():
    f = presence_features(-60.0, np.full(10, 0.5), np.array([]), np.r_[np.full(9, 0.1), 0.5])
    assert f.tolist() == [-4.0, 0.0, 0.0, 0.0]             # level floored at -40 dB, logit(0.5) = 0
    assert presence_features(0.0, np.full(3, 0.5), np.full(3, 0.5), np.array([0.1, 0.9]))[3] == \
        pytest.approx(np.log(9.0))                          # the activity curve's maximum
    assert level_db(np.ones(10), 0.1 * np.ones(10)) == pytest.approx(-20.0)
    cal = PresenceCalibration([1.0, 1.0, 0.0, 0.0], 0.0, threshold=0.5)
    assert judge(cal, np.array([1.0, 1.0, 0.0, 0.0])).present
    p = judge(cal, np.array([-2.0, -1.0, 5.0, 7.0]))
    assert not p.present and p.score == pytest.approx(1 / (1 + np.exp(3.0)))
    assert set(p.to_dict()["features"]) == set(FEATURES)
    assert p.gated and p.gate_threshold == 0.5          # an older file without a gate threshold gates at the decision
    strict = PresenceCalibration([1.0, 1.0, 0.0, 0.0], 0.0, threshold=0.5, gate_threshold=0.02)
    between = judge(strict, np.array([-2.0, -1.0, 5.0, 7.0]))     # score 0.047: absent, but not sure enough
    assert not between.present and not between.gated and between.to_dict()["gated"] is False
    assert judge(strict, np.array([-4.0, -1.0, 0.0, 0.0])).gated  # score 0.007


def test_the_calibration_file_round_trips_and_bad_files_say_why(tmp_path):
    cal = PresenceCalibration([0.5, 1.0, 0.2, 0.7], -0.3, 0.4, {"step": 1}, "test", {"items": 3}, 0.1)
    back = PresenceCalibration.load(cal.save(tmp_path / "p.json"))
    assert back == cal
    with pytest.raises(EventSepError, match="no presence calibration"):
        PresenceCalibration.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(EventSepError, match="not a presence calibration"):
        PresenceCalibration.load(tmp_path / "bad.json")
    (tmp_path / "other.json").write_text(json.dumps({"features": ["x"], "weights": [1.0], "bias": 0.0}))
    with pytest.raises(EventSepError, match="other features"):
        PresenceCalibration.load(tmp_path / "other.json")


def test_the_shipped_calibration_belongs_to_the_shipped_separator():
    cal = PresenceCalibration.load()
    assert cal.separator == separator_identity(DEFAULT_MODEL_DIR)
    assert json.loads(SHIPPED.read_text())["fitted_on"].startswith("valid-")      # never an evaluation set


@pytest.fixture(scope="module")
def example():
    audio, rate = load_audio(EXAMPLE)
    return audio[:, : 4 * rate], rate


@pytest.fixture(scope="module")
def es():
    return EventSep(config=PipelineConfig(steps=1, mask="none", presence="gate"))


def test_a_class_in_the_file_passes_and_one_that_is_not_gives_near_silence(es, example):
    audio, rate = example
    piano = es.run(audio, rate, class_name="piano")
    assert piano.presence.present and np.abs(piano.estimate).max() > 0.05
    flute = es.run(audio, rate, class_name="pipe")           # no flute in piano, drums, bass and organ
    assert not flute.presence.present and flute.presence.score < flute.presence.threshold
    assert flute.presence.gated and flute.presence.gate_threshold <= flute.presence.threshold
    assert flute.estimate.shape == audio.shape
    # 'report' judges the same and leaves the output alone; 'gate' turns that output down by its depth (40 dB
    # by default), not to zero: a wrong decision loses nothing; 'off' does not judge
    report = es.run(audio, rate, class_name="pipe", config=PipelineConfig(steps=1, mask="none", presence="report"))
    assert report.presence.score == pytest.approx(flute.presence.score) and np.abs(report.estimate).max() > 0
    np.testing.assert_allclose(flute.estimate, report.estimate * 0.01, rtol=1e-5, atol=1e-9)
    assert level_db(report.estimate, flute.estimate) == pytest.approx(-40.0, abs=1e-3)
    deeper = es.run(audio, rate, class_name="pipe",
                    config=PipelineConfig(steps=1, mask="none", presence="gate", gate_depth_db=80.0))
    assert level_db(report.estimate, deeper.estimate) == pytest.approx(-80.0, abs=1e-3)
    off = es.run(audio, rate, class_name="pipe", config=PipelineConfig(steps=1, mask="none", presence="off"))
    assert off.presence is None
    np.testing.assert_array_equal(off.estimate, report.estimate)


def test_the_cli_says_it_and_the_report_keeps_it(tmp_path, capsys):
    # the example holds piano, drums, bass and organ; of the classes it lacks, the guitar scores far under the
    # gate threshold (brass, strings or a flute score between the two lines: judged absent, output kept)
    out, rep = tmp_path / "guitar.wav", tmp_path / "rep"
    assert main(["text", str(EXAMPLE), "only the guitar", "-o", str(out), "--steps", "1", "--presence", "gate",
                 "--report", str(rep), "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("presence of guitar:") and "NOT in the file; the output is turned down by 40 dB" in line
               for line in lines)
    info = json.loads((rep / "mixture.json").read_text())
    assert info["presence"]["present"] is False and info["presence"]["mode"] == "gate"
    assert info["settings"]["presence"] == "gate" and info["presence"]["output_gain_db"] == -40.0
    with pytest.raises(SystemExit):
        main(["text", str(EXAMPLE), "piano", "-o", str(out), "--presence", "maybe"])
    assert "invalid choice: 'maybe'" in capsys.readouterr().err
    assert main(["text", str(EXAMPLE), "piano", "-o", str(out), "--gate-depth", "-3"]) == 2
    assert "--gate-depth must be between 0 and 200 dB" in capsys.readouterr().err


def test_cross_validation_reports_each_kind_on_held_out_items():
    from engine.presence_fit import KINDS, cross_validated

    rng = np.random.default_rng(0)
    items = 40
    kinds = np.tile(np.arange(len(KINDS)), items)
    absent = kinds == KINDS.index("absent")
    # one informative feature (present items high, absent low) and one of noise
    features = np.stack([np.where(absent, -2.0, 2.0) + 0.3 * rng.standard_normal(len(kinds)),
                         rng.standard_normal(len(kinds))], 1)
    acc = cross_validated(features, kinds)
    assert set(acc) == set(KINDS) | {f"{k}_gated" for k in KINDS}
    assert all(acc[k] == 1.0 for k in KINDS)
    # the gate silences most absent items and few present ones (2 % of the fold's present items may fall under it)
    assert acc["absent_gated"] == 1.0 and acc["whole_gated"] <= 0.1 and acc["intermittent_gated"] <= 0.1
    # intermittent items that look absent are wrong on held-out folds, and only they are counted as such
    features[kinds == KINDS.index("intermittent"), 0] = -2.0
    acc = cross_validated(features, kinds)
    assert acc["intermittent"] < 0.6 and acc["absent"] > 0.4
