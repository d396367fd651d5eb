"""The frame-wise sound event detector: a small Cnn14-style CRNN (tensors in, tensors out).

Shapes: audio ``(batch, samples)`` at ``cfg.front.sample_rate`` (``(batch, cfg.inputs, samples)`` for a
model with several inputs) -> logits ``(batch, frames, classes)`` with ``frames = ceil(samples / hop)``
(one per 10 ms). ``torch.sigmoid`` of the logits is the per-frame
probability that each class sounds.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import DetectorConfig
from .features import LogmelFilterBank, Spectrogram


class ConvBlock(nn.Module):
    """PANNs' ConvBlock: 2 x (conv 3x3, no bias -> BatchNorm -> ReLU), then average pooling.
    ``(B, C_in, T, F) -> (B, C_out, T / pool_t, F / pool_f)``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)
        nn.init.xavier_uniform_(self.conv1.weight)
        nn.init.xavier_uniform_(self.conv2.weight)

    def forward(self, x: torch.Tensor, pool: tuple[int, int] = (2, 2)) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        if pool != (1, 1):
            x = F.avg_pool2d(x, kernel_size=pool)
        return x


def log_mel_bn(spec: nn.Module, logmel: nn.Module, bn0: nn.BatchNorm2d, audio: torch.Tensor) -> torch.Tensor:
    """audio ``(B, N)`` or ``(B, C, N)`` -> normalised log-mel ``(B, C, T, M)`` (C = 1 for ``(B, N)``);
    bn0 normalises each mel bin (PANNs), with the same statistics for every channel."""
    batch = audio.shape[0]
    x = logmel(spec(audio.reshape(-1, audio.shape[-1])))                 # (B * C, 1, T, M)
    x = bn0(x.transpose(1, 3)).transpose(1, 3)
    return x.reshape(batch, -1, x.shape[2], x.shape[3])


class FrameDetector(nn.Module):
    """Cnn14-style CRNN with frame-wise sigmoid outputs (see :class:`DetectorConfig`)."""

    def __init__(self, cfg: DetectorConfig):
        super().__init__()
        self.config = cfg
        self.spectrogram_extractor = Spectrogram(cfg.front)
        self.logmel_extractor = LogmelFilterBank(cfg.front)
        self.bn0 = nn.BatchNorm2d(cfg.front.n_mels)
        chans = (cfg.inputs,) + tuple(cfg.widths)
        self.blocks = nn.ModuleList(ConvBlock(a, b) for a, b in zip(chans[:-1], chans[1:]))
        width = cfg.widths[-1]
        self.gru = (nn.GRU(width, cfg.gru_hidden, batch_first=True, bidirectional=True)
                    if cfg.gru_hidden else None)
        self.fc1 = nn.Linear(2 * cfg.gru_hidden if cfg.gru_hidden else width, cfg.fc_hidden)
        self.fc_out = nn.Linear(cfg.fc_hidden, len(cfg.classes))

    @property
    def classes(self) -> tuple[str, ...]:
        return self.config.classes

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        """audio ``(B, N)`` (or ``(B, inputs, N)``) -> frame logits ``(B, ceil(N / hop), K)``."""
        if (audio.dim() == 3 and audio.shape[1] != self.config.inputs) or (audio.dim() == 2 and self.config.inputs != 1):
            raise ValueError(f"this detector takes {self.config.inputs} input channel(s), got shape {tuple(audio.shape)}")
        x = log_mel_bn(self.spectrogram_extractor, self.logmel_extractor, self.bn0, audio)
        frames = x.shape[2]
        factor = self.config.time_factor
        # pad time to a multiple of the pooling factor so every frame has a pooled cell above it
        pad = (-frames) % factor
        if pad:
            x = F.pad(x, (0, 0, 0, pad), mode="replicate")
        for block, pool in zip(self.blocks, self.config.pools):
            x = block(x, tuple(pool))
        x = x.mean(dim=3)                                                 # (B, C, T')
        # Cnn14_DecisionLevelMax's local smoothing: max + mean over 3 neighbouring cells
        x = F.max_pool1d(x, 3, 1, 1) + F.avg_pool1d(x, 3, 1, 1, count_include_pad=False)
        x = x.transpose(1, 2)                                             # (B, T', C)
        if self.gru is not None:
            x, _ = self.gru(x)
        x = F.relu(self.fc1(x))
        logits = self.fc_out(x).transpose(1, 2)                           # (B, K, T')
        if factor > 1:
            # back to 10 ms frames: linear interpolation of logits between pooled-cell centres
            logits = F.interpolate(logits, scale_factor=float(factor), mode="linear", align_corners=False)
        return logits[:, :, :frames].transpose(1, 2)

    @torch.no_grad()
    def probabilities(self, audio: torch.Tensor) -> torch.Tensor:
        """``(B, N) -> (B, T, K)`` in [0, 1] (eval mode is the caller's business)."""
        return torch.sigmoid(self(audio))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
