"""What every offline separation path shares, torch-free: the input made safe, the result and its residual,
and the files written (``engine.separate`` runs PyTorch models, ``engine.separate_bundle`` the shipped ONNX
bundle)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio import ensure_writable, output_format, save_audio
from .errors import EventSepError


@dataclass
class QueryArgs:
    """What to separate, as the command line gives it: A (clip file or class name), optional B, and the
    slerp position A->B. :meth:`check` says in one line what does not go together."""

    query: str | None = None
    class_name: str | None = None
    query_b: str | None = None
    class_b: str | None = None
    interp: float = 0.0

    def check(self) -> bool:
        """Raises on a bad combination; returns whether there is a query B."""
        if (self.query is None) == (self.class_name is None):
            raise EventSepError("give exactly one of --query REF or --class NAME")
        if self.query_b is not None and self.class_b is not None:
            raise EventSepError("give at most one of --query-b REF2 or --class-b NAME2")
        if not (0.0 <= self.interp <= 1.0) or math.isnan(self.interp):
            raise EventSepError(f"--interp must be between 0 and 1, got {self.interp}")
        has_b = self.query_b is not None or self.class_b is not None
        if not has_b and self.interp != 0.0:
            raise EventSepError("--interp needs a second query (--query-b or --class-b)")
        return has_b


@dataclass
class SeparationResult:
    estimate: np.ndarray          # (nb_channels, nb_samples) at the input rate
    residual: np.ndarray          # input - estimate
    sample_rate: int
    warnings: list[str]


def clean_input(audio: np.ndarray, sample_rate: int, model_rate: int, hop_length: int
                ) -> tuple[np.ndarray, list[str]]:
    """``(nb_channels, nb_samples)`` float32 with NaN/Inf replaced by silence (and a warning saying so);
    a one-line error when there is not one hop of audio at the model rate."""
    warnings = []
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    bad = ~np.isfinite(audio)
    if bad.any():
        warnings.append(f"{int(bad.sum())} NaN/Inf samples were replaced by silence")
        audio = np.where(bad, 0.0, audio).astype(np.float32)
    if audio.shape[-1] * model_rate < hop_length * sample_rate:
        raise EventSepError(f"the input is too short ({audio.shape[-1]} samples) to separate")
    return audio, warnings


def result_of(audio: np.ndarray, estimate: np.ndarray, sample_rate: int, warnings: list[str]) -> SeparationResult:
    """The estimate and the input minus it (so the two sum to the input exactly); silence in, silence out."""
    if not np.abs(audio).max() > 0:
        estimate = np.zeros_like(audio)     # no resampler ringing of nothing
    return SeparationResult(estimate.astype(np.float32), (audio - estimate).astype(np.float32), sample_rate,
                            warnings)


def check_outputs(out: str | Path, residual_out: str | Path | None) -> None:
    """Before the work, so a path that cannot be written loses nothing."""
    for path in (out, residual_out):
        if path is not None:
            output_format(path)
            ensure_writable(path)


def write_result(result: SeparationResult, out: str | Path, residual_out: str | Path | None) -> None:
    # float WAV keeps the exact estimate/residual sum; other formats use their defaults
    def subtype(path):
        return "FLOAT" if Path(path).suffix.lower() == ".wav" else None

    save_audio(out, result.estimate, result.sample_rate, subtype(out))
    if residual_out is not None:
        save_audio(residual_out, result.residual, result.sample_rate, subtype(residual_out))
