"""``native.safetensors``: the streamable separator's step and the light Query-net as plain float32 arrays
laid out for a frame-at-a-time native runtime (the VST3 in ``plugin_host/vst3``), plus :class:`NativeStep`,
the same arithmetic in numpy: the executable description of the file that the export parity check runs.

Written for ``tcn`` separators with the light Query-net (the shipped design); other designs export no
native file. Layout (every matrix row-major ``(out, in)``, so one output is one contiguous dot product):

- ``front.w (H, F)``, ``front.b``, ``front.norm.w``, ``front.norm.b``: magnitude -> ``log1p`` -> linear ->
  LayerNorm -> ReLU, one frame ``(F,)`` -> ``(H,)``;
- ``context.w (K, H, H)``, ``context.b``: the context convolution, tap ``k`` reading frame ``t - K + 1 + k``
  of the compressed frames (``K = past + 1 + lookahead``);
- ``tcn.{i}.w (3, H, H)``, ``tcn.{i}.b``, ``tcn.{i}.norm.w``, ``tcn.{i}.norm.b``: residual layer ``i``, taps
  ``d`` frames apart (``dilations[i]``);
- ``film.w (2 N H, D)``, ``film.b``: every FiLM's ``1 + gamma`` and ``beta`` from ``z`` in one matrix (the
  order of :meth:`engine.streamnet.StreamSeparator._film_table`);
- ``head.w (H, 2 H)``, ``head.b``, ``head.norm.w``, ``head.norm.b``, ``mask.w (F, H)``, ``mask.b``;
- ``query.*``: the Query-net (``front``, ``norm``, ``conv0`` dilation 1, ``conv1`` dilation 2, each
  ``(3, Hq, Hq)`` centred taps, ``out0``, ``out1``).

The safetensors header's ``__metadata__`` holds ``eventsep``: the bundle metadata (as in every graph of
the bundle) with a ``native`` entry giving ``hidden``, ``dilations``, ``past``, ``lookahead``, ``eps``
and ``query_hidden``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from engine.streaming.bundle import BundleInfo

NATIVE_FILE = "native.safetensors"
LAYER_NORM_EPS = 1e-5


def supports_native(model) -> bool:
    from engine.streamnet import LightQueryNet, StreamSeparator

    sep = model.separator
    return isinstance(sep, StreamSeparator) and sep.arch == "tcn" and isinstance(model.query_net, LightQueryNet)


def _np(t: torch.Tensor) -> np.ndarray:
    return np.ascontiguousarray(t.detach().float().cpu().numpy())


def _taps(conv: torch.nn.Conv1d) -> np.ndarray:
    """``(out, in, K)`` kernel -> ``(K, out, in)``: one matrix per tap."""
    return _np(conv.weight.permute(2, 0, 1))


def _norm(prefix: str, norm: torch.nn.LayerNorm) -> dict[str, np.ndarray]:
    return {f"{prefix}.w": _np(norm.weight), f"{prefix}.b": _np(norm.bias)}


def native_arrays(model) -> dict[str, np.ndarray]:
    """The arrays of ``native.safetensors`` (see the module docstring)."""
    sep, qn = model.separator, model.query_net
    arrays = {"front.w": _np(sep.front.proj.weight), "front.b": _np(sep.front.proj.bias),
              **_norm("front.norm", sep.front.norm),
              "context.w": _taps(sep.context), "context.b": _np(sep.context.bias)}
    for i, (conv, norm) in enumerate(zip(sep.tcn, sep.tcn_norms)):
        arrays.update({f"tcn.{i}.w": _taps(conv), f"tcn.{i}.b": _np(conv.bias), **_norm(f"tcn.{i}.norm", norm)})
    films = sep._films()
    arrays["film.w"] = np.concatenate([_np(w) for f in films for w in (f.to_gamma.weight, f.to_beta.weight)])
    arrays["film.b"] = np.concatenate([_np(b) for f in films for b in (f.to_gamma.bias + 1.0, f.to_beta.bias)])
    arrays.update({"head.w": _np(sep.head.weight), "head.b": _np(sep.head.bias), **_norm("head.norm", sep.head_norm),
                   "mask.w": _np(sep.to_mask.weight), "mask.b": _np(sep.to_mask.bias)})
    arrays.update({"query.front.w": _np(qn.front.weight), "query.front.b": _np(qn.front.bias),
                   **_norm("query.norm", qn.norm)})
    for i, conv in enumerate(qn.convs):
        arrays.update({f"query.conv{i}.w": _taps(conv), f"query.conv{i}.b": _np(conv.bias)})
    arrays.update({"query.out0.w": _np(qn.out[0].weight), "query.out0.b": _np(qn.out[0].bias),
                   "query.out1.w": _np(qn.out[2].weight), "query.out1.b": _np(qn.out[2].bias)})
    return arrays


def native_description(model) -> dict:
    sep = model.separator
    return {"hidden": sep.hidden, "dilations": list(sep.dilations), "past": sep.past, "lookahead": sep.lookahead,
            "eps": LAYER_NORM_EPS, "query_hidden": model.query_net.front.out_features}


def write_native(model, info: BundleInfo, directory: Path) -> Path:
    from safetensors.numpy import save_file

    meta = info.to_metadata("native")
    meta["native"] = native_description(model)
    path = Path(directory) / NATIVE_FILE
    save_file(native_arrays(model), str(path), metadata={"eventsep": json.dumps(meta)})
    return path


def read_native(path: str | Path) -> tuple[dict[str, np.ndarray], dict]:
    """``native.safetensors`` -> its arrays and its metadata (the ``eventsep`` JSON)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as f:
        meta = json.loads(f.metadata()["eventsep"])
        return {k: f.get_tensor(k) for k in f.keys()}, meta


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LAYER_NORM_EPS) * w + b


class NativeStep:
    """The step of ``native.safetensors`` one frame at a time in numpy, batch 1, as a native runtime runs
    it: ``frame((513,) magnitude)`` -> the ``(513,)`` mask of the frame ``lookahead`` behind it (the first
    ``lookahead`` calls only fill the context; their masks are dropped and the core state stays zero, as
    :func:`engine.streaming.stateful.primed` does)."""

    def __init__(self, arrays: dict[str, np.ndarray], meta: dict, z: np.ndarray):
        self.a, n = arrays, meta["native"]
        self.dilations, self.lookahead = n["dilations"], n["lookahead"]
        h = n["hidden"]
        self.context = np.zeros((n["past"] + n["lookahead"], h), np.float32)
        self.core = [np.zeros((2 * d, h), np.float32) for d in self.dilations]
        table = arrays["film.w"] @ np.asarray(z, np.float32).reshape(-1) + arrays["film.b"]
        self.films = table.reshape(-1, h)
        self.to_skip = self.lookahead

    def frame(self, magnitude: np.ndarray) -> np.ndarray | None:
        a, films = self.a, self.films
        f = np.log1p(magnitude.astype(np.float32)) @ a["front.w"].T + a["front.b"]
        f = np.maximum(_layer_norm(f, a["front.norm.w"], a["front.norm.b"]), 0.0)
        full = np.concatenate([self.context, f[None]])
        self.context = full[1:]
        x = sum(a["context.w"][k] @ full[k] for k in range(full.shape[0])) + a["context.b"]
        x = np.maximum(x * films[0] + films[1], 0.0)
        if self.to_skip:
            self.to_skip -= 1
            return None
        y = x
        for i, d in enumerate(self.dilations):
            hist = np.concatenate([self.core[i], y[None]])
            self.core[i] = hist[1:]
            out = sum(a[f"tcn.{i}.w"][k] @ hist[k * d] for k in range(3)) + a[f"tcn.{i}.b"]
            y = y + np.maximum(_layer_norm(out, a[f"tcn.{i}.norm.w"], a[f"tcn.{i}.norm.b"]) * films[2 + 2 * i]
                               + films[3 + 2 * i], 0.0)
        out = a["head.w"] @ np.concatenate([x, y]) + a["head.b"]
        out = np.maximum(_layer_norm(out, a["head.norm.w"], a["head.norm.b"]), 0.0) * films[-2] + films[-1]
        return 1.0 / (1.0 + np.exp(-(a["mask.w"] @ out + a["mask.b"])))
