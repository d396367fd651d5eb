"""The VST3 (``make plugin`` -> build/EventSep.vst3) loaded by pedalboard: parameters, the same output as
``SeparatorEffect``, latency, automation, state, OSC over real UDP, bad input. ``make test`` builds it first."""
from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pedalboard
import pytest

from engine.audio import load_audio
from engine.streaming import OnnxModels, StreamSettings
from pythonosc.osc_bundle_builder import IMMEDIATELY, OscBundleBuilder
from pythonosc.osc_message_builder import OscMessageBuilder

from plugin_host import Chain, SeparatorEffect, save_preset
from plugin_host.vst3_build import VST3_BUNDLE as PLUGIN, vst3_missing

from .host_audio import OscClient, osc, wait_for

REPO = Path(__file__).resolve().parents[1]
FFT_TEST = REPO / "build" / "eventsep_fft_test"
EXAMPLE = REPO / "engine" / "assets" / "example"
RATE = 48000
TOLERANCE = 1e-4

# what the C++ port computes in its default setting: a step every frame, inline, the short synthesis window (the
# Python runtime's every_frame; its default's two frames per run on a worker give the same samples, but the
# first call's output differs when a stream ends within a run)
CPP_DEFAULT = StreamSettings.every_frame()


def _require_build() -> None:
    missing = vst3_missing()
    if missing:
        pytest.fail(missing)


@pytest.fixture(scope="module")
def models():
    return OnnxModels()


@pytest.fixture(scope="module")
def mixture():
    audio, _ = load_audio(EXAMPLE / "mixture.flac", RATE, mono=False)
    audio = np.ascontiguousarray(audio[:, :3 * RATE], np.float32)
    return np.repeat(audio, 2, axis=0) if audio.shape[0] == 1 else audio


def load(osc_port: int = 0, native_model: Path | None = None, **parameters):
    """A fresh plugin instance; its OSC receiver off unless a port is given (EVENTSEP_OSC_PORT at load);
    the model it carries unless ``native_model`` names another (EVENTSEP_NATIVE_MODEL at load)."""
    _require_build()
    os.environ["EVENTSEP_OSC_PORT"] = str(osc_port)
    if native_model is not None:
        os.environ["EVENTSEP_NATIVE_MODEL"] = str(native_model)
    try:
        plugin = pedalboard.load_plugin(str(PLUGIN))
    finally:
        os.environ.pop("EVENTSEP_NATIVE_MODEL", None)
    for name, value in parameters.items():
        setattr(plugin, name, value)
    return plugin


# pedalboard's raw_state is the host's VST3 state: XML whose <IComponent> holds, in JUCE's own base64, what
# the plugin's getStateInformation wrote (JUCE's XML blob: "VC2!", a 32-bit size, the text) followed by
# the VST3 wrapper's private data.
JUCE_BASE64 = ".ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+"


def _juce_decode(text: str) -> bytes:
    size, _, chars = text.partition(".")
    bits = 0
    for i, c in enumerate(chars):
        bits |= JUCE_BASE64.index(c) << (6 * i)
    return (bits & ((1 << 8 * int(size)) - 1)).to_bytes(int(size), "little")


def _juce_encode(data: bytes) -> str:
    bits = int.from_bytes(data, "little")
    count = (len(data) * 8 + 5) // 6
    return f"{len(data)}." + "".join(JUCE_BASE64[(bits >> (6 * i)) & 63] for i in range(count))


def _component(raw: bytes) -> tuple[ET.Element, bytes]:
    inner = _juce_decode(re.search(rb"<IComponent>([^<]*)</IComponent>", raw).group(1).decode())
    assert inner[:4] == b"VC2!"
    size = struct.unpack("<I", inner[4:8])[0]
    return ET.fromstring(inner[8:8 + size].rstrip(b"\0").decode()), inner[8 + size:]


def read_state(plugin) -> ET.Element:
    return _component(plugin.raw_state)[0]


def write_state(plugin, root: ET.Element) -> None:
    raw = plugin.raw_state
    trailer = _component(raw)[1]
    text = ET.tostring(root) + b"\0"
    inner = b"VC2!" + struct.pack("<I", len(text)) + text + trailer
    outer = re.sub(rb"<IComponent>[^<]*</IComponent>", lambda _: b"<IComponent>" + _juce_encode(inner).encode()
                   + b"</IComponent>", raw[8:].rstrip(b"\0")) + b"\0"
    plugin.raw_state = raw[:4] + struct.pack("<I", len(outer)) + outer


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_engine_fft_matches_a_direct_dft():
    _require_build()
    run = subprocess.run([str(FFT_TEST)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("ok") >= 17


def test_loads_with_named_parameters_that_can_be_set(models):
    plugin = load()
    assert list(plugin.parameters) == ["interp", "mix", "residual", "bypass", "class_a", "class_b"]
    choices = plugin.parameters["class_a"].valid_values
    assert choices[0] == "none"
    assert set(models.info.class_latents["coarse"]) <= set(choices)
    assert len(choices) == 1 + len(models.info.class_latents["coarse"]) + len(models.info.class_latents["fine"])
    plugin.interp, plugin.mix, plugin.class_a, plugin.class_b = 0.25, 0.5, "piano", "bass"
    assert plugin.interp == pytest.approx(0.25, abs=1e-6) and plugin.mix == pytest.approx(0.5, abs=1e-6)
    assert (plugin.class_a, plugin.class_b) == ("piano", "bass")
    plugin.bypass = True
    assert bool(plugin.bypass)


@pytest.mark.parametrize("buffer_size", [64, 512, 8192])
def test_pedalboard_output_equals_the_python_chain(models, mixture, buffer_size):
    plugin = load(class_a="piano", class_b="bass", interp=0.3, mix=0.9)
    board = pedalboard.Pedalboard([plugin, pedalboard.Reverb(room_size=0.5, wet_level=0.3)])
    ours = Chain([SeparatorEffect(models=models, settings=CPP_DEFAULT, query_a="piano", query_b="bass", interp=0.3,
                                  mix=0.9),
                  pedalboard.Reverb(room_size=0.5, wet_level=0.3)])
    got = board(mixture, RATE, buffer_size=buffer_size)
    want = ours(mixture, RATE, buffer_size=buffer_size)
    assert got.shape == want.shape == mixture.shape
    assert np.sqrt(np.mean(want ** 2)) > 1e-3
    assert np.abs(got - want).max() <= TOLERANCE


@pytest.fixture(scope="module")
def tiny_bundle(tmp_path_factory):
    """Another shape of model (hidden 24, three layers, latent 8): a tiny streamable checkpoint exported."""
    from engine.checkpoint import save_checkpoint
    from export.onnx_export import export_checkpoint

    from .test_stream_stateful import _tiny

    root = tmp_path_factory.mktemp("vst3_tiny")
    save_checkpoint(root / "ckpt", _tiny(), ["noise", "tones"])
    result = export_checkpoint(root / "ckpt", root / "onnx")
    native_rows = [r for r in result.parity.rows if r["graph"] == "native"]   # its numpy twin was checked
    assert native_rows and max(r["max_abs_diff"] for r in native_rows) <= result.parity.tolerance
    assert root / "onnx" / "native.safetensors" in result.files
    return root / "onnx"


@pytest.mark.parametrize("rate,channels", [(22050, 1), (32000, 2), (44100, 2), (96000, 1)])
def test_another_model_at_other_rates_matches_the_python_effect(tiny_bundle, rate, channels):
    from export.onnx_export import synthetic_music

    x = np.stack([synthetic_music(rate, seconds=1.5, seed=s) for s in range(channels)])
    plugin = load(native_model=tiny_bundle / "native.safetensors", class_a="tones", class_b="noise", interp=0.5)
    got = plugin(x, rate, buffer_size=300)
    want = SeparatorEffect(tiny_bundle, settings=CPP_DEFAULT, query_a="tones", query_b="noise",
                           interp=0.5)(x, rate, buffer_size=300)
    assert got.shape == want.shape == x.shape
    assert np.sqrt(np.mean(want ** 2)) > 1e-3
    assert np.abs(got - want).max() <= TOLERANCE


def test_latency_is_reported_for_the_rate_from_the_first_call(models, mixture):
    plugin = load(class_a="piano")
    for rate in (48000, 44100, 48000):
        plugin.process(mixture[:, :4096], rate, buffer_size=512, reset=True)
        # the C++ port runs a step every frame, inline, with the short synthesis window
        assert plugin.reported_latency_samples == SeparatorEffect(models=models, settings=CPP_DEFAULT).latency_for(rate)
    assert 1000 * plugin.reported_latency_samples / 48000 <= 70.0


def test_the_low_latency_setting_matches_the_python_effects(models, mixture):
    plugin = load(class_a="piano")
    root = read_state(plugin)
    root.set("setting", "low_latency")
    write_state(plugin, root)
    assert read_state(plugin).get("setting") == "low_latency"
    # the C++ port runs its two steps per frame inline; the Python preset puts them on a worker thread (one hop
    # more latency, the same samples): compare with the inline form of the same setting
    want_effect = SeparatorEffect(models=models, query_a="piano",
                                  settings=StreamSettings(lookahead_frames=0, hop_frames=1))
    got = plugin(mixture, RATE, buffer_size=256)
    assert plugin.reported_latency_samples == want_effect.latency_for(RATE)
    assert 1000 * plugin.reported_latency_samples / RATE <= 50.0
    want = want_effect(mixture, RATE, buffer_size=256)
    assert np.sqrt(np.mean(want ** 2)) > 1e-3
    assert np.abs(got - want).max() <= TOLERANCE
    # and back: the same instance gives the default setting's output again
    root.set("setting", "default")
    write_state(plugin, root)
    back = plugin(mixture, RATE, buffer_size=256)
    default = SeparatorEffect(models=models, settings=CPP_DEFAULT, query_a="piano")
    assert np.abs(back - default(mixture, RATE, buffer_size=256)).max() <= TOLERANCE


def test_residual_and_a_reference_clip_match_the_python_effect(models, mixture):
    reference = str(EXAMPLE / "reference.flac")
    plugin = load(residual=0.4)
    root = read_state(plugin)
    root.set("query_a_path", reference)
    write_state(plugin, root)
    assert read_state(plugin).get("query_a_path") == reference
    got = plugin(mixture, RATE, buffer_size=1024)
    want = SeparatorEffect(models=models, settings=CPP_DEFAULT, query_a=reference,
                           residual=0.4)(mixture, RATE, buffer_size=1024)
    assert np.abs(got - want).max() <= TOLERANCE


def test_interp_automation_has_no_jumps(mixture):
    plugin = load(class_a="piano", class_b="drums")
    blocks = []
    for i, start in enumerate(range(0, mixture.shape[1], 4096)):
        plugin.interp = min(1.0, i / 10)                # moves A -> B in steps, as a host's automation does
        blocks.append(plugin.process(mixture[:, start:start + 4096], RATE, buffer_size=128, reset=(i == 0)))
    out = np.concatenate(blocks, axis=1)
    assert np.isfinite(out).all() and np.sqrt(np.mean(out ** 2)) > 1e-3
    assert np.abs(np.diff(out, axis=1)).max() <= np.abs(np.diff(mixture, axis=1)).max()


def test_state_round_trips_into_a_new_instance(mixture):
    first = load(class_a="guitar", class_b="strings", interp=0.6, mix=0.8, residual=0.0)
    state = first.raw_state
    second = load()
    second.raw_state = state
    for name in ("interp", "mix", "residual", "bypass", "class_a", "class_b"):
        assert getattr(second, name) == getattr(first, name), name
    np.testing.assert_array_equal(second(mixture, RATE, buffer_size=512), first(mixture, RATE, buffer_size=512))


def test_osc_datagrams_drive_the_loaded_plugin_and_garbage_is_survived(mixture):
    port = free_port()
    plugin = load(osc_port=port, class_a="piano")
    assert read_state(plugin).get("osc_listening") == "1"
    # the port is part of the state: another one set there is listened on instead
    port = free_port()
    root = read_state(plugin)
    root.set("osc_port", str(port))
    write_state(plugin, root)
    assert read_state(plugin).get("osc_port") == str(port) and read_state(plugin).get("osc_listening") == "1"
    client = OscClient(port)
    try:
        for junk in (b"", b"\x00" * 3, b"/eventsep/interp\x00\x00\x00\x00,f\x00", os.urandom(200),
                     b"#bundle\x00" + b"\x00" * 8 + struct.pack(">i", 999), osc("/eventsep/interp", "not a number"),
                     osc("/eventsep/mix", 7.0), osc("/eventsep/nothing", 1)):
            client.send(junk)
        bundle = OscBundleBuilder(IMMEDIATELY)
        bundle.add_content(OscMessageBuilder("/eventsep/interp").build())       # no argument: refused
        message = OscMessageBuilder("/eventsep/interp")
        message.add_arg(0.7)
        bundle.add_content(message.build())
        client.send(bundle.build().dgram)
        client.send_msg("/eventsep/class/b", "Synth Pad")
        client.send_msg("/eventsep/query/a", str(EXAMPLE / "reference.flac"))
        wait_for(lambda: client.status().get("query_a", "").startswith("file"), what="the reference clip")
        status = client.status()
    finally:
        client.close()
    # The processor's own values (its state, its status reply) changed at once. pedalboard's cached view of a
    # parameter follows only through a message loop, which pedalboard does not run (a DAW does).
    assert status["interp"] == pytest.approx(0.7, abs=1e-6) and status["mix"] == 1.0   # 7.0 was refused
    assert status["query_a"] == f"file {EXAMPLE / 'reference.flac'}" and status["query_b"] == "class synth_pad"
    assert status["latency_samples"] > 0 and len(status["model"]) == 12
    state = read_state(plugin)
    assert state.get("query_a_path") == str(EXAMPLE / "reference.flac")
    # and the audio is what the same settings give when set directly
    twin = load(class_a="piano", class_b="synth_pad", interp=0.7)
    root = read_state(twin)
    root.set("query_a_path", str(EXAMPLE / "reference.flac"))
    write_state(twin, root)
    got = plugin(mixture, RATE, buffer_size=512)
    assert np.isfinite(got).all() and np.sqrt(np.mean(got ** 2)) > 1e-3
    np.testing.assert_array_equal(got, twin(mixture, RATE, buffer_size=512))


def test_a_preset_loaded_over_osc_gives_the_python_effects_output(models, mixture, tmp_path):
    effect = SeparatorEffect(models=models, settings=CPP_DEFAULT, query_a=str(EXAMPLE / "reference.flac"),
                             query_b="bass", interp=0.4, mix=0.8)
    preset = save_preset(effect, tmp_path / "mine.json")
    port = free_port()
    plugin = load(osc_port=port)
    client = OscClient(port)
    try:
        client.send_msg("/eventsep/preset/load", str(tmp_path / "nothing.json"))     # refused: nothing changes
        client.send_msg("/eventsep/preset/load", str(preset))
        wait_for(lambda: client.status().get("query_b") == "class bass", what="the preset")
        status = client.status()
    finally:
        client.close()
    assert status["interp"] == pytest.approx(0.4, abs=1e-6) and status["mix"] == pytest.approx(0.8, abs=1e-6)
    assert status["query_a"] == f"file {(EXAMPLE / 'reference.flac').resolve()}"
    got = plugin(mixture, RATE, buffer_size=512)
    want = effect(mixture, RATE, buffer_size=512)
    assert np.abs(got - want).max() <= TOLERANCE
    # a raw latent of this model travels in the plugin's state
    raw = SeparatorEffect(models=models, settings=CPP_DEFAULT, query_a=np.asarray(effect.query_a.latent) * 0.9)
    raw_preset = save_preset(raw, tmp_path / "raw.json")
    client = OscClient(port)
    try:
        client.send_msg("/eventsep/preset/load", str(raw_preset))
        wait_for(lambda: client.status().get("query_a") == "latent", what="the raw-latent preset")
    finally:
        client.close()
    copy = load()
    copy.raw_state = plugin.raw_state
    np.testing.assert_array_equal(copy(mixture, RATE, buffer_size=512), plugin(mixture, RATE, buffer_size=512))
    assert np.abs(plugin(mixture, RATE, buffer_size=512) - raw(mixture, RATE, buffer_size=512)).max() <= TOLERANCE


def test_non_finite_input_gives_finite_output(mixture):
    plugin = load(class_a="piano")
    x = mixture.copy()
    x[:, 1000:1200] = np.nan
    x[0, 5000:5100] = np.inf
    x[1, 9000] = -np.inf
    y = plugin(x, RATE, buffer_size=256)
    assert np.isfinite(y).all()
    assert np.sqrt(np.mean(y[:, RATE:] ** 2)) > 1e-3       # it recovers and separates after the bad samples
