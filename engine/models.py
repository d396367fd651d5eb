"""Query-net and Separator (thesis §3, SPEC §2): plain modules, tensors in, tensors out, no I/O.

Shapes: magnitudes ``(nb_samples, nb_bins, nb_frames)``, latents ``(nb_samples, latent_dim)``,
waveforms ``(nb_samples, nb_timesteps)``.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from .config import ModelConfig
from .spectral import Stft, magnitude_features
from .streamnet import LightQueryNet, StreamSeparator, to_sphere


class QueryNet(nn.Module):
    """VAE encoder of a query clip: 6 strided 4x4 convs (instance norm + ReLU) -> GRU -> mu, log-variance.

    Input ``(nb_samples, nb_bins, nb_frames)`` magnitude; output two ``(nb_samples, latent_dim)`` tensors.
    Needs at least :attr:`min_frames` frames (callers pad shorter queries).
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        if len(config.query_time_strides) != len(config.query_channels):
            raise ValueError("query_time_strides needs one stride per query conv layer")
        k = config.query_kernel
        layers: list[nn.Module] = []
        in_ch = 1
        nb_bins = config.stft.nb_bins
        for out_ch, t_stride in zip(config.query_channels, config.query_time_strides):
            layers += [nn.Conv2d(in_ch, out_ch, k, stride=(2, t_stride), padding=1),
                       nn.InstanceNorm2d(out_ch, affine=True), nn.ReLU()]
            in_ch = out_ch
            nb_bins = (nb_bins + 2 - k) // 2 + 1
        self.convs = nn.Sequential(*layers)
        self.gru = nn.GRU(in_ch * nb_bins, config.query_gru, batch_first=True)
        self.to_mu = nn.Linear(config.query_gru, config.latent_dim)
        self.to_logvar = nn.Linear(config.query_gru, config.latent_dim)
        self.min_frames = self._min_frames(config)

    @staticmethod
    def _min_frames(config: ModelConfig) -> int:
        def out_len(t: int) -> int:
            for s in config.query_time_strides:
                t = (t + 2 - config.query_kernel) // s + 1
            return t

        t = 1
        while out_len(t) < 1:
            t += 1
        return t

    def forward(self, magnitude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.convs(magnitude_features(magnitude).unsqueeze(1))      # (B, C, F', T')
        b, c, f, t = x.shape
        x = x.reshape(b, c * f, t).transpose(1, 2)                       # (B, T', C*F')
        _, last = self.gru(x)                                            # (1, B, H)
        h = last[-1]
        return self.to_mu(h), self.to_logvar(h)


class AdaIN(nn.Module):
    """Adaptive instance norm: ``y_s(z) * (x - mu(x)) / sigma(x) + y_b(z)`` with ``y = W^T z``.

    The scale's bias starts at 1 so an untrained layer passes normalised features through; the weights
    keep PyTorch's default (fan-in) init so z steers the decoder from the first step (with tiny weights
    the separator learns to ignore the query before the query-net learns to say anything).
    """

    def __init__(self, channels: int, latent_dim: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.scale = nn.Linear(latent_dim, channels)
        self.shift = nn.Linear(latent_dim, channels)
        nn.init.ones_(self.scale.bias)
        nn.init.zeros_(self.shift.bias)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.scale(z)[:, :, None, None] * self.norm(x) + self.shift(z)[:, :, None, None]


class Separator(nn.Module):
    """Latent-conditioned U-Net giving a soft mask over the mixture magnitude.

    z is broadcast and concatenated to the input as extra channels, and every decoder layer is
    AdaIN-conditioned on z. Input ``(nb_samples, nb_bins, nb_frames)`` magnitude and
    ``(nb_samples, latent_dim)`` latent; output the mask, same shape as the magnitude, in [0, 1].
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        chans = list(config.separator_channels)
        k, pad, slope = config.separator_kernel, config.separator_kernel // 2, config.leaky_slope
        self.depth = len(chans)
        self.slope = slope
        self.latent_dim = config.latent_dim
        self.adain_last_layer = config.adain_last_layer
        # The top (Nyquist) bin is dropped so the frequency axis halves cleanly; its mask copies its neighbour.
        self.model_bins = config.stft.nb_bins - 1
        if self.model_bins % (2 ** self.depth):
            raise ValueError(f"{self.model_bins} bins do not halve {self.depth} times")
        self.time_multiple = 2 ** (self.depth - 1)

        self.encoder = nn.ModuleList()
        self.encoder_norms = nn.ModuleList()
        in_ch = 1 + config.latent_dim
        for i, out_ch in enumerate(chans):
            t_stride = 1 if i == 0 else 2
            self.encoder.append(nn.Conv2d(in_ch, out_ch, k, stride=(2, t_stride), padding=pad))
            self.encoder_norms.append(nn.InstanceNorm2d(out_ch, affine=True))
            in_ch = out_ch

        self.decoder = nn.ModuleList()
        self.decoder_norms = nn.ModuleList()
        outs = chans[-2::-1] + [1]
        for j, out_ch in enumerate(outs):
            in_ch = chans[-1] if j == 0 else 2 * chans[self.depth - 1 - j]
            t_stride = 1 if j == self.depth - 1 else 2
            self.decoder.append(nn.ConvTranspose2d(in_ch, out_ch, k, stride=(2, t_stride), padding=pad,
                                                   output_padding=(1, t_stride - 1)))
            last = j == self.depth - 1
            self.decoder_norms.append(AdaIN(out_ch, config.latent_dim)
                                      if (not last or config.adain_last_layer) else nn.Identity())

    def forward(self, magnitude: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        b, nb_bins, nb_frames = magnitude.shape
        x = magnitude_features(magnitude[:, :self.model_bins]).unsqueeze(1)
        pad_t = (-nb_frames) % self.time_multiple
        if pad_t:
            x = F.pad(x, (0, pad_t))
        cond = z[:, :, None, None].expand(b, self.latent_dim, x.shape[2], x.shape[3])
        x = torch.cat([x, cond], dim=1)

        skips = []
        for conv, norm in zip(self.encoder, self.encoder_norms):
            x = F.leaky_relu(norm(conv(x)), self.slope)
            skips.append(x)
        for j, (deconv, norm) in enumerate(zip(self.decoder, self.decoder_norms)):
            if j > 0:
                x = torch.cat([x, skips[self.depth - 1 - j]], dim=1)
            x = deconv(x)
            x = norm(x, z) if isinstance(norm, AdaIN) else x
            x = torch.sigmoid(x) if j == self.depth - 1 else F.leaky_relu(x, self.slope)
        mask = x[:, 0, :, :nb_frames]
        return torch.cat([mask, mask[:, -1:]], dim=1)


class QuerySeparator(nn.Module):
    """Query-net + Separator + the STFT: waveform conveniences around the two networks."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.stft = Stft(config.stft)
        if config.arch == "unet":
            self.query_net = QueryNet(config)
            self.separator = Separator(config)
        else:
            self.query_net = LightQueryNet(config)
            self.separator = StreamSeparator(config)
        if config.class_vocab:
            # learned class queries, on the Query-net's sphere (engine.streamnet.to_sphere)
            self.class_embedding = nn.Parameter(torch.randn(len(config.class_vocab), config.latent_dim))

    @property
    def streamable(self) -> bool:
        return self.config.arch != "unet"

    def class_latents(self) -> dict[str, torch.Tensor]:
        """The learned class embeddings by name (``"piano"``, ``"fine:Violin"``); empty when none."""
        if not self.config.class_vocab:
            return {}
        z = to_sphere(self.class_embedding, self.config.latent_dim ** 0.5)
        return dict(zip(self.config.class_vocab, z))

    def encode_magnitude(self, magnitude: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """mu and log-variance of a ``(nb_samples, nb_bins, nb_frames)`` query magnitude."""
        short = self.query_net.min_frames - magnitude.shape[-1]
        if short > 0:  # too short for the conv stack: pad with silence (defined result, not an error)
            magnitude = F.pad(magnitude, (0, short))
        return self.query_net(magnitude)

    def encode(self, query: torch.Tensor) -> torch.Tensor:
        """The latent (mu) of a ``(nb_samples, nb_timesteps)`` query waveform."""
        mu, _ = self.encode_magnitude(self.stft(query).abs())
        return mu

    def separate(self, mixture: torch.Tensor, z: torch.Tensor, residual: bool = False) -> torch.Tensor:
        """``(nb_samples, nb_timesteps)`` mixture, ``(nb_samples, latent_dim)`` z -> estimate, same shape.

        Uses the mixture phase; ``residual=True`` returns what the mask leaves out instead.
        """
        spec = self.stft(mixture)
        mask = self.separator(spec.abs(), z)
        if residual:
            mask = 1.0 - mask
        return self.stft.inverse(spec * mask, mixture.shape[-1])

    def forward(self, mixture: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.separate(mixture, z)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def slerp(z1: torch.Tensor, z2: torch.Tensor, alpha: float) -> torch.Tensor:
    """Spherical interpolation ``sin((1-a)θ)/sinθ·z1 + sin(aθ)/sinθ·z2``; exact endpoints at 0 and 1.

    Falls back to linear interpolation when the latents are (anti)parallel or one is zero.
    """
    alpha = float(alpha)
    if alpha == 0.0:
        return z1.clone()
    if alpha == 1.0:
        return z2.clone()
    n1, n2 = z1.norm(dim=-1, keepdim=True), z2.norm(dim=-1, keepdim=True)
    cos = ((z1 * z2).sum(-1, keepdim=True) / (n1 * n2).clamp_min(1e-12)).clamp(-1.0, 1.0)
    theta = torch.acos(cos)
    sin = torch.sin(theta)
    linear = (1 - alpha) * z1 + alpha * z2
    safe = sin.abs() > 1e-6
    s = torch.where(safe, sin, torch.ones_like(sin))
    spherical = torch.sin((1 - alpha) * theta) / s * z1 + torch.sin(alpha * theta) / s * z2
    return torch.where(safe, spherical, linear)


def kl_to_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)), summed over the latent, averaged over the batch."""
    return (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)).mean()


def reparameterise(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)


__all__ = ["QueryNet", "Separator", "QuerySeparator", "AdaIN", "slerp", "count_parameters",
           "kl_to_standard_normal", "reparameterise"]
