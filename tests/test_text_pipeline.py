"""The full EventSep text pipeline (engine.pipeline) and ``eventsep text``, with the shipped models."""
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.audio import load_audio
from engine.cli import main
from engine.errors import EventSepError
from engine.pipeline import EventSep, PipelineConfig, calibrate_curve, with_options
from engine.text_options import DEFAULT_MASK, DEFAULT_RELATIVE, DEFAULT_THRESHOLDS

EXAMPLE = str(Path(__file__).resolve().parents[1] / "engine" / "assets" / "example" / "mixture.flac")


@pytest.fixture(scope="module")
def es():
    return EventSep(config=PipelineConfig(steps=2))


@pytest.fixture(scope="module")
def example():
    audio, rate = load_audio(EXAMPLE)
    return audio[:, : 3 * rate], rate


def test_calibration_maps_the_tuned_threshold_to_one_half():
    p = np.linspace(0, 1, 101)
    c = calibrate_curve(p, 0.2)
    assert c[20] == pytest.approx(0.5) and c[0] == 0 and c[-1] == pytest.approx(1.0)
    assert np.all(np.diff(c) >= 0)


def test_prompt_to_target(es):
    t = es.resolve("only the violin please")
    assert (t.coarse, t.fine, t.level) == ("strings", "Violin", "fine")
    assert es.resolve(class_name="drums").level == "coarse"
    with pytest.raises(EventSepError, match="matches no class"):
        es.resolve("a dog barking")
    with pytest.raises(EventSepError, match="not trained on"):
        es.resolve("a helicopter landing on the roof")
    with pytest.raises(EventSepError, match="names speech, matched by 'spoken voice', a class this separator"):
        es.resolve("only the voice")


def test_unet_without_mask_is_the_plain_separation(es, example):
    import torch

    from engine.separate import separate_array

    audio, rate = example
    cfg = with_options(es.config, mode="unet", mask="none")
    res = es.run(audio, rate, prompt="piano", config=cfg)
    plain = separate_array(es.unet, audio, rate, es.latents["coarse"]["piano"])
    assert np.allclose(res.estimate, plain.estimate, atol=1e-6)
    assert np.all(res.gain == 1)
    assert torch.is_tensor(es.latent(res.target))


@pytest.mark.parametrize("mode", ["rate", "band", "progressive", "flow"])
def test_every_ensemble_and_mask_gives_bounded_finite_audio(es, example, mode):
    audio, rate = example
    for mask in ("soft", "hard"):
        res = es.run(audio, rate, prompt="the piano", config=with_options(es.config, mode=mode, mask=mask))
        assert res.estimate.shape == audio.shape and np.isfinite(res.estimate).all()
        assert 0 <= res.gain.min() and res.gain.max() <= 1
        assert np.allclose(res.estimate, res.unmasked * res.gain)
        assert len(res.prob) == pytest.approx(audio.shape[-1] / rate / res.frame_seconds, abs=2)


def test_each_mask_runs_at_its_own_threshold_unless_one_is_given(es, example):
    # the thresholds were picked per mask on valid; a hard step at the root mask's 1.0 would sit at the curve's
    # top and throw the piano away (-9 dB intermittent, -14 dB whole on valid)
    assert PipelineConfig(mask="hard").mask_threshold == DEFAULT_THRESHOLDS["hard"] < 0.5
    assert PipelineConfig().mask_threshold == DEFAULT_THRESHOLDS[DEFAULT_MASK]
    assert PipelineConfig(mask="hard", threshold=0.7).mask_threshold == 0.7
    audio, rate = example
    cfg = with_options(es.config, mode="unet", presence="off")
    hard = es.run(audio, rate, prompt="the piano", config=with_options(cfg, mask="hard"))
    at_top = es.run(audio, rate, prompt="the piano", config=with_options(cfg, mask="hard", threshold=1.0))
    assert hard.gain.mean() > 0.8 and hard.gain.mean() > at_top.gain.mean() + 0.3


def test_masked_output_is_silent_where_the_class_is_absent(es):
    # 2 s of drums-free tone then silence: a 'drums' prompt keeps almost nothing anywhere
    rate = 22050
    t = np.arange(2 * rate) / rate
    audio = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    res = es.run(audio, rate, prompt="drums", config=with_options(es.config, mode="unet", mask="hard"))
    assert np.sqrt(np.mean(res.estimate ** 2)) < 0.1 * np.sqrt(np.mean(res.unmasked ** 2)) + 1e-6


def test_any_rate_and_stereo(es, example):
    from engine.audio import resample

    audio, rate = example
    stereo = np.concatenate([audio, 0.5 * audio])
    x = resample(stereo, rate, 44100)
    res = es.run(x, 44100, prompt="piano")
    assert res.estimate.shape == x.shape and res.sample_rate == 44100


def test_the_mask_curve_comes_from_the_activity_model_or_the_detector(es, example):
    """Default: the target-activity model on (mixture, U-Net estimate); ``when="detector"``: the detector on
    the mixture alone, exactly the curve ``probability`` gives without an estimate."""
    from engine.activity.infer import target_activity

    audio, rate = example
    res = es.run(audio, rate, prompt="the piano", config=with_options(es.config, mode="unet", relative=False))
    raw, fs = target_activity(es.activity[0], audio, res.unmasked, rate, "piano")
    assert es.config.when == "activity" and res.frame_seconds == fs
    expected = calibrate_curve(raw, es.activity[1]["thresholds"]["piano"])
    np.testing.assert_allclose(res.prob, expected, atol=1e-6)            # the calibrated curve as it is
    scaled = es.run(audio, rate, prompt="the piano", config=with_options(es.config, mode="unet", relative=True))
    np.testing.assert_allclose(scaled.prob, np.clip(expected / max(np.percentile(expected, 95), 0.2), 0, 1),
                               atol=1e-6)
    default = es.run(audio, rate, prompt="the piano", config=with_options(es.config, mode="unet"))
    np.testing.assert_allclose(default.prob, (scaled if DEFAULT_RELATIVE else res).prob, atol=1e-6)
    det = es.run(audio, rate, prompt="the piano", config=with_options(es.config, mode="unet", when="detector"))
    np.testing.assert_allclose(det.prob, es.probability(audio, rate, "piano")[0], atol=1e-6)
    assert not np.allclose(det.prob, res.prob)
    assert np.allclose(det.unmasked, res.unmasked)          # the curve changes the mask, not the separation


def test_too_short_input_is_refused(es):
    with pytest.raises(EventSepError, match="too short"):
        es.run(np.zeros((1, 100), np.float32), 22050, prompt="piano")


def test_cli_writes_output_and_report(tmp_path, capsys, example):
    audio, rate = example
    mix = tmp_path / "mix.flac"
    sf.write(mix, np.concatenate([audio, audio]).T, rate)
    out, rep = tmp_path / "out.wav", tmp_path / "rep"
    code = main(["text", str(mix), "only the piano", "-o", str(out), "--steps", "2", "--report", str(rep),
                 "--residual", str(tmp_path / "rest.wav"), "--quiet"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("class: piano")
    y, r = sf.read(out, always_2d=True)
    assert r == rate and y.shape == (audio.shape[-1], 2)
    rest, _ = sf.read(tmp_path / "rest.wav", always_2d=True)
    x, _ = sf.read(mix, always_2d=True)
    assert np.allclose(y + rest, x, atol=1e-4)
    info = json.loads((rep / "mix.json").read_text())
    assert info["class"] == "piano" and info["settings"]["mask"] == "root" and 0 <= info["mask_mean_gain"] <= 1
    assert info["settings"]["when"] == "activity" and info["settings"]["relative"] is DEFAULT_RELATIVE
    assert info["settings"]["threshold"] == DEFAULT_THRESHOLDS["root"]
    # the active spans are where the mask passes the estimate at -6 dB or more: the piano plays throughout
    assert info["active_fraction"] > 0.8 and info["active_spans_s"][0][0] < 0.5
    other = "--absolute" if DEFAULT_RELATIVE else "--relative"
    before = out.read_bytes()                                  # a rerun replaces nothing unasked
    capsys.readouterr()
    assert main(["text", str(mix), "only the piano", "-o", str(out), "--quiet"]) == 2
    assert "already exists (pass --overwrite to replace it)" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["text", str(mix), "only the piano", "-o", str(out), other, "--report", str(rep),
                 "--threshold", "0.5", "--overwrite", "--quiet"]) == 0
    settings = json.loads((rep / "mix.json").read_text())["settings"]
    assert settings["relative"] is (not DEFAULT_RELATIVE) and settings["threshold"] == 0.5
    for bad in ("0", "1.5", "x"):                             # the knee's threshold lies in (0, 1]
        with pytest.raises(SystemExit):
            main(["text", str(mix), "piano", "-o", str(out), "--threshold", bad])
        assert "--threshold: must" in capsys.readouterr().err
    with pytest.raises(SystemExit):          # one or the other
        main(["text", str(mix), "piano", "-o", str(out), "--relative", "--absolute"])
    for png in ("mix_detection.png", "mix_spectrograms.png"):
        assert (rep / png).read_bytes()[:4] == b"\x89PNG"


def test_cli_batch_keeps_going_past_a_bad_file(tmp_path, capsys, example):
    audio, rate = example
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "a.wav", audio[0], rate)
    sf.write(folder / "b.flac", audio[0, :rate], rate)
    (folder / "broken.wav").write_bytes(b"RIFF not really audio")
    code = main(["text", "--batch", str(folder), "drums", "-o", str(tmp_path / "out"), "--steps", "1", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and "broken.wav" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.wav", "b.wav"]


@pytest.mark.parametrize("args, needle", [
    (["text", EXAMPLE, "the roar of a jet engine", "-o", "x.wav"], "matches no class"),
    (["text", "missing.wav", "piano", "-o", "x.wav"], "no such file"),
    (["text", EXAMPLE, "-o", "x.wav"], "give the mixture and the prompt"),
    (["text", EXAMPLE, "piano", "-o", "x.wav", "--steps", "0"], "--steps"),
    (["text", "--batch", "nowhere", "piano", "-o", "out"], "no such folder"),
    (["text", EXAMPLE, "piano", "-o", "x.wav", "--activity", "nowhere"], "not a detector folder"),
    (["text", EXAMPLE, "piano", "-o", "x.wav", "--activity", str(Path(__file__).resolve().parents[1] / "engine"
                                                                  / "assets" / "detector")],
     "not a target-activity model"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, monkeypatch, args, needle):
    monkeypatch.chdir(tmp_path)
    code = main(args)
    err = capsys.readouterr().err
    assert code == 2 and needle in err and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


def test_cli_never_writes_over_its_input(tmp_path, capsys, example):
    audio, rate = example
    mix = tmp_path / "mix.flac"
    sf.write(mix, audio.T, rate)
    before = mix.read_bytes()
    for extra in (["-o", str(mix)], ["-o", str(tmp_path / "out.wav"), "--residual", str(mix)]):
        assert main(["text", str(mix), "only the piano", *extra, "--overwrite", "--quiet"]) == 2
        assert "is the input file itself" in capsys.readouterr().err
    assert mix.read_bytes() == before and not (tmp_path / "out.wav").exists()


def test_cli_batch_keeps_same_named_files_apart(tmp_path, capsys, example):
    audio, rate = example
    for sub in ("a", "b"):
        (tmp_path / "in" / sub).mkdir(parents=True)
        sf.write(tmp_path / "in" / sub / "take.wav", audio[0, :rate], rate)
    args = ["text", "--batch", str(tmp_path / "in"), "drums", "-o", str(tmp_path / "out"),
            "--residual", str(tmp_path / "rest"), "--steps", "1", "--quiet"]
    assert main(args) == 0
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.glob("rest/*/*.wav")) == ["rest/a/take.wav",
                                                                                           "rest/b/take.wav"]
    sf.write(tmp_path / "in" / "a" / "take.flac", audio[0, :rate], rate)   # a/take.flac -> out/a/take.wav too
    capsys.readouterr()
    assert main(args + ["--overwrite"]) == 2
    assert "would be written there" in capsys.readouterr().err


def test_cli_checks_the_output_before_loading_anything(tmp_path, capsys, example):
    audio, rate = example
    mix = tmp_path / "mix.flac"
    sf.write(mix, audio.T, rate)
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    for out, expected in ((tmp_path / "out.xyz", "cannot write '.xyz' files"),
                          (blocker / "out.wav", "cannot create its folder")):
        capsys.readouterr()
        assert main(["text", str(mix), "only the piano", "-o", str(out)]) == 2
        captured = capsys.readouterr()
        assert expected in captured.err and "loading models" not in captured.err   # before the models load
