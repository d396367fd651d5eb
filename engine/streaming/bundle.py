"""The exported model bundle: the ONNX graphs (Query-net, Separator, and for a streamable separator its
stateful step) and the metadata they carry.

A bundle is a folder with ``query.onnx`` and ``separator.onnx``, plus ``separator_step.onnx`` when the
separator is streamable by construction (format 2). Each graph holds the same JSON under the
metadata key ``"eventsep"`` (see :class:`BundleInfo`): model sample rate, STFT, latent size, the separator's
time multiple, class-mean latents, the source checkpoint's hash and the format version. This module defines
that schema for both sides (``export`` writes it, the runtime reads it) and loads a bundle into
onnxruntime. numpy + onnxruntime only.

Graph signatures (float32):

- ``separator.onnx``: ``magnitude (batch, nb_bins, frames)``, ``z (batch, latent_dim)`` ->
  ``mask (batch, nb_bins, frames)`` in [0, 1]. Any frame count works (the graph pads to ``time_multiple``
  and crops), but the runtime uses multiples of ``time_multiple`` so no zero padding enters the
  instance-norm statistics.
- ``query.onnx``: ``magnitude (batch, nb_bins, frames >= query_min_frames)`` -> ``mu (batch, latent_dim)``.
- ``separator_step.onnx`` (streamable separators): ``magnitude (batch, nb_bins, n)``, ``z``, then one input
  per entry of the metadata's ``state`` list (``context``, ``core_0``...; shapes with ``"batch"`` where the
  batch goes) -> ``mask (batch, nb_bins, n)`` and the same state entries with ``_out`` appended. The masks
  belong to the ``n`` frames ending ``lookahead`` frames before the newest one. A stream starts from zeros
  everywhere; its first ``lookahead`` masks, and the core state they leave, are dropped (the context is
  kept): :func:`engine.streaming.stateful.prime`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import EventSepError

FORMAT = "eventsep-onnx"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)        # format 1: no step graph (the windowed runtime only)
METADATA_KEY = "eventsep"
QUERY_FILE = "query.onnx"
SEPARATOR_FILE = "separator.onnx"
STEP_FILE = "separator_step.onnx"
DEFAULT_BUNDLE = Path(__file__).resolve().parents[1] / "assets" / "default_onnx"


@dataclass(frozen=True)
class BundleInfo:
    """What the runtime needs to know about the exported model (the ``"eventsep"`` metadata)."""

    sample_rate: int
    n_fft: int
    hop_length: int
    latent_dim: int
    time_multiple: int            # the separator's time axis is padded to a multiple of this
    query_min_frames: int         # the Query-net needs at least this many frames
    segment_samples: int          # training segment length at the model rate (queries average over these)
    class_latents: dict[str, dict[str, list[float]]] = field(default_factory=dict)  # {"coarse"|"fine": {name: z}}
    classes: list[str] = field(default_factory=list)  # classes the model was trained on
    source: dict[str, Any] = field(default_factory=dict)  # checkpoint path, sha256, step, commit
    model: dict[str, Any] = field(default_factory=dict)   # the ModelConfig as a dict
    format_version: int = FORMAT_VERSION
    state: list[dict[str, Any]] = field(default_factory=list)  # step graph state: {"name", "shape"} each
    lookahead: int = 0            # frames the step graph's masks lag behind its newest input frame

    @property
    def stateful(self) -> bool:
        """True when the bundle has a step graph (a separator streamable by construction)."""
        return bool(self.state)

    @property
    def nb_bins(self) -> int:
        return self.n_fft // 2 + 1

    @property
    def segment_frames(self) -> int:
        """Frames of one training segment (the window the networks were trained on)."""
        return self.segment_samples // self.hop_length + 1

    def to_metadata(self, graph: str) -> dict[str, Any]:
        return {
            "format": FORMAT, "format_version": self.format_version, "graph": graph,
            "sample_rate": self.sample_rate,
            "stft": {"n_fft": self.n_fft, "hop_length": self.hop_length, "window": "hann", "center": True},
            "nb_bins": self.nb_bins, "latent_dim": self.latent_dim, "time_multiple": self.time_multiple,
            "query_min_frames": self.query_min_frames, "segment_samples": self.segment_samples,
            "segment_frames": self.segment_frames, "classes": list(self.classes),
            "class_latents": self.class_latents, "source": self.source, "model": self.model,
            "state": self.state, "lookahead": self.lookahead,
        }

    @classmethod
    def from_metadata(cls, meta: dict[str, Any], where: str = "bundle") -> "BundleInfo":
        if meta.get("format") != FORMAT:
            raise EventSepError(f"{where}: not an EventSep ONNX graph (metadata format {meta.get('format')!r})")
        version = int(meta.get("format_version", -1))
        if version not in READABLE_VERSIONS:
            raise EventSepError(f"{where}: ONNX bundle format {version}, this runtime reads "
                                f"{', '.join(map(str, READABLE_VERSIONS))}; re-export it with 'eventsep export'")
        stft = meta["stft"]
        if stft.get("window", "hann") != "hann":
            raise EventSepError(f"{where}: only Hann-window models are supported")
        return cls(sample_rate=int(meta["sample_rate"]), n_fft=int(stft["n_fft"]),
                   hop_length=int(stft["hop_length"]), latent_dim=int(meta["latent_dim"]),
                   time_multiple=int(meta["time_multiple"]), query_min_frames=int(meta["query_min_frames"]),
                   segment_samples=int(meta["segment_samples"]),
                   class_latents={k: dict(v) for k, v in meta.get("class_latents", {}).items()},
                   classes=list(meta.get("classes", [])), source=dict(meta.get("source", {})),
                   model=dict(meta.get("model", {})), format_version=version,
                   state=[dict(e) for e in meta.get("state", [])], lookahead=int(meta.get("lookahead", 0)))


class MaskModel(Protocol):
    """The two networks as the runtime calls them (ONNX here; a PyTorch twin lives in ``export``)."""

    info: BundleInfo

    def separate(self, magnitude: np.ndarray, z: np.ndarray) -> np.ndarray:
        """``(B, nb_bins, T)`` float32 magnitude, ``(B, latent_dim)`` z -> ``(B, nb_bins, T)`` mask."""

    def encode(self, magnitude: np.ndarray) -> np.ndarray:
        """``(B, nb_bins, T >= query_min_frames)`` float32 magnitude -> ``(B, latent_dim)`` mu."""


class StepModel(MaskModel, Protocol):
    """A separator streamable by construction: also one step with its state in and out."""

    def initial_state(self, batch: int) -> list[np.ndarray]:
        """Zeros in the layout of ``info.state`` for ``batch`` streams."""

    def step(self, magnitude: np.ndarray, z: np.ndarray, state: list[np.ndarray]
             ) -> tuple[np.ndarray, list[np.ndarray]]:
        """``(B, nb_bins, n)`` magnitude, ``(B, latent_dim)`` z, state -> ``(B, nb_bins, n)`` mask, new state."""


def initial_state(info: BundleInfo, batch: int) -> list[np.ndarray]:
    """Zeros shaped as the bundle's state layout, ``"batch"`` replaced by ``batch``."""
    return [np.zeros([batch if d == "batch" else int(d) for d in e["shape"]], np.float32) for e in info.state]


def _open(path: Path, options=None):
    import onnxruntime as ort

    if not path.is_file():
        raise EventSepError(f"{path}: no such ONNX file")
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        raise EventSepError(f"{path}: not a loadable ONNX model ({e})") from None


def _metadata(session, path: Path) -> dict[str, Any]:
    raw = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if raw is None:
        raise EventSepError(f"{path}: no EventSep metadata in this ONNX model")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        raise EventSepError(f"{path}: unreadable EventSep metadata ({e})") from None


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``"eventsep"`` metadata of one ONNX file."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return _metadata(_open(Path(path), so), Path(path))


def _session_options(threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = max(1, int(threads))
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle worker threads must not spin on an audio machine, and denormals (decaying tails) must not
    # slow the convolutions down.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.add_session_config_entry("session.set_denormal_as_zero", "1")
    so.log_severity_level = 3
    return so


class OnnxModels:
    """A loaded bundle: two onnxruntime sessions and their :class:`BundleInfo`.

    ``threads`` sets onnxruntime's intra-op threads per session (1 keeps an audio thread predictable on
    a small machine). Sessions are safe to run from several threads at once.
    """

    def __init__(self, directory: str | Path | None = None, threads: int = 1):
        directory = Path(directory) if directory is not None else DEFAULT_BUNDLE
        if not (directory / SEPARATOR_FILE).is_file() or not (directory / QUERY_FILE).is_file():
            if directory == DEFAULT_BUNDLE:
                raise EventSepError(
                    f"no exported default model in {DEFAULT_BUNDLE}; export one with "
                    f"'eventsep export CHECKPOINT --out {DEFAULT_BUNDLE}' or pass a bundle folder")
            raise EventSepError(f"{directory}: not an EventSep ONNX bundle "
                                f"(needs {QUERY_FILE} and {SEPARATOR_FILE}; write one with 'eventsep export')")
        self.directory = directory
        so = self._options = _session_options(threads)
        self._query = _open(directory / QUERY_FILE, so)
        # the whole-window graph only runs in the windowed mode: read its metadata now, open it when used
        self._separator = None
        sep_meta = read_metadata(directory / SEPARATOR_FILE)
        query_meta = _metadata(self._query, directory / QUERY_FILE)
        if sep_meta.get("source", {}).get("sha256") != query_meta.get("source", {}).get("sha256"):
            raise EventSepError(f"{directory}: {QUERY_FILE} and {SEPARATOR_FILE} come from different checkpoints")
        self.info = BundleInfo.from_metadata(sep_meta, str(directory / SEPARATOR_FILE))
        BundleInfo.from_metadata(query_meta, str(directory / QUERY_FILE))     # same checks for the other graph
        self._step = None
        if self.info.stateful:
            if not (directory / STEP_FILE).is_file():
                raise EventSepError(f"{directory}: the metadata names a stateful separator but {STEP_FILE} is "
                                    f"missing; re-export the bundle with 'eventsep export'")
            self._step = _open(directory / STEP_FILE, so)
            step_meta = _metadata(self._step, directory / STEP_FILE)
            if step_meta.get("source", {}).get("sha256") != sep_meta.get("source", {}).get("sha256"):
                raise EventSepError(f"{directory}: {STEP_FILE} and {SEPARATOR_FILE} come from different checkpoints")
            self._state_names = [e["name"] for e in self.info.state]
            self._step_outputs = ["mask"] + [f"{n}_out" for n in self._state_names]

    def separate(self, magnitude: np.ndarray, z: np.ndarray) -> np.ndarray:
        if self._separator is None:        # first use (the windowed runtime's warm-up, not its audio thread)
            self._separator = _open(self.directory / SEPARATOR_FILE, self._options)
        return self._separator.run(["mask"], {"magnitude": np.ascontiguousarray(magnitude, np.float32),
                                              "z": np.ascontiguousarray(z, np.float32)})[0]

    def encode(self, magnitude: np.ndarray) -> np.ndarray:
        return self._query.run(["mu"], {"magnitude": np.ascontiguousarray(magnitude, np.float32)})[0]

    def initial_state(self, batch: int) -> list[np.ndarray]:
        return initial_state(self.info, batch)

    def step(self, magnitude: np.ndarray, z: np.ndarray, state: list[np.ndarray]
             ) -> tuple[np.ndarray, list[np.ndarray]]:
        if self._step is None:
            raise EventSepError(f"{self.directory}: no stateful separator in this bundle (a windowed-only model)")
        feeds = {"magnitude": np.ascontiguousarray(magnitude, np.float32), "z": np.ascontiguousarray(z, np.float32)}
        feeds.update(zip(self._state_names, state))
        out = self._step.run(self._step_outputs, feeds)
        return out[0], out[1:]


def load_bundle(directory: str | Path | None = None, threads: int = 1) -> OnnxModels:
    """Load an exported bundle (default: the one shipped in ``engine/assets/default_onnx``)."""
    return OnnxModels(directory, threads)
