"""Score checkpoints on the corpus *validation* split: the numbers that pick checkpoints and decide what ships.

    .venv/bin/python benchmarks/valid_scores.py engine/assets/default_model runs/cmp_tcn [--batches 20]

Every checkpoint sees the same fixed mixtures (the class-query recipe's validation draws from the stem bank's
valid split, seed 0: one target class, 1-3 other classes, 10 % with the queried class absent) and is asked
through the public API the way users ask: the checkpoint's class latent by name, the latent of another clip
of the class (another piece), and, as an upper reference, the target's own clip. Prints mean SI-SDRi per
query kind on the present targets and the median output level (dB re the mixture) on the absent ones.
No evaluation-set item is used. ``--soundfont timgm`` asks the same of the valid split rendered by another
synthesizer (timbres the training bank never had).

``--evalset valid-fluidr3`` (or ``valid-timgm``) asks instead the valid *look-alike* of the evaluation set
(``eventsep corpus eval-set --split valid [--soundfont timgm]``): 208 mixtures of 2-4 parts of one validation
piece played together, built as the evaluation items are, and prints the mean of the 8 class means (class
name, other clip), the figures the evaluation reports. Bank mixtures mix excerpts of different pieces; these
are music, and they are what a checkpoint is picked on.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from engine.checkpoint import load_latents, load_model
from engine.config import TrainConfig
from engine.metrics import si_sdr
from engine.mixing import batch_rng
from engine.querymix import make_query_batch
from engine.separate import apply_model, encode_clip
from engine.corpus.bank import BankStemSource, bank_dir
from engine.corpus.paths import CorpusError


def valid_batches(source, num_samples: int, batches: int, batch_size: int = 16) -> list[dict]:
    cfg = TrainConfig(recipe="classquery")
    index = {c: i for i, c in enumerate(source.classes)}
    return [make_query_batch(source, num_samples, batch_size, batch_rng(0, 10_000 + i, 0), cfg, index)
            for i in range(batches)]


@torch.no_grad()
def score(model_dir: Path, batches: list[dict], classes: list[str]) -> dict:
    model, meta = load_model(model_dir)
    latents = load_latents(model_dir)["coarse"]
    out: dict[str, list[float]] = {"class name": [], "other clip": [], "own clip": []}
    absent_db = []
    for b in batches:
        for k in range(len(b["mixture"])):
            mix, tgt = b["mixture"][k], b["target"][k].numpy()
            name = classes[int(b["coarse"][k])]
            queries = {"class name": latents[name], "other clip": encode_clip(model, b["query"][k][None])}
            if not bool(b["absent"][k]):
                queries["own clip"] = encode_clip(model, b["target"][k][None])
            for kind, z in queries.items():
                est = apply_model(model, mix[None], z)[0].numpy()
                if bool(b["absent"][k]):
                    if kind == "class name":
                        absent_db.append(10 * np.log10((np.sum(est ** 2) + 1e-10) / (np.sum(mix.numpy() ** 2) + 1e-10)))
                else:
                    out[kind].append(si_sdr(tgt, est) - si_sdr(tgt, mix.numpy()))
    return {"model": str(model_dir), "step": meta.get("step"), "n_present": len(out["own clip"]),
            **{k: float(np.mean(v)) for k, v in out.items()},
            "absent_output_db": float(np.median(absent_db)) if absent_db else float("nan")}


def score_evalset(model_dir: Path, evalset) -> dict:
    """Mean of the class means of SI-SDRi on a look-alike set: class name and other clip."""
    from engine.evaluate import class_means, evaluate_set
    from engine.taxonomy import CORE_CLASSES

    model, meta = load_model(model_dir)
    rows = evaluate_set(model, evalset, load_latents(model_dir), methods=("rq", "class_mean"), bsseval=False,
                        desc=str(model_dir))
    means = class_means(rows, "si_sdri", tuple(CORE_CLASSES))
    return {"model": str(model_dir), "step": meta.get("step"), "class name": means["class_mean"]["mean"],
            "other clip": means["rq"]["mean"], "per class": means["class_mean"]}


CSV_HEADER = "run,step,set,class_name,other_clip\n"


def run_name(model_dir: str) -> str:
    """The training run a checkpoint folder belongs to: ``runs/snap/<run>_<step>`` -> ``<run>``,
    ``runs/<run>`` or ``runs/<run>/best`` -> ``<run>``; other folders keep their path."""
    path = Path(model_dir)
    if path.parent.name == "snap":
        run, _, step = path.name.rpartition("_")
        return run if step.isdigit() else path.name
    if path.name == "best":
        path = path.parent
    return path.name if path.parent.name == "runs" else str(model_dir)


def append_csv(path: Path, rows: list[dict], evalset: str) -> None:
    new = not path.exists()
    with path.open("a") as f:
        if new:
            f.write(CSV_HEADER)
        for r in rows:
            f.write(f"{run_name(r['model'])},{r['step']},{evalset},{r['class name']:.3f},{r['other clip']:.3f}\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+", help="checkpoint folders (with class latents)")
    ap.add_argument("--batches", type=int, default=20, help="validation batches of 16 mixtures (default 20)")
    ap.add_argument("--seconds", type=float, default=3.0, help="mixture length (default 3)")
    ap.add_argument("--soundfont", default="fluidr3",
                    help="the valid split's stem bank of this soundfont (default fluidr3, the training one; "
                         "timgm or musescore for unseen timbres, built by `eventsep corpus bank --split valid "
                         "--soundfont timgm --per-class 256`)")
    ap.add_argument("--evalset", default=None, metavar="NAME",
                    help="score on <cache>/evalset/NAME instead (valid-fluidr3, valid-timgm: the valid split's "
                         "look-alike of the evaluation set)")
    ap.add_argument("--json", default=None, help="also write the rows here")
    ap.add_argument("--csv", default=None, metavar="FILE",
                    help="with --evalset: append one row per model (run, step, set, class name, other clip) to "
                         "FILE, e.g. docs/lookalike_scores.csv, which benchmarks/lookalike_curves.py draws")
    args = ap.parse_args()
    if args.evalset:
        from engine.corpus.evalset import load_evalset
        from engine.corpus.paths import cache_dir

        if not args.evalset.startswith("valid-"):
            sys.exit("valid_scores: --evalset takes a valid look-alike set (valid-<soundfont>), never the evaluation set")
        try:
            evalset = load_evalset(cache_dir() / "evalset" / args.evalset)
        except (CorpusError, FileNotFoundError) as e:
            sys.exit(f"valid_scores: {e}")
        rows = [score_evalset(Path(m), evalset) for m in args.models]
        print(f"| model | step | class name | other clip |  ({args.evalset}, mean of 8 class means, SI-SDRi dB)")
        print("|---|---|---|---|")
        for r in rows:
            print(f"| {r['model']} | {r['step']} | {r['class name']:.2f} | {r['other clip']:.2f} |")
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
        if args.csv:
            append_csv(Path(args.csv), rows, args.evalset)
        return 0
    try:
        source = BankStemSource(bank_dir(None, "valid", args.soundfont))
    except CorpusError as e:
        sys.exit(f"valid_scores: {e}")
    batches = valid_batches(source, int(args.seconds * source.sample_rate), args.batches)
    rows = [score(Path(m), batches, list(source.classes)) for m in args.models]
    print("| model | step | class name | other clip | own clip | absent output (dB) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['step']} | {r['class name']:.2f} | {r['other clip']:.2f} | {r['own clip']:.2f} | "
              f"{r['absent_output_db']:.1f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
