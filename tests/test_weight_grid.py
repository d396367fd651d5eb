"""Weights on a 4-bit grid (issue 17): the grid itself, onnxruntime's MatMulNBits reading the packed codes
as the very float weights PyTorch holds, `eventsep quantize`, and a quantized checkpoint's live stream
equal to its offline output."""
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from engine.weight_grid import WeightGrid

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
from test_stream_stateful import _stereo, _stream, _tiny  # noqa: E402


def _matmul_nbits(codes, scales, k, n, grid):
    """A one-node graph: ``A (M, K) -> A @ W (M, N)`` with W as packed codes and scales."""
    node = helper.make_node("MatMulNBits", ["A", "B", "scales"], ["Y"], domain="com.microsoft",
                            K=k, N=n, bits=grid.bits, block_size=grid.block, accuracy_level=0)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("A", TensorProto.FLOAT, ["M", k])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["M", n])],
                              [numpy_helper.from_array(codes, "B"), numpy_helper.from_array(scales, "scales")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("block", [16, 32])
def test_snapped_weights_pack_into_matmulnbits_as_the_same_floats(block):
    rng = np.random.default_rng(0)
    grid = WeightGrid(4, block)
    w = rng.standard_normal((70, 33)).astype(np.float32)          # K not a multiple of the block
    w[:, 3] = 0.0                                                 # an all-zero column
    snapped = grid.snap(w)
    err = np.linalg.norm(snapped - w) / np.linalg.norm(w)
    assert 0.01 < err < 0.15                                      # it moved, by a 4-bit grid's error
    assert grid.on_grid(snapped) and not grid.on_grid(w)
    np.testing.assert_allclose(grid.snap(snapped), snapped, rtol=1e-6, atol=0)   # a grid point stays (to rounding)
    codes, scales = grid.pack(snapped)
    assert codes.dtype == np.uint8 and codes.shape == (33, -(-70 // block), block // 2)
    a = rng.standard_normal((5, 70)).astype(np.float32)
    got = _matmul_nbits(codes, scales, 70, 33, grid).run(None, {"A": a})[0]
    np.testing.assert_allclose(got, a @ snapped, atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="not on the grid"):
        grid.pack(w)


def test_the_block_scale_search_beats_the_plain_maximum():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((256, 64)).astype(np.float32)
    grid = WeightGrid()
    blocks = w.T.reshape(64, -1, grid.block)
    scale = np.abs(blocks).max(axis=2, keepdims=True) / 7
    plain = (np.clip(np.round(blocks / scale), -7, 7) * scale).reshape(64, -1).T
    assert np.linalg.norm(grid.snap(w) - w) < 0.95 * np.linalg.norm(plain - w)


@pytest.mark.parametrize("bits, block", [(8, 32), (4, 24), (4, 8)])
def test_bad_grids_are_refused(bits, block):
    with pytest.raises(ValueError):
        WeightGrid(bits, block)


@pytest.fixture(scope="module")
def quantized(tmp_path_factory):
    """A tiny streamable checkpoint, its `eventsep quantize` copy and that copy's bundle."""
    from engine.checkpoint import save_checkpoint
    from engine.cli import main
    from export.onnx_export import export_checkpoint, synthetic_music

    root = tmp_path_factory.mktemp("grid")
    save_checkpoint(root / "float", _tiny(), ["noise", "tones"])
    assert main(["quantize", str(root / "float"), "--out", str(root / "q4"), "--block", "16"]) == 0
    export_checkpoint(root / "q4", root / "q4_onnx")
    return root, synthetic_music(44100, seconds=1.0)


def test_quantize_writes_a_checkpoint_on_the_grid_that_exports_packed(quantized):
    from engine.checkpoint import load_model
    from engine.weight_snap import grid_modules, matmul_layout, off_grid, step_matmuls

    root, _ = quantized
    model, meta = load_model(root / "q4")
    float_model, _ = load_model(root / "float")
    grid = WeightGrid(model.config.weight_bits, model.config.weight_block)
    assert (grid.bits, grid.block) == (4, 16) and meta["quantized_from"] == str(root / "float")
    assert off_grid(model.separator, grid) == [] and off_grid(float_model.separator, grid) != []
    for (_, q), (_, f) in zip(grid_modules(model.separator), grid_modules(float_model.separator)):
        assert 0 < float((matmul_layout(q) - matmul_layout(f)).abs().max()) < 0.5 * float(matmul_layout(f).abs().max())
    # the Query-net and the class embeddings are untouched
    torch.testing.assert_close(model.query_net.front.weight, float_model.query_net.front.weight, rtol=0, atol=0)
    step = onnx.load(str(root / "q4_onnx" / "separator_step.onnx"))
    ops = [n.op_type for n in step.graph.node]
    assert ops.count("MatMulNBits") == step_matmuls(model.separator) and "MatMul" not in ops
    assert (root / "q4_onnx" / "separator_step.onnx").stat().st_size < 0.5 * (root / "q4_onnx" / "separator.onnx").stat().st_size


def test_a_quantized_checkpoint_streams_its_offline_output(quantized):
    from engine.checkpoint import load_model
    from engine.separate import separate_array
    from engine.streaming import StreamingSeparator, StreamSettings

    root, music = quantized
    model, _ = load_model(root / "q4")
    x = _stereo(music)
    z = model.class_latents()["tones"].detach()
    offline = separate_array(model, x, 44100, z).estimate
    assert np.abs(offline - x).max() > 0.05
    for setting, block in (("default", 65), ("every_frame", 1), ("background_runs", 511)):
        sep = StreamingSeparator(root / "q4_onnx", 44100, 2, StreamSettings.preset(setting))
        sep.set_reference_latent("A", z.numpy())
        np.testing.assert_allclose(_stream(sep, x, block), offline, atol=1e-4, rtol=0, err_msg=setting)


def test_export_refuses_a_quantized_checkpoint_trained_off_its_grid(quantized, tmp_path):
    from engine.checkpoint import load_model, save_checkpoint
    from engine.errors import EventSepError
    from export.onnx_export import export_checkpoint

    root, _ = quantized
    model, meta = load_model(root / "q4")
    with torch.no_grad():
        model.separator.tcn[0].weight.add_(1e-3)          # what a training step after quantizing does
    save_checkpoint(tmp_path / "drifted", model, meta["classes"])
    with pytest.raises(EventSepError, match="Quantize it again"):
        export_checkpoint(tmp_path / "drifted", tmp_path / "onnx")
    assert not (tmp_path / "onnx").exists()


def test_quantize_errors_are_one_line(quantized, tmp_path, capsys):
    from engine.checkpoint import save_checkpoint
    from engine.cli import main
    from engine.config import ModelConfig
    from engine.models import QuerySeparator

    root, _ = quantized
    unet = tmp_path / "unet"
    save_checkpoint(unet, QuerySeparator(ModelConfig(separator_channels=(4, 8), query_channels=(4, 4),
                                                     query_time_strides=(1, 2), query_gru=8)), ["a"])
    cases = [([str(unet), "--out", str(tmp_path / "x")], "only streamable"),
             ([str(root / "float"), "--out", str(root / "float")], "another folder"),
             ([str(root / "float"), "--out", str(tmp_path / "y"), "--block", "24"], "power of two"),
             ([str(tmp_path / "nothing"), "--out", str(tmp_path / "z")], "not an EventSep checkpoint")]
    for argv, message in cases:
        assert main(["quantize", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, err
