"""``eventsep export``: checkpoint -> ONNX bundle for the streaming runtime, with a parity check.
Imports nothing heavy until the command runs (the parser is built for every ``eventsep`` call)."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export", help="export a checkpoint to ONNX (Query-net + Separator) for the streaming runtime",
        description="Export the Query-net and the Separator of a checkpoint to two ONNX graphs (dynamic batch "
                    "and time axes) with their metadata (sample rate, STFT, latent size, class-mean latents, "
                    "checkpoint hash, format version). The graphs are reloaded in onnxruntime and compared "
                    "with PyTorch on random and real inputs; if any output differs by more than the "
                    "tolerance the command fails and writes nothing.")
    p.add_argument("checkpoint", help="checkpoint folder (config.json + model.safetensors)")
    p.add_argument("--out", required=True, help="bundle folder to write (query.onnx, separator.onnx, parity.json)")
    p.add_argument("--check-audio", nargs="+", default=[], metavar="FILE",
                   help="more real audio for the parity check (the bundled example and a synthetic clip "
                        "are always used)")
    p.add_argument("--tolerance", type=float, default=1e-4, help="max |onnx - torch| allowed (default: 1e-4)")
    p.set_defaults(func=cmd_export)


def cmd_export(args) -> int:
    from engine.errors import EventSepError
    from engine.streaming.grid import HostGrid
    from engine.streaming.settings import PRESETS, StreamSettings, latency_of

    from .onnx_export import export_checkpoint

    if not args.tolerance > 0:
        raise EventSepError("--tolerance must be positive")
    if not (Path(args.checkpoint) / "config.json").is_file():
        raise EventSepError(f"{args.checkpoint}: not an EventSep checkpoint folder (no config.json)")
    result = export_checkpoint(args.checkpoint, args.out, args.check_audio, args.tolerance)
    info = result.info
    for f in result.files:
        print(f"wrote {f} ({f.stat().st_size / 1e6:.2f} MB)")
    n_coarse, n_fine = len(info.class_latents.get("coarse", {})), len(info.class_latents.get("fine", {}))
    print(f"model: {info.sample_rate} Hz, STFT {info.n_fft}/{info.hop_length}, latent {info.latent_dim}, "
          f"{n_coarse} coarse + {n_fine} fine class latents, weights sha256 {info.source.get('sha256', '')[:12]}")
    print(f"parity with PyTorch (tolerance {result.parity.tolerance:g}): worst {result.parity.worst:.3g}")
    print(result.parity.table())
    grids = [HostGrid(sr, info) for sr in (44100, 48000)]
    for name in PRESETS:
        try:
            st = StreamSettings.preset(name).resolve(info)
        except EventSepError as e:        # a preset this model cannot run (background runs on a windowed bundle)
            print(f"streaming latency, {name}: not for this model ({e})")
            continue
        lat = [latency_of(st, g.sample_rate, g.window_length, g.hop) for g in grids]
        print(f"streaming latency, {name} ({st.mode}): "
              + ", ".join(f"{x.samples} samples = {x.ms:.1f} ms at {x.sample_rate} Hz" for x in lat))
    return 0
