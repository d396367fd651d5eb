"""Streamable separators and a light Query-net (SPEC §2a): plain modules, tensors in and out, no I/O.

Every design here is *streamable by construction*: each STFT frame is computed once, state is carried
forward, and the only look into the future is ``lookahead`` frames in the first (context) convolution.
Frequency is compressed before the heavy layers, and the latent conditions by FiLM (a per-channel scale
and shift from z), never by statistics over a time window. So running a whole file and running it in
chunks while carrying :class:`StreamState` give the same mask (``tests/test_streamnet.py``).

Designs (``ModelConfig.arch``):

- ``fcgru``: a fully connected bottleneck over the 513 bins (Open-Unmix style) -> GRU layers;
- ``melgru``: log-mel-like band energies (a fixed triangular filterbank) -> GRU layers;
- ``tcn``: the fully connected bottleneck -> a causal dilated convolution stack (no recurrence).

Shapes: magnitude ``(nb_samples, nb_bins, nb_frames)``, latent ``(nb_samples, latent_dim)``, mask as the
magnitude. The mask at frame ``t`` depends on frames ``<= t + lookahead`` only.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .spectral import magnitude_features

STREAM_ARCHS = ("fcgru", "melgru", "tcn")


def mel_filterbank(nb_bins: int, nb_bands: int, sample_rate: int, fmin: float = 30.0) -> torch.Tensor:
    """``(nb_bands, nb_bins)`` triangular filters evenly spaced on the mel scale (each row sums to 1, so a
    band is a weighted mean of its bins' magnitudes, on any STFT scale)."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f) / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (np.asarray(m) / 2595.0) - 1.0)

    freqs = np.linspace(0, sample_rate / 2, nb_bins)
    edges = hz(np.linspace(mel(fmin), mel(sample_rate / 2), nb_bands + 2))
    fb = np.zeros((nb_bands, nb_bins))
    for b in range(nb_bands):
        lo, mid, hi = edges[b], edges[b + 1], edges[b + 2]
        up = (freqs - lo) / max(mid - lo, 1e-9)
        down = (hi - freqs) / max(hi - mid, 1e-9)
        fb[b] = np.clip(np.minimum(up, down), 0, None)
        if fb[b].sum() == 0:                       # narrower than a bin: take the nearest bin
            fb[b, int(np.argmin(np.abs(freqs - mid)))] = 1.0
    return torch.from_numpy(fb / fb.sum(axis=1, keepdims=True)).float()


class Film(nn.Module):
    """``x * (1 + gamma(z)) + beta(z)`` per channel; starts as the identity."""

    def __init__(self, channels: int, latent_dim: int):
        super().__init__()
        self.to_gamma = nn.Linear(latent_dim, channels)
        self.to_beta = nn.Linear(latent_dim, channels)
        for lin in (self.to_gamma, self.to_beta):
            nn.init.normal_(lin.weight, std=0.3 / latent_dim ** 0.5)
            nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """x ``(B, T, C)``, z ``(B, D)``."""
        return x * (1.0 + self.to_gamma(z)[:, None]) + self.to_beta(z)[:, None]


@dataclass
class StreamState:
    """What a streamed separator carries between calls (tensors are per batch row)."""

    context: torch.Tensor                      # (B, H, past + lookahead) last compressed frames
    core: list[torch.Tensor] = field(default_factory=list)   # GRU hidden states or TCN input buffers
    to_skip: int = 0                           # context outputs still to drop (the first `lookahead`)


class FrontEnd(nn.Module):
    """Magnitude -> compressed frames ``(B, T, H)`` (no time context yet)."""

    def __init__(self, config: ModelConfig, mel: bool):
        super().__init__()
        nb_bins, hidden = config.stft.nb_bins, config.hidden
        if mel:
            self.register_buffer("bands", mel_filterbank(nb_bins, config.mel_bands, config.sample_rate))
            width = config.mel_bands
        else:
            self.bands = None
            width = nb_bins
        self.proj = nn.Linear(width, hidden)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        x = magnitude.transpose(1, 2)                                  # (B, T, F)
        if self.bands is not None:
            x = x @ self.bands.t()
        return torch.relu(self.norm(self.proj(magnitude_features(x))))


class StreamSeparator(nn.Module):
    """Front end -> context conv (past + lookahead frames) -> FiLM -> core (GRU or causal TCN) ->
    FiLM'd head -> sigmoid mask over every bin."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.arch not in STREAM_ARCHS:
            raise ValueError(f"unknown streamable arch {config.arch!r}; one of {STREAM_ARCHS}")
        h, d = config.hidden, config.latent_dim
        self.arch, self.hidden = config.arch, h
        self.time_multiple = 1          # any frame count (the U-Net needs a multiple of 2^(depth-1))
        self.past, self.lookahead = config.context_past, config.lookahead
        self.front = FrontEnd(config, mel=config.arch == "melgru")
        self.context = nn.Conv1d(h, h, self.past + 1 + self.lookahead)
        self.film_in = Film(h, d)
        if config.arch == "tcn":
            self.dilations = [2 ** (i % 5) for i in range(config.core_layers)]
            self.tcn = nn.ModuleList(nn.Conv1d(h, h, 3, dilation=dl) for dl in self.dilations)
            self.tcn_norms = nn.ModuleList(nn.LayerNorm(h) for _ in self.dilations)
            self.tcn_films = nn.ModuleList(Film(h, d) for _ in self.dilations)
        else:
            self.gru = nn.GRU(h, h, num_layers=config.core_layers, batch_first=True)
        self.head = nn.Linear(2 * h, h)
        self.head_norm = nn.LayerNorm(h)
        self.film_out = Film(h, d)
        self.to_mask = nn.Linear(h, config.stft.nb_bins)

    # -- the shared pieces -------------------------------------------------------------------------
    def _core(self, x: torch.Tensor, z: torch.Tensor, core: list[torch.Tensor] | None
              ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x ``(B, T, H)`` -> ``(B, T, H)``; ``core`` the carried state (None: start from silence)."""
        if self.arch != "tcn":
            h0 = core[0] if core else None
            y, hn = self.gru(x, h0)
            return y, [hn]
        new_state = []
        for i, (conv, norm, film, dl) in enumerate(zip(self.tcn, self.tcn_norms, self.tcn_films, self.dilations)):
            xt = x.transpose(1, 2)                                    # (B, H, T)
            past = core[i] if core else xt.new_zeros(xt.shape[0], xt.shape[1], 2 * dl)
            full = torch.cat([past, xt], dim=2)
            new_state.append(full[:, :, full.shape[2] - 2 * dl:])
            y = conv(full).transpose(1, 2)
            x = x + torch.relu(film(norm(y), z))
        return x, new_state

    def _head(self, skip: torch.Tensor, core_out: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.head_norm(self.head(torch.cat([skip, core_out], dim=-1))))
        return torch.sigmoid(self.to_mask(self.film_out(y, z))).transpose(1, 2)

    # -- offline --------------------------------------------------------------------------------
    def forward(self, magnitude: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        x = self.front(magnitude).transpose(1, 2)                            # (B, H, T)
        x = F.pad(x, (self.past, self.lookahead))
        x = torch.relu(self.film_in(self.context(x).transpose(1, 2), z))     # (B, T, H)
        y, _ = self._core(x, z, None)
        return self._head(x, y, z)

    # -- streaming ------------------------------------------------------------------------------
    def state_layout(self) -> list[dict]:
        """The state of :meth:`step` (and of the exported step graph): ``[{"name", "shape"}]`` with
        ``"batch"`` where the batch goes; ``context`` first, then ``core_0`` ... Time-major: the last
        compressed frames ``(B, frames, H)`` for the context and each TCN layer, GRU hidden states
        ``(layers, B, H)``."""
        h = self.hidden
        layout = [{"name": "context", "shape": ["batch", self.past + self.lookahead, h]}]
        if self.arch == "tcn":
            layout += [{"name": f"core_{i}", "shape": ["batch", 2 * dl, h]} for i, dl in enumerate(self.dilations)]
        else:
            layout.append({"name": "core_0", "shape": [self.gru.num_layers, "batch", h]})
        return layout

    def step(self, magnitude: torch.Tensor, z: torch.Tensor, context: torch.Tensor, *core: torch.Tensor
             ) -> tuple[torch.Tensor, ...]:
        """:meth:`stream` written for a small, fast ONNX graph (the stateful runtime's): ``(B, F, n)``
        magnitude, ``(B, D)`` z and the state of :meth:`state_layout` -> ``(B, F, n)`` mask (of the frames
        ending ``lookahead`` before the newest) and the new state, in the same order. Same arithmetic as
        :meth:`stream` (tested): time-major throughout (no transposes), every convolution one matmul over
        its stacked taps, every FiLM read from one table computed by one matmul, static slices only.
        A fresh stream starts from zeros and drops its first ``lookahead`` masks and the core state they
        leave (``engine.streaming.stateful.primed``)."""
        films = self._film_table(z)
        h, keep = self.hidden, self.past + self.lookahead
        full = torch.cat([context, self.front(magnitude)], dim=1)                  # (B, keep + n, H)
        new_state = [full[:, -keep:] if keep else full[:, :0]]
        x = torch.relu(self._taps(self.context, full) * films[0] + films[1])       # (B, n, H)
        if self.arch == "tcn":
            y = x
            for i, (conv, norm, dl) in enumerate(zip(self.tcn, self.tcn_norms, self.dilations)):
                full = torch.cat([core[i], y], dim=1)
                new_state.append(full[:, -2 * dl:])
                y = y + torch.relu(norm(self._taps(conv, full)) * films[2 + 2 * i] + films[3 + 2 * i])
        else:
            y, hn = self.gru(x, core[0])
            new_state.append(hn)
        out = torch.relu(self.head_norm(self.head(torch.cat([x, y], dim=-1)))) * films[-2] + films[-1]
        mask = torch.sigmoid(self.to_mask(out)).transpose(1, 2)
        return (mask, *new_state)

    def _films(self) -> list[Film]:
        return [self.film_in, *(self.tcn_films if self.arch == "tcn" else []), self.film_out]

    def _film_table(self, z: torch.Tensor) -> list[torch.Tensor]:
        """``[1 + gamma_0, beta_0, 1 + gamma_1, ...]`` of every FiLM, each ``(B, 1, H)``, from one matmul."""
        films = self._films()
        weight = torch.cat([w for f in films for w in (f.to_gamma.weight, f.to_beta.weight)], dim=0)
        bias = torch.cat([b for f in films for b in (f.to_gamma.bias + 1.0, f.to_beta.bias)], dim=0)
        table = (z @ weight.t() + bias)[:, None]                                     # (B, 1, 2 * films * H)
        h = self.hidden
        return [table[:, :, k * h:(k + 1) * h] for k in range(2 * len(films))]

    @staticmethod
    def _taps(conv: nn.Conv1d, full: torch.Tensor) -> torch.Tensor:
        """``conv`` (no padding) over time-major ``(B, T, C)`` frames -> ``(B, T - (K-1) d, out)``: the K
        dilated taps side by side times the kernel laid out as one ``(K C, out)`` matrix."""
        k, d = conv.kernel_size[0], conv.dilation[0]
        taps = [full[:, i * d:-(k - 1 - i) * d] if i < k - 1 else full[:, i * d:] for i in range(k)]
        kernel = conv.weight.permute(2, 1, 0).reshape(k * conv.in_channels, conv.out_channels)
        return torch.cat(taps, dim=-1) @ kernel + conv.bias

    def init_state(self, batch: int) -> StreamState:
        ctx = torch.zeros(batch, self.hidden, self.past + self.lookahead)
        return StreamState(ctx, [], self.lookahead)

    def stream(self, magnitude: torch.Tensor, z: torch.Tensor, state: StreamState
               ) -> tuple[torch.Tensor, StreamState]:
        """Feed ``(B, F, n)`` new frames; returns the mask of the frames now complete (``n`` of them,
        ``lookahead`` fewer on the first call) and the new state."""
        x = torch.cat([state.context, self.front(magnitude).transpose(1, 2)], dim=2)
        keep = self.past + self.lookahead
        context = x[:, :, x.shape[2] - keep:] if keep else x[:, :, :0]
        x = self.context(x).transpose(1, 2)                                  # (B, n, H)
        skip = min(state.to_skip, x.shape[1])
        x = torch.relu(self.film_in(x[:, skip:], z))
        if x.shape[1] == 0:
            return x.new_zeros(x.shape[0], self.to_mask.out_features, 0), StreamState(
                context, state.core, state.to_skip - skip)
        y, core = self._core(x, z, state.core or None)
        return self._head(x, y, z), StreamState(context, core, state.to_skip - skip)

    def flush(self, z: torch.Tensor, state: StreamState, nb_bins: int) -> torch.Tensor:
        """The last ``lookahead`` frames' mask (feeds zero frames as the offline pass pads with zeros)."""
        if not self.lookahead:
            return z.new_zeros(z.shape[0], nb_bins, 0)
        zeros = torch.zeros(z.shape[0], self.hidden, self.lookahead)
        x = torch.cat([state.context, zeros], dim=2)
        x = self.context(x).transpose(1, 2)
        skip = min(state.to_skip, x.shape[1])
        x = torch.relu(self.film_in(x[:, skip:], z))
        y, _ = self._core(x, z, state.core or None)
        return self._head(x, y, z)


class LightQueryNet(nn.Module):
    """Clip -> latent: the same bottleneck as the separators, two conv layers over time, mean and standard
    deviation pooled over the clip, a small MLP; the latent is scaled onto the sphere of radius
    ``sqrt(latent_dim)`` (where the learned class embeddings live too, so slerp moves along it).

    Returns ``(z, zeros)`` to keep the ``(mu, log-variance)`` interface of the thesis' VAE Query-net.
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        h = config.query_hidden
        self.front = nn.Linear(config.stft.nb_bins, h)
        self.norm = nn.LayerNorm(h)
        self.convs = nn.ModuleList([nn.Conv1d(h, h, 3, padding=1), nn.Conv1d(h, h, 3, padding=2, dilation=2)])
        self.out = nn.Sequential(nn.Linear(2 * h, h), nn.ReLU(), nn.Linear(h, config.latent_dim))
        self.radius = float(config.latent_dim) ** 0.5
        self.min_frames = 1

    def forward(self, magnitude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.relu(self.norm(self.front(magnitude_features(magnitude).transpose(1, 2)))).transpose(1, 2)
        for conv in self.convs:
            x = x + torch.relu(conv(x))
        stats = torch.cat([x.mean(dim=2), x.std(dim=2, unbiased=False)], dim=1)
        z = to_sphere(self.out(stats), self.radius)
        return z, torch.zeros_like(z)


def to_sphere(z: torch.Tensor, radius: float) -> torch.Tensor:
    return z * (radius / z.norm(dim=-1, keepdim=True).clamp_min(1e-6))


__all__ = ["StreamSeparator", "LightQueryNet", "StreamState", "Film", "mel_filterbank", "to_sphere",
           "STREAM_ARCHS"]
