"""The streaming runtime (engine.streaming) on real onnxruntime sessions of exported tiny models."""
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.errors import EventSepError
from engine.streaming import StreamingSeparator, StreamSettings
from engine.streaming.bundle import OnnxModels
from engine.streaming.dsp import stft_magnitude
from engine.streaming.grid import HostGrid

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "engine" / "assets" / "example" / "mixture.flac"
SETTINGS = {"default": StreamSettings.default(), "low_latency": StreamSettings.low_latency()}


def _tiny(pass_through: bool = False):
    from engine.config import tiny_model_config
    from engine.models import QuerySeparator

    torch.manual_seed(0)
    model = QuerySeparator(tiny_model_config()).eval()
    if pass_through:  # mask = sigmoid(50) = 1 everywhere: the runtime must give its input back, delayed
        last = model.separator.decoder_norms[-1]
        with torch.no_grad():
            for p in (last.scale.weight, last.scale.bias, last.shift.weight):
                p.zero_()
            last.shift.bias.fill_(50.0)
    return model


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    """Two exported bundles of the tiny model: random weights with class latents, and pass-through."""
    from export.onnx_export import export_model, synthetic_music

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("bundles")
    g = torch.Generator().manual_seed(1)
    latents = {"coarse": {"tones": 2 * torch.randn(4, generator=g), "noise": 2 * torch.randn(4, generator=g)},
               "fine": {"Sine Tones": torch.randn(4, generator=g)}}
    clip = [("synthetic", synthetic_music(22050, seconds=1.0))]
    export_model(_tiny(), root / "random", latents=latents, classes=["noise", "tones"], check_audio=clip)
    export_model(_tiny(pass_through=True), root / "pass", check_audio=clip)
    torch.set_num_threads(threads)
    return {"random": root / "random", "pass": root / "pass"}


@pytest.fixture(scope="module")
def music():
    """About 1 s of real music (the bundled example mixture, else a synthetic clip) at 22050 Hz, mono."""
    if EXAMPLE.is_file():
        from engine.audio import load_audio

        return load_audio(EXAMPLE, mono=True)[0][0, 22050:44100].copy()
    from export.onnx_export import synthetic_music

    return synthetic_music(22050, seconds=1.0)


def _stereo_at(music, rate):
    from engine.audio import resample

    x = resample(music[None], 22050, rate)[0]
    return np.stack([x, 0.7 * np.roll(x, 37)]).astype(np.float32)


def _stream(sep, x, sizes):
    """Feed ``x`` (C, n) in blocks cycling through ``sizes``; returns the concatenated output."""
    outs, i, k = [], 0, 0
    while i < x.shape[1]:
        n = sizes[k % len(sizes)]
        outs.append(sep.process(x[:, i:i + n]))
        i += n
        k += 1
    return np.concatenate(outs, axis=1)


def test_importing_and_running_the_runtime_never_imports_torch(bundles):
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        from engine.streaming import StreamingSeparator
        sep = StreamingSeparator({str(bundles['random'])!r}, 44100, 2)
        sep.set_reference_class("A", "tones")
        sep.set_reference_audio("B", np.random.default_rng(0).standard_normal(30000).astype(np.float32), 44100)
        out = sep.process(np.zeros((2, 5000), np.float32))
        assert out.shape == (2, 5000)
        heavy = [m for m in ("torch", "onnx", "soxr", "scipy") if m in sys.modules]
        print("imported:", heavy)
        assert "torch" not in sys.modules
    """)
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "torch" not in run.stdout


@pytest.mark.parametrize("setting", ["default", "low_latency"])
def test_block_size_invariance(bundles, music, setting):
    x = _stereo_at(music[:13000], 44100)
    whole_sep = StreamingSeparator(bundles["random"], 44100, 2, SETTINGS[setting])
    whole_sep.set_reference_class("A", "tones")
    whole = whole_sep.process(x)
    for sizes in ([1], [64], [65], [511], [4096], [3, 700, 1, 129, 2048, 5]):
        sep = StreamingSeparator(bundles["random"], 44100, 2, SETTINGS[setting])
        sep.set_reference_class("A", "tones")
        out = _stream(sep, x, sizes)
        assert out.shape == x.shape and out.dtype == np.float32
        assert np.max(np.abs(out - whole)) <= 1e-5, sizes
    # not trivially equal: the separated stream is neither silence nor the input
    lat = whole_sep.latency_samples
    assert np.abs(whole).max() > 0.01
    assert np.max(np.abs(whole[:, lat:] - x[:, :-lat])) > 0.01


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000, 96000, 192000])
@pytest.mark.parametrize("setting", ["default", "low_latency"])
def test_varying_blocks_keep_length_and_the_latency_is_exact(bundles, rate, setting):
    sep = StreamingSeparator(bundles["pass"], rate, 2, SETTINGS[setting])
    sep.set_reference_latent("A", np.ones(4))
    lat = sep.latency_samples
    assert sep.latency.ms <= (100.0 if setting == "default" else 60.0)
    assert lat == sep.latency.buffering_samples + sep.latency.model_samples
    rng = np.random.default_rng(rate)
    n = int(0.25 * rate) + 2 * lat
    x = (0.3 * rng.standard_normal((2, n))).astype(np.float32)
    sizes = [int(s) for s in rng.integers(1, 3000, 50)] + [0]
    out = _stream(sep, x, sizes)
    assert out.shape == x.shape
    # a mask of ones: the output is the input, delayed by exactly latency_samples
    assert np.max(np.abs(out[:, :lat])) < 1e-6
    assert np.max(np.abs(out[:, lat:] - x[:, :-lat])) < 1e-5
    assert sep.latency_samples == lat                      # constant


def test_no_query_passes_audio_through(bundles, music):
    sep = StreamingSeparator(bundles["random"], 22050, 1)
    out = _stream(sep, music[None], [300])
    lat = sep.latency_samples
    assert np.max(np.abs(out[0, lat:] - music[:-lat])) < 1e-5


def test_clearing_the_query_fades_back_to_the_input(bundles, music):
    sep = StreamingSeparator(bundles["random"], 22050, 1)
    sep.set_reference_class("A", "tones")
    x = np.tile(music, 2)[None]
    half = x.shape[1] // 2
    first = _stream(sep, x[:, :half], [256])
    sep.clear_reference("A")
    second = _stream(sep, x[:, half:], [256])
    lat = sep.latency_samples
    out = np.concatenate([first, second], axis=1)[0]
    assert np.max(np.abs(out[lat:half] - x[0, :half - lat])) > 1e-2       # separated while queried
    settle = half + lat + 2048                                             # fade (30 ms) + window
    assert np.max(np.abs(out[settle:] - x[0, settle - lat:-lat])) < 1e-5


def test_per_channel_masks_equal_the_mono_mask_for_identical_channels(bundles, music):
    x = np.stack([music[:8000], music[:8000]])
    outs = []
    for mode in ("mono", "per_channel"):
        sep = StreamingSeparator(bundles["random"], 22050, 2, StreamSettings(channel_mode=mode))
        sep.set_reference_class("A", "tones")
        outs.append(_stream(sep, x, [500]))
    assert np.max(np.abs(outs[0] - outs[1])) < 1e-5


def test_mono_blocks_may_be_one_dimensional(bundles, music):
    sep = StreamingSeparator(bundles["random"], 22050, 1)
    sep.set_reference_class("A", "noise")
    a = sep.process(music[:5000])
    assert a.shape == (5000,)
    sep2 = StreamingSeparator(bundles["random"], 22050, 1)
    sep2.set_reference_class("A", "noise")
    assert np.array_equal(sep2.process(music[None, :5000])[0], a)


def test_full_band_output_above_11_khz_at_48k(bundles):
    rate = 48000
    rng = np.random.default_rng(3)
    x = (0.2 * rng.standard_normal((1, rate))).astype(np.float32)
    sep = StreamingSeparator(bundles["random"], rate, 1)
    sep.set_reference_class("A", "tones")
    out = sep.process(x)[0, sep.latency_samples:]
    spec_in = np.abs(np.fft.rfft(x[0, :len(out)])) ** 2
    spec_out = np.abs(np.fft.rfft(out)) ** 2
    f = np.fft.rfftfreq(len(out), 1 / rate)
    high, mid = f > 12000, (f > 6000) & (f < 10000)
    # the stem keeps content above the model's 11025 Hz band, at about the gain of its upper band
    gain_high = spec_out[high].sum() / spec_in[high].sum()
    gain_mid = spec_out[mid].sum() / spec_in[mid].sum()
    assert gain_high > 0.05
    assert 0.2 < gain_high / gain_mid < 5.0


def test_host_grid_gives_the_model_its_own_magnitudes(bundles):
    info = OnnxModels(bundles["random"]).info
    # two tones below 10 kHz, written at 22.05, 44.1 and 48 kHz: every rate's grid must give the model
    # the magnitudes of the 22.05 kHz STFT (44.1 kHz exactly on the bins, 48 kHz interpolated)
    def tones(rate):
        t = np.arange(int(0.2 * rate)) / rate
        return 0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 5000.3 * t)

    ref = stft_magnitude(tones(22050)[None], 1024, 256)[0][:, 8]
    for rate, tol in ((22050, 1e-6), (44100, 5e-3), (48000, 0.02)):
        grid = HostGrid(rate, info)
        x = tones(rate)
        start = 8 * grid.hop - grid.window_length // 2          # the frame centred where ref's frame 8 is
        frame = x[None, start:start + grid.window_length]
        mag = grid.model_magnitude(frame, grid.analyse(frame))[0]
        assert np.max(np.abs(mag - ref)) / ref.max() < tol, rate


def test_mask_extension_follows_the_upper_band():
    from engine.streaming.bundle import BundleInfo

    info = BundleInfo(22050, 1024, 256, 4, 8, 32, 22050)
    grid = HostGrid(48000, info)
    mag = np.ones((1, 513, 2), np.float32)
    mask = np.zeros((1, 513, 2))
    mask[:, 256:, 1] = 0.8                                    # frame 1: top octave kept at 0.8
    host = grid.host_mask(mask, mag)
    f = np.arange(grid.nb_bins) * 48000 / grid.fft_size
    assert np.allclose(host[0, 0, f > 11025], 0.0) and np.allclose(host[0, 1, f > 11025], 0.8)
    assert not HostGrid(22050, info).extends


def _switched(bundle, x, changes, smoothing_ms=30.0):
    """Stream ``x`` (1, n) at 22050 Hz in blocks of 256, applying ``changes[k]`` before block k."""
    sep = StreamingSeparator(bundle, 22050, 1, StreamSettings(smoothing_ms=smoothing_ms))
    sep.set_reference_class("A", "tones")
    sep.set_reference_class("B", "noise")
    outs = []
    for k, i in enumerate(range(0, x.shape[1], 256)):
        for name, value in changes.get(k, {}).items():
            setattr(sep, name, value)
        outs.append(sep.process(x[:, i:i + 256]))
    return np.concatenate(outs, axis=1)[0], sep.latency_samples


def test_interp_mix_and_residual_changes_are_click_free(bundles):
    t = np.arange(22050) / 22050
    x = (0.3 * np.sin(2 * np.pi * 110 * t) + 0.2 * np.sin(2 * np.pi * 220 * t + 1)
         + 0.1 * np.sin(2 * np.pi * 330 * t + 2)).astype(np.float32)[None]
    own = np.max(np.abs(np.diff(x[0])))                   # the signal's own largest step
    changes = {20: {"interp": 1.0}, 40: {"mix": 0.2}, 50: {"residual": 1.0}, 60: {"interp": 0.3, "mix": 1.0}}
    out, lat = _switched(bundles["random"], x, changes)
    steady = out[lat + 50:]                                # after the stream's own onset
    assert np.max(np.abs(np.diff(steady))) <= 1.01 * own
    kept, _ = _switched(bundles["random"], x, {})
    assert np.max(np.abs(out[-3000:] - kept[-3000:])) > 1e-3   # the changes did change the output
    # without smoothing the same wet/dry and residual switches click: the check above can fail
    for name in ("mix", "residual"):
        toggles = {k: {name: float((k // 5) % 2 == (name == "mix"))} for k in range(20, 80, 5)}
        toggles[0] = {"residual": 1.0}                     # wet = the residual, far from the dry signal
        hard, _ = _switched(bundles["random"], x, toggles, smoothing_ms=0.0)
        assert np.max(np.abs(np.diff(hard[lat + 50:]))) > 1.5 * own


def test_nan_and_inf_never_leave_and_the_stream_recovers(bundles, music):
    x = _stereo_at(music[:8000], 44100)
    dirty = x.copy()
    dirty[0, 1000:1500] = np.nan
    dirty[1, 3000] = np.inf
    dirty[:, 5000:5010] = -np.inf
    dirty[0, 7000] = 1e30
    clean = np.where(np.isfinite(dirty), dirty, 0.0).astype(np.float32)
    clean[0, 7000] = 1e6                                     # the runtime's input limit
    a = StreamingSeparator(bundles["random"], 44100, 2)
    b = StreamingSeparator(bundles["random"], 44100, 2)
    for sep in (a, b):
        sep.set_reference_class("A", "tones")
    out_dirty = _stream(a, dirty, [512])
    out_clean = _stream(b, clean, [512])
    assert np.isfinite(out_dirty).all()
    assert np.allclose(out_dirty, out_clean, atol=1e-6)
    nan_block = np.full((2, 4096), np.nan, np.float32)
    assert np.isfinite(a.process(nan_block)).all()
    tail = a.process(x[:, :10000])
    assert np.isfinite(tail).all() and np.abs(tail).max() > 0


def test_reset_starts_a_fresh_stream(bundles, music):
    x = music[None, :6000]
    sep = StreamingSeparator(bundles["random"], 22050, 1)
    sep.set_reference_class("A", "tones")
    first = sep.process(x)
    sep.process(np.ones((1, 3000), np.float32))
    sep.reset()
    assert np.array_equal(sep.process(x), first)


def test_query_latent_matches_the_offline_engine(bundles):
    from engine.separate import encode_clip

    rng = np.random.default_rng(5)
    clip = (0.3 * rng.standard_normal(22050 * 2)).astype(np.float32)
    sep = StreamingSeparator(bundles["random"], 48000, 2)
    z = sep.set_reference_audio("A", clip, 22050)
    with torch.no_grad():
        ref = encode_clip(_tiny(), torch.from_numpy(clip[None])).numpy()
    assert np.max(np.abs(z - ref)) < 1e-4
    z44 = sep.set_reference_audio("B", np.stack([clip, clip]).repeat(2, axis=1), 44100)  # crude 2x upsampling
    assert z44.shape == (4,) and np.isfinite(z44).all()


def test_torch_path_streams_the_same_as_onnx(bundles, music):
    from engine.stepmodel import TorchModels

    x = _stereo_at(music[:8000], 48000)
    outs = []
    for models in (OnnxModels(bundles["random"]), TorchModels(_tiny(), OnnxModels(bundles["random"]).info)):
        sep = StreamingSeparator(models, 48000, 2)
        sep.set_reference_class("A", "tones")
        outs.append(_stream(sep, x, [480]))
    assert np.max(np.abs(outs[0] - outs[1])) < 1e-4


def test_setters_never_block_the_audio_thread(bundles, music):
    sep = StreamingSeparator(bundles["random"], 44100, 2)
    sep.set_reference_class("A", "tones")
    x = _stereo_at(music, 44100)
    # a control thread holding the lock (as a slow setter would) does not stall process()
    with sep._lock:
        t0 = time.perf_counter()
        sep.process(x[:, :512])
        assert time.perf_counter() - t0 < 1.0
    stop = threading.Event()
    errors = []

    def control():
        rng = np.random.default_rng(0)
        while not stop.is_set():
            try:
                sep.interp = float(rng.uniform())
                sep.mix = float(rng.uniform())
                sep.set_reference_class("B", "noise" if rng.uniform() < 0.5 else "tones")
                sep.set_reference_audio("A", x[:, :4096], 44100)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

    thread = threading.Thread(target=control)
    thread.start()
    try:
        out = _stream(sep, np.tile(x, 2), [512])
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert np.isfinite(out).all() and out.shape == (2, 2 * x.shape[1])


def test_bad_input_gives_clear_errors(bundles):
    sep = StreamingSeparator(bundles["random"], 48000, 2)
    with pytest.raises(EventSepError, match="float32"):
        sep.process(np.zeros((2, 64), np.int16))
    with pytest.raises(EventSepError, match="transpose"):
        sep.process(np.zeros((64, 2), np.float32))
    with pytest.raises(EventSepError, match="numpy array"):
        sep.process([[0.0] * 4] * 2)
    with pytest.raises(EventSepError, match="unknown class 'violin'"):
        sep.set_reference_class("A", "violin")
    assert sep.set_reference_class("a", "sine  tones").shape == (4,)   # fine labels, case and spacing
    with pytest.raises(EventSepError, match="slot"):
        sep.set_reference_class("C", "tones")
    with pytest.raises(EventSepError, match="4 values"):
        sep.set_reference_latent("A", np.zeros(5))
    with pytest.raises(EventSepError, match="too short"):
        sep.set_reference_audio("A", np.zeros(100, np.float32), 48000)
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(EventSepError, match="interp"):
            sep.interp = bad
    for rate in (7999, 192001, 44100.5, "fast"):
        with pytest.raises(EventSepError, match="sample rate"):
            StreamingSeparator(bundles["random"], rate, 2)
    with pytest.raises(EventSepError, match="channels"):
        StreamingSeparator(bundles["random"], 48000, 0)
    with pytest.raises(EventSepError, match="multiple of 8"):
        StreamingSeparator(bundles["random"], 48000, 2, StreamSettings(context_frames=12))
    with pytest.raises(EventSepError, match="not an EventSep ONNX bundle"):
        StreamingSeparator(REPO / "tests", 48000, 2)
