"""Export Query-net and Separator to ONNX graphs (plus the Separator's stateful step graph when it is
streamable by construction), stamp the metadata, and prove they compute what PyTorch computes.

:func:`export_model` writes into a temporary folder, reloads both graphs in onnxruntime through the
runtime's own loader, compares them with PyTorch on random and real inputs (:func:`verify_bundle`) and
only then moves them into place; a graph that differs by more than the tolerance raises
:class:`ExportParityError` and leaves nothing behind.
"""
from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch

from engine.errors import EventSepError
from engine.models import QuerySeparator
from engine.streaming.bundle import METADATA_KEY, QUERY_FILE, SEPARATOR_FILE, STEP_FILE, BundleInfo, OnnxModels
from engine.streaming.stateful import primed, whole_masks

from engine.weight_snap import model_grid, step_matmuls

from .nbits import pack_matmuls
from .native_weights import NATIVE_FILE, NativeStep, read_native, supports_native, write_native
from .graphs import QueryGraph, SeparatorGraph, StepGraph
from .metadata import bundle_info, source_record

OPSET = 17
TOLERANCE = 1e-4
PARITY_FILE = "parity.json"
EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "engine" / "assets" / "example"


class ExportParityError(EventSepError):
    """The exported graphs do not reproduce PyTorch within the tolerance."""


@dataclass
class ParityReport:
    tolerance: float
    rows: list[dict[str, Any]] = field(default_factory=list)    # {"graph", "input", "shape", "max_abs_diff"}

    @property
    def worst(self) -> float:
        return max((r["max_abs_diff"] for r in self.rows), default=float("nan"))

    @property
    def ok(self) -> bool:
        return bool(self.rows) and all(r["max_abs_diff"] <= self.tolerance for r in self.rows)

    def table(self) -> str:
        lines = [f"{'graph':<10} {'input':<40} {'shape':<18} {'max |onnx - torch|':>18}"]
        for r in self.rows:
            flag = "" if r["max_abs_diff"] <= self.tolerance else "  <-- over tolerance"
            lines.append(f"{r['graph']:<10} {r['input']:<40} {str(tuple(r['shape'])):<18} "
                         f"{r['max_abs_diff']:>18.3g}{flag}")
        return "\n".join(lines)


@dataclass
class ExportResult:
    directory: Path
    info: BundleInfo
    parity: ParityReport

    @property
    def files(self) -> list[Path]:
        graphs = (QUERY_FILE, SEPARATOR_FILE) + ((STEP_FILE,) if self.info.stateful else ())
        native = (NATIVE_FILE,) if (self.directory / NATIVE_FILE).is_file() else ()
        return [self.directory / name for name in graphs + native + (PARITY_FILE,)]


# --------------------------------------------------------------------------------------------- inputs

def synthetic_music(sample_rate: int, seconds: float = 4.0, seed: int = 0) -> np.ndarray:
    """A deterministic music-like clip (harmonic notes with envelopes, a bass line, noise hits): mono
    ``(nb_samples,)`` float32, for parity checks when no real audio is at hand."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    out = np.zeros(n)
    for start in np.arange(0.0, seconds, 0.25):
        f0 = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        seg = (t >= start) & (t < start + 0.5)
        env = np.exp(-(t[seg] - start) * 6.0)
        for h in range(1, 6):
            out[seg] += 0.15 / h * env * np.sin(2 * np.pi * f0 * h * t[seg])
    for start in np.arange(0.0, seconds, 0.5):
        seg = (t >= start) & (t < start + 0.08)
        out[seg] += 0.3 * rng.standard_normal(seg.sum()) * np.exp(-(t[seg] - start) * 60.0)
    out += 0.2 * np.sin(2 * np.pi * 55.0 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.5 * t))
    return (0.8 * out / np.abs(out).max()).astype(np.float32)


def default_check_audio(sample_rate: int) -> list[tuple[str, np.ndarray]]:
    """Real clips for the parity check: the bundled example when present, plus a synthetic clip."""
    from engine.audio import load_audio

    clips = []
    for name in ("mixture", "reference"):
        path = EXAMPLE_DIR / f"{name}.flac"
        if path.is_file():
            clips.append((f"example/{name}.flac", load_audio(path, sample_rate, mono=True)[0][0]))
    clips.append(("synthetic music", synthetic_music(sample_rate)))
    return clips


# --------------------------------------------------------------------------------------------- export

def _export_graphs(model: QuerySeparator, directory: Path, opset: int) -> None:
    cfg = model.config
    bins = cfg.stft.nb_bins
    tm = model.separator.time_multiple
    frames = max(2 * tm, model.query_net.min_frames)
    mag = torch.rand(1, bins, frames) * 4.0
    z = torch.randn(1, cfg.latent_dim)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")      # tracer and deprecation chatter; parity is checked below
        torch.onnx.export(SeparatorGraph(model.separator).eval(), (mag, z), str(directory / SEPARATOR_FILE),
                          input_names=["magnitude", "z"], output_names=["mask"], opset_version=opset,
                          dynamic_axes={"magnitude": {0: "batch", 2: "frames"}, "z": {0: "batch"},
                                        "mask": {0: "batch", 2: "frames"}}, dynamo=False)
        torch.onnx.export(QueryGraph(model.query_net).eval(), (mag,), str(directory / QUERY_FILE),
                          input_names=["magnitude"], output_names=["mu"], opset_version=opset,
                          dynamic_axes={"magnitude": {0: "batch", 2: "frames"}, "mu": {0: "batch"}},
                          dynamo=False)
        if model.streamable:
            _export_step(model, directory, opset)


def _export_step(model: QuerySeparator, directory: Path, opset: int) -> None:
    """``separator_step.onnx``: dynamic batch and frame count; the state named as in its layout."""
    layout = model.separator.state_layout()
    names = [e["name"] for e in layout]
    state = tuple(torch.rand([1 if d == "batch" else d for d in e["shape"]]) for e in layout)
    axes = {"magnitude": {0: "batch", 2: "frames"}, "z": {0: "batch"}, "mask": {0: "batch", 2: "frames"}}
    for e in layout:
        axes[e["name"]] = axes[e["name"] + "_out"] = {e["shape"].index("batch"): "batch"}
    mag = torch.rand(1, model.config.stft.nb_bins, 3) * 4.0
    torch.onnx.export(StepGraph(model.separator).eval(), (mag, torch.randn(1, model.config.latent_dim), *state),
                      str(directory / STEP_FILE), input_names=["magnitude", "z", *names],
                      output_names=["mask", *(n + "_out" for n in names)], opset_version=opset,
                      dynamic_axes=axes, dynamo=False)
    grid = model_grid(model.config)
    if grid is not None:        # a snapped checkpoint: its weights go into the graph as 4-bit codes
        pack_matmuls(directory / STEP_FILE, grid, step_matmuls(model.separator))


def _stamp(path: Path, info: BundleInfo, graph: str) -> None:
    proto = onnx.load(str(path))
    del proto.metadata_props[:]
    entry = proto.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(info.to_metadata(graph))
    proto.doc_string = (f"EventSep {graph} (format {info.format_version}); model rate {info.sample_rate} Hz, "
                        f"STFT {info.n_fft}/{info.hop_length}; metadata key '{METADATA_KEY}'")
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def export_model(model: QuerySeparator, out_dir: str | Path, *,
                 latents: dict[str, dict[str, torch.Tensor]] | None = None, classes: list[str] | None = None,
                 source: dict[str, Any] | None = None, check_audio: list[tuple[str, np.ndarray]] | None = None,
                 tolerance: float = TOLERANCE, opset: int = OPSET) -> ExportResult:
    """Export ``model`` into ``out_dir`` (``query.onnx``, ``separator.onnx``, ``parity.json``).

    check_audio: ``(name, mono waveform at the model rate)`` pairs for the real-input parity check
    (default: :func:`default_check_audio`). Raises :class:`ExportParityError` past ``tolerance``.
    """
    model = model.eval()
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    info = bundle_info(model, latents, classes, source or source_record(model, opset=opset))
    tmp = out_dir.parent / f".{out_dir.name}.export-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        _export_graphs(model, tmp, opset)
        _stamp(tmp / SEPARATOR_FILE, info, "separator")
        _stamp(tmp / QUERY_FILE, info, "query")
        graphs = (SEPARATOR_FILE, QUERY_FILE) + ((STEP_FILE,) if info.stateful else ())
        if info.stateful:
            _stamp(tmp / STEP_FILE, info, "separator_step")
        if supports_native(model):         # the frame-wise weights the VST3 reads (plugin_host/vst3)
            write_native(model, info, tmp)
            graphs += (NATIVE_FILE,)
        if check_audio is None:
            check_audio = default_check_audio(info.sample_rate)
        report = verify_bundle(model, tmp, check_audio, tolerance)
        (tmp / PARITY_FILE).write_text(json.dumps(
            {"tolerance": tolerance, "worst": report.worst, "rows": report.rows}, indent=1))
        if not report.ok:
            raise ExportParityError(f"the exported graphs differ from PyTorch by up to {report.worst:.3g} "
                                    f"(tolerance {tolerance:g}); nothing was written:\n{report.table()}")
        out_dir.mkdir(exist_ok=True)
        for name in graphs + (PARITY_FILE,):
            os.replace(tmp / name, out_dir / name)
        for name in (STEP_FILE, NATIVE_FILE):    # a bundle must not keep an older model's extra files
            if name not in graphs:
                (out_dir / name).unlink(missing_ok=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(out_dir, info, report)


def export_checkpoint(checkpoint_dir: str | Path, out_dir: str | Path,
                      check_audio_files: list[str | Path] | None = None, tolerance: float = TOLERANCE,
                      opset: int = OPSET) -> ExportResult:
    """Export a checkpoint folder (``eventsep train`` output, with its class latents if computed)."""
    from engine.audio import load_audio
    from engine.checkpoint import load_latents, load_model

    model, meta = load_model(checkpoint_dir)
    clips = default_check_audio(model.config.sample_rate)
    for f in check_audio_files or []:
        clips.append((Path(f).name, load_audio(f, model.config.sample_rate, mono=True)[0][0]))
    return export_model(model, out_dir, latents=load_latents(checkpoint_dir), classes=meta.get("classes", []),
                        source=source_record(model, checkpoint_dir, meta, opset), check_audio=clips,
                        tolerance=tolerance, opset=opset)


# --------------------------------------------------------------------------------------------- parity

def _diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return float(np.nan_to_num(d, nan=np.inf).max())


@torch.no_grad()
def verify_bundle(model: QuerySeparator, directory: str | Path, check_audio: list[tuple[str, np.ndarray]],
                  tolerance: float = TOLERANCE) -> ParityReport:
    """Run both graphs in onnxruntime and in PyTorch on random and real inputs; max |difference| per case.

    Random: magnitudes of several batch sizes and frame counts (a multiple of the time stride and not),
    random latents. Real: each clip's magnitude (at most two training segments) with its own latent and a
    random one, and the Query-net on the same magnitude. For a streamable separator, its step graph too:
    hop by hop (one frame per call, state carried) and a whole sequence in one call, against PyTorch's
    whole-sequence stream, and against the offline forward pass.
    """
    model = model.eval()
    onnx_models = OnnxModels(directory)
    report = ParityReport(tolerance)
    cfg = model.config
    tm = model.separator.time_multiple
    rng = np.random.default_rng(0)

    # the reference is the engine's own module (padded as the graph pads), not the export wrapper
    def check_separator(name: str, mag: np.ndarray, z: np.ndarray) -> None:
        pad = (-mag.shape[-1]) % tm
        ref = model.separator(torch.nn.functional.pad(torch.from_numpy(mag), (0, pad)),
                              torch.from_numpy(z))[..., :mag.shape[-1]].numpy()
        report.rows.append({"graph": "separator", "input": name, "shape": list(mag.shape),
                            "max_abs_diff": _diff(onnx_models.separate(mag, z), ref)})

    def check_query(name: str, mag: np.ndarray) -> None:
        ref = model.query_net(torch.from_numpy(mag))[0].numpy()
        report.rows.append({"graph": "query", "input": name, "shape": list(mag.shape),
                            "max_abs_diff": _diff(onnx_models.encode(mag), ref)})

    qmin = model.query_net.min_frames
    for batch, frames in ((1, tm), (2, 2 * tm + 5), (3, 7), (1, qmin), (2, 3 * qmin + 1)):
        mag = (rng.exponential(1.0, (batch, cfg.stft.nb_bins, frames)) ** 2).astype(np.float32)
        z = (1.5 * rng.standard_normal((batch, cfg.latent_dim))).astype(np.float32)
        check_separator(f"random {batch}x{frames} frames", mag, z)
        if frames >= qmin:
            check_query(f"random {batch}x{frames} frames", mag)
    max_frames = 2 * (cfg.segment_samples // cfg.stft.hop_length + 1)
    for name, clip in check_audio:
        wav = torch.from_numpy(np.ascontiguousarray(clip, np.float32))[None]
        mag = model.stft(wav).abs()[..., :max_frames]
        if mag.shape[-1] < model.query_net.min_frames:
            mag = torch.nn.functional.pad(mag, (0, model.query_net.min_frames - mag.shape[-1]))
        mag_np = mag.numpy().astype(np.float32)
        z_own = model.query_net(mag)[0].numpy()
        check_separator(f"{name} (own latent)", mag_np, z_own)
        z_rand = (1.5 * rng.standard_normal((1, cfg.latent_dim))).astype(np.float32)
        check_separator(f"{name} (random latent)", mag_np, z_rand)
        check_query(name, mag_np)
        if onnx_models.info.stateful:
            _check_step(model, onnx_models, report, name, mag_np, z_own)
        if (Path(directory) / NATIVE_FILE).is_file():
            _check_native(model, Path(directory) / NATIVE_FILE, report, name, mag_np, z_own)
    if onnx_models.info.stateful:
        mag = (rng.exponential(1.0, (2, cfg.stft.nb_bins, 40)) ** 2).astype(np.float32)
        _check_step(model, onnx_models, report, "random 2x40 frames", mag,
                    (1.5 * rng.standard_normal((2, cfg.latent_dim))).astype(np.float32))
    return report


def _check_native(model: QuerySeparator, path: Path, report: ParityReport, name: str, mag: np.ndarray,
                  z: np.ndarray) -> None:
    """``native.safetensors`` run frame by frame in numpy (:class:`NativeStep`, what the VST3 computes)
    against PyTorch's stream of the first batch row."""
    sep = model.separator
    ref = sep.stream(torch.from_numpy(mag[:1]), torch.from_numpy(z[:1]), sep.init_state(1))[0].numpy()[0]
    arrays, meta = read_native(path)
    step = NativeStep(arrays, meta, z[0])
    masks = [m for m in (step.frame(mag[0, :, t]) for t in range(mag.shape[-1])) if m is not None]
    report.rows.append({"graph": "native", "input": f"{name} (frame by frame)", "shape": [1, *mag.shape[1:]],
                        "max_abs_diff": _diff(np.stack(masks, axis=-1), ref)})


def _check_step(model: QuerySeparator, onnx_models: OnnxModels, report: ParityReport, name: str,
                mag: np.ndarray, z: np.ndarray) -> None:
    """The step graph hop by hop and whole, against PyTorch's stream over the whole sequence (and the
    offline forward pass, which agrees but for the last ``lookahead`` frames it pads with zeros)."""
    sep, info = model.separator, onnx_models.info
    la = info.lookahead
    ref = sep.stream(torch.from_numpy(mag), torch.from_numpy(z), sep.init_state(mag.shape[0]))[0].numpy()
    offline = sep(torch.from_numpy(mag), torch.from_numpy(z)).numpy()[..., :ref.shape[-1]]
    initial = onnx_models.initial_state(mag.shape[0])
    state, hops = initial, []
    for t in range(mag.shape[-1]):
        mask, state = onnx_models.step(mag[:, :, t:t + 1], z, state)
        if t < la:
            state = primed(info, state, initial)
        else:
            hops.append(mask)
    shape = list(mag.shape)
    for label, got in (("hop by hop", np.concatenate(hops, axis=-1)), ("whole", whole_masks(onnx_models, mag, z))):
        report.rows.append({"graph": "step", "input": f"{name} ({label})", "shape": shape,
                            "max_abs_diff": _diff(got, ref)})
    report.rows.append({"graph": "step", "input": f"{name} (torch stream vs forward)", "shape": shape,
                        "max_abs_diff": _diff(ref, offline)})
