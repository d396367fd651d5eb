import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.audio import load_audio, save_audio
from engine.cli import build_parser, main

from .conftest import tone

SUBCOMMANDS = ["separate", "train", "latents", "classes", "eval", "demo", "process", "live", "serve", "panel", "detect"]


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_console_script_help():
    exe = Path(sys.executable).with_name("eventsep")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for name in SUBCOMMANDS:
        assert name in out.stdout


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_option_is_documented(name):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[name]
    for action in sub._actions:
        if action.dest != "help":
            assert action.help, f"{name}: option {action.option_strings or action.dest} has no help"


@pytest.fixture
def mix_file(tmp_path):
    rng = np.random.default_rng(0)
    audio = tone(2.0, 44100, 330.0, channels=2) + 0.05 * rng.standard_normal((2, 88200)).astype(np.float32)
    return save_audio(tmp_path / "mix.flac", audio, 44100)


def test_separate_by_class_keeps_rate_and_channels(capsys, tmp_path, tiny_checkpoint, mix_file):
    out = tmp_path / "out" / "target.wav"
    res = tmp_path / "out" / "rest.wav"
    code, _, err = _run(capsys, "separate", mix_file, "-o", out, "--model", tiny_checkpoint,
                        "--class", "Tones", "--residual", res, "--quiet")
    assert code == 0, err
    est, rate = load_audio(out)
    rest, _ = load_audio(res)
    mix, _ = load_audio(mix_file)
    assert rate == 44100 and est.shape == mix.shape
    assert np.max(np.abs(est + rest - mix)) < 1e-4


def test_separate_by_query_with_interpolation(capsys, tmp_path, tiny_checkpoint, mix_file):
    ref = save_audio(tmp_path / "ref.wav", tone(1.5, 22050, 500.0), 22050)
    out = tmp_path / "o.wav"
    code, _, err = _run(capsys, "separate", mix_file, "-o", out, "--model", tiny_checkpoint,
                        "--query", ref, "--class-b", "noise", "--interp", "0.5", "--iterate", "1", "--quiet")
    assert code == 0, err
    assert out.exists()


def test_batch_folder(capsys, tmp_path, tiny_checkpoint):
    folder = tmp_path / "in"
    for i in range(3):
        save_audio(folder / f"song{i}.wav", tone(0.7, 32000, 200.0 + 50 * i), 32000)
    code, _, err = _run(capsys, "separate", folder, "-o", tmp_path / "outs", "--model", tiny_checkpoint,
                        "--class", "tones", "--quiet")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "outs").iterdir()) == ["song0.wav", "song1.wav", "song2.wav"]


@pytest.mark.parametrize("case,expected", [
    ("missing", "no such file"),
    ("empty", "empty"),
    ("unknown_class", "unknown class"),
    ("short_query", "too short"),
    ("no_query", "--query REF or --class NAME"),
    ("bad_interp", "needs a second query"),
])
def test_bad_input_gets_a_clear_message(capsys, tmp_path, tiny_checkpoint, mix_file, case, expected):
    args = ["separate", mix_file, "-o", tmp_path / "o.wav", "--model", tiny_checkpoint, "--quiet"]
    if case == "missing":
        args[1] = tmp_path / "absent.wav"
        args += ["--class", "tones"]
    elif case == "empty":
        (tmp_path / "empty.wav").write_bytes(b"")
        args[1] = tmp_path / "empty.wav"
        args += ["--class", "tones"]
    elif case == "unknown_class":
        args += ["--class", "kazoo"]
    elif case == "short_query":
        args += ["--query", save_audio(tmp_path / "q.wav", tone(0.01, 22050), 22050)]
    elif case == "bad_interp":
        args += ["--class", "tones", "--interp", "0.3"]
    code, _, err = _run(capsys, *args)
    assert code == 2
    assert expected in err
    assert "Traceback" not in err
    assert not (tmp_path / "o.wav").exists()


def test_silent_and_nan_inputs_have_defined_results(capsys, tmp_path, tiny_checkpoint):
    silent = save_audio(tmp_path / "silent.wav", np.zeros((2, 22050), np.float32), 44100)
    code, _, err = _run(capsys, "separate", silent, "-o", tmp_path / "s.wav", "--model", tiny_checkpoint,
                        "--class", "tones", "--quiet")
    assert code == 0, err
    assert not load_audio(tmp_path / "s.wav")[0].any()
    nan = np.full((1, 22050), 0.1, np.float32)
    nan[0, ::7] = np.nan
    path = tmp_path / "nan.wav"
    import soundfile as sf
    sf.write(path, nan.T, 22050, subtype="FLOAT")
    code, out, err = _run(capsys, "separate", path, "-o", tmp_path / "n.wav", "--model", tiny_checkpoint,
                          "--class", "tones", "--quiet")
    assert code == 0, err
    assert "NaN" in out
    assert np.isfinite(load_audio(tmp_path / "n.wav")[0]).all()


def test_no_default_model_yet_is_explained(capsys, tmp_path, mix_file, monkeypatch):
    import engine.shipped as shipped
    monkeypatch.setattr(shipped, "DEFAULT_MODEL_DIR", tmp_path / "nothing")
    code, _, err = _run(capsys, "separate", mix_file, "-o", tmp_path / "o.wav", "--class", "piano")
    assert code == 2 and "--model" in err


def test_separate_with_the_shipped_model_runs_its_bundle_without_torch(tmp_path, mix_file):
    repo = Path(__file__).resolve().parents[1]
    ref = tmp_path / "ref.wav"
    save_audio(ref, tone(1.5, 32000, 330.0, channels=1), 32000)
    code = ("import sys\nfrom engine.cli import main\n"
            f"rc = main(['separate', {str(mix_file)!r}, '-o', {str(tmp_path / 'onnx.wav')!r}, '--class', 'piano', "
            f"'--query-b', {str(ref)!r}, '--interp', '0.3', '--iterate', '1', '--residual', "
            f"{str(tmp_path / 'rest.wav')!r}, '--quiet'])\n"
            "print('torch' in sys.modules)\nsys.exit(rc)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=repo)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip().splitlines()[-1] == "False"         # no PyTorch import on this path
    mix, _ = load_audio(mix_file)
    onnx_out, _ = load_audio(tmp_path / "onnx.wav")
    rest, _ = load_audio(tmp_path / "rest.wav")
    assert onnx_out.shape == mix.shape and np.abs(onnx_out).max() > 1e-3
    np.testing.assert_allclose(onnx_out + rest, mix, atol=1e-5)
    # the same result as the shipped checkpoint run in PyTorch
    for name, model in (("bundle", []), ("torch", ["--model", str(repo / "engine" / "assets" / "default_model")])):
        assert main(["separate", str(mix_file), "-o", str(tmp_path / f"{name}.wav"), "--class", "guitar",
                     "--quiet", *model]) == 0
    np.testing.assert_allclose(load_audio(tmp_path / "bundle.wav")[0], load_audio(tmp_path / "torch.wav")[0],
                               atol=1e-5)


def test_classes_lists_latents(capsys, tiny_checkpoint):
    code, out, _ = _run(capsys, "classes", "--model", tiny_checkpoint)
    assert code == 0 and "noise" in out and "Sine Tones" in out


def test_eval_table(capsys, tmp_path):
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        s = rng.standard_normal((1, 44100)).astype(np.float32) * 0.1
        n = rng.standard_normal((1, 44100)).astype(np.float32) * 0.1
        save_audio(tmp_path / "ref" / f"{name}.wav", s, 22050, "FLOAT")
        save_audio(tmp_path / "est" / f"{name}.wav", s + 0.1 * n, 22050, "FLOAT")
        save_audio(tmp_path / "mix" / f"{name}.wav", s + n, 22050, "FLOAT")
    code, out, err = _run(capsys, "eval", tmp_path / "est", tmp_path / "ref", "--mixtures", tmp_path / "mix",
                          "--csv", tmp_path / "t.csv")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0].split()[:4] == ["file", "sdr", "sdr_energy", "si_sdr"]
    mean = dict(zip(lines[0].split()[1:], map(float, lines[-2].split()[1:])))
    assert 19 < mean["si_sdr"] < 21 and 19 < mean["si_sdri"] < 21
    assert (tmp_path / "t.csv").read_text().startswith("name,sdr")


def test_eval_without_common_names(capsys, tmp_path):
    save_audio(tmp_path / "ref" / "a.wav", tone(0.5), 22050)
    save_audio(tmp_path / "est" / "b.wav", tone(0.5), 22050)
    code, _, err = _run(capsys, "eval", tmp_path / "est", tmp_path / "ref")
    assert code == 2 and "no file names in common" in err


def _example(folder):
    import json
    folder.mkdir()
    rng = np.random.default_rng(0)
    target = tone(3.0)
    save_audio(folder / "target.flac", target, 22050)
    save_audio(folder / "mixture.flac", target + 0.05 * rng.standard_normal(target.shape), 22050)
    save_audio(folder / "reference.flac", tone(2.0, freq=550.0), 22050)
    (folder / "example.json").write_text(json.dumps(
        {"mixture": "mixture.flac", "target": "target.flac", "reference": "reference.flac",
         "target_class": "tones", "description": "a tone in noise"}))
    return folder


def test_demo_separates_from_clip_and_class(capsys, tmp_path, tiny_checkpoint):
    import json
    example = _example(tmp_path / "ex")
    code, out, err = _run(capsys, "demo", "--model", tiny_checkpoint, "--example", example, "--out", tmp_path / "o")
    assert code == 0, err
    assert "class name" in out and "reference clip" in out and "mean SI-SDRi over 1 example" in out
    report = json.loads((tmp_path / "o" / "demo.json").read_text())
    assert [r["query"].split()[0] for r in report["results"]] == ["class", "reference"]
    assert (tmp_path / "o" / "demo.png").stat().st_size > 1000
    for r in report["results"]:
        est, _ = load_audio(r["estimate"])
        res, _ = load_audio(r["residual"])
        mix, _ = load_audio(example / "mixture.flac")
        np.testing.assert_allclose(est + res, mix, atol=1e-6)  # estimate + residual = the mixture
        assert np.isfinite(r["si_sdri_db"])


def test_demo_set_prints_a_line_per_example_and_the_means(capsys, tmp_path, tiny_checkpoint):
    import json
    demo = tmp_path / "set"
    demo.mkdir()
    for name in ("a", "b"):
        _example(demo / name)
    (demo / "demo.json").write_text(json.dumps({"rule": "test", "examples": ["a", "b"]}))
    code, out, err = _run(capsys, "demo", "--model", tiny_checkpoint, "--example", demo, "--out", tmp_path / "o")
    assert code == 0, err
    lines = [line for line in out.splitlines() if "class name" in line and "reference clip" in line]
    assert len(lines) == 3 and lines[-1].startswith("mean SI-SDRi over 2 examples")
    report = json.loads((tmp_path / "o" / "demo.json").read_text())
    assert [e["example"] for e in report["examples"]] == ["a", "b"]
    per = [e["results"][0]["si_sdri_db"] for e in report["examples"]]
    assert abs(report["mean_si_sdri_db"]["class_name"] - np.mean(per)) < 0.01
    assert (tmp_path / "o" / "a" / "from_class.wav").exists() and (tmp_path / "o" / "demo.png").exists()


def test_demo_without_example_is_explained(capsys, tmp_path, tiny_checkpoint):
    code, _, err = _run(capsys, "demo", "--model", tiny_checkpoint, "--example", tmp_path, "--out", tmp_path / "o")
    assert code == 2 and "example.json" in err


def test_shipped_model_separates_the_demo_set(capsys, tmp_path):
    """The real default model on the bundled demo set: what `make demo` runs (8 test-split examples, one
    per core class, picked by a fixed rule). The query must steer the output: asking for each example's
    class keeps far more of its target than asking for a class that is not in the mixture, which should
    give near-silence (the model is trained with absent targets). A model or latent file that ignores the
    query, or a mixed-up class table, fails it."""
    import json

    from engine.checkpoint import load_latents, load_model
    from engine.metrics import si_sdr
    from engine.separate import apply_model
    from engine.taxonomy import CORE_CLASSES

    code, out, err = _run(capsys, "demo", "--out", tmp_path / "o", "--no-png")
    assert code == 0, err
    report = json.loads((tmp_path / "o" / "demo.json").read_text())
    assert [e["info"]["target_class"] for e in report["examples"]] == list(CORE_CLASSES)
    assert out.count("class name") == 9 and "mean SI-SDRi over 8 examples" in out
    root = Path(__file__).resolve().parents[1] / "engine" / "assets"
    model, _ = load_model(root / "default_model")
    latents = load_latents(root / "default_model")
    margins = []
    for e in report["examples"]:
        folder = root / "demo" / e["example"]
        mix, _ = load_audio(folder / "mixture.flac", mono=True)
        target, _ = load_audio(folder / "target.flac", mono=True)
        present = {e["info"]["target_class"], *e["info"]["others_classes"]}
        absent = next(c for c in ("voice", "organ", "synth_lead", "reed", "ethnic") if c not in present)
        with torch.no_grad():
            est = apply_model(model, torch.from_numpy(mix), latents["coarse"][absent])[0].numpy()
        wrong = si_sdr(target[0], est) - si_sdr(target[0], mix[0])
        margins.append(e["results"][0]["si_sdri_db"] - wrong)
    assert np.mean(margins) > 10.0, margins
def test_separate_to_a_path_that_cannot_be_written_is_one_line(capsys, tmp_path, tiny_checkpoint, mix_file):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    code, _, err = _run(capsys, "separate", mix_file, "-o", blocker / "x.wav", "--model", tiny_checkpoint,
                        "--class", "tones")
    assert code == 2 and err.count("\n") == 1 and "cannot create its folder" in err and "Traceback" not in err
    code, _, err = _run(capsys, "separate", mix_file, "-o", tmp_path, "--model", tiny_checkpoint,
                        "--class", "tones", "--residual", blocker / "r.wav")
    assert code == 2 and "cannot create its folder" in err
    assert not (tmp_path / "mix.wav").exists()                 # checked before the work, nothing written


def test_separate_never_overwrites_its_input(capsys, tmp_path, tiny_checkpoint):
    wav = save_audio(tmp_path / "song.wav", tone(1.0), 22050)
    before = wav.read_bytes()
    for extra in ((), ("--residual", tmp_path / "x.wav")):
        code, _, err = _run(capsys, "separate", wav, "-o", tmp_path, "--model", tiny_checkpoint,
                            "--class", "tones", *extra)
        assert code == 2 and "is the input file itself" in err
    code, _, err = _run(capsys, "separate", wav, "-o", tmp_path / "x.wav", "--model", tiny_checkpoint,
                        "--class", "tones", "--residual", wav)
    assert code == 2 and "is the input file itself" in err
    assert wav.read_bytes() == before


def test_separate_replaces_an_existing_output_only_when_asked(capsys, tmp_path, tiny_checkpoint, mix_file):
    out, res = tmp_path / "o.wav", tmp_path / "r.wav"
    out.write_bytes(b"keep me")
    args = ["separate", mix_file, "-o", out, "--residual", res, "--model", tiny_checkpoint, "--class", "tones",
            "--quiet"]
    code, _, err = _run(capsys, *args)
    assert code == 2 and err.count("\n") == 1 and "o.wav: already exists (pass --overwrite" in err
    assert out.read_bytes() == b"keep me" and not res.exists()      # refused before any work
    code, _, err = _run(capsys, *args, "--overwrite")
    assert code == 0, err
    assert load_audio(out)[0].shape == load_audio(mix_file)[0].shape and res.exists()


def test_separate_batch_checks_every_output_first(capsys, tmp_path, tiny_checkpoint):
    folder, outs = tmp_path / "in", tmp_path / "outs"
    for i in range(3):
        save_audio(folder / f"song{i}.wav", tone(0.7, 32000, 200.0 + 50 * i), 32000)
    outs.mkdir()
    for i in (1, 2):
        (outs / f"song{i}.wav").write_bytes(b"earlier")
    code, _, err = _run(capsys, "separate", folder, "-o", outs, "--model", tiny_checkpoint, "--class", "tones",
                        "--quiet")
    assert code == 2 and "song1.wav: already exists, as do 1 more of the outputs" in err
    assert sorted(p.name for p in outs.iterdir()) == ["song1.wav", "song2.wav"]   # song0 not written either
    code, _, err = _run(capsys, "separate", folder, "-o", outs, "--model", tiny_checkpoint, "--class", "tones",
                        "--quiet", "--overwrite")
    assert code == 0, err
    assert all(load_audio(outs / f"song{i}.wav")[0].shape[-1] > 0 for i in range(3))


def test_separate_refuses_two_writes_to_one_file(capsys, tmp_path, tiny_checkpoint):
    for name in ("a/song.wav", "b/song.flac", "take.wav", "take.flac"):
        save_audio(tmp_path / "in" / name, tone(0.7, 32000, 300.0), 32000)
    code, _, err = _run(capsys, "separate", tmp_path / "in", "-o", tmp_path / "outs", "--model", tiny_checkpoint,
                        "--class", "tones", "--quiet")                  # take.wav and take.flac -> outs/take.wav
    assert code == 2 and "would be written there" in err and not (tmp_path / "outs").exists()
    (tmp_path / "in" / "take.flac").unlink()
    code, _, err = _run(capsys, "separate", tmp_path / "in", "-o", tmp_path / "outs", "--model", tiny_checkpoint,
                        "--class", "tones", "--residual", tmp_path / "rest", "--quiet")
    assert code == 0, err                                              # a folder's subfolders are kept
    for folder in ("outs", "rest"):
        assert sorted(str(p.relative_to(tmp_path / folder)) for p in (tmp_path / folder).rglob("*.wav")) == [
            "a/song.wav", "b/song.wav", "take.wav"]
    wav = tmp_path / "in" / "a" / "song.wav"
    code, _, err = _run(capsys, "separate", wav, "-o", tmp_path / "x.wav", "--residual", tmp_path / "x.wav",
                        "--model", tiny_checkpoint, "--class", "tones", "--quiet")
    assert code == 2 and "is both the output and the residual" in err and not (tmp_path / "x.wav").exists()
    code, _, err = _run(capsys, "separate", wav, wav, "-o", tmp_path / "twice", "--model", tiny_checkpoint,
                        "--class", "tones", "--quiet")                  # named twice: separated once
    assert code == 0, err
    assert [p.name for p in (tmp_path / "twice").iterdir()] == ["song.wav"]
