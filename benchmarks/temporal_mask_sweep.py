"""Temporal masks over the separator's estimate, swept on the *valid* look-alike sets (issue 18's WHEN).

    .venv/bin/python benchmarks/temporal_mask_sweep.py [--sets valid-fluidr3,valid-timgm] [--per-class 26]
        [--activity DIR]

Every item of the sets, whole and intermittent (the evaluation's recipe, ``benchmarks/eventsep_eval.py``:
its prompt through the text mapping, the intermittent gate seeded the same way), is separated once with
the shipped separator and judged once by the target-activity model (the shipped one, or ``--activity DIR``
to judge a candidate); both are cached under ``--cache`` (a second run only scores; curves are cached per
activity model). Then each mask family below gates the estimate, and the script prints the mean
SI-SDRi per subset against the separator alone, plus an *oracle* row (the true activity of the target,
smoothed as the soft mask is): how much any temporal mask could gain.

Families (``g``: the gain per 10 ms frame, ``p``: the calibrated activity curve, scaled by its 95th
percentile unless ``abs``):

- ``soft T S``: the pipeline's soft mask (smoothstep of ``min(p / T, 1)``, Hann-smoothed over S ms);
- ``power T G S``: ``min(p / T, 1) ** G`` (G 0.35-3; 0.5 is the pipeline's root mask), smoothed the same
  way: a softer or steeper knee;
- ``hard T 20``: the pipeline's hard mask (1 where ``p >= T``, else 0, faded over 20 ms);
- ``soft T S + expander R``: the soft mask times a downward expander on the estimate itself: frames of the
  estimate more than R dB under its loud frames (95th percentile of frame level) are turned down by as
  much again (ratio 1:2), so the separator's leakage where the target is silent goes further down.

After the rule's pick over all of them, the same rule within each mask ``eventsep text --mask`` offers
(soft and root smoothed over 50 ms, hard faded over 20 ms): each one's default threshold
(``engine.text_options.DEFAULT_THRESHOLDS``).

Nothing here is an evaluation item: the defaults picked from it are fit for ``eventsep_eval.py``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.activity.data import intermittent  # noqa: E402
from engine.activity.infer import SHIPPED as ACTIVITY_SHIPPED  # noqa: E402
from engine.corpus.evalset import load_evalset  # noqa: E402
from engine.detection.checkpoint import WEIGHTS as DETECTOR_WEIGHTS  # noqa: E402
from engine.detection.mask import hann_smooth, knee_gain  # noqa: E402
from engine.metrics import si_sdr  # noqa: E402
from engine.presence import separator_identity  # noqa: E402
from engine.pipeline import EventSep, PipelineConfig, relative_curve  # noqa: E402
from engine.text_options import DEFAULT_MASK, DEFAULT_RELATIVE, DEFAULT_THRESHOLD  # noqa: E402
from engine.taxonomy import CORE_CLASSES  # noqa: E402
from engine.textquery.prompts import prompt_for  # noqa: E402

WHOLE_TOLERANCE_DB = 0.1        # eventsep_eval.py's (importing it would import its module-level set-up)


def items(root: Path, per_class: int, seed: int):
    """``(key, subset, prompt, mixture, target)`` as ``eventsep_eval.build_items`` makes them."""
    ds = load_evalset(root)
    chosen = sorted(i for c in CORE_CLASSES for i in ds.by_class(c)[:per_class])
    for j, i in enumerate(chosen):
        item = ds[i]
        prompt = prompt_for(j, item.target_class, item.meta["target_fine"])
        yield f"{item.id}-whole", "whole", prompt, item.mixture, item.target, item.sample_rate
        gated, _ = intermittent(item.target, item.sample_rate, np.random.default_rng([seed, i]))
        yield f"{item.id}-intermittent", "intermittent", prompt, (gated + item.rest).astype(np.float32), gated, \
            item.sample_rate


def cached(es: EventSep, cfg: PipelineConfig, cache: Path, key, prompt, mixture, rate, tag: str):
    """``(estimate (n,), calibrated absolute curve (frames,), frame seconds)`` of one item. The estimate is
    cached as ``<key>.npz`` (one separator per cache folder, see :func:`check_cache`), the curve as
    ``<key>.<tag>.npz``, ``tag`` naming the target-activity model's weights."""
    path, other = cache / f"{key}.npz", cache / f"{key}.{tag}.npz"
    if path.exists() and other.exists():          # a second run: no text mapping, no model
        d = np.load(other)
        return np.load(path)["estimate"], d["curve"], float(d["frame_seconds"])
    tgt = es.resolve(prompt)
    if path.exists():
        est = np.load(path)["estimate"]
    else:
        unet, _, _ = es.separators(mixture[None], rate, es.latent(tgt), cfg, unet=True, flow=False)
        est = unet[0].astype(np.float32)
        np.savez(path, estimate=est)
    curve, fs = es.probability(mixture[None], rate, tgt.coarse, True, relative=False, estimate=est[None])
    np.savez(other, curve=curve, frame_seconds=fs)
    return est, curve, fs


def check_cache(cache: Path, es: EventSep) -> None:
    """A cache folder holds one separator's estimates: it records which, and refuses another's."""
    mark = cache / "separator.json"
    ident = separator_identity(es.model_dir)
    if mark.exists() and json.loads(mark.read_text()) != ident:
        raise SystemExit(f"temporal_mask_sweep: {cache} holds another separator's estimates; pass another "
                         "--cache or delete it")
    mark.write_text(json.dumps(ident))


def activity_tag(folder: Path) -> str:
    """The curves' cache name: the weights' hash, so a model folder rewritten later is not read stale."""
    return "activity-" + hashlib.sha256((folder / DETECTOR_WEIGHTS).read_bytes()).hexdigest()[:12]


class GainScorer:
    """SI-SDR of ``estimate * gain`` against ``target`` (as :func:`engine.metrics.si_sdr`), ``gain`` being
    per-frame gains interpolated linearly between the frame centres (constant past the first and last, as
    ``np.interp``): ``<g e, t>`` is a linear and ``|g e|^2`` a quadratic form in the frame gains, whose
    weights are summed once per item, so each mask costs O(frames) instead of O(samples)."""

    def __init__(self, estimate: np.ndarray, target: np.ndarray, rate: int, fs: float, frames: int):
        if frames < 2:
            raise ValueError("GainScorer needs at least two frames")
        n = min(len(estimate), len(target))
        e, t = np.asarray(estimate[:n], np.float64), np.asarray(target[:n], np.float64)
        self.tt = float(t @ t)
        pos = np.clip((np.arange(n) + 0.5) / rate / fs - 0.5, 0.0, frames - 1)   # in frame centres
        j = np.minimum(pos.astype(np.int64), frames - 2)
        u = pos - j
        et, ee = e * t, e * e
        self.linear = np.bincount(j, (1 - u) * et, frames) + np.bincount(j + 1, u * et, frames)
        self.quad = [np.bincount(j, w * ee, frames - 1) for w in ((1 - u) ** 2, u * (1 - u), u * u)]

    def si_sdr(self, gain: np.ndarray) -> float:
        if self.tt == 0.0:
            return math.nan
        g = np.asarray(gain, np.float64)
        et = float(self.linear @ g)
        ee = float(self.quad[0] @ g[:-1] ** 2 + 2 * self.quad[1] @ (g[:-1] * g[1:]) + self.quad[2] @ g[1:] ** 2)
        signal = et * et / self.tt                 # |a t|^2 with a = <g e, t> / |t|^2
        if signal <= 0.0:
            return -math.inf
        noise = ee - signal                        # |g e - a t|^2
        return math.inf if noise <= 0.0 else 10.0 * math.log10(signal / noise)


def frame_levels_db(x: np.ndarray, frames: int, rate: int, fs: float) -> np.ndarray:
    hop = int(round(fs * rate))
    y = np.pad(x, (0, max(0, frames * hop - len(x))))[:frames * hop].reshape(frames, hop)
    return 10 * np.log10(np.mean(np.square(y, dtype=np.float64), axis=1) + 1e-12)


def knee(p: np.ndarray, threshold: float, shape: str, gamma: float = 1.0) -> np.ndarray:
    if shape == "hard":
        return (p >= threshold).astype(np.float64)
    if shape == "smoothstep":
        return knee_gain(p, threshold, "soft")
    return np.minimum(np.clip(p, 0, 1) / threshold, 1.0) ** gamma


def families():
    """(name, fn(curve, estimate, rate, fs) -> frame gain)."""
    out = []
    for rel in (True, False):
        tag = "" if rel else " abs"
        for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
            for s in (20, 50, 100, 200):
                out.append((f"soft {t:.2f} {s}{tag}", dict(rel=rel, t=t, shape="smoothstep", s=s)))
                for g in (0.35, 0.5, 0.65, 0.8, 1.0, 2.0, 3.0):
                    out.append((f"power {t:.2f} {g:g} {s}{tag}", dict(rel=rel, t=t, shape="power", g=g, s=s)))
        # the hard mask: a step at the threshold, faded over 20 ms (temporal_mask's fade_ms); its whole-item
        # cost falls with the threshold, so its grid reaches lower
        for t in (0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
            out.append((f"hard {t:.2f} 20{tag}", dict(rel=rel, t=t, shape="hard", s=20)))
    for t in (0.3, 0.4, 0.5):
        for r in (20, 30, 40):
            out.append((f"soft {t:.2f} 50 + expander {r}", dict(rel=True, t=t, shape="smoothstep", s=50, exp=r)))
    return out


def frame_gain(opts, curve, estimate, rate, fs) -> np.ndarray:
    p = relative_curve(curve) if opts["rel"] else curve
    g = knee(p, opts["t"], opts["shape"], opts.get("g", 1.0))
    if "exp" in opts:
        lv = frame_levels_db(estimate, len(g), rate, fs)
        below = np.maximum(0.0, np.percentile(lv, 95) - opts["exp"] - lv)     # dB under the expander's knee
        g = g * 10 ** (-below / 20)                                          # 1:2 downward expansion
    return hann_smooth(g, int(round(opts["s"] * 1e-3 / fs)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", default="valid-fluidr3,valid-timgm", help="valid look-alike sets, comma-separated")
    ap.add_argument("--per-class", type=int, default=26, help="items per core class and set (default: all 26)")
    ap.add_argument("--seed", type=int, default=0, help="the intermittent gates' seed (the evaluation's: 0)")
    ap.add_argument("--cache", default=str(ROOT / "cache" / "mask_sweep"), help="per-item estimates and curves")
    ap.add_argument("--activity", default=None,
                    help="a target-activity model folder to judge instead of the shipped one (its curves are "
                         "cached apart, by its weights' hash)")
    ap.add_argument("--top", type=int, default=15, help="rows to print, best intermittent first")
    ap.add_argument("--per-mask", action="store_true",
                    help="also list every threshold of each mask `eventsep text --mask` offers")
    ap.add_argument("--png", default=None,
                    help="also draw every mask's intermittent gain against its whole-item cost here")
    a = ap.parse_args(argv)
    cfg = PipelineConfig()
    es = EventSep(config=cfg, activity_dir=a.activity)
    tag = activity_tag(Path(a.activity) if a.activity else ACTIVITY_SHIPPED)
    data = []
    t0 = time.time()
    for name in a.sets.split(","):
        cache = Path(a.cache) / name
        cache.mkdir(parents=True, exist_ok=True)
        check_cache(cache, es)
        for n, (key, subset, prompt, mixture, target, rate) in enumerate(
                items(ROOT / "cache" / "corpus" / "evalset" / name, a.per_class, a.seed)):
            est, curve, fs = cached(es, cfg, cache, key, prompt, mixture, rate, tag)
            data.append((subset, mixture, target, est, curve, fs, rate, GainScorer(est, target, rate, fs,
                                                                                    len(curve))))
            if n % 40 == 0:
                print(f"[{name}] {n} items ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    base = {s: [si_sdr(t, m) for sub, m, t, *_ in data if sub == s] for s in ("whole", "intermittent")}

    def score(gain_fn) -> dict[str, float]:
        """Mean SI-SDRi gain per subset of a mask: ``gain_fn(estimate, curve, fs, rate, target)`` gives its
        per-frame gain (interpolated between frame centres, as the pipeline's temporal mask is)."""
        res = {}
        for s in ("whole", "intermittent"):
            vals = [sc.si_sdr(gain_fn(e, c, fs, r, t)) for sub, m, t, e, c, fs, r, sc in data if sub == s]
            res[s] = float(np.mean(np.maximum(vals, -30.0)) - np.mean(base[s]))
        return res

    rows = [("separator alone", score(lambda e, c, fs, r, t: np.ones(len(c))))]

    def oracle(e, c, fs, r, t):
        frames = len(c)
        hop = int(round(fs * r))
        y = np.pad(t, (0, max(0, frames * hop - len(t))))[:frames * hop].reshape(frames, hop)
        rms = np.sqrt(np.mean(np.square(y, dtype=np.float64), axis=1))
        return hann_smooth((rms > 1e-3 * rms.max()).astype(float), int(round(0.05 / fs)))
    rows.append(("oracle (true activity)", score(oracle)))
    for name, opts in families():
        rows.append((name, score(lambda e, c, fs, r, t, o=opts: frame_gain(o, c, e, r, fs))))
    alone = rows[0][1]
    print(f"{len(data)} items; SI-SDRi over the mixture (separator alone: whole {alone['whole']:.2f}, "
          f"intermittent {alone['intermittent']:.2f} dB); gain over the separator alone:")
    print("| mask | intermittent | whole |\n|---|---|---|")
    ranked = rows[:2] + sorted(rows[2:], key=lambda r: -r[1]["intermittent"])
    # the shipped default, by its name here (smooth_ms 50 in temporal_mask; the root knee is power 0.5)
    shape = "soft" if DEFAULT_MASK == "soft" else "power"
    current = (f"{shape} {DEFAULT_THRESHOLD:.2f}{' 0.5' if DEFAULT_MASK == 'root' else ''} 50"
               f"{'' if DEFAULT_RELATIVE else ' abs'}")
    shown = ranked[:a.top + 2] + [r for r in rows if r[0] == current and r not in ranked[:a.top + 2]]
    for name, r in shown:
        print(f"| {name}{' (the shipped default)' if name == current else ''} | "
              f"{r['intermittent'] - alone['intermittent']:+.3f} | {r['whole'] - alone['whole']:+.3f} |")
    # the evaluation's rule (eventsep_eval.WHOLE_TOLERANCE_DB), fixed before any score: the best intermittent
    # gain among the masks that keep the whole items within that many dB of the separator alone
    fit = [r for r in ranked[2:] if r[1]["whole"] - alone["whole"] >= -WHOLE_TOLERANCE_DB]
    if fit:
        name, r = fit[0]
        print(f"\npicked by the rule (whole within {WHOLE_TOLERANCE_DB} dB): {name}: intermittent "
              f"{r['intermittent'] - alone['intermittent']:+.3f}, whole {r['whole'] - alone['whole']:+.3f} dB")
    # the same rule within each mask `eventsep text --mask` offers, as the pipeline draws it (smoothed over
    # 50 ms, the hard step faded over 20 ms; the curve as --absolute / the default say): each mask's own
    # default threshold (engine.text_options.DEFAULT_THRESHOLDS)
    suffix = "" if DEFAULT_RELATIVE else " abs"

    def offered(mask: str, name: str) -> bool:
        parts = name.split()
        if name.endswith(" abs") != bool(suffix) or "expander" in name:
            return False
        return {"soft": parts[0] == "soft" and parts[2] == "50",
                "root": parts[0] == "power" and parts[2:4] == ["0.5", "50"],
                "hard": parts[0] == "hard"}[mask]
    for mask in ("soft", "root", "hard"):
        own = [r for r in fit if offered(mask, r[0])]
        best = own[0] if own else max(((n, r) for n, r in rows if offered(mask, n)), key=lambda x: x[1]["whole"])
        print(f"--mask {mask}: {best[0]}: intermittent {best[1]['intermittent'] - alone['intermittent']:+.3f}, "
              f"whole {best[1]['whole'] - alone['whole']:+.3f} dB" + ("" if own else " (none within the rule; "
                                                                        "the least whole-item cost)"))
        for n, r in rows:
            if offered(mask, n) and a.per_mask:
                print(f"    {n}: {r['intermittent'] - alone['intermittent']:+.3f} / {r['whole'] - alone['whole']:+.3f}")
    if a.png:
        plot_masks(rows[2:], alone, fit[0][0] if fit else None, current, len(data), a.png)
    return 0


def plot_masks(rows, alone: dict, picked: str | None, current: str, items: int, path: str) -> None:
    """Every mask as a point: its whole-item change (x) against its intermittent gain (y) over the
    separator alone, by family; the rule's line, its pick and the shipped default marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def family(name: str) -> str:
        if "expander" in name:
            return "soft + expander"
        if name.startswith("soft"):
            return "soft (smoothstep knee)"
        if name.startswith("hard"):
            return "hard (step)"
        return "root (power 0.5)" if name.split()[2] == "0.5" else "power, other exponents"

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    for i, fam in enumerate(("soft (smoothstep knee)", "root (power 0.5)", "power, other exponents",
                             "soft + expander", "hard (step)")):
        pts = [(r["whole"] - alone["whole"], r["intermittent"] - alone["intermittent"])
               for name, r in rows if family(name) == fam]
        if pts:
            ax.scatter(*zip(*pts), s=10 if fam != "root (power 0.5)" else 16, alpha=0.6, color=f"C{i}", label=fam)
    ax.axvline(-WHOLE_TOLERANCE_DB, color="k", ls="--", lw=1, label=f"rule: whole within {WHOLE_TOLERANCE_DB} dB")
    for name, marker, label in ((picked, "*", "the rule's pick"), (current, "o", "the shipped default")):
        r = dict(rows).get(name) if name else None
        if r is not None:
            ax.scatter([r["whole"] - alone["whole"]], [r["intermittent"] - alone["intermittent"]], s=160,
                       marker=marker, facecolors="none" if marker == "o" else "gold", edgecolors="k", zorder=5,
                       label=f"{label}: {name}")
    # the view where the masks compete; the hard steps high on the curve cost whole dB and lie off it
    xs = [r["whole"] - alone["whole"] for _, r in rows]
    ys = [r["intermittent"] - alone["intermittent"] for _, r in rows]
    x_lo, y_lo = -1.0, -0.2
    off = sum(1 for x, y in zip(xs, ys) if x < x_lo or y < y_lo)
    ax.set_xlim(x_lo, max(0.15, max(xs) + 0.05))
    ax.set_ylim(y_lo, max(ys) + 0.1)
    if off:
        ax.text(0.99, 0.02, f"{off} masks off the axes (lower left)", transform=ax.transAxes, ha="right",
                fontsize=7, color="gray")
    ax.set_xlabel("whole items: SI-SDRi change over the separator alone (dB)")
    ax.set_ylabel("intermittent items: SI-SDRi gain (dB)")
    ax.set_title(f"temporal masks on the valid look-alike sets ({items} items)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
