"""WHETHER study (issue 18): does more of the evidence, or a richer combination of it, decide presence better
than the shipped four-number logistic regression, on pieces it has never seen?

    .venv/bin/python benchmarks/presence_study.py [--head] [--work runs/presence_study]

Items: nine valid look-alike sets (three soundfonts, FluidR3, TimGM and MuseScore, at three seeds: the
default set of 26 items per class and two of 52; 3120 items, built first when missing, seeded), each asked
for its target whole, intermittent and absent as ``engine.presence_fit`` asks it. Per row it keeps the
shipped calibration's four numbers (``engine.presence.FEATURES``) and 53 more from the same outputs: the
activity curve's 90th percentile, mean and share over 0.5; the detector's curve of the class (max, 90th
percentile) and its rank and margin among the detector's classes, on the mixture and on the estimate; the
estimate's 100 ms frame levels (max, 90th percentile, median, mean); every class's mean-probability logit on
the mixture and on the estimate; the class asked for (one-hot).

Scores compared, each fitted on one half and judged on the other (threshold: the balanced one on the fitting
half), two ways of halving:

- *by item*: alternate items; the seeds' sets share the valid pieces, so a half holds other mixtures of
  the pieces it is judged on;
- *by piece*: the halves hold different pieces (a hash of the piece id), as the evaluation set's test pieces
  are new to anything fitted on valid.

``--head`` adds a music head on the detector: a logistic regression per core class on the detector's hidden
layer (ReLU of ``fc1``, time mean and max) and its mean probabilities, fitted on look-alike mixtures of the
*train* split (three soundfonts x 800 items, rendered into ``--work``; mixture, intermittent and without the
target, labelled with the classes that play), its logit for the class on the valid mixture added as a fifth
number. Prints tables; the evidence is cached in ``--work`` (a second run only refits).
"""
from __future__ import annotations

import argparse
import sys
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.presence import logit  # noqa: E402
from engine.presence_fit import KINDS  # noqa: E402

SOUNDFONTS = ("fluidr3", "timgm", "musescore")
# name -> (soundfont, seed, items per class); None: the eval-set defaults (the set engine.presence_fit uses)
VALID_SETS = {f"valid-{sf}{suffix}": (sf, seed, per_class) for sf in SOUNDFONTS
              for suffix, seed, per_class in (("", None, None), ("-s1001", 1001, 52), ("-s1002", 1002, 52))}
HEAD_TRAIN = {sf: 555000 + i for i, sf in enumerate(SOUNDFONTS)}      # train-split sets: soundfont -> seed
HEAD_PER_CLASS = 100


def build_missing(work: Path, head: bool) -> None:
    from engine.corpus.evalset import build_evalset, split_pieces
    from engine.corpus.paths import cache_dir

    wanted = [(cache_dir() / "evalset" / n, sf, seed, pc, "valid") for n, (sf, seed, pc) in VALID_SETS.items()]
    if head:
        wanted += [(work / "train" / sf, sf, seed, HEAD_PER_CLASS, "train") for sf, seed in HEAD_TRAIN.items()]
    pieces = {}
    for out, sf, seed, per_class, split in wanted:
        if (out / "manifest.json").exists():
            continue
        print(f"building {out} ({split} split, {sf})", file=sys.stderr)
        pieces.setdefault(split, None)
        if pieces[split] is None:
            pieces[split] = split_pieces(split)
        kw = {k: v for k, v in (("seed", seed), ("per_class", per_class)) if v is not None}
        build_evalset(out, sf, pieces=pieces[split], progress=False, **kw)


def extra_numbers(on_mix, on_est, index: int, activity: np.ndarray, mixture, estimate, rate: int,
                  core_index: int) -> np.ndarray:
    """The 53 numbers beyond the shipped four (see the module docstring)."""
    out = [logit(np.percentile(activity, 90)), logit(activity.mean()), np.mean(activity > 0.5)]
    for probs in (on_mix, on_est):
        curve, means = probs[:, index], probs.mean(0)
        others = np.delete(means, index)
        out += [logit(curve.max()), logit(np.percentile(curve, 90)), np.sum(means > means[index]),
                logit(means[index]) - logit(others.max())]
    hop = rate // 10
    est = np.asarray(estimate, np.float64).reshape(-1, estimate.shape[-1]).mean(0)
    mix = np.asarray(mixture, np.float64).reshape(-1, mixture.shape[-1]).mean(0)
    n = len(est) // hop
    e = np.square(est[:n * hop]).reshape(n, hop).sum(1)
    m = np.square(mix[:n * hop]).reshape(n, hop).sum(1)
    fl = 10 * np.log10((e + 1e-10) / (m.mean() + 1e-10))
    out += [fl.max() / 10, np.percentile(fl, 90) / 10, np.median(fl) / 10, fl.mean() / 10]
    out += list(logit(on_mix.mean(0))) + list(logit(on_est.mean(0)))
    return np.r_[np.array(out, np.float64), np.eye(8)[core_index]]


def detector_embedding(detector, audio: np.ndarray, rate: int) -> np.ndarray:
    """The detector's hidden layer (ReLU of fc1) averaged and maxed over time, and its mean probabilities."""
    import torch

    from engine.detection.infer import to_mono_rate

    held = {}
    hook = detector.fc1.register_forward_hook(lambda m, i, o: held.__setitem__("h", o))
    try:
        mono = to_mono_rate(audio, rate, detector.config.front.sample_rate)
        with torch.no_grad():
            probs = torch.sigmoid(detector(torch.from_numpy(mono[None].astype(np.float32))))[0].numpy()
    finally:
        hook.remove()
    h = torch.relu(held["h"])[0].numpy()
    return np.r_[h.mean(0), h.max(0), probs.mean(0)]


def valid_evidence(es, work: Path, head: bool) -> dict:
    """Per row of the nine sets: the four numbers, the extra ones, kind, set, piece (and the detector
    embedding of the mixture with ``head``); cached in ``work``."""
    from tqdm import tqdm

    from engine.corpus.evalset import load_evalset
    from engine.corpus.paths import cache_dir
    from engine.detection.infer import detect
    from engine.presence import level_db, presence_features
    from engine.presence_fit import asked
    from engine.taxonomy import CORE_CLASSES

    cache = work / ("valid_evidence_head.npz" if head else "valid_evidence.npz")
    if cache.exists():
        return dict(np.load(cache))
    rows = {k: [] for k in ("four", "extra", "kind", "set", "piece", "cls") + (("embedding",) if head else ())}
    for name in VALID_SETS:
        ds = load_evalset(cache_dir() / "evalset" / name)
        for j in tqdm(range(len(ds)), desc=name, file=sys.stderr):
            item = ds[j]
            for kind, audio, estimate, target in asked(es, item, j):
                on_mix, on_est = detect(es.detector, audio, item.sample_rate), detect(es.detector, estimate,
                                                                                       item.sample_rate)
                activity = es.activity_curve(audio, item.sample_rate, estimate, target.coarse)[0]
                index = on_mix.classes.index(target.coarse)
                rows["four"].append(presence_features(level_db(audio, estimate), on_mix.probs[:, index],
                                                      on_est.probs[:, index], activity))
                rows["extra"].append(extra_numbers(on_mix.probs, on_est.probs, index, activity, audio, estimate,
                                                   item.sample_rate, CORE_CLASSES.index(target.coarse)))
                if head:
                    rows["embedding"].append(detector_embedding(es.detector, audio, item.sample_rate))
                rows["kind"].append(kind)
                rows["set"].append(name)
                rows["piece"].append(item.meta["piece"])
                rows["cls"].append(target.coarse)
    out = {k: np.array(v) for k, v in rows.items()}
    np.savez(cache, **out)
    return out


def head_scores(es, work: Path, valid: dict) -> np.ndarray:
    """The train-split music head's logit for each valid row's class, on the row's mixture."""
    from tqdm import tqdm

    from engine.activity.data import intermittent
    from engine.corpus.evalset import load_evalset
    from engine.presence import fit_logistic
    from engine.presence_fit import SEED
    from engine.taxonomy import CORE_CLASSES, fine_to_coarse

    cache = work / "head_train.npz"
    if cache.exists():
        saved = np.load(cache)
        x, y = saved["x"], saved["y"]
    else:
        xs, ys = [], []
        for sf in HEAD_TRAIN:
            ds = load_evalset(work / "train" / sf)
            for j in tqdm(range(len(ds)), desc=f"head: train {sf}", file=sys.stderr):
                item = ds[j]
                others = {fine_to_coarse(f) for f in item.meta["others_fine"]}
                rest = np.array([c in others for c in CORE_CLASSES], np.float64)
                full = rest.copy()
                full[CORE_CLASSES.index(item.target_class)] = 1.0
                gated, _ = intermittent(item.target, item.sample_rate, np.random.default_rng([SEED + 1, j]))
                for mixture, labels in ((item.mixture, full), (gated + item.rest, full), (item.rest, rest)):
                    xs.append(detector_embedding(es.detector, np.asarray(mixture, np.float32), item.sample_rate))
                    ys.append(labels)
        x, y = np.array(xs), np.array(ys)
        np.savez(cache, x=x, y=y)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    heads = [fit_logistic((x - mean) / scale, y[:, i], l2=20.0) for i in range(len(CORE_CLASSES))]
    z = (valid["embedding"] - mean) / scale
    index = np.array([CORE_CLASSES.index(c) for c in valid["cls"]])
    return np.array([z[r] @ heads[i][0] + heads[i][1] for r, i in enumerate(index)])


def mlp_scores(x_fit: np.ndarray, y_fit: np.ndarray, x: np.ndarray, hidden: int = 64, weight_decay: float = 0.1,
               epochs: int = 400, seeds: int = 5) -> np.ndarray:
    import torch

    torch.manual_seed(0)
    xt, yt = torch.tensor(x_fit, dtype=torch.float32), torch.tensor(y_fit, dtype=torch.float32)
    out = np.zeros(len(x))
    for seed in range(seeds):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
        opt = torch.optim.AdamW(net.parameters(), lr=1e-2, weight_decay=weight_decay)
        for _ in range(epochs):
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(net(xt)[:, 0], yt).backward()
            opt.step()
        with torch.no_grad():
            out += net(torch.tensor(x, dtype=torch.float32))[:, 0].numpy() / seeds
    return out


def judge(scores_fit, present_fit, scores, kinds) -> dict:
    from engine.presence import balanced_threshold

    t, _, _ = balanced_threshold(scores_fit, present_fit)
    present = kinds != KINDS.index("absent")
    order = np.argsort(scores)
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(len(scores))
    auc = (ranks[present].mean() - (present.sum() - 1) / 2) / (~present).sum()      # Mann-Whitney
    res = {"auc": auc, "present": float(np.mean(scores[present] >= t))}
    res.update({k: float(np.mean((scores[kinds == i] >= t) == (k != "absent"))) for i, k in enumerate(KINDS)})
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", default=str(ROOT / "runs" / "presence_study"),
                   help="folder for the cached evidence and the head's train-split sets (default runs/presence_study)")
    p.add_argument("--head", action="store_true", help="also the train-split music head on the detector")
    p.add_argument("--no-mlp", action="store_true", help="skip the network (the slowest score to fit)")
    a = p.parse_args(argv)
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    from engine.pipeline import EventSep
    from engine.presence import fit_logistic

    build_missing(work, a.head)
    es = EventSep()
    v = valid_evidence(es, work, a.head)
    four, every = v["four"], np.c_[v["four"], v["extra"]]
    kinds, present = v["kind"], v["kind"] != KINDS.index("absent")
    scores_def = [("shipped recipe: logistic, 4 numbers", four, "logistic"),
                  ("logistic, all 57 numbers", every, "logistic")]
    if not a.no_mlp:
        scores_def.append(("network (64 ReLUs x 5 seeds), all 57", every, "mlp"))
    if a.head:
        scores_def.append(("logistic, 4 numbers + music head", np.c_[four, head_scores(es, work, v)], "logistic"))
    items = np.repeat(np.arange(len(kinds) // 3), 3)
    halves = {"by item": items % 2,
              "by piece": np.array([zlib.crc32(piece.encode()) % 2 for piece in v["piece"]])}
    fluid = np.char.startswith(v["set"].astype(str), "valid-fluidr3")
    print(f"{len(kinds) // 3} valid items ({', '.join(VALID_SETS)}); halves fitted on one, judged on the other, "
          "averaged over both")
    print("| score | halves | AUC | whole | intermittent | absent | FluidR3 rows: AUC | whole | intermittent | absent |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, x, kind in scores_def:
        for split, half in halves.items():
            res = {"all": [], "fluid": []}
            for h in (0, 1):
                fit, held = half != h, half == h
                mean, scale = x[fit].mean(0), x[fit].std(0)
                scale[scale < 1e-6] = 1.0
                z = (x - mean) / scale
                if kind == "logistic":
                    w, b = fit_logistic(z[fit], present[fit], l2=1.0)
                    s = z @ w + b
                else:
                    s = mlp_scores(z[fit], present[fit], z)
                res["all"].append(judge(s[fit], present[fit], s[held], kinds[held]))
                res["fluid"].append(judge(s[fit], present[fit], s[held & fluid], kinds[held & fluid]))
            cells = []
            for key in ("all", "fluid"):
                mean_res = {k: np.mean([r[k] for r in res[key]]) for k in res[key][0]}
                cells += [f"{mean_res['auc']:.3f}"] + [f"{mean_res[k]:.3f}" for k in KINDS]
            print(f"| {name} | {split} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
