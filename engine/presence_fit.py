"""Fit the WHETHER calibration (:mod:`engine.presence`) on the corpus' valid split.

    python -m engine.presence_fit [--set valid-fluidr3,valid-timgm] [--out engine/assets/presence.json]

Items: the valid look-alikes of the evaluation sets (``eventsep corpus eval-set --split valid``: mixtures of
validation pieces, never an evaluation item), by default those of two soundfonts pooled (twice the items of
one; 2-fold on FluidR3's, adding TimGM's to the fit raised the worst kind from 0.85 to 0.86 and the whole
items from 0.89 to 0.90). Each item is asked for its target through the text mapping
(the evaluation's prompt templates) three times, as the pipeline's evaluation asks: as it is (*whole*), with
the target kept in one or two spans (*intermittent*, :func:`engine.activity.data.intermittent`, seeded apart
from the evaluation's) and with the target removed, the rest alone (*absent*). The separator (the shipped
one unless ``--model``), the detector and the target-activity model give the four features of each; a
logistic regression is fitted on all of them (present = whole and intermittent) and the decision threshold
picked where the worse of the two accuracies, present and absent, is highest. Two-fold cross-validation
over items (fit on one half, judge the other) gives the accuracies the calibration file reports, per kind,
so the numbers are not the fit's own. The gate threshold (under which ``--presence gate`` silences) is the
score that only ``--gate-share`` of the present items fall under; the file reports, by the same two folds,
which share of present and of absent items it silences.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .presence import FEATURES, SHIPPED, PresenceCalibration, balanced_threshold, fit_logistic, separator_identity


KINDS = ("whole", "intermittent", "absent")
SEED = 7001          # the intermittent spans; the evaluation (benchmarks/eventsep_eval.py) seeds its own
# the share of valid items that hold the class which the gate may turn down: the smallest of 2, 3, 4, 5, 7
# and 10 % with which the gate takes at least 60 % of the valid absent items (so that the median absent
# output is near-silence with a margin). On the two pooled valid sets (step-34500 separator): 2 % took 47 %
# of the absent items, 4 % 57 %, 5 % 60 % (FluidR3 64 %, TimGM 57 %) and 1.4 % / 5.3 % of FluidR3's whole
# / intermittent items (TimGM 6.2 % / 7.2 %)
GATE_SHARE = 0.05
DEFAULT_SETS = "valid-fluidr3,valid-timgm"


def asked(es, item, index: int):
    """The three ways the fit asks an item for its target (its prompt through the text mapping, as the
    evaluation words it): ``(kind, audio (1, n), the separator's estimate, target)`` for it whole, with the
    target kept in one or two spans, and without the target (``kind``: an index into :data:`KINDS`)."""
    from .activity.data import intermittent
    from .separate import separate_array
    from .textquery.prompts import prompt_for

    target = es.resolve(prompt_for(index, item.target_class, item.meta["target_fine"]))
    z = es.latent(target)
    gated, _ = intermittent(item.target, item.sample_rate, np.random.default_rng([SEED, index]))
    for kind, mixture in enumerate((item.mixture, gated + item.rest, item.rest)):
        audio = np.asarray(mixture, np.float32)[None]
        yield kind, audio, separate_array(es.unet, audio, item.sample_rate, z).estimate, target


def item_features(es, items, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(3 n, 4)`` features and ``(3 n,)`` kinds (indices into :data:`KINDS`), for every item whole,
    intermittent and without its target, computed as the pipeline computes them
    (:meth:`EventSep.presence_evidence`); an item's rows are consecutive."""
    from tqdm import tqdm

    rows, kinds = [], []
    for j, item in enumerate(tqdm(items, desc="presence features", unit="item", disable=not progress,
                                  file=sys.stderr)):
        for kind, audio, estimate, target in asked(es, item, j):
            rows.append(es.presence_evidence(audio, item.sample_rate, estimate, target.coarse))
            kinds.append(kind)
    return np.array(rows), np.array(kinds)


def _probabilities(features: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(features @ weights + bias)))


def gate_threshold(scores: np.ndarray, present: np.ndarray, decision: float, share: float = GATE_SHARE) -> float:
    """The score under which ``share`` of the present items fall, never above the ``decision`` threshold
    (the gate silences only what the decision calls absent)."""
    return min(decision, float(np.quantile(scores[present], share)))


def cross_validated(features: np.ndarray, kinds: np.ndarray, folds: int = 2,
                    gate_share: float = GATE_SHARE) -> dict[str, float]:
    """Accuracy per kind of fit-and-threshold on ``folds - 1`` folds, judged on the held-out one, and the
    share of each kind the gate silences (``<kind>_gated``); the rows of an item stay in the same fold."""
    per_item = len(KINDS)
    fold_of = np.repeat(np.arange(len(kinds) // per_item) % folds, per_item)
    present = kinds != KINDS.index("absent")
    right = {kind: [] for kind in KINDS}
    gated = {kind: [] for kind in KINDS}
    for k in range(folds):
        train, test = fold_of != k, fold_of == k
        scores = _probabilities(features, *fit_logistic(features[train], present[train]))
        t, _, _ = balanced_threshold(scores[train], present[train])
        g = gate_threshold(scores[train], present[train], t, gate_share)
        for i, kind in enumerate(KINDS):
            right[kind] += list((scores[test & (kinds == i)] >= t) == (kind != "absent"))
            gated[kind] += list(scores[test & (kinds == i)] < g)
    return {**{kind: float(np.mean(v)) for kind, v in right.items()},
            **{f"{kind}_gated": float(np.mean(v)) for kind, v in gated.items()}}


def main(argv=None) -> int:
    from .corpus.evalset import load_evalset
    from .corpus.paths import cache_dir
    from .pipeline import EventSep

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", default=DEFAULT_SETS,
                   help="built valid look-alike sets under <cache>/evalset, comma-separated, pooled "
                        f"(default {DEFAULT_SETS})")
    p.add_argument("--model", default=None, help="separator checkpoint folder (default: the shipped one)")
    p.add_argument("--activity", default=None,
                   help="target-activity model folder (default: the shipped one)")
    p.add_argument("--out", default=str(SHIPPED), help=f"calibration file to write (default {SHIPPED})")
    p.add_argument("--limit", type=int, default=0, help="only the first N items (0: all)")
    p.add_argument("--gate-share", type=float, default=GATE_SHARE,
                   help=f"share of the valid items that hold the class the gate may silence (default {GATE_SHARE})")
    p.add_argument("--features", default=None,
                   help="also write the features and kinds of every item here (.npz), for study")
    p.add_argument("--from-features", default=None, metavar="NPZ",
                   help="fit on the features a previous run wrote with --features (same sets and separator) "
                        "instead of computing them")
    a = p.parse_args(argv)
    names = [n.strip() for n in a.set.split(",") if n.strip()]
    for name in names:
        if not name.startswith("valid"):
            p.error(f"{name}: fit on valid split sets (valid-<soundfont>), never on an evaluation set")
        if not (cache_dir() / "evalset" / name / "manifest.json").exists():
            p.error(f"{cache_dir() / 'evalset' / name}: not built; run `eventsep corpus eval-set --split valid "
                    f"--soundfont {name.split('-', 1)[1]}`")
    t0 = time.time()
    es = EventSep(a.model, activity_dir=a.activity)
    if a.from_features:
        saved = np.load(a.from_features)
        features, kinds = saved["features"], saved["kinds"]
        items = range(len(kinds) // len(KINDS))
    else:
        items = []
        for name in names:
            ds = load_evalset(cache_dir() / "evalset" / name)
            items += [ds[i] for i in range(len(ds))][:a.limit or None]
        features, kinds = item_features(es, items)
    if a.features:
        np.savez(a.features, features=features, kinds=kinds, names=np.array(FEATURES),
                 classes=np.repeat([item.target_class for item in items], len(KINDS)))
    present = kinds != KINDS.index("absent")
    w, b = fit_logistic(features, present)
    scores = _probabilities(features, w, b)
    threshold, acc_p, acc_a = balanced_threshold(scores, present)
    gate = gate_threshold(scores, present, threshold, a.gate_share)
    cv = cross_validated(features, kinds, gate_share=a.gate_share)
    valid = {"items": len(items), "present_accuracy_in_sample": acc_p, "absent_accuracy_in_sample": acc_a,
             "gate_share": a.gate_share,
             **{(f"{kind}_2fold" if kind.endswith("_gated") else f"{kind}_accuracy_2fold"): v
                for kind, v in cv.items()}}
    cal = PresenceCalibration([float(v) for v in w], b, threshold, separator_identity(es.model_dir),
                              f"{'+'.join(names)}: {len(items)} items, whole, intermittent and without their target",
                              valid, gate_threshold=gate)
    cal.save(a.out)
    print(f"weights {dict(zip(FEATURES, np.round(w, 3)))}, bias {b:.3f}, threshold {threshold:.3f}, "
          f"gate threshold {gate:.3f}")
    print(f"in sample: present {acc_p:.3f}, absent {acc_a:.3f}; 2-fold: "
          + ", ".join(f"{kind} {cv[kind]:.3f}" for kind in KINDS) + "; silenced by the gate (2-fold): "
          + ", ".join(f"{kind} {cv[kind + '_gated']:.3f}" for kind in KINDS))
    print(f"wrote {a.out} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
