"""``eventsep text --report DIR``: a JSON of what the pipeline did and PNGs to look at it.

Files: ``<stem>.json`` (prompt, chosen class / fine label / score, latent level, settings, active spans (where
the temporal mask passes the estimate at -6 dB or more),
mask statistics, time per stage), ``<stem>_detection.png`` (the class's calibrated probability curve, the
threshold and the temporal mask), ``<stem>_spectrograms.png`` (input, ensemble before the mask, output).
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .detection.infer import active_spans
from .pipeline import PipelineConfig, PipelineResult, gate_gain_db

PASS_GAIN = 0.5        # the report's active spans: where the temporal mask passes at -6 dB or more


def _log_spec(x: np.ndarray, rate: int, n_fft: int = 1024, hop: int = 256) -> tuple[np.ndarray, float]:
    mono = x.mean(axis=0) if x.ndim == 2 else x
    if len(mono) < n_fft:
        mono = np.pad(mono, (0, n_fft - len(mono)))
    frames = 1 + (len(mono) - n_fft) // hop
    idx = np.arange(n_fft)[None] + hop * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(mono[idx] * np.hanning(n_fft), axis=-1)).T
    return 20 * np.log10(spec + 1e-6), hop / rate


def write_report(result: PipelineResult, config: PipelineConfig, directory: str | Path, stem: str,
                 audio: np.ndarray, source: str = "") -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    rate = result.sample_rate
    # where the output passes: the mask's gain at its frame centres at -6 dB or more (the same for every mask;
    # the threshold is a knee for soft and root masks, not a line between sounding and silent)
    centres = ((np.arange(len(result.prob)) + 0.5) * result.frame_seconds * rate).astype(np.int64)
    frame_gain = result.gain[np.minimum(centres, len(result.gain) - 1)] if len(result.gain) else np.zeros(0)
    spans = active_spans(frame_gain, PASS_GAIN, result.frame_seconds, duration=audio.shape[-1] / rate)
    info = {
        "input": source,
        "duration_s": audio.shape[-1] / rate,
        "sample_rate": rate,
        "channels": int(audio.shape[0]) if audio.ndim == 2 else 1,
        "prompt": result.target.prompt,
        "class": result.target.coarse,
        "fine": result.target.fine,
        "latent": result.target.level,
        "text_score": result.target.score,
        "settings": {"mask": config.mask, "threshold": config.mask_threshold, "when": config.when, "steps": config.steps,
                     "calibrated": config.calibrate, "relative": config.relative, "ensemble": asdict(config.ensemble),
                     "presence": config.presence, "gate_depth_db": config.gate_depth_db},
        "active_spans_s": [[round(s, 3), round(e, 3)] for s, e in spans],
        "active_fraction": float(np.mean(frame_gain >= PASS_GAIN)) if len(frame_gain) else 0.0,
        "mask_mean_gain": float(result.gain.mean()),
        "ensemble": {k: (float(v) if isinstance(v, (int, float, np.floating)) else v)
                     for k, v in result.ensemble_info.items()},
        "seconds": {k: round(v, 3) for k, v in result.seconds.items()},
        "presence": None if result.presence is None else {
            **result.presence.to_dict(), "mode": config.presence,
            "output_gain_db": gate_gain_db(result.presence, config)},
    }
    paths = [d / f"{stem}.json"]
    paths[0].write_text(json.dumps(info, indent=1))

    t = (np.arange(len(result.prob)) + 0.5) * result.frame_seconds
    ts = np.arange(len(result.gain)) / rate
    fig, ax = plt.subplots(figsize=(10, 2.8))
    ax.plot(t, result.prob, lw=1.0, label=f"p({result.target.coarse}) calibrated")
    ax.plot(ts[::max(1, rate // 200)], result.gain[::max(1, rate // 200)], lw=1.4, label=f"{config.mask} mask")
    ax.axhline(config.mask_threshold, ls="--", lw=0.8, color="gray",
               label=f"{'step' if config.mask == 'hard' else 'knee'} {config.mask_threshold:.2f}")
    ax.set_ylim(-0.02, 1.05)
    ax.set_xlabel("time (s)")
    ax.set_title(f"'{result.target.prompt}' -> {result.target.coarse}"
                 + (f" / {result.target.fine}" if result.target.fine else ""))
    ax.legend(loc="upper right", fontsize=8)
    fig.tight_layout()
    paths.append(d / f"{stem}_detection.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)

    fig, axes = plt.subplots(3, 1, figsize=(10, 7), sharex=True)
    for ax, (name, x) in zip(axes, [("input", audio), ("ensemble (before the mask)", result.unmasked),
                                    ("output", result.estimate)]):
        s, dt = _log_spec(np.asarray(x, np.float32), rate)
        top = float(s.max())
        ax.imshow(s, origin="lower", aspect="auto", vmin=top - 80, vmax=top,
                  extent=(0, s.shape[1] * dt, 0, rate / 2000), cmap="magma")
        ax.set_ylabel("kHz")
        ax.set_title(name, fontsize=9)
    axes[-1].set_xlabel("time (s)")
    fig.tight_layout()
    paths.append(d / f"{stem}_spectrograms.png")
    fig.savefig(paths[-1], dpi=90)
    plt.close(fig)
    return paths
