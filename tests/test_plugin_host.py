"""plugin_host: SeparatorEffect and Chain with real pedalboard plugins and the shipped ONNX bundle."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pedalboard
import pytest
import soundfile as sf

from engine.errors import EventSepError
from plugin_host import Chain, DelayLine, Native, Parallel, SeparatorEffect, load_preset, save_preset
from plugin_host.preset import apply_preset

from .host_audio import music

RATE = 22050


@pytest.fixture(scope="module")
def models():
    from engine.streaming import OnnxModels
    return OnnxModels()                      # the shipped bundle, loaded once for the module


@pytest.fixture(scope="module")
def clip():
    return music(0.5, RATE, 2)


def _sep(models, **kw):
    kw.setdefault("query_a", "piano")
    return SeparatorEffect(models=models, **kw)


def test_plugin_host_never_imports_torch():
    code = ("import sys, numpy as np, pedalboard\n"
            "from plugin_host import Chain, SeparatorEffect\n"
            "import plugin_host.osc, plugin_host.cli, plugin_host.files, plugin_host.serve, plugin_host.live\n"
            "c = Chain([pedalboard.Gain(-1), SeparatorEffect(query_a='bass')])\n"
            "y = c(np.zeros((2, 4000), np.float32), 44100)\n"
            "assert y.shape == (2, 4000)\n"
            "print('torch' in sys.modules)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"


def test_chain_gives_the_same_output_at_every_buffer_size(models, clip):
    chain = Chain([pedalboard.Gain(-2.0), pedalboard.HighpassFilter(80.0), _sep(models),
                   pedalboard.Reverb(room_size=0.6, wet_level=0.4), pedalboard.Compressor(-20.0, 3.0)])
    whole = chain(clip, RATE, buffer_size=clip.shape[1])
    assert whole.shape == clip.shape and whole.dtype == np.float32
    assert np.sqrt(np.mean(whole ** 2)) > 1e-3                    # it did produce sound
    for bs in (1, 64, 65, 8192):
        out = chain(clip, RATE, buffer_size=bs)
        np.testing.assert_allclose(out, whole, atol=1e-5, err_msg=f"buffer_size={bs}")
    # streaming calls of irregular sizes (reset=False) are the same stream, delayed by the latency
    latency = chain.latency_samples
    chain.reset()
    sizes = [1] * 40 + [3, 64, 65, 511, 2000, 8192]
    sizes.append(clip.shape[1] - sum(sizes))
    starts = np.cumsum([0] + sizes[:-1])
    streamed = np.concatenate([chain(clip[:, s:s + n], RATE, reset=False) for s, n in zip(starts, sizes)], axis=1)
    np.testing.assert_allclose(streamed[:, latency:], whole[:, :-latency], atol=1e-5)


def test_reset_false_keeps_state_and_reset_true_clears_it(models, clip):
    chain = Chain([pedalboard.Reverb(room_size=0.9, wet_level=0.5), _sep(models, mix=0.7)])
    silence = np.zeros_like(clip)
    chain.reset()
    first = chain(clip, RATE, reset=False)
    tail = chain(silence, RATE, reset=False)
    assert np.sqrt(np.mean(tail ** 2)) > 1e-3                     # the reverb + latency tail carries over
    both = chain(np.concatenate([clip, silence], axis=1), RATE, reset=False)   # a third call continues too
    assert both.shape == (2, 2 * clip.shape[1])
    cleared = chain(silence, RATE, reset=True)
    assert not cleared.any()                                       # reset=True: nothing left of the past
    # the two reset=False calls are exactly one stream
    joined = chain(np.concatenate([clip, silence], axis=1), RATE, reset=True)
    lat = chain.latency_samples
    np.testing.assert_allclose(np.concatenate([first, tail], axis=1)[:, lat:], joined[:, :-lat], atol=1e-5)


@pytest.mark.parametrize("knob", ["mix", "bypass"])
def test_latency_compensation_makes_an_all_pass_chain_exact(models, clip, knob):
    sep = _sep(models, mix=0.0) if knob == "mix" else _sep(models, bypass=True)
    chain = Chain([pedalboard.Gain(0.0), sep, pedalboard.Gain(0.0)])
    assert chain.latency_samples == sep.latency_for(48000)          # before any audio: at 48 kHz
    out = chain(clip, RATE, buffer_size=333)
    assert chain.latency_samples == sep.latency_for(RATE) > 0
    assert np.array_equal(out, clip)
    raw = Chain([pedalboard.Gain(0.0), sep, pedalboard.Gain(0.0)], compensate=False)(clip, RATE)
    assert not np.array_equal(raw, clip)                            # without compensation: delayed
    assert np.array_equal(raw[:, chain.latency_samples:], clip[:, :-chain.latency_samples])


def test_parallel_branches_are_aligned(models, clip):
    bypassed = _sep(models, bypass=True)
    aligned = Chain([Parallel([[], [pedalboard.Gain(0.0), bypassed]])])
    np.testing.assert_array_equal(aligned(clip, RATE), 2 * clip)   # dry branch delayed to match
    assert aligned.latency_samples == bypassed.latency_for(RATE)
    unaligned = Chain([Parallel([[], [bypassed]], align=False)])
    assert np.max(np.abs(unaligned(clip, RATE) - 2 * clip)) > 0.1  # comb filtering without alignment


def test_native_plugins_inside_match_pedalboard_alone(clip):
    board = pedalboard.Pedalboard([pedalboard.HighpassFilter(120.0), pedalboard.Reverb(room_size=0.7),
                                   pedalboard.Compressor(-25.0, 4.0), pedalboard.Delay(0.01, 0.3, 0.4)])
    expected = board(clip, RATE)
    ours = Chain([board])
    for bs in (1, 100, 8192):
        np.testing.assert_allclose(ours(clip, RATE, buffer_size=bs), expected, atol=1e-6)
    mono = Chain([pedalboard.Reverb()])(clip[0], RATE, buffer_size=1)      # (n,) in, (n,) out
    np.testing.assert_allclose(mono, pedalboard.Reverb()(clip[0], RATE), atol=1e-6)


def test_declared_native_latency_is_compensated(clip):
    delay = pedalboard.Delay(delay_seconds=0.005, feedback=0.0, mix=1.0)     # a pure delay, unreported
    samples = int(0.005 * RATE)                                               # as pedalboard rounds it
    assert np.max(np.abs(Chain([delay])(clip, RATE) - clip)) > 0.1            # undeclared: not compensated
    chain = Chain([Native(delay, latency=samples)])
    assert chain.latency_samples == samples
    np.testing.assert_allclose(chain(clip, RATE), clip, atol=1e-6)
    chain.append(DelayLine(7))
    assert chain.latency_samples == samples + 7
    np.testing.assert_allclose(chain(clip, RATE, buffer_size=50), clip, atol=1e-6)


def test_effect_follows_pedalboard_call_semantics(models, clip):
    sep = _sep(models, bypass=True)
    mono = clip[0].astype(np.float64)
    y = sep(mono, RATE)                                             # (n,) float64 -> (n,) float32, aligned
    assert y.shape == mono.shape and y.dtype == np.float32
    np.testing.assert_array_equal(y, mono.astype(np.float32))
    sep.prepare(RATE, 2)
    sep.reset()
    lat = sep.latency_samples
    stream = np.concatenate([sep(clip[:, i:i + 1000], RATE, reset=False) for i in range(0, clip.shape[1], 1000)], 1)
    np.testing.assert_array_equal(stream[:, lat:], clip[:, :-lat])  # reset=False: same length, delayed
    # the rate may change with reset=True, not in the middle of a stream
    y44 = sep(music(0.3, 44100), 44100)
    assert y44.shape == (2, 13230) and sep.latency_samples == sep.latency_for(44100) != lat
    with pytest.raises(EventSepError, match="reset=True"):
        sep(clip, RATE, reset=False)


def test_parameters_and_queries(models, tmp_path):
    ref = tmp_path / "ref.wav"
    sf.write(ref, music(1.0, 16000, 1, seed=3).T, 16000)
    sep = SeparatorEffect(models=models)
    assert sep.query_a is None and sep.latency_samples == sep.latency_for(48000)
    sep.query_a = "Piano"                                           # class name, any case
    assert sep.query_a.kind == "class" and sep.query_a.value == "piano"
    sep.query_b = ref                                               # a Path: audio file
    assert sep.query_b.kind == "file"
    sep.query_b = str(ref)                                          # an existing path as a string
    z = np.linspace(-1, 1, models.info.latent_dim)
    sep.query_a = z                                                 # a latent
    assert sep.query_a.kind == "latent" and np.allclose(sep.query_a.latent, z)
    sep.interp, sep.mix, sep.residual, sep.bypass = 0.25, 0.5, True, 1
    state = sep.state()
    assert (state["interp"], state["mix"], state["residual"], state["bypass"]) == (0.25, 0.5, 1.0, True)
    assert state["query_b"].startswith("file ") and state["model"] == sep.model_id[:12]
    with pytest.raises(EventSepError, match="neither a class name"):
        sep.query_a = "kazoo"
    with pytest.raises(EventSepError, match="unknown class 'kazoo'.*piano"):
        sep.resolve_class("kazoo")
    with pytest.raises(EventSepError, match="no such file"):
        sep.query_a = tmp_path / "missing.wav"
    (tmp_path / "junk.wav").write_bytes(b"RIFF not really a wave file")
    with pytest.raises(EventSepError, match="not a readable audio file"):
        sep.query_a = tmp_path / "junk.wav"
    for name, bad in (("interp", 1.5), ("mix", float("nan")), ("bypass", 0.5), ("residual", "x")):
        with pytest.raises(EventSepError):
            setattr(sep, name, bad)
    assert sep.interp == 0.25 and sep.mix == 0.5                   # refused values change nothing


def test_bad_audio_gets_clear_errors(models):
    chain = Chain([pedalboard.Gain(0.0), _sep(models)])
    for bad, match in (([0.0, 1.0], "numpy array"), (np.zeros((1000, 2), np.float32), "transpose"),
                       (np.zeros((2, 10), np.int16), "float32"), (np.zeros((2, 2, 2), np.float32), "shape")):
        with pytest.raises(EventSepError, match=match):
            chain(bad, RATE)
    with pytest.raises(EventSepError, match="sample rate"):
        chain(np.zeros((2, 100), np.float32), 4000)
    with pytest.raises(EventSepError, match="buffer_size"):
        chain(np.zeros((2, 100), np.float32), RATE, buffer_size=0)
    chain(np.zeros((2, 100), np.float32), RATE, reset=False)
    with pytest.raises(EventSepError, match="reset=True"):
        chain(np.zeros((1, 100), np.float32), RATE, reset=False)


def test_chain_is_list_like(models):
    gain, rev, sep = pedalboard.Gain(-3.0), pedalboard.Reverb(), _sep(models)
    chain = Chain([gain])
    chain.append(rev)
    chain.insert(1, sep)
    assert len(chain) == 3 and list(chain) == [gain, sep, rev] and chain[1] is sep and chain[-1] is rev
    assert chain.index(rev) == 2 and sep in chain
    chain.remove(sep)
    assert list(chain) == [gain, rev]
    del chain[0]
    chain[0] = gain
    assert list(chain) == [gain] and "Gain" in repr(chain)
    with pytest.raises(EventSepError, match="twice"):
        chain.append(gain)
    with pytest.raises(EventSepError, match="process"):
        chain.append("reverb")
    with pytest.raises(ValueError):
        chain.remove(rev)
    nested = Chain([Chain([pedalboard.Gain(6.0)]), Parallel([pedalboard.Gain(0.0), pedalboard.Gain(0.0)])])
    x = np.full((2, 256), 0.1, np.float32)
    np.testing.assert_allclose(nested(x, RATE), 2 * 0.1 * 10 ** (6 / 20), rtol=1e-5)


def test_preset_round_trip_and_model_checks(models, tmp_path):
    sep = SeparatorEffect(models=models, query_a="bass", query_b="drums", interp=0.4, mix=0.8, residual=1.0,
                          settings="low_latency")
    path = save_preset(sep, tmp_path / "p.json")
    data = json.loads(path.read_text())
    assert data["model"]["sha256"] == sep.model_id and len(data["queries"]["a"]["latent"]) == 32
    assert data["parameters"] == {"interp": 0.4, "mix": 0.8, "residual": 1.0, "bypass": False}
    with pytest.raises(EventSepError, match="already exists"):
        save_preset(sep, path)
    preset, warnings = load_preset(path, models)
    assert warnings == [] and preset.settings == sep.settings
    assert (preset.settings.mode, preset.settings.lookahead_frames, preset.settings.hop_frames) == ("stateful", 0, 1)
    other = SeparatorEffect(models=models)
    apply_preset(other, preset)
    assert (other.interp, other.mix, other.residual) == (0.4, 0.8, 1.0)
    assert other.query_b.value == "drums" and np.array_equal(other.query_a.latent, sep.query_a.latent)
    # made for another model: classes are looked up again by name, with a warning; strict refuses
    data["model"]["sha256"] = "0" * 64
    data["queries"]["a"]["latent"] = [0.0] * 32
    moved = tmp_path / "other.json"
    moved.write_text(json.dumps(data))
    preset, warnings = load_preset(moved, models)
    assert len(warnings) == 1 and "recomputed" in warnings[0]
    assert np.array_equal(preset.query_a.latent, sep.query_a.latent)
    with pytest.raises(EventSepError, match="made for model 000000000000"):
        load_preset(moved, models, strict=True)
    data["queries"]["a"] = {"kind": "latent", "latent": [0.0] * 32}
    moved.write_text(json.dumps(data))
    with pytest.raises(EventSepError, match="raw latent of another model"):
        load_preset(moved, models)
    for text, match in (("{", "not valid JSON"), ('{"format": "x"}', "not an EventSep preset"),
                        (json.dumps({**data, "parameters": {"interp": 3}}), "interp must be between 0 and 1"),
                        (json.dumps({**data, "parameters": {"gain": 1}}), "unknown parameter"),
                        (json.dumps({**data, "queries": {"a": {"kind": "class", "latent": [1]}}}), "needs a non-empty 'name'")):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(EventSepError, match=match):
            load_preset(bad, models)
