"""ONNX export (export/): graphs, metadata, parity with PyTorch, loud failure, the CLI."""
import hashlib
import json

import numpy as np
import onnx
import pytest
import torch

from engine.cli import main
from engine.errors import EventSepError
from engine.streaming.bundle import METADATA_KEY, QUERY_FILE, SEPARATOR_FILE, OnnxModels, read_metadata
from export import onnx_export
from export.onnx_export import ExportParityError, export_checkpoint, synthetic_music

CLIP = [("synthetic", synthetic_music(22050, seconds=1.0))]


@pytest.fixture(autouse=True)
def _one_torch_thread():
    # the development machine has 2 cores and is usually busy: one thread is several times faster here
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def exported(tiny_checkpoint, tmp_path):
    return export_checkpoint(tiny_checkpoint, tmp_path / "bundle")


def test_export_writes_two_graphs_with_their_metadata(exported, tiny_checkpoint):
    out = exported.directory
    assert {p.name for p in out.iterdir()} == {QUERY_FILE, SEPARATOR_FILE, "parity.json"}
    for name, graph in ((SEPARATOR_FILE, "separator"), (QUERY_FILE, "query")):
        meta = read_metadata(out / name)
        assert meta["graph"] == graph and meta["format"] == "eventsep-onnx" and meta["format_version"] == 2
        assert meta["sample_rate"] == 22050 and meta["stft"]["n_fft"] == 1024 and meta["stft"]["hop_length"] == 256
        assert meta["latent_dim"] == 4 and meta["time_multiple"] == 8
        assert meta["segment_frames"] == 22050 // 256 + 1
        assert meta["classes"] == ["noise", "tones"]
        assert sorted(meta["class_latents"]["coarse"]) == ["noise", "tones"]
        assert meta["class_latents"]["fine"].keys() == {"Sine Tones"}
        digest = hashlib.sha256((tiny_checkpoint / "model.safetensors").read_bytes()).hexdigest()
        assert meta["source"]["sha256"] == digest
    from engine.checkpoint import load_latents

    z = load_latents(tiny_checkpoint)["coarse"]["tones"].numpy()
    assert np.allclose(exported.info.class_latents["coarse"]["tones"], z)
    parity = json.loads((out / "parity.json").read_text())
    assert parity["worst"] <= 1e-4 and len(parity["rows"]) >= 10


def test_graphs_have_dynamic_batch_and_time_and_match_pytorch(exported, tiny_model):
    models = OnnxModels(exported.directory)
    rng = np.random.default_rng(0)
    for batch, frames in ((1, 1), (2, 8), (3, 37), (1, 200)):
        mag = rng.exponential(1.0, (batch, 513, frames)).astype(np.float32)
        z = rng.standard_normal((batch, 4)).astype(np.float32)
        mask = models.separate(mag, z)
        pad = (-frames) % 8
        with torch.no_grad():
            ref = tiny_model.separator(torch.nn.functional.pad(torch.from_numpy(mag), (0, pad)),
                                       torch.from_numpy(z))[..., :frames].numpy()
        assert mask.shape == mag.shape
        assert np.max(np.abs(mask - ref)) <= 1e-4
        if frames >= tiny_model.query_net.min_frames:
            with torch.no_grad():
                mu = tiny_model.query_net(torch.from_numpy(mag))[0].numpy()
            assert np.max(np.abs(models.encode(mag) - mu)) <= 1e-4


def test_a_graph_that_differs_from_pytorch_fails_loudly_and_writes_nothing(tiny_model, tmp_path, monkeypatch):
    real_export = onnx_export._export_graphs

    def export_perturbed(model, directory, opset):        # as if the exporter had mistranslated a layer
        import copy

        broken = copy.deepcopy(model)
        with torch.no_grad():
            broken.separator.decoder_norms[-1].shift.bias.add_(0.01)   # masks move by ~1e-3
        real_export(broken, directory, opset)

    monkeypatch.setattr(onnx_export, "_export_graphs", export_perturbed)
    with pytest.raises(ExportParityError, match="differ from PyTorch") as err:
        onnx_export.export_model(tiny_model, tmp_path / "bundle", check_audio=CLIP)
    assert "over tolerance" in str(err.value)
    assert not (tmp_path / "bundle").exists()
    assert not list(tmp_path.glob(".bundle*"))


def test_bundles_of_another_format_are_refused(exported, tmp_path):
    path = exported.directory / SEPARATOR_FILE
    proto = onnx.load(str(path))
    meta = json.loads(proto.metadata_props[0].value)
    meta["format_version"] = 99
    proto.metadata_props[0].value = json.dumps(meta)
    assert proto.metadata_props[0].key == METADATA_KEY
    onnx.save(proto, str(path))
    with pytest.raises(EventSepError, match="re-export"):
        OnnxModels(exported.directory)


def test_cli_export(tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "onnx"
    assert main(["export", str(tiny_checkpoint), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "parity with PyTorch" in text and "streaming latency, default" in text
    # a windowed-only model (the thesis U-Net) lists the presets it cannot run as such, not as an error
    assert "streaming latency, background_runs: not for this model" in text
    assert (out / SEPARATOR_FILE).is_file() and (out / QUERY_FILE).is_file()
    assert main(["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")]) == 2
    assert "eventsep export: error:" in capsys.readouterr().err


def test_the_shipped_bundle_comes_from_the_shipped_checkpoint():
    from engine.streaming.bundle import DEFAULT_BUNDLE

    weights = DEFAULT_BUNDLE.parent / "default_model" / "model.safetensors"
    assert (DEFAULT_BUNDLE / SEPARATOR_FILE).is_file() and (DEFAULT_BUNDLE / QUERY_FILE).is_file()
    meta = read_metadata(DEFAULT_BUNDLE / SEPARATOR_FILE)
    assert meta["source"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest(), (
        "engine/assets/default_onnx is stale: eventsep export engine/assets/default_model "
        "--out engine/assets/default_onnx")
