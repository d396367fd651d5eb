"""Snap a streamable separator's weight matrices onto a low-bit grid (:mod:`engine.weight_grid`), in
place, in the step graph's matmul layout, so the exported ``MatMulNBits`` nodes hold exactly these
numbers. ``eventsep quantize`` (engine.quantize_cli) writes the snapped checkpoint."""
from __future__ import annotations

import torch
from torch import nn

from .weight_grid import WeightGrid


def matmul_layout(module: nn.Module) -> torch.Tensor:
    """A Linear's or Conv1d's weight as the step graph multiplies by it: ``(K, N)``."""
    w = module.weight.detach()
    if isinstance(module, nn.Conv1d):
        return w.permute(2, 1, 0).reshape(-1, module.out_channels)
    return w.t()


def _from_layout(module: nn.Module, kn: torch.Tensor) -> torch.Tensor:
    if isinstance(module, nn.Conv1d):
        k = module.kernel_size[0]
        return kn.reshape(k, module.in_channels, module.out_channels).permute(2, 1, 0).contiguous()
    return kn.t().contiguous()


def grid_modules(separator: nn.Module) -> list[tuple[str, nn.Module]]:
    """The separator's Linear and Conv1d layers (every weight matrix of its step; GRU cells excepted)."""
    return [(name, m) for name, m in separator.named_modules() if isinstance(m, (nn.Linear, nn.Conv1d))]


@torch.no_grad()
def snap_separator(separator: nn.Module, grid: WeightGrid) -> list[str]:
    """Replace each weight matrix by its nearest grid point; returns the layers' names."""
    names = []
    for name, module in grid_modules(separator):
        kn = matmul_layout(module).numpy()
        module.weight.copy_(_from_layout(module, torch.from_numpy(grid.snap(kn))))
        names.append(name)
    return names


def off_grid(separator: nn.Module, grid: WeightGrid) -> list[str]:
    """The layers whose weights are not on ``grid`` (empty when the checkpoint is snapped)."""
    return [name for name, m in grid_modules(separator) if not grid.on_grid(matmul_layout(m).numpy())]


def step_matmuls(separator: nn.Module) -> int:
    """How many matmuls by a weight matrix the exported step graph has: one per layer, but the FiLMs'
    Linears share one (``StreamSeparator._film_table``)."""
    from .streamnet import Film

    films = {f"{name}.{child}" for name, m in separator.named_modules() if isinstance(m, Film)
             for child in ("to_gamma", "to_beta")}
    layers = [name for name, _ in grid_modules(separator)]
    return len([n for n in layers if n not in films]) + (1 if films else 0)


def model_grid(config) -> WeightGrid | None:
    """The grid a checkpoint's config declares (None for float weights)."""
    return WeightGrid(config.weight_bits, config.weight_block) if config.weight_bits else None
