"""``eventsep quantize``: a streamable checkpoint with its separator's weight matrices snapped onto a 4-bit
grid (:mod:`engine.weight_grid`). The result is an ordinary checkpoint (float weights that happen to lie
on the grid, the grid named in its config): ``eventsep separate`` runs it as any other, and ``eventsep
export`` writes its step graph with the weights packed at 4 bits, which the live runtime reads 4x faster.
Imports nothing heavy until the command runs."""
from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "quantize", help="snap a streamable checkpoint's separator weights onto a 4-bit grid",
        description="Write a copy of a streamable checkpoint whose separator weight matrices lie on a grid of "
                    "4-bit integers times one scale per block of input rows. Offline separation uses the "
                    "snapped float weights; `eventsep export` packs them into the live step graph (a quarter "
                    "of the bytes per call). Prints each layer's relative error.")
    p.add_argument("checkpoint", help="checkpoint folder (config.json + model.safetensors) of a streamable model")
    p.add_argument("--out", required=True, help="folder for the snapped checkpoint (not the input folder)")
    p.add_argument("--bits", type=int, default=4, choices=[4], help="bits per weight (default: 4)")
    p.add_argument("--block", type=int, default=32,
                   help="input rows sharing one scale, a power of two >= 16 (default: 32)")
    p.set_defaults(func=cmd_quantize)


def cmd_quantize(args) -> int:
    import torch

    from engine.checkpoint import load_model, save_checkpoint
    from engine.errors import EventSepError
    from engine.weight_grid import WeightGrid
    from engine.weight_snap import grid_modules, matmul_layout, snap_separator

    src, out = Path(args.checkpoint), Path(args.out)
    if not (src / "config.json").is_file():
        raise EventSepError(f"{src}: not an EventSep checkpoint folder (no config.json)")
    if out.resolve() == src.resolve():
        raise EventSepError("--out must be another folder: the float checkpoint is kept")
    try:
        grid = WeightGrid(args.bits, args.block)
    except ValueError as e:
        raise EventSepError(str(e)) from None
    model, meta = load_model(src)
    if not model.streamable:
        raise EventSepError(f"{src}: only streamable separators (tcn, fcgru, melgru) have a step graph to pack")
    before = {name: matmul_layout(m).clone() for name, m in grid_modules(model.separator)}
    snap_separator(model.separator, grid)
    model.config = replace(model.config, weight_bits=grid.bits, weight_block=grid.block)
    save_checkpoint(out, model, meta.get("classes", []), meta.get("step", 0),
                    {"quantized_from": str(src), "quantized_source_commit": meta.get("source_commit", "")})
    for name in ("latents.json", "latents.safetensors"):    # class latents: the Query-net is not snapped
        if (src / name).is_file():
            shutil.copy2(src / name, out / name)
    print(f"wrote {out}: {len(before)} weight matrices on a {grid.bits}-bit grid, blocks of {grid.block}")
    total = packed = 0
    for name, m in grid_modules(model.separator):
        w0 = before[name]
        err = float(torch.linalg.norm(matmul_layout(m) - w0) / torch.linalg.norm(w0).clamp_min(1e-12))
        k, n = w0.shape
        total += w0.numel()
        packed += n * -(-k // grid.block) * (grid.block * grid.bits // 8 + 4)     # codes + one float scale
        print(f"  {name:<24} {tuple(w0.shape)!s:<14} relative error {err:.4f}")
    print(f"{total} weights: {4 * total / 1e6:.2f} MB as float32, {packed / 1e6:.2f} MB packed with their scales")
    return 0
