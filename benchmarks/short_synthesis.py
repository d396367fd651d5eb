"""What a shorter synthesis window would cost in quality (issue 17's latency/CPU question), on the valid
look-alike sets only.

    .venv/bin/python benchmarks/short_synthesis.py [--evalset valid-fluidr3] [--per-class 8] [--hops 2,3]

The live runtime's model delay is the analysis window minus a hop (L - H = 3 hops, 34.8 ms) plus the
lookahead: every output sample waits for the last frame whose synthesis window covers it. A synthesis
window shorter than the analysis window (nonzero on the frame's last ``k`` hops only, normalised so a mask
of ones still gives the input back exactly) cuts that to ``k - 1`` hops: the low-delay STFT's asymmetric
windows. The model keeps seeing the same 1024-sample analysis frames; only how masked frames are put back
together changes. This runs the stateful runtime's offline twin (``engine.streaming.separate_offline``'s
computation, PyTorch step) over each item at 22.05 kHz with the class-name query, with the full Hann
synthesis and with ``k``-hop windows of two shapes (the analysis window's tail, and a Hann of the
segment's length), and prints the mean SI-SDRi of each and its difference from the full window. It also
checks that each window reconstructs its input exactly.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def short_window(grid, hops: int, shape: str) -> tuple[np.ndarray, int]:
    """The synthesis window (length L, zero before the segment) and the segment's start (a hop multiple)."""
    from engine.streaming.dsp import hann

    L, H = grid.window_length, grid.hop
    start = (L // H - hops) * H
    w = np.zeros(L)
    w[start:] = grid.window[start:] if shape == "tail" else hann(L - start)
    return w, start


def reconstruct(grid, frames: np.ndarray, spectra: np.ndarray, window: np.ndarray, start: int, n: int) -> np.ndarray:
    """Overlap-add of ``(C, T, bins)`` masked spectra through ``window``; ``(C, n)`` at the file's place."""
    from engine.streaming.frames import add_frames

    L, H = grid.window_length, grid.hop
    product = grid.window * window
    norm = np.zeros(H)
    for k in range(math.ceil(L / H)):
        seg = product[k * H:(k + 1) * H]
        norm[:len(seg)] += seg
    seg = np.fft.irfft(spectra, grid.fft_size, axis=-1)[..., start:L] * window[start:]
    out = np.zeros((frames.shape[0], (frames.shape[1] + math.ceil(L / H) + 1) * H))
    add_frames(out, seg, start // H, H)
    hops = out.shape[1] // H
    out = (out[:, :hops * H].reshape(out.shape[0], hops, H) / np.maximum(norm, 1e-12)).reshape(out.shape[0], -1)
    return out[:, L - H:L - H + n]


def main() -> int:
    from engine.checkpoint import load_latents, load_model
    from engine.corpus.evalset import load_evalset
    from engine.corpus.paths import cache_dir
    from engine.metrics import si_sdr
    from engine.stepmodel import TorchModels
    from engine.streaming import separate_offline
    from engine.streaming.frames import analyse_frames, sanitise_mask
    from engine.streaming.grid import HostGrid
    from engine.streaming.stateful import whole_masks

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(REPO / "engine/assets/default_model"))
    ap.add_argument("--evalset", default="valid-fluidr3", help="a valid look-alike set (never the evaluation set)")
    ap.add_argument("--per-class", type=int, default=8, help="items per class (default 8; 26 = all)")
    ap.add_argument("--hops", default="2,3", help="synthesis lengths in hops to try (default 2,3)")
    args = ap.parse_args()
    if not args.evalset.startswith("valid-"):
        sys.exit("short_synthesis: takes a valid look-alike set (valid-<soundfont>), never the evaluation set")
    model, _ = load_model(args.model)
    latents = load_latents(args.model)["coarse"]
    models = TorchModels(model)
    evalset = load_evalset(cache_dir() / "evalset" / args.evalset)
    classes = sorted({it["target_class"] for it in evalset.manifest["items"]})
    indices = [i for c in classes for i in evalset.by_class(c)[:args.per_class]]
    grid = HostGrid(model.config.sample_rate, models.info)
    L, H, la = grid.window_length, grid.hop, models.info.lookahead
    variants = {"full": (grid.window, 0)}
    for hops in (int(h) for h in args.hops.split(",")):
        for shape in ("tail", "hann"):
            variants[f"{hops} hops, {shape}"] = short_window(grid, hops, shape)

    rng = np.random.default_rng(0)
    check = rng.standard_normal((1, 4096))
    scores: dict[str, list[float]] = {name: [] for name in variants}
    for i in indices:
        item = evalset[i]
        x = np.asarray(item.mixture, np.float64).reshape(1, -1)
        n = x.shape[1]
        count = (n - 1 + L - H) // H + 1
        padded = np.zeros((1, (count + la - 1) * H + L))
        padded[:, L - H:L - H + n] = x
        frames = np.lib.stride_tricks.sliding_window_view(padded, L, axis=-1)[:, ::H]
        mags = analyse_frames(grid, frames, True)[1]
        z = latents[item.target_class].detach().numpy().reshape(1, -1).astype(np.float32)
        masks = sanitise_mask(np.asarray(whole_masks(models, mags, z)))[:, :, :count]
        spectra = grid.analyse(frames[:, :count]) * grid.host_mask(masks, mags[:, :, :count])
        base = si_sdr(item.target, item.mixture)
        for name, (window, start) in variants.items():
            scores[name].append(si_sdr(item.target, reconstruct(grid, frames[:, :count], spectra, window, start, n)[0]) - base)
        if i == indices[0]:          # the full window is the runtime's own computation
            own = separate_offline(models, x, model.config.sample_rate, z[0])
            mine = reconstruct(grid, frames[:, :count], spectra, grid.window, 0, n)
            assert np.abs(own - mine).max() < 1e-6, "the full-window reconstruction is not separate_offline's"
    print(f"{args.evalset}: {len(indices)} items, class-name query, model {args.model}")
    print("| synthesis window | model delay (hops) | perfect reconstruction error | mean SI-SDRi (dB) | vs full |")
    print("|---|---|---|---|---|")
    full = np.array(scores["full"])
    for name, (window, start) in variants.items():
        n = check.shape[1]
        count = (n - 1 + L - H) // H + 1
        padded = np.zeros((1, count * H + L))
        padded[:, L - H:L - H + n] = check
        frames = np.lib.stride_tricks.sliding_window_view(padded, L, axis=-1)[:, ::H][:, :count]
        err = np.abs(reconstruct(grid, frames, grid.analyse(frames), window, start, n) - check).max()
        delay = (L - start) / H - 1
        v = np.array(scores[name])
        print(f"| {name} | {delay:.0f} | {err:.1e} | {v.mean():.3f} | {np.mean(v - full):+.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
