"""Fit the WHETHER calibration (:mod:`engine.presence`) on the corpus' valid split.

    python -m engine.presence_fit [--set valid-fluidr3] [--out engine/assets/presence.json]

Items: the valid look-alike of the evaluation set (``eventsep corpus eval-set --split valid``: mixtures of
validation pieces, never an evaluation item). Each item is asked for its target through the text mapping
(the evaluation's prompt templates) twice: as it is (*present*) and with the target removed, the rest alone
(*absent*). The separator (the shipped one unless ``--model``) and the detector give the three features of
each; a logistic regression is fitted on all of them and the decision threshold picked where the worse of
the two accuracies is highest. Two-fold cross-validation over items (fit on one half, judge the other) gives
the accuracies the calibration file reports, so the number is not the fit's own.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from .presence import FEATURES, SHIPPED, PresenceCalibration, balanced_threshold, fit_logistic, separator_identity


def item_features(es, items, progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(2 n, 3)`` features and ``(2 n,)`` present flags, for every item as is and without its target,
    computed as the pipeline computes them (:meth:`EventSep.presence_evidence`)."""
    from tqdm import tqdm

    from .separate import separate_array
    from .textquery.prompts import prompt_for

    rows, present = [], []
    for j, item in enumerate(tqdm(items, desc="presence features", unit="item", disable=not progress,
                                  file=sys.stderr)):
        target = es.resolve(prompt_for(j, item.target_class, item.meta["target_fine"]))
        z = es.latent(target)
        for mixture, here in ((item.mixture, True), (item.rest, False)):
            audio = np.asarray(mixture, np.float32)[None]
            estimate = separate_array(es.unet, audio, item.sample_rate, z).estimate
            rows.append(es.presence_evidence(audio, item.sample_rate, estimate, target.coarse))
            present.append(here)
    return np.array(rows), np.array(present)


def _probabilities(features: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(features @ weights + bias)))


def cross_validated(features: np.ndarray, present: np.ndarray, folds: int = 2) -> tuple[float, float]:
    """Accuracies (present, absent) of fit-and-threshold on ``folds - 1`` folds, judged on the held-out one;
    the two rows of an item stay in the same fold."""
    items = len(present) // 2
    fold_of = np.repeat(np.arange(items) % folds, 2)
    right_p, right_a = [], []
    for k in range(folds):
        train, test = fold_of != k, fold_of == k
        scores = _probabilities(features, *fit_logistic(features[train], present[train]))
        t, _, _ = balanced_threshold(scores[train], present[train])
        right_p += list(scores[test & present] >= t)
        right_a += list(scores[test & ~present] < t)
    return float(np.mean(right_p)), float(np.mean(right_a))


def main(argv=None) -> int:
    from .corpus.evalset import load_evalset
    from .corpus.paths import cache_dir
    from .pipeline import EventSep

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--set", default="valid-fluidr3",
                   help="a built valid look-alike set under <cache>/evalset (default valid-fluidr3)")
    p.add_argument("--model", default=None, help="separator checkpoint folder (default: the shipped one)")
    p.add_argument("--out", default=str(SHIPPED), help=f"calibration file to write (default {SHIPPED})")
    p.add_argument("--limit", type=int, default=0, help="only the first N items (0: all)")
    a = p.parse_args(argv)
    if a.set.startswith("test") or not a.set.startswith("valid"):
        p.error("fit on a valid split set (valid-<soundfont>), never on an evaluation set")
    root = cache_dir() / "evalset" / a.set
    if not (root / "manifest.json").exists():
        p.error(f"{root}: not built; run `eventsep corpus eval-set --split valid --soundfont "
                f"{a.set.split('-', 1)[1]}`")
    t0 = time.time()
    es = EventSep(a.model)
    ds = load_evalset(root)
    items = [ds[i] for i in range(len(ds))][:a.limit or None]
    features, present = item_features(es, items)
    w, b = fit_logistic(features, present)
    scores = _probabilities(features, w, b)
    threshold, acc_p, acc_a = balanced_threshold(scores, present)
    cv_p, cv_a = cross_validated(features, present)
    valid = {"items": len(items), "present_accuracy_in_sample": acc_p, "absent_accuracy_in_sample": acc_a,
             "present_accuracy_2fold": cv_p, "absent_accuracy_2fold": cv_a}
    cal = PresenceCalibration([float(v) for v in w], b, threshold, separator_identity(es.model_dir),
                              f"{a.set}: {len(items)} items, present and without their target", valid)
    cal.save(a.out)
    print(f"weights {dict(zip(FEATURES, np.round(w, 3)))}, bias {b:.3f}, threshold {threshold:.3f}")
    print(f"in sample: present {acc_p:.3f}, absent {acc_a:.3f}; 2-fold: present {cv_p:.3f}, absent {cv_a:.3f}")
    print(f"wrote {a.out} in {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
