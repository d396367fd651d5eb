"""The two exported graphs as thin PyTorch wrappers around copies of the engine's modules, with two
numerically equivalent rewrites that onnxruntime runs better.

``SeparatorGraph`` pads the time axis to the separator's multiple *outside* the U-Net and crops after it,
so the traced graph has no Python branch on the frame count and keeps a dynamic time axis (the U-Net's
own padding is then always zero). Padding magnitudes with zeros equals the U-Net padding its
``log1p`` features with zeros (``log1p(0) = 0``).
``QueryGraph`` returns mu only (the runtime never samples the posterior).

Instance norms are exported as an explicit two-pass mean/variance with the means taken over frequency,
then time (:class:`TwoPassInstanceNorm`). onnxruntime's ``InstanceNormalization`` (and a plain
``ReduceMean`` over the whole plane) sums tens of thousands of float32 values in one run: on a 256 x 176
plane its normalised output was 2.5e-4 off float64 where PyTorch's was 3.7e-6, which pushed masks past the
1e-4 parity tolerance on real audio. Two short sums keep the error near PyTorch's.

The separator's first conv sees ``[features, z broadcast over the plane]``: 1 + 32 input channels of
which 32 are constant. :class:`LatentFoldedConv` computes their contribution from z and the kernel alone
(the zero padding at the edges is why it is not a plain bias). Same result; in onnxruntime that conv took
3.1 of the 7.3 ms of a 32-frame run of the shipping architecture, about 0.3 ms folded.
Both rewrites are checked the same way as the rest: against the engine's own modules, by
:func:`export.onnx_export.verify_bundle`.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from engine.models import Separator


class TwoPassInstanceNorm(nn.Module):
    """``nn.InstanceNorm2d`` (no running stats) written as mean, centred mean square, scale and shift."""

    def __init__(self, norm: nn.InstanceNorm2d):
        super().__init__()
        if norm.track_running_stats:
            raise ValueError("instance norms with running statistics are not supported")
        self.eps = norm.eps
        self.weight = None if norm.weight is None else nn.Parameter(norm.weight.detach().clone())
        self.bias = None if norm.bias is None else nn.Parameter(norm.bias.detach().clone())

    @staticmethod
    def _mean(x: torch.Tensor) -> torch.Tensor:
        # frequency first, then time: each float32 sum runs over a few hundred values, not tens of thousands
        return x.mean(dim=2, keepdim=True).mean(dim=3, keepdim=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        centred = x - self._mean(x)
        y = centred / torch.sqrt(self._mean(centred * centred) + self.eps)
        if self.weight is not None:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y


def with_two_pass_norms(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` with every ``nn.InstanceNorm2d`` replaced by :class:`TwoPassInstanceNorm`."""
    module = copy.deepcopy(module).eval()
    for name, child in list(module.named_modules()):
        for attr, sub in list(child.named_children()):
            if isinstance(sub, nn.InstanceNorm2d):
                setattr(child, attr, TwoPassInstanceNorm(sub))
    return module


class LatentFoldedConv(nn.Module):
    """A conv whose last ``latent_dim`` input channels hold a latent broadcast over the plane.

    ``x (B, C_feat + latent_dim, F, T)`` -> the conv's output. The latent part of a conv over a constant
    plane with zero padding is ``R @ W_z @ C^T`` per output channel, where ``W_z = sum_c z_c W_c`` is the
    kernel mixed by z and ``R`` (rows) / ``C`` (frames) say which taps fall inside the plane.
    """

    def __init__(self, conv: nn.Conv2d, latent_dim: int):
        super().__init__()
        if conv.groups != 1 or conv.in_channels <= latent_dim or conv.dilation != (1, 1):
            raise ValueError("LatentFoldedConv needs an ungrouped, undilated conv with features before the latent")
        w = conv.weight.detach()
        self.latent_dim = latent_dim
        self.out_channels, self.kernel = conv.out_channels, tuple(conv.kernel_size)
        self.stride, self.padding = tuple(conv.stride), tuple(conv.padding)
        self.w_feat = nn.Parameter(w[:, :-latent_dim].clone())
        self.w_latent = nn.Parameter(w[:, -latent_dim:].transpose(0, 1).reshape(latent_dim, -1).clone())
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone())

    @staticmethod
    def _taps(n_in, n_out, stride: int, pad: int, k: int, like: torch.Tensor) -> torch.Tensor:
        """``(n_out, k)``: 1 where output position o's tap i reads input ``o * stride + i - pad`` in range."""
        pos = torch.arange(n_out, device=like.device)[:, None] * stride \
            + torch.arange(k, device=like.device)[None, :] - pad
        return ((pos >= 0) & (pos < n_in)).to(like.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.latent_dim
        feat = x[:, :-d]
        z = x[:, -d:, 0, 0]                                                   # (B, latent_dim)
        out = F.conv2d(feat, self.w_feat, self.bias, stride=self.stride, padding=self.padding)
        (kf, kt), (sf, st), (pf, pt) = self.kernel, self.stride, self.padding
        rows = self._taps(x.shape[2], out.shape[2], sf, pf, kf, x)            # (F', kf)
        cols = self._taps(x.shape[3], out.shape[3], st, pt, kt, x)            # (T', kt)
        mixed = (z @ self.w_latent).reshape(x.shape[0], self.out_channels, kf, kt)
        return out + rows @ mixed @ cols.transpose(0, 1)


class SeparatorGraph(nn.Module):
    """``magnitude (B, nb_bins, T)``, ``z (B, latent_dim)`` -> ``mask (B, nb_bins, T)``, any T >= 1."""

    def __init__(self, separator: nn.Module):
        super().__init__()
        self.separator = with_two_pass_norms(separator)
        if isinstance(separator, Separator):     # the thesis U-Net; streamable designs need no rewrite
            self.separator.encoder[0] = LatentFoldedConv(self.separator.encoder[0], separator.latent_dim)
        self.time_multiple = separator.time_multiple

    def forward(self, magnitude: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        frames = magnitude.shape[-1]
        pad = (self.time_multiple - frames % self.time_multiple) % self.time_multiple
        return self.separator(F.pad(magnitude, (0, pad)), z)[..., :frames]


class QueryGraph(nn.Module):
    """``magnitude (B, nb_bins, T >= min_frames)`` -> ``mu (B, latent_dim)``."""

    def __init__(self, query_net: nn.Module):
        super().__init__()
        self.query_net = with_two_pass_norms(query_net)

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        return self.query_net(magnitude)[0]


class StepGraph(nn.Module):
    """One call of a streamable separator with its state passed in and out: ``StreamSeparator.step``
    (time-major, convolutions as matmuls, one FiLM table; see there) on a copy of the separator.

    ``magnitude (B, nb_bins, n)``, ``z (B, latent_dim)``, ``context``, ``core_0`` ... -> ``mask (B, nb_bins,
    n)``, ``context_out``, ``core_0_out`` ...
    """

    def __init__(self, separator: nn.Module):
        super().__init__()
        self.separator = copy.deepcopy(separator).eval()

    def forward(self, magnitude: torch.Tensor, z: torch.Tensor, context: torch.Tensor, *core: torch.Tensor):
        return self.separator.step(magnitude, z, context, *core)
