"""PNG of detector probability curves (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .infer import Detection


def plot_detection(det: Detection, out: str | Path, classes: list[str] | None = None,
                   threshold: float | dict[str, float] = 0.5, title: str = "") -> Path:
    """One curve per class (default: every class that reaches its threshold somewhere, or the 4 most
    probable); detected spans shaded; the threshold (one for all, or per class) dashed."""
    def thr(c: str) -> float:
        return float(threshold.get(c, 0.5)) if isinstance(threshold, dict) else float(threshold)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if classes is None:
        peaks = det.probs.max(axis=0)
        classes = [c for c, p in zip(det.classes, peaks) if p >= thr(c)]
        if not classes:
            classes = [det.classes[i] for i in np.argsort(-peaks)[:4]]
    t = (np.arange(len(det.probs)) + 0.5) * det.frame_seconds
    fig, axes = plt.subplots(len(classes), 1, figsize=(10, 1.3 * len(classes) + 0.8), sharex=True, squeeze=False)
    for ax, c in zip(axes[:, 0], classes):
        p = det.curve(c)
        ax.plot(t, p, lw=1.2)
        for s, e in det.spans(c, thr(c)):
            ax.axvspan(s, e, alpha=0.15)
        ax.axhline(thr(c), ls="--", lw=0.8, color="gray")
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel(c, rotation=0, ha="right", va="center")
    axes[-1, 0].set_xlabel("time (s)")
    axes[0, 0].set_title(title or "frame-wise class probabilities")
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
