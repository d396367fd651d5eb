"""Offline separation: one function owns chunking and overlap-add (as demucs' ``apply_model`` does),
plus queries (clip, class, A<->B slerp), iterative refinement and whole-file processing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from .audio import load_audio, match_length, resample
from .checkpoint import load_latents
from .errors import EventSepError
from .models import QuerySeparator, slerp
from .separation_io import QueryArgs, SeparationResult, check_outputs, clean_input, result_of, write_result
from .taxonomy import find_class

SILENCE_RMS = 1e-4


def _chunk_weight(length: int) -> torch.Tensor:
    """Triangular overlap-add weight, never zero (demucs' convention)."""
    half = length // 2
    return torch.cat([torch.arange(1, half + 1), torch.arange(length - half, 0, -1)]).float()


@torch.no_grad()
def overlap_add(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], mixture: torch.Tensor, z: torch.Tensor,
                segment: int, overlap: float = 0.25, batch_chunks: int = 4, progress: bool = False,
                desc: str = "separate") -> torch.Tensor:
    """Run ``fn(chunks (B, segment), z (B, latent_dim)) -> (B, segment)`` over ``(nb_channels,
    nb_timesteps)`` audio in ``segment``-sample chunks overlapping by ``overlap``, blended with triangular
    weights. Chunks are all full length (the last one is aligned to the end).

    z: ``(latent_dim,)`` for every channel, or ``(nb_channels, latent_dim)``. Returns ``mixture``'s shape.
    """
    channels, length = mixture.shape
    z = z.to(mixture.dtype)
    zs = z.expand(channels, -1) if z.dim() == 1 else z
    if length <= segment:
        offsets = [0]
        segment = length
    else:
        stride = max(1, int(segment * (1 - overlap)))
        offsets = list(range(0, length - segment, stride)) + [length - segment]
    weight = _chunk_weight(segment)
    out = torch.zeros(channels, length)
    sum_weight = torch.zeros(length)
    jobs = [(off, ch) for off in offsets for ch in range(channels)]
    bar = tqdm(total=len(offsets), desc=desc, unit="chunk", disable=not progress, leave=False)
    for i in range(0, len(jobs), batch_chunks * channels):
        group = jobs[i:i + batch_chunks * channels]
        chunk = torch.stack([mixture[ch, off:off + segment] for off, ch in group])
        zb = torch.stack([zs[ch] for _, ch in group])
        est = fn(chunk, zb)
        for (off, ch), e in zip(group, est):
            out[ch, off:off + segment] += weight * e
            if ch == 0:
                sum_weight[off:off + segment] += weight
        bar.update(len({off for off, _ in group}))
    bar.close()
    assert sum_weight.min() > 0
    return out / sum_weight


def apply_model(model: QuerySeparator, mixture: torch.Tensor, z: torch.Tensor, segment: int | None = None,
                overlap: float = 0.25, residual: bool = False, batch_chunks: int = 4,
                progress: bool = False) -> torch.Tensor:
    """Separate ``(nb_channels, nb_timesteps)`` audio at the model rate with latent ``z`` (see
    :func:`overlap_add` for the chunking); returns the estimate (or the residual), same shape.

    A streamable model runs over the whole signal in one causal pass instead (no chunks, no overlap), as
    the live effect computes it (:func:`engine.streaming.separate_offline`): one mask from the channel
    mean, so offline and streamed outputs agree."""
    if model.streamable:
        from .stepmodel import TorchModels
        from .streaming import separate_offline

        if z.dim() != 1:
            raise ValueError("a streamable model takes one latent (latent_dim,) for all channels")
        est = separate_offline(TorchModels(model), mixture.detach().double().numpy(), model.config.sample_rate,
                               z.detach().float().numpy())
        out = mixture.double().numpy() - est if residual else est
        return torch.from_numpy(out).to(mixture.dtype)
    return overlap_add(lambda chunk, zb: model.separate(chunk, zb, residual=residual), mixture, z,
                       segment or model.config.segment_samples, overlap, batch_chunks, progress)


@torch.no_grad()
def encode_clip(model: QuerySeparator, audio: torch.Tensor, window: int | None = None) -> torch.Tensor:
    """Latent of a query clip ``(nb_channels, nb_timesteps)`` at the model rate: mu of Q averaged over
    segment-long windows (silent windows are ignored unless all are silent). Returns ``(latent_dim,)``."""
    mono = audio.mean(dim=0) if audio.dim() == 2 else audio
    window = window or model.config.segment_samples
    if mono.shape[-1] <= window:
        windows = [mono]
    else:
        starts = list(range(0, mono.shape[-1] - window + 1, window))
        windows = [mono[s:s + window] for s in starts]
        tail = mono.shape[-1] - (starts[-1] + window)
        if tail > window // 2:
            windows.append(mono[-window:])
    loud = [w for w in windows if float(w.pow(2).mean().sqrt()) > SILENCE_RMS]
    windows = loud or windows
    same = all(w.shape == windows[0].shape for w in windows)
    if same:
        return model.encode(torch.stack(windows)).mean(dim=0)
    return torch.stack([model.encode(w[None])[0] for w in windows]).mean(dim=0)


@torch.no_grad()
def refine(model: QuerySeparator, mixture: torch.Tensor, z: torch.Tensor, iterations: int,
           **apply_kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    """Iterative refinement (thesis §4.5): separate with z, re-encode the estimate with Q, repeat.

    Returns the final estimate and the final latent; ``iterations=0`` is plain separation.
    """
    estimate = apply_model(model, mixture, z, **apply_kwargs)
    for _ in range(iterations):
        z = encode_clip(model, estimate)
        estimate = apply_model(model, mixture, z, **apply_kwargs)
    return estimate, z


# ---------------------------------------------------------------------------------------------------
# Queries


def min_query_samples(model: QuerySeparator) -> int:
    return model.config.stft.n_fft


def latent_from_file(model: QuerySeparator, path: str | Path) -> torch.Tensor:
    audio, _ = load_audio(path, model.config.sample_rate, mono=True)
    audio = np.nan_to_num(audio)
    need = min_query_samples(model)
    if audio.shape[-1] < need:
        raise EventSepError(
            f"{path}: the query is too short ({audio.shape[-1] / model.config.sample_rate * 1000:.0f} ms); "
            f"it needs at least one STFT frame ({need / model.config.sample_rate * 1000:.0f} ms), "
            f"ideally a few seconds")
    return encode_clip(model, torch.from_numpy(audio))


def class_names(checkpoint_dir: str | Path) -> dict[str, list[str]]:
    latents = load_latents(checkpoint_dir)
    return {level: sorted(latents[level]) for level in latents}


def latent_from_class(checkpoint_dir: str | Path, name: str) -> torch.Tensor:
    """Class-mean latent by coarse class or fine label (case and spacing insensitive)."""
    latents = load_latents(checkpoint_dir)
    if not latents["coarse"] and not latents["fine"]:
        raise EventSepError(f"{checkpoint_dir}: this checkpoint has no class latents; "
                            f"run 'eventsep latents' on it first, or use --query")
    found = find_class(latents, name)
    if found is not None:
        level, key = found
        return latents[level][key]
    known = ", ".join(sorted(latents["coarse"]))
    raise EventSepError(f"unknown class {name!r}; coarse classes: {known} "
                        f"(and {len(latents['fine'])} fine labels: see 'eventsep classes')")


class Query(QueryArgs):
    """:class:`~engine.separation_io.QueryArgs` resolved with a PyTorch model and its checkpoint folder."""

    def resolve(self, model: QuerySeparator, checkpoint_dir: str | Path) -> torch.Tensor:
        has_b = self.check()
        za = (latent_from_file(model, self.query) if self.query is not None
              else latent_from_class(checkpoint_dir, self.class_name))
        if not has_b:
            return za
        zb = (latent_from_file(model, self.query_b) if self.query_b is not None
              else latent_from_class(checkpoint_dir, self.class_b))
        return slerp(za, zb, self.interp)


# ---------------------------------------------------------------------------------------------------
# Files


def separate_array(model: QuerySeparator, audio: np.ndarray, sample_rate: int, z: torch.Tensor,
                   iterations: int = 0, progress: bool = False, channel_mode: str = "mono",
                   synthesis: str = "short") -> SeparationResult:
    """Separate ``(nb_channels, nb_samples)`` audio at any rate; output at the same rate and shape.

    A streamable model runs the live runtime's own computation over the whole file
    (:func:`engine.streaming.separate_offline`, through the PyTorch twin of the step graph): STFT at the
    input's rate, full band, one mask from the channel mean (``channel_mode="mono"``, as the stream's
    default) or one per channel; the stream gives the same output, delayed. The thesis U-Net works at its
    own rate (22.05 kHz), each channel on its own, and the estimate is resampled back. The residual is
    the input minus the estimate, so estimate + residual gives the input back exactly.
    """
    rate = model.config.sample_rate
    audio, warnings = clean_input(audio, sample_rate, rate, model.config.stft.hop_length)
    if model.streamable:
        est = _separate_streamable(model, audio, sample_rate, z, iterations, channel_mode, synthesis)
    else:
        estimate, _ = refine(model, torch.from_numpy(resample(audio, sample_rate, rate)), z, iterations,
                             progress=progress)
        est = match_length(resample(estimate.numpy(), rate, sample_rate), audio.shape[-1])
    return result_of(audio, est, sample_rate, warnings)


def _separate_streamable(model: QuerySeparator, audio: np.ndarray, sample_rate: int, z: torch.Tensor,
                         iterations: int, channel_mode: str, synthesis: str) -> np.ndarray:
    """The stream's computation over a whole file; ``iterations`` re-encode the estimate as the query."""
    from .stepmodel import TorchModels
    from .streaming import separate_offline
    from .streaming.validate import check_sample_rate

    check_sample_rate(sample_rate)
    models = TorchModels(model)
    est = separate_offline(models, audio, sample_rate, z.detach().float().numpy(), channel_mode, synthesis)
    for _ in range(iterations):
        z = encode_clip(model, torch.from_numpy(resample(est.astype(np.float32), sample_rate,
                                                         model.config.sample_rate)))
        est = separate_offline(models, audio, sample_rate, z.numpy(), channel_mode, synthesis)
    return est


def separate_file(model: QuerySeparator, path: str | Path, out: str | Path, z: torch.Tensor,
                  residual_out: str | Path | None = None, iterations: int = 0, progress: bool = False,
                  channel_mode: str = "mono", synthesis: str = "short") -> SeparationResult:
    check_outputs(out, residual_out)
    audio, rate = load_audio(path)
    result = separate_array(model, audio, rate, z, iterations, progress, channel_mode, synthesis)
    write_result(result, out, residual_out)
    return result


__all__ = ["apply_model", "overlap_add", "encode_clip", "refine", "Query", "separate_array", "separate_file",
           "latent_from_file", "latent_from_class", "class_names", "SeparationResult"]
