"""The stateful streaming runtime on real onnxruntime sessions of an exported tiny streamable model:
streamed output is the offline output (``eventsep separate``), delayed by exactly ``latency_samples``."""
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from engine.errors import EventSepError
from engine.streaming import OnnxModels, StreamingSeparator, StreamSettings, separate_offline

REPO = Path(__file__).resolve().parents[1]
BLOCKS = [1, 64, 65, 511, 4096, None]          # None: the whole file in one call


def _tiny(pass_through: bool = False):
    from engine.config import ModelConfig
    from engine.models import QuerySeparator

    torch.manual_seed(0)
    cfg = ModelConfig(arch="tcn", hidden=24, query_hidden=16, latent_dim=8, core_layers=3, lookahead=1,
                      class_vocab=("tones", "noise", "fine:Sine Tones"))
    model = QuerySeparator(cfg).eval()
    with torch.no_grad():
        if pass_through:   # mask = sigmoid(50) = 1 everywhere: the stream must give its input back, delayed
            model.separator.to_mask.weight.zero_()
            model.separator.to_mask.bias.fill_(50.0)
        else:              # masks that move with the input (random weights give masks near 0.5)
            model.separator.to_mask.weight.mul_(8.0)
    return model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny streamable checkpoint (with learned class latents) and its exported bundle; the same
    for a pass-through model."""
    from engine.checkpoint import save_checkpoint
    from export.onnx_export import export_checkpoint, synthetic_music

    root = tmp_path_factory.mktemp("stateful")
    out = {}
    for name, model in (("random", _tiny()), ("pass", _tiny(pass_through=True))):
        save_checkpoint(root / f"{name}_ckpt", model, ["noise", "tones"])
        export_checkpoint(root / f"{name}_ckpt", root / f"{name}_onnx")
        out[name] = (root / f"{name}_ckpt", root / f"{name}_onnx")
    out["music"] = synthetic_music(44100, seconds=1.0)
    return out


def _stereo(music):
    return np.stack([music, 0.6 * np.roll(music, 101)]).astype(np.float32)


def _stream(sep, x, block):
    """``x`` followed by ``latency`` samples of silence, in blocks of ``block``; the output realigned."""
    lat = sep.latency_samples
    padded = np.concatenate([x, np.zeros((x.shape[0], lat), x.dtype)], axis=1)
    if block is None:
        y = sep.process(padded)
    else:
        y = np.concatenate([sep.process(padded[:, i:i + block]) for i in range(0, padded.shape[1], block)], axis=1)
    return y[:, lat:lat + x.shape[1]]


def test_streamed_output_is_eventsep_separate_output_at_every_block_size(tiny, tmp_path):
    ckpt, bundle = tiny["random"]
    x = _stereo(tiny["music"])
    sf.write(tmp_path / "mix.wav", x.T, 44100, subtype="FLOAT")
    run = subprocess.run([sys.executable, "-m", "engine.cli", "separate", str(tmp_path / "mix.wav"), "-o",
                          str(tmp_path / "est.wav"), "--model", str(ckpt), "--class", "tones", "--quiet"],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    offline = sf.read(tmp_path / "est.wav", dtype="float32", always_2d=True)[0].T
    assert np.sqrt(np.mean(offline ** 2)) > 0.1 * np.sqrt(np.mean(x ** 2))        # it did separate something
    assert np.abs(offline - x).max() > 0.05                                        # ... not just copy the input
    models = OnnxModels(bundle)
    for block, setting in ([(b, "default") for b in BLOCKS] + [(b, "background_runs") for b in BLOCKS]
                           + [(65, "every_frame"), (511, "every_frame"), (1, "efficient")]):
        sep = StreamingSeparator(models, 44100, 2, StreamSettings.preset(setting))
        assert sep.settings.mode == "stateful"
        sep.set_reference_class("A", "tones")
        np.testing.assert_allclose(_stream(sep, x, block), offline, atol=1e-4, rtol=0, err_msg=f"block {block}")
    # the full synthesis window (the VST3's): `eventsep separate --synthesis full`, one hop later live
    run = subprocess.run([sys.executable, "-m", "engine.cli", "separate", str(tmp_path / "mix.wav"), "-o",
                          str(tmp_path / "full.wav"), "--model", str(ckpt), "--class", "tones", "--quiet",
                          "--synthesis", "full"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    full = sf.read(tmp_path / "full.wav", dtype="float32", always_2d=True)[0].T
    assert 1e-4 < np.abs(full - offline).max() and np.sum((full - offline) ** 2) < 0.05 * np.sum(offline ** 2)
    for block in (64, 4096):
        sep = StreamingSeparator(models, 44100, 2, StreamSettings(hop_frames=1, synthesis="full"))
        sep.set_reference_class("A", "tones")
        np.testing.assert_allclose(_stream(sep, x, block), full, atol=1e-4, rtol=0, err_msg=f"full, block {block}")


@pytest.mark.parametrize("channel_mode", ["mono", "per_channel"])
@pytest.mark.parametrize("rate", [48000, 22050])
def test_stream_equals_offline_at_other_rates_and_channel_modes(tiny, rate, channel_mode):
    from engine.audio import resample
    from engine.checkpoint import load_model
    from engine.separate import separate_array

    ckpt, bundle = tiny["random"]
    x = _stereo(resample(tiny["music"][None], 44100, rate)[0])
    model, _ = load_model(ckpt)
    z = model.class_latents()["noise"].detach()
    offline = separate_array(model, x, rate, z, channel_mode=channel_mode).estimate
    for block in (64, 1000, None):
        sep = StreamingSeparator(bundle, rate, 2, StreamSettings(channel_mode=channel_mode))
        sep.set_reference_latent("A", z.numpy())
        np.testing.assert_allclose(_stream(sep, x, block), offline, atol=1e-4, rtol=0)


def test_offline_twin_with_onnx_equals_the_torch_twin(tiny):
    from engine.checkpoint import load_model
    from engine.stepmodel import TorchModels

    ckpt, bundle = tiny["random"]
    model, _ = load_model(ckpt)
    x = _stereo(tiny["music"])
    z = model.class_latents()["tones"].detach().numpy()
    np.testing.assert_allclose(separate_offline(OnnxModels(bundle), x, 44100, z),
                               separate_offline(TorchModels(model), x, 44100, z), atol=1e-5, rtol=0)


@pytest.mark.parametrize("setting, at_most_ms", [("default", 70.0), ("every_frame", 46.5), ("efficient", 70.0),
                                                ("low_latency", 46.5), ("background_runs", 58.1),
                                                (StreamSettings(hop_frames=1, synthesis="full"), 58.1)])
@pytest.mark.parametrize("rate", [44100, 48000])
def test_latency_is_exact_and_within_its_budget(tiny, setting, at_most_ms, rate):
    _, bundle = tiny["pass"]
    sep = StreamingSeparator(bundle, rate, 2, setting if isinstance(setting, StreamSettings)
                             else StreamSettings.preset(setting))
    sep.set_reference_class("A", "tones")
    lat = sep.latency
    assert lat.ms <= at_most_ms
    assert lat.samples == lat.buffering_samples + lat.model_samples
    x = _stereo(np.random.default_rng(1).uniform(-0.5, 0.5, rate // 2))
    for block in (65, 4096):
        sep.reset()
        y = np.concatenate([sep.process(x[:, i:i + block]) for i in range(0, x.shape[1], block)], axis=1)
        np.testing.assert_allclose(y[:, lat.samples:], x[:, :x.shape[1] - lat.samples], atol=1e-6, rtol=0)
        assert np.abs(y[:, :lat.samples - 2 * sep.grid.hop]).max() < 1e-6    # nothing before the delay


@pytest.mark.parametrize("inline_setting, background_setting, margin", [
    (StreamSettings.every_frame(), StreamSettings.background_runs(), 512),                      # one run later
    (StreamSettings(lookahead_frames=0, hop_frames=1), StreamSettings.low_latency(), 512),
    (StreamSettings(hop_frames=2), StreamSettings.default(), 512),
    (StreamSettings(hop_frames=1), StreamSettings(hop_frames=1, background=True, background_margin_ms=3.5),
     round(3.5 * 44.1))])
def test_background_runs_are_the_inline_stream_later_queries_included(tiny, inline_setting, background_setting,
                                                                       margin):
    """The worker thread computes what the audio thread would have, in the same order, with the same
    latents: moving between queries and clearing them mid-stream gives the same samples, ``margin`` later
    (one hop, or the margin asked for)."""
    _, bundle = tiny["random"]
    x = _stereo(tiny["music"])
    outs, stats = [], []
    for setting in (inline_setting, background_setting):
        sep = StreamingSeparator(bundle, 44100, 2, setting)
        sep.set_reference_class("A", "tones")
        sep.set_reference_class("B", "noise")
        blocks = []
        for k, i in enumerate(range(0, x.shape[1], 300)):
            if k == 20:
                sep.interp = 0.7            # the latent glides from A towards B (taken once per run)
            if k == 100:                    # the query gate fades the effect out
                sep.clear_reference("A")
                sep.clear_reference("B")
            blocks.append(sep.process(x[:, i:i + 300]))
        outs.append((np.concatenate(blocks, axis=1), sep.latency_samples))
        stats.append((sep.background_stats(), sep.settings.hop_frames, sep.grid.hop))
    (inline, lat_inline), (background, lat_background) = outs
    shift = lat_background - lat_inline
    assert shift == margin
    np.testing.assert_allclose(background[:, shift:], inline[:, :-shift], atol=1e-6, rtol=0)
    # the worker's account of its runs: one per run of the stream, each with a wall and a CPU time
    assert stats[0][0] is None
    worker, run_frames, hop = stats[1]
    due = x.shape[1] // hop // run_frames        # the stream's runs; the last few may still be on the worker
    assert due - 3 <= worker["runs"] <= due
    assert 0 < worker["run_p50_ms"] <= worker["run_max_ms"] and worker["run_cpu_max_ms"] > 0
    assert worker["longest_wait_ms"] >= 0


def test_low_latency_guesses_the_lookahead_and_stays_close_to_the_offline_mask(tiny):
    ckpt, bundle = tiny["random"]
    x = _stereo(tiny["music"])
    seps = {}
    for name in ("every_frame", "low_latency"):
        seps[name] = StreamingSeparator(bundle, 44100, 2, StreamSettings.preset(name))
        seps[name].set_reference_class("A", "tones")
    exact, guessed = (_stream(seps[n], x, 512) for n in ("every_frame", "low_latency"))
    margin = seps["every_frame"].grid.hop       # the low_latency worker's margin
    hop = seps["every_frame"].grid.hop
    assert seps["low_latency"].latency_samples == seps["every_frame"].latency_samples - hop + margin
    assert np.isfinite(guessed).all() and np.abs(guessed - exact).max() > 1e-5    # a different, guessed mask
    err = np.sum((guessed - exact) ** 2) / np.sum(exact ** 2)
    assert err < 0.25                                                             # ... but close to it


def test_nan_and_inf_never_leave_and_the_stateful_stream_recovers(tiny):
    _, bundle = tiny["random"]
    x = _stereo(tiny["music"])
    sep = StreamingSeparator(bundle, 44100, 2)
    sep.set_reference_class("A", "tones")
    clean = _stream(sep, x, 256)
    sep.reset()
    bad = x.copy()
    bad[0, 1000:1100] = np.nan
    bad[1, 2000] = np.inf
    out = _stream(sep, bad, 256)
    assert np.isfinite(out).all()
    tail = slice(20000, None)             # the causal state forgets the bad samples
    np.testing.assert_allclose(out[:, tail], clean[:, tail], atol=1e-3)


def test_stateful_runtime_never_imports_torch(tiny):
    _, bundle = tiny["random"]
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from engine.streaming import StreamingSeparator, load_bundle, separate_offline
        sep = StreamingSeparator({str(bundle)!r}, 48000, 2)
        assert sep.settings.mode == "stateful"
        sep.set_reference_class("A", "tones")
        out = sep.process(np.zeros((2, 5000), np.float32))
        separate_offline(load_bundle({str(bundle)!r}), np.zeros((2, 3000)), 48000, np.ones(8, np.float32))
        assert "torch" not in sys.modules, "torch imported"
    """)
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr


def test_settings_resolve_per_bundle_with_clear_errors(tiny):
    _, bundle = tiny["random"]
    info = OnnxModels(bundle).info
    assert info.stateful and info.lookahead == 1 and info.state[0]["name"] == "context"
    assert StreamSettings.default().resolve(info).hop_frames == 2          # two frames per call
    assert StreamSettings.every_frame().resolve(info).hop_frames == 1
    assert StreamSettings.efficient().resolve(info).hop_frames == 3
    assert StreamSettings.default().resolve(info).synthesis == "short"
    assert StreamSettings.windowed().resolve(info).synthesis == "full"
    with pytest.raises(EventSepError, match="full window"):
        StreamSettings(mode="windowed", synthesis="short").resolve(info)
    with pytest.raises(EventSepError, match="synthesis must be one of"):
        StreamSettings(synthesis="long").resolve(info)
    low = StreamSettings.low_latency().resolve(info)
    assert (low.hop_frames, low.lookahead_frames, low.background) == (1, 0, True)
    windowed_low = StreamSettings.low_latency().resolve(type(info)(**{**info.__dict__, "state": [], "lookahead": 0}))
    assert (windowed_low.mode, windowed_low.background) == ("windowed", False)   # auto: inline where windowed
    with pytest.raises(EventSepError, match="background_margin_ms"):
        StreamSettings(background=True, background_margin_ms=-1.0).resolve(info)
    old_default = StreamSettings(context_frames=32, hop_frames=4, lookahead_frames=1)     # a preset before modes
    assert old_default.resolve(info).mode == "stateful"
    assert StreamSettings.windowed().resolve(info).mode == "windowed"
    with pytest.raises(EventSepError, match="looks 1 frame"):
        StreamSettings(lookahead_frames=2, mode="stateful").resolve(info)
    windowed_only = type(info)(**{**info.__dict__, "state": [], "lookahead": 0})
    with pytest.raises(EventSepError, match="no stateful separator"):
        StreamSettings(mode="stateful").resolve(windowed_only)
    with pytest.raises(EventSepError, match="mode must be one of"):
        StreamSettings(mode="fast").resolve(info)


def test_the_windowed_setting_still_runs_a_streamable_bundle(tiny):
    _, bundle = tiny["pass"]
    sep = StreamingSeparator(bundle, 48000, 2, StreamSettings.windowed())
    sep.set_reference_class("A", "tones")
    x = _stereo(np.random.default_rng(2).uniform(-0.5, 0.5, 24000))
    y = sep.process(x)
    lat = sep.latency_samples
    np.testing.assert_allclose(y[:, lat:], x[:, :-lat], atol=1e-5, rtol=0)


def test_a_bundle_missing_its_step_graph_is_refused(tiny, tmp_path):
    import shutil

    _, bundle = tiny["random"]
    broken = tmp_path / "broken"
    shutil.copytree(bundle, broken)
    (broken / "separator_step.onnx").unlink()
    with pytest.raises(EventSepError, match="separator_step.onnx is missing"):
        OnnxModels(broken)


def test_command_line_setting_names_are_the_runtime_presets():
    from engine.streaming import PRESETS
    from plugin_host.arg_types import SETTING_NAMES

    assert tuple(SETTING_NAMES) == tuple(PRESETS)


def test_a_script_with_background_runs_exits_cleanly(tiny):
    """The default setting runs on a worker thread: a script that ends with a stream still open must exit
    with code 0 (a live worker during onnxruntime's teardown used to abort it, about half the time)."""
    _, bundle = tiny["random"]
    code = textwrap.dedent(f"""
        import numpy as np
        from engine.streaming import StreamingSeparator, StreamSettings
        sep = StreamingSeparator({str(bundle)!r}, 44100, 2, StreamSettings.default())
        sep.set_reference_class("A", "tones")
        sep.process(np.zeros((2, 4000), np.float32))
        print("ok")
    """)
    for _ in range(6):
        run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
        assert (run.returncode, run.stdout.strip()) == (0, "ok"), run.stderr
