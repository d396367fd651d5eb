"""The frame-wise detector: output frame rate and shape, frame alignment, ONNX parity, training and
resuming on real corpus stems, metrics, and `eventsep detect`."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

from engine.cli import main
from engine.detection.checkpoint import SHIPPED, load_detector, save_detector
from engine.detection.config import DetectorConfig, DetectorTrainConfig, tiny_detector_config
from engine.detection.features import STFT, frames_for, mel_matrix
from engine.detection.infer import active_spans, detect, run_chunked, torch_fn
from engine.detection.metrics import average_precision, frame_f1, segment_f1
from engine.detection.model import FrameDetector
from tests.conftest import tone


@pytest.fixture
def tiny_detector():
    torch.manual_seed(0)
    return FrameDetector(tiny_detector_config(classes=("piano", "bass", "drums", "speech"))).eval()


@pytest.fixture
def tiny_detector_dir(tmp_path, tiny_detector):
    return save_detector(tiny_detector, tmp_path / "det", {"step": 0})


@pytest.mark.parametrize("n", [1, 159, 160, 161, 640, 16000, 3 * 16000 + 77])
def test_output_is_one_frame_per_10_ms(tiny_detector, n):
    x = torch.randn(2, n) * 0.1
    with torch.no_grad():
        y = torch.sigmoid(tiny_detector(x))
    assert tiny_detector.config.front.sample_rate / tiny_detector.config.front.hop == 100.0
    assert y.shape == (2, -(-n // 160), len(tiny_detector.classes)) == (2, frames_for(n, tiny_detector.config.front),
                                                                      len(tiny_detector.classes))
    assert torch.all((y >= 0) & (y <= 1))


def test_shipped_config_is_10_ms_with_speech():
    cfg = DetectorConfig()
    assert cfg.front.hop / cfg.front.sample_rate == 0.01
    assert "speech" in cfg.classes and cfg.classes[:8] == ("piano", "bass", "guitar", "strings", "synth_pad",
                                                         "pipe", "brass", "drums")


@pytest.mark.parametrize("rate,channels,seconds", [(44100, 2, 2.5), (8000, 1, 1.23), (22050, 1, 0.05)])
def test_detect_any_rate_and_channels(tiny_detector, rate, channels, seconds):
    audio = np.random.default_rng(0).standard_normal((channels, int(rate * seconds))).astype(np.float32) * 0.1
    det = detect(tiny_detector, audio, rate)
    assert abs(len(det.probs) - seconds * 100) <= 1
    assert det.probs.shape[1] == len(tiny_detector.classes)
    assert det.frame_seconds == 0.01 and abs(det.duration - seconds) < 1e-3


def test_frames_are_centred_on_their_10_ms():
    """An impulse at sample i must land in frame floor(i / hop): detector frame k describes
    [k * 10 ms, (k + 1) * 10 ms), exactly the corpus label frame."""
    stft = STFT(tiny_detector_config().front)
    for i in (0, 79, 80, 1000, 1159, 4000):
        x = torch.zeros(1, 4800)
        x[0, i] = 1.0
        energy = stft(x)[0, 0].sum(-1)
        # the two frames whose centres are nearest may tie at the exact midpoint between centres
        assert int(torch.argmax(energy)) == i // 160


def test_conv_stft_equals_fft_stft(tiny_detector):
    x = torch.randn(2, 16000) * 0.2
    stft = tiny_detector.spectrogram_extractor.stft
    a = stft(x)
    stft.use_conv = True
    b = stft(x)
    stft.use_conv = False
    assert torch.allclose(a, b, rtol=1e-3, atol=1e-4 * float(a.max()))


def test_mel_filters_are_slaney_triangles():
    m = mel_matrix(16000, 1024, 64, 25.0, 8000.0)
    assert m.shape == (513, 64) and (m >= 0).all()
    peaks = m.argmax(axis=0)
    assert np.all(np.diff(peaks) >= 0)              # filters ascend in frequency
    assert (m.sum(axis=0) > 0).all()                 # none is empty
    # Slaney norm: each triangle has area ~ 2 / bandwidth * bandwidth / 2 = 1 in Hz units
    area = m.sum(axis=0) * (16000 / 1024)
    assert np.allclose(area[8:], 1.0, atol=0.1)


def test_chunked_inference_covers_every_frame(tiny_detector):
    x = (np.random.default_rng(1).standard_normal(16000 * 5 + 33) * 0.1).astype(np.float32)
    calls = []
    fn = torch_fn(tiny_detector)
    out = run_chunked(lambda a: calls.append(a.shape) or fn(a), x, 160, 16000, chunk_seconds=1.0,
                      context_seconds=0.5)
    assert out.shape == (-(-len(x) // 160), len(tiny_detector.classes))
    assert len(calls) == 6
    whole = fn(x[None])[0]
    # far from chunk edges the context makes chunked and whole-file results agree closely
    assert np.abs(out[20:80] - whole[20:80]).max() < 0.05


def test_active_spans_bridge_gaps_and_drop_blips():
    p = np.zeros(300)
    p[10:60] = 0.9
    p[65:100] = 0.8          # 50 ms gap: bridged
    p[200:205] = 0.9         # 50 ms blip: dropped
    assert active_spans(p, 0.5, 0.01, min_seconds=0.1, gap_seconds=0.15) == [(0.10, 1.00)]


def test_frame_and_segment_f1_and_ap_by_hand():
    refs = np.array([[1, 0], [1, 0], [0, 1], [0, 0]], float)
    probs = np.array([[0.9, 0.1], [0.2, 0.7], [0.6, 0.8], [0.1, 0.2]])
    f1 = frame_f1(probs, refs, 0.5)
    # class 0: tp 1, fp 1, fn 1 -> 0.5; class 1: tp 1, fp 1, fn 0 -> 2/3
    assert np.allclose(f1, [0.5, 2 / 3])
    seg = segment_f1(probs, refs, 2, [4], 0.5)
    # segments [0:2], [2:4]: class 0 ref (1, 0) pred (1, 1) -> 2/3; class 1 ref (0, 1) pred (1, 1) -> 2/3
    assert np.allclose(seg, [2 / 3, 2 / 3])
    # AP class 0: scores 0.9(+) 0.6(-) 0.2(+) 0.1(-): precision at positives 1 and 2/3 -> 5/6
    assert average_precision(probs[:, 0], refs[:, 0]) == pytest.approx(5 / 6)


def test_training_runs_and_resumes_on_corpus_stems(tmp_path):
    from engine.corpus.source import CorpusStemSource
    from engine.detection.train import train

    src = CorpusStemSource("train", classes=["bass", "drums"], include_scores=False, procedural_pool=60)
    cfg = tiny_detector_config(classes=("bass", "drums"))
    tcfg = DetectorTrainConfig(steps=2, batch_size=2, clip_seconds=1.0, stem_seconds=1.5, bank_initial=1,
                               bank_per_class=2, renders_per_step=1, valid_items=2, validate_every=2,
                               checkpoint_every=1)
    out, control = tmp_path / "run", tmp_path / "control"     # not /tmp/bench: other jobs use it
    control.mkdir()
    assert train(out, cfg, tcfg, src, src, progress=False, control_dir=control)["step"] == 2
    tcfg.steps = 3
    assert train(out, cfg, tcfg, src, src, progress=False, control_dir=control)["step"] == 3
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert rows[1]["valid_f1_core"] != "" and float(rows[0]["loss"]) > 0
    assert json.loads((out / "last" / "detector.json").read_text())["step"] == 3
    model, meta = load_detector(out / "best")
    assert model.classes == ("bass", "drums") and meta["step"] in (2, 3)
    # STOP_TRAINING stops the run at its next checkpoint; the same command resumes afterwards
    (control / "STOP_TRAINING").touch()
    tcfg.steps = 6
    assert train(out, cfg, tcfg, src, src, progress=False, control_dir=control)["step"] == 4
    (control / "STOP_TRAINING").unlink()
    assert train(out, cfg, tcfg, src, src, progress=False, control_dir=control)["step"] == 6


def test_onnx_export_parity_tiny(tmp_path, tiny_detector):
    from export.onnx_export import synthetic_music
    from export.sed_export import ONNX_FILE, PARITY_FILE, export_detector

    report = export_detector(tiny_detector, tmp_path, [("synthetic", synthetic_music(16000, 2.0))])
    assert report.ok and report.worst < 1e-4
    assert (tmp_path / ONNX_FILE).is_file() and json.loads((tmp_path / PARITY_FILE).read_text())["worst"] < 1e-4
    # lengths the graph was not traced with, through the any-length wrapper, against PyTorch
    import onnxruntime as ort

    from export.sed_export import onnx_detect_fn

    sess = ort.InferenceSession(str(tmp_path / ONNX_FILE), providers=["CPUExecutionProvider"])
    fn = onnx_detect_fn(sess, 160 * tiny_detector.config.time_factor, 160)
    for n in (640 * 3, 16000 + 1):
        x = (np.random.default_rng(n).standard_normal((1, n)) * 0.1).astype(np.float32)
        got = fn(x)
        with torch.no_grad():
            pad = (-n) % 640
            ref = torch.sigmoid(tiny_detector(torch.from_numpy(np.pad(x, ((0, 0), (0, pad))))))[:, :-(-n // 160)]
        assert got.shape == ref.shape and np.abs(got - ref.numpy()).max() < 1e-4


@pytest.mark.skipif(not (SHIPPED / "detector.safetensors").is_file(), reason="no shipped detector yet")
def test_shipped_detector_and_its_onnx_agree():
    import onnxruntime as ort

    from export.onnx_export import synthetic_music
    from export.sed_export import ONNX_FILE, onnx_detect_fn

    model, meta = load_detector()
    assert "speech" in model.classes and meta["config"]["front"]["hop"] == 160
    assert all(p.stat().st_size < 50e6 for p in SHIPPED.iterdir())
    sess = ort.InferenceSession(str(SHIPPED / ONNX_FILE), providers=["CPUExecutionProvider"])
    x = synthetic_music(16000, 3.0)[None]
    got = onnx_detect_fn(sess, 160 * model.config.time_factor, 160)(x)
    model.spectrogram_extractor.stft.use_conv = True
    with torch.no_grad():
        ref = torch.sigmoid(model(torch.from_numpy(x))).numpy()
    assert np.abs(got - ref).max() < 1e-4


def test_detect_cli_prints_spans_and_writes_png(capsys, tmp_path, tiny_detector_dir):
    from engine.audio import save_audio

    mix = save_audio(tmp_path / "mix.wav", tone(1.5, 44100, 330.0, channels=2), 44100)
    png = tmp_path / "curves.png"
    code = main(["detect", str(mix), "--detector", str(tiny_detector_dir), "--png", str(png), "--threshold", "0.3"])
    out = capsys.readouterr().out
    assert code == 0
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in out and ("active" in out or "no class detected" in out)
    code = main(["detect", str(mix), "--detector", str(tiny_detector_dir), "--class", "drums"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and lines[0].startswith("drums")


@pytest.mark.parametrize("args,needle", [
    (["--class", "kazoo"], "unknown class 'kazoo'"),
    (["--class", "organ"], "no output for 'organ'"),
])
def test_detect_cli_errors_are_one_line(capsys, tmp_path, tiny_detector_dir, args, needle):
    from engine.audio import save_audio

    mix = save_audio(tmp_path / "mix.wav", tone(0.5, 22050), 22050)
    code = main(["detect", str(mix), "--detector", str(tiny_detector_dir)] + args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("eventsep detect: error:") and needle in err and "\n" not in err


def test_detect_cli_missing_file(capsys, tiny_detector_dir, tmp_path):
    code = main(["detect", str(tmp_path / "nope.wav"), "--detector", str(tiny_detector_dir)])
    err = capsys.readouterr().err
    assert code == 2 and "no such file" in err
