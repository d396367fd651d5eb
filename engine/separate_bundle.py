"""``eventsep separate`` with the shipped model, without PyTorch: the exported bundle
(``engine/assets/default_onnx``, made from the shipped checkpoint and checked against it by the export's
parity check) runs the same computation as the PyTorch path (:func:`engine.streaming.separate_offline`, the
live runtime's own, over the whole file) in onnxruntime, so the command starts in a fraction of a second
rather than after PyTorch's two-second import. Queries are resolved as the live effect resolves them
(:mod:`engine.streaming.query`)."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from .audio import load_audio
from .errors import EventSepError
from .separation_io import QueryArgs, SeparationResult, check_outputs, clean_input, result_of, write_result
from .streaming import OnnxModels, separate_offline
from .streaming.dsp import slerp
from .streaming.query import latent_from_audio, latent_from_class
from .streaming.settings import DEFAULT_SYNTHESIS
from .streaming.validate import check_sample_rate


def default_models(checkpoint_dir: Path) -> OnnxModels | None:
    """The shipped bundle when it was exported from ``checkpoint_dir`` (the shipped checkpoint: same
    SHA-256) and can run the stateful computation; None: use the PyTorch path."""
    from .streaming.bundle import DEFAULT_BUNDLE

    weights = Path(checkpoint_dir) / "model.safetensors"
    try:           # offline: every core (the live effect keeps one thread)
        models = OnnxModels(DEFAULT_BUNDLE, threads=os.cpu_count() or 1)
    except EventSepError:
        return None
    if not models.info.stateful or not weights.is_file():
        return None
    return models if models.info.source.get("sha256") == hashlib.sha256(weights.read_bytes()).hexdigest() else None


def latent_from_file(models: OnnxModels, path: str | Path) -> np.ndarray:
    audio, rate = load_audio(path)
    try:
        return latent_from_audio(models, audio, rate)
    except EventSepError as e:
        raise EventSepError(f"{path}: {e}") from None


class BundleQuery(QueryArgs):
    """:class:`~engine.separation_io.QueryArgs` resolved with the bundle's Query-net and class latents."""

    def resolve(self, models: OnnxModels) -> np.ndarray:
        has_b = self.check()

        def one(path: str | None, name: str | None) -> np.ndarray:
            return latent_from_file(models, path) if path is not None else latent_from_class(models.info, name)

        za = one(self.query, self.class_name)
        return slerp(za, one(self.query_b, self.class_b), self.interp) if has_b else za


def separate_array(models: OnnxModels, audio: np.ndarray, sample_rate: int, z: np.ndarray, iterations: int = 0,
                   channel_mode: str = "mono", synthesis: str = DEFAULT_SYNTHESIS) -> SeparationResult:
    """As :func:`engine.separate.separate_array` for a streamable model; ``iterations`` re-encode the
    estimate as the query."""
    info = models.info
    audio, warnings = clean_input(audio, sample_rate, info.sample_rate, info.hop_length)
    check_sample_rate(sample_rate)
    est = separate_offline(models, audio, sample_rate, z, channel_mode, synthesis)
    for _ in range(iterations):
        est = separate_offline(models, audio, sample_rate, latent_from_audio(models, est, sample_rate), channel_mode,
                               synthesis)
    return result_of(audio, est, sample_rate, warnings)


def separate_file(models: OnnxModels, path: str | Path, out: str | Path, z: np.ndarray,
                  residual_out: str | Path | None = None, iterations: int = 0,
                  channel_mode: str = "mono", synthesis: str = DEFAULT_SYNTHESIS) -> SeparationResult:
    check_outputs(out, residual_out)
    audio, rate = load_audio(path)
    result = separate_array(models, audio, rate, z, iterations, channel_mode, synthesis)
    write_result(result, out, residual_out)
    return result
