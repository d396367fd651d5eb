"""The evaluation report of a model: docs/results.md, docs/results.json and its figures.

    .venv/bin/python benchmarks/results.py [--model engine/assets/default_model] [--run runs/default]

On the fixed evaluation sets (FluidR3, and the unseen-timbre MuseScore General and TimGM6mb sets; build
them with `eventsep corpus eval-set --soundfont all`), per coarse class: SI-SDRi and SDRi (BSSEval v4)
for GQ, RQ, class mean, class mean + refinement, fine-label mean, beside the oracle IRM and the
mixture. Figures: the 2-D PCA projection of query latents of unseen clips (the reference clips of the
test pieces), a spectrogram strip of an A->B slerp sweep, and the training curve when --run is given.
Ends with the acceptance checks of issue 4 (printed, and in results.json).
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch

from engine.checkpoint import load_latents, load_model
from engine.corpus.evalset import load_evalset
from engine.evaluate import METHOD_TITLES, Scored, class_means, evaluate_set
from engine.models import count_parameters, slerp
from engine.separate import apply_model, encode_clip
from engine.taxonomy import CORE_CLASSES

ROOT = Path(__file__).resolve().parents[1]
SETS = {"fluidr3": "FluidR3 GM (training timbres)", "musescore": "MuseScore General (unseen timbres)",
        "timgm": "TimGM6mb (unseen timbres)"}
TABLE_METHODS = ("gq", "rq", "class_mean_plain", "class_mean", "class_mean_refined", "irm", "mixture")
THESIS_MODEL = ROOT / "engine/assets/thesis_model"


def fmt(x: float | None) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.2f}"


def class_table(rows: list[Scored]) -> list[str]:
    """Markdown: one row per class, SI-SDRi and SDRi per method (mixture: absolute SI-SDR / SDR)."""
    si, sd = class_means(rows, "si_sdri", CORE_CLASSES), class_means(rows, "sdri", CORE_CLASSES)
    si_abs, sd_abs = class_means(rows, "si_sdr", CORE_CLASSES), class_means(rows, "sdr", CORE_CLASSES)
    methods = [m for m in TABLE_METHODS if m in si]
    head = "| class | n | " + " | ".join(METHOD_TITLES[m] for m in methods) + " |"
    lines = [head, "|" + "---|" * (len(methods) + 2)]
    counts = {c: sum(1 for r in rows if r.method == "mixture" and r.target_class == c) for c in CORE_CLASSES}
    for c in list(CORE_CLASSES) + ["mean"]:
        cells = []
        for m in methods:
            if m == "mixture":  # its improvement is 0 by definition: show where it starts from
                cells.append(f"{fmt(si_abs[m].get(c))} / {fmt(sd_abs.get(m, {}).get(c))}")
            else:
                cells.append(f"{fmt(si[m].get(c))} / {fmt(sd.get(m, {}).get(c))}")
        n = sum(counts.values()) if c == "mean" else counts[c]
        label = "**mean of classes**" if c == "mean" else c
        lines.append(f"| {label} | {n} | " + " | ".join(cells) + " |")
    return lines


def recipe_table(ours: list[Scored], thesis: list[Scored]) -> list[str]:
    """Markdown: ours vs the thesis recipe per class, SI-SDRi from the class name, another clip and the
    target's own clip, beside the oracle IRM and the mixture's own SI-SDR."""
    a, b = class_means(ours, "si_sdri", CORE_CLASSES), class_means(thesis, "si_sdri", CORE_CLASSES)
    mix = class_means(ours, "si_sdr", CORE_CLASSES)["mixture"]
    cols = [("class name", a, "class_mean"), ("other clip", a, "rq"), ("own clip", a, "gq"),
            ("class name", b, "class_mean"), ("other clip", b, "rq"), ("own clip", b, "gq")]
    lines = ["| class | ours: class name | ours: other clip | ours: own clip | thesis: class mean | "
             "thesis: other clip | thesis: own clip | oracle IRM | mixture SI-SDR |",
             "|---|---|---|---|---|---|---|---|---|"]
    for c in list(CORE_CLASSES) + ["mean"]:
        cells = [fmt(table.get(m, {}).get(c)) for _, table, m in cols]
        cells += [fmt(a["irm"].get(c)), fmt(mix.get(c))]
        lines.append(f"| {'**mean of classes**' if c == 'mean' else c} | " + " | ".join(cells) + " |")
    return lines


def fine_table(rows: list[Scored]) -> list[str]:
    """Thesis Table 4.2: coarse-class mean vs fine-label mean latents, SI-SDRi."""
    si = class_means([r for r in rows if r.method in ("class_mean", "fine_mean")], "si_sdri", CORE_CLASSES)
    if "fine_mean" not in si:
        return ["(the checkpoint has no fine-label latents for these targets)"]
    lines = ["| class | coarse mean | fine mean |", "|---|---|---|"]
    for c in list(CORE_CLASSES) + ["mean"]:
        lines.append(f"| {'**mean of classes**' if c == 'mean' else c} | {fmt(si['class_mean'].get(c))} | "
                     f"{fmt(si['fine_mean'].get(c))} |")
    return lines


def latent_figure(model, sets: dict, latents, out: Path) -> dict:
    """PCA of the reference-clip latents of every set, coloured by class; nearest-class-mean accuracy."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    zs, labels, where = [], [], []
    for name, es in sets.items():
        for item in es:
            zs.append(encode_clip(model, torch.from_numpy(item.reference)).numpy())
            labels.append(item.target_class)
            where.append(name)
    z = np.stack(zs)
    centred = z - z.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    explained = float((s[:2] ** 2).sum() / (s ** 2).sum())
    means = {c: latents["coarse"][c].numpy() for c in CORE_CLASSES if c in latents["coarse"]}
    names = list(means)
    dist = np.stack([np.linalg.norm(z - means[c], axis=1) for c in names], 1)
    nearest = [names[i] for i in dist.argmin(1)]
    accuracy = {n: float(np.mean([p == t for p, t, w in zip(nearest, labels, where) if w == n])) for n in sets}

    fig, ax = plt.subplots(figsize=(7.5, 6))
    cmap = plt.get_cmap("tab10")
    markers = {"fluidr3": "o", "musescore": "^", "timgm": "s"}
    for ci, c in enumerate(CORE_CLASSES):
        for n in sets:
            sel = [i for i, (lab, w) in enumerate(zip(labels, where)) if lab == c and w == n]
            if sel:
                ax.scatter(xy[sel, 0], xy[sel, 1], s=14, color=cmap(ci), marker=markers.get(n, "o"),
                           alpha=0.75, label=c if n == next(iter(sets)) else None)
    ax.set_title(f"Query latents of unseen reference clips (PCA, {100 * explained:.0f}% of variance)\n"
                 "o FluidR3  ^ MuseScore General  s TimGM6mb")
    ax.legend(fontsize=8, ncol=2)
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return {"pca_explained": explained, "nearest_class_mean_accuracy": accuracy}


def slerp_figure(model, evalset, latents, out: Path, steps: int = 7) -> dict:
    """Spectrograms of one mixture separated along slerp(z_A, z_B, t), t = 0..1 (thesis Fig. 4.4)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    item = next(it for it in evalset if it.target_class == "piano" and "drums" in it.others_classes)
    a, b = item.target_class, "drums"
    za, zb = latents["coarse"][a], latents["coarse"][b]
    mix = torch.from_numpy(item.mixture)[None]
    ts = np.linspace(0, 1, steps)
    fig, axes = plt.subplots(1, steps + 1, figsize=(2.2 * (steps + 1), 3.2), sharey=True)
    stft = model.stft

    def show(ax, audio: np.ndarray, title: str) -> None:
        mag = stft(torch.from_numpy(audio)).abs().numpy()
        ax.imshow(20 * np.log10(mag + 1e-5), origin="lower", aspect="auto", vmin=-80, vmax=20, cmap="magma",
                  extent=(0, len(audio) / item.sample_rate, 0, item.sample_rate / 2000))
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("s")

    show(axes[0], item.mixture, "mixture")
    for ax, t in zip(axes[1:], ts):
        show(ax, apply_model(model, mix, slerp(za, zb, float(t)))[0].numpy(), f"t={t:.2f}")
    axes[0].set_ylabel("kHz")
    fig.suptitle(f"slerp sweep {a} -> {b} (class-mean latents), item {item.id}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return {"item": item.id, "a": a, "b": b}


def training_log(runs: list[Path]) -> list[dict[str, str]]:
    """The logs of consecutive training stages as one curve: each stage (a run started with
    ``--init-from`` the previous one) counts its steps and seconds from zero, so they are offset by the
    previous stage's last row; ``stage`` says which run a row comes from."""
    rows: list[dict[str, str]] = []
    step0 = sec0 = 0.0
    for k, run in enumerate(runs):
        stage = list(csv.DictReader((run / "log.csv").open()))
        for r in stage:
            rows.append({**r, "step": str(int(step0 + float(r["step"]))),
                         "seconds": f"{sec0 + float(r['seconds']):.2f}", "stage": str(k + 1)})
        if stage:
            step0, sec0 = float(rows[-1]["step"]), float(rows[-1]["seconds"])
    return rows


def training_figure(runs: list[Path], out_png: Path, out_csv: Path) -> dict:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = training_log(runs)
    with out_csv.open("w", newline="") as f:
        writer = csv.DictWriter(f, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    step = np.array([float(r["step"]) for r in rows])
    loss = np.array([float(r["loss"]) for r in rows])
    val = [(float(r["step"]), float(r["valid_si_sdri"])) for r in rows if r.get("valid_si_sdri")]
    val_class = [(float(r["step"]), float(r["valid_class_si_sdri"]), float(r["valid_clip_si_sdri"]))
                 for r in rows if r.get("valid_class_si_sdri")]
    starts = [float(r["step"]) for prev, r in zip(rows, rows[1:]) if prev["stage"] != r["stage"]]
    fig, ax = plt.subplots(1, 2, figsize=(11, 3.6))
    k = max(1, len(loss) // 100)
    smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
    ax[0].plot(step, loss, alpha=0.25, lw=0.6)
    ax[0].plot(step[k - 1:], smooth, lw=1.2)
    ax[0].set_title("training loss")
    ax[0].set_xlabel("step")
    if loss.min() > 0:            # an SI-SDR term makes the loss negative: then a linear axis
        ax[0].set_yscale("log")
    if val_class:
        steps_v, by_class, by_clip = zip(*val_class)
        ax[1].plot(steps_v, by_class, marker="o", ms=3, label="from the class name")
        ax[1].plot(steps_v, by_clip, marker="o", ms=3, label="from another clip")
        ax[1].legend(fontsize=8)
        ax[1].set_title("validation SI-SDRi (dB, corpus valid split)")
    else:
        if val:
            ax[1].plot(*zip(*val), marker="o")
        ax[1].set_title("validation SI-SDRi (dB, ground-truth query)")
    ax[1].set_xlabel("step")
    for a in ax:
        for x in starts:
            a.axvline(x, color="grey", ls="--", lw=0.8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    cpu = rows[-1].get("cpu_seconds") or rows[-1]["seconds"]
    return {"steps": int(step[-1]), "seconds": float(rows[-1]["seconds"]), "cpu_seconds": float(cpu),
            "stage_starts": starts, "last_valid_si_sdri": val[-1][1] if val else None,
            "last_valid": val_class[-1] if val_class else None}


def shown_path(path) -> str:
    """A path as the report shows it: relative to the repository when inside it (no machine's own folders)."""
    p = Path(path).resolve()
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "engine/assets/default_model"), help="checkpoint folder")
    ap.add_argument("--evalsets", default=str(ROOT / "cache/corpus/evalset"),
                    help="folder holding the fluidr3/musescore/timgm evaluation sets")
    ap.add_argument("--run", action="append", default=[],
                    help="training run folder (log.csv) for the training curve; repeat it for consecutive "
                         "stages (a run started --init-from the previous one)")
    ap.add_argument("--thesis-model", default=str(THESIS_MODEL) if THESIS_MODEL.exists() else None,
                    help="a thesis-recipe checkpoint to report beside the model (default: the retired "
                         "engine/assets/thesis_model; 'none' to skip)")
    ap.add_argument("--out", default=str(ROOT / "docs"), help="where results.md/.json and figures go")
    ap.add_argument("--refine-iterations", type=int, default=1)
    ap.add_argument("--limit-per-class", type=int, help="only the first N items of each class (quick look)")
    ap.add_argument("--sets", default="fluidr3,musescore,timgm")
    ap.add_argument("--from-json", default=None, metavar="RESULTS_JSON",
                    help="no evaluation: write the SI-SDRi tables of results.md from a results.json this script "
                         "wrote earlier (its class means), next to that file")
    ap.add_argument("--no-bsseval", action="store_true",
                    help="SI-SDR only: skip BSSEval SDR (about 1 CPU-s per estimate, most of the cost)")
    args = ap.parse_args()
    if args.from_json:
        path = Path(args.from_json)
        path.with_name("results.md").write_text(summary_markdown(json.loads(path.read_text()), args))
        print(f"wrote {path.with_name('results.md')}")
        return 0
    torch.manual_seed(0)

    out = Path(args.out)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    model, meta = load_model(args.model)
    model.eval()
    latents = load_latents(args.model)
    plain = load_latents(args.model, plain=True)["coarse"]
    if any(not torch.equal(plain[k], latents["coarse"][k]) for k in plain):   # learned embeddings: no plain mean
        latents["coarse_plain"] = plain
    if not latents["coarse"]:
        print(f"{args.model}: no class latents (run `eventsep latents` first)", file=sys.stderr)
        return 2
    names = [s for s in args.sets.split(",") if s]
    sets = {n: load_evalset(Path(args.evalsets) / n) for n in names}
    t0 = time.time()
    bss = not args.no_bsseval
    rows = {n: evaluate_set(model, sets[n], latents, args.refine_iterations, args.limit_per_class, desc=n,
                            bsseval=bss)
            for n in names}
    thesis_rows = {}
    if args.thesis_model and args.thesis_model != "none":
        thesis, _ = load_model(args.thesis_model)
        thesis.eval()
        t_latents = load_latents(args.thesis_model)
        thesis_rows = {n: evaluate_set(thesis, sets[n], t_latents, 0, args.limit_per_class, desc=f"thesis {n}",
                                       methods=("gq", "rq", "class_mean"), bsseval=False)
                       for n in names}
    eval_seconds = time.time() - t0

    summary: dict = {"model": shown_path(args.model), "runs": [shown_path(r) for r in args.run],
                     "step": meta.get("step"), "source_commit": meta.get("source_commit"),
                     "query_net_parameters": count_parameters(model.query_net),
                     "separator_parameters": count_parameters(model.separator),
                     "refine_iterations": args.refine_iterations, "limit_per_class": args.limit_per_class,
                     "eval_seconds": round(eval_seconds, 1), "sets": {}}
    for n in names:
        summary["sets"][n] = {metric: class_means(rows[n], metric, CORE_CLASSES)
                              for metric in ("si_sdri", "sdri", "si_sdr", "sdr")}
        if n in thesis_rows:
            summary["sets"][n]["thesis_si_sdri"] = class_means(thesis_rows[n], "si_sdri", CORE_CLASSES)
    with torch.no_grad():
        summary["latent_figure"] = latent_figure(model, sets, latents, fig_dir / "latents_pca.png")
        if "fluidr3" in sets:
            summary["slerp_figure"] = slerp_figure(model, sets["fluidr3"], latents, fig_dir / "slerp_sweep.png")
    if args.run:
        summary["training"] = training_figure([Path(r) for r in args.run], fig_dir / "training_curve.png",
                                              out / "training_log.csv")

    checks = {}
    if "fluidr3" in names:
        f = summary["sets"]["fluidr3"]["si_sdri"]
        cm, irm, gq, rq = f["class_mean"]["mean"], f["irm"]["mean"], f["gq"]["mean"], f["rq"]["mean"]
        checks["class name >= 6 dB"] = cm >= 6.0
        checks["other-clip reference >= 5 dB"] = rq >= 5.0
        for n in names:
            if n != "fluidr3":
                checks[f"{n} class name >= 70% of FluidR3"] = (
                    summary["sets"][n]["si_sdri"]["class_mean"]["mean"] >= 0.7 * cm)
    summary["checks"] = checks
    (out / "results.json").write_text(json.dumps(summary, indent=1))
    (out / "results.md").write_text(render_markdown(summary, rows, names, args, thesis_rows))
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    print(f"wrote {out / 'results.md'} ({eval_seconds:.0f} s of evaluation)")
    return 0


def summary_markdown(summary: dict, args) -> str:
    """results.md from a results.json: per set, the SI-SDRi class means of every method (ours and, when
    present, the thesis recipe's), the latent-figure accuracy and the checks."""
    names = list(summary["sets"])
    methods = [("class_mean", "class name"), ("rq", "other clip"), ("gq", "own clip"),
               ("class_mean_refined", "class name + refine"), ("fine_mean", "fine label")]
    lines = ["# EventSep default model: evaluation report", "",
             "Produced by `benchmarks/results.py` (SI-SDRi in dB, improvement over the mixture, averaged per class; "
             "the last row averages the eight class means; BSSEval SDR skipped with `--no-bsseval`):", "",
             "```", ".venv/bin/python benchmarks/results.py --no-bsseval "
             + " ".join(f"--run {r}" for r in summary.get("runs") or ["RUN"]) + "   # evaluates, writes all",
             f".venv/bin/python benchmarks/results.py --from-json {getattr(args, 'from_json', None) or 'docs/results.json'}"
             "   # these tables again", "```", "",
             f"Model: step {summary['step']}, Query-net {summary['query_net_parameters']:,} parameters, Separator "
             f"{summary['separator_parameters']:,} parameters; evaluation took {summary['eval_seconds']:.0f} s. "
             "Class name = the model's learned class embedding; other clip = a reference clip of the class from "
             "another test piece; own clip = the target stem itself. Thesis = the previous default "
             "(`engine/assets/thesis_model`: own-clip training, class means taken after training).", ""]
    for n in names:
        si, th = summary["sets"][n]["si_sdri"], summary["sets"][n].get("thesis_si_sdri", {})
        cols = [(m, t) for m, t in methods if m in si]
        head = "| class | " + " | ".join(t for _, t in cols)
        head += " | thesis: class mean | thesis: other clip | thesis: own clip" if th else ""
        lines += [f"## {SETS.get(n, n)}", "", head + " | oracle IRM | mixture SI-SDR |",
                  "|" + "---|" * (len(cols) + (3 if th else 0) + 3)]
        for c in list(CORE_CLASSES) + ["mean"]:
            cells = [fmt(si[m].get(c)) for m, _ in cols]
            if th:
                cells += [fmt(th.get(m, {}).get(c)) for m in ("class_mean", "rq", "gq")]
            cells += [fmt(si["irm"].get(c)), fmt(summary["sets"][n]["si_sdr"]["mixture"].get(c))]
            lines.append(f"| {'**mean of classes**' if c == 'mean' else c} | " + " | ".join(cells) + " |")
        lines.append("")
    lf = summary.get("latent_figure")
    if lf:
        lines += ["## Query latents of unseen clips", "", "![latents](figures/latents_pca.png)", "",
                  "Nearest class-latent accuracy of the reference clips' latents: "
                  + ", ".join(f"{n} {100 * a:.0f}%" for n, a in lf["nearest_class_mean_accuracy"].items())
                  + " (chance 12.5%).", ""]
    if "slerp_figure" in summary:
        lines += ["## Slerp sweep", "", "![slerp](figures/slerp_sweep.png)", ""]
    lines += ["## Training curve", "", "![training](figures/training_curve.png)", "",
              "Raw log: [training_log.csv](training_log.csv); the runs: [training.md](training.md).", ""]
    if summary.get("checks"):
        lines += ["## Acceptance checks (issue 16)", ""]
        lines += [f"- {'PASS' if ok else 'FAIL'}: {name}" for name, ok in summary["checks"].items()] + [""]
    return "\n".join(lines)


def render_markdown(summary: dict, rows: dict, names: list[str], args, thesis_rows: dict) -> str:
    lines = ["# EventSep default model: evaluation report", "",
             "Produced by `benchmarks/results.py` (rerun it to reproduce every number here):", "",
             "```", ".venv/bin/python benchmarks/results.py " + " ".join(sys.argv[1:]), "```", "",
             f"Model: step {summary['step']}, Query-net {summary['query_net_parameters']:,} parameters, "
             f"Separator {summary['separator_parameters']:,} parameters. Iterative refinement: "
             f"{summary['refine_iterations']} iteration(s)."
             + (f" **Quick look: only {args.limit_per_class} items per class.**" if args.limit_per_class else ""),
             "",
             "Cells are **SI-SDRi / SDRi** in dB (improvement over the unprocessed mixture; SDR is BSSEval v4, "
             "1 s frames, median over frames), averaged over the items of each class; the last row averages "
             "the eight class means. The mixture column shows the mixture's own SI-SDR / SDR (its improvement "
             "is 0 by definition). GQ = latent of the target itself (own clip); RQ = latent of a clip of the "
             "same class from another piece (other clip); class mean = the checkpoint's class latent: for a "
             "model trained with learned class embeddings (the class-query recipe) that embedding, i.e. the "
             "class *name*; for a thesis-recipe model the mean of the Query-net's latents of 256 training clips "
             "of the class rescaled to the clips' mean norm (engine/latents.py), with the plain mean beside it; "
             "fine-label mean likewise per fine label; oracle IRM = "
             "|T|²/(|T|²+|R|²) on the same STFT, the upper bound of a mask.", ""]
    if thesis_rows:
        lines += ["## Ours vs the thesis recipe (SI-SDRi, dB)", "",
                  f"Ours: this model. Thesis: `{shown_path(args.thesis_model)}` (own-clip queries, VAE, latent "
                  "regression, "
                  "class means taken after training: the previous default model). Same items, same metric.", ""]
        for n in names:
            lines += [f"### {SETS.get(n, n)}", ""] + recipe_table(rows[n], thesis_rows[n]) + [""]
    for n in names:
        lines += [f"## {SETS.get(n, n)}", ""] + class_table(rows[n]) + [""]
    if "fluidr3" in names:
        lines += ["## Fine-label vs coarse-class mean latents (FluidR3; thesis Table 4.2), SI-SDRi", ""]
        lines += fine_table(rows["fluidr3"]) + [""]
    lf = summary["latent_figure"]
    lines += ["## Query latents of unseen clips", "",
              "![latents](figures/latents_pca.png)", "",
              f"PCA of the latents of every reference clip (test pieces, never trained on), "
              f"{100 * lf['pca_explained']:.0f}% of the variance in two components. Nearest class-mean "
              "accuracy (is a clip's latent closest to its own class mean?): "
              + ", ".join(f"{SETS[n].split(' (')[0]} {100 * a:.0f}%" for n, a in lf["nearest_class_mean_accuracy"].items())
              + " (chance 12.5%).", ""]
    if "slerp_figure" in summary:
        s = summary["slerp_figure"]
        lines += ["## Slerp sweep", "", "![slerp](figures/slerp_sweep.png)", "",
                  f"Item {s['item']} separated with slerp(z_{s['a']}, z_{s['b']}, t) for t from 0 to 1.", ""]
    if "training" in summary:
        t = summary["training"]
        lines += ["## Training curve", "", "![training](figures/training_curve.png)", "",
                  f"{t['steps']} steps in {t['seconds'] / 3600:.1f} h wall, {t['cpu_seconds'] / 3600:.1f} CPU-hours "
                  "of the training process"
                  + (f" (dashed: a new stage starts at step {', '.join(str(int(x)) for x in t['stage_starts'])})"
                     if t["stage_starts"] else "") + "; raw log: [training_log.csv](training_log.csv).", ""]
    if summary["checks"]:
        lines += ["## Acceptance checks (issue 16)", ""]
        lines += [f"- {'PASS' if ok else 'FAIL'}: {name}" for name, ok in summary["checks"].items()] + [""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
