"""``eventsep demo``: the README's main job. Separates the bundled demo set with the shipped default model,
each example once from its class name and once from its reference clip (another piece), writes the stems
and one PNG of spectrograms, and prints how much each improved on the mixture (SI-SDRi against the true
stem), per example and on average.

The demo set (``engine/assets/demo``, written by ``scripts/make_demo_set.py``) is 8 test-split examples,
one per core class, picked by a rule fixed before any model was scored on them: the first FluidR3
evaluation-set item of each class whose reference clip comes from another piece. ``--example`` also takes
one example folder (``example.json`` with ``mixture``, ``target``, ``reference``, ``target_class``).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .errors import EventSepError

DEMO_DIR = Path(__file__).resolve().parent / "assets" / "demo"
EXAMPLE_DIR = Path(__file__).resolve().parent / "assets" / "example"


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="separate the bundled demo set with the default model and score it",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="demo-output", help="folder for the results (default: demo-output)")
    p.add_argument("--model", help="checkpoint folder (default: the shipped model)")
    p.add_argument("--example", default=str(DEMO_DIR),
                   help="a demo set (folder with demo.json) or one example folder (with example.json) "
                        "(default: the bundled demo set)")
    p.add_argument("--no-png", action="store_true", help="do not draw the spectrogram PNG")
    p.set_defaults(func=cmd_demo)


def example_folders(path: Path) -> list[Path]:
    """The example folders of a demo set (``demo.json``) or the one example at ``path``."""
    if (path / "demo.json").is_file():
        listing = json.loads((path / "demo.json").read_text())
        return [path / name for name in listing["examples"]]
    if (path / "example.json").is_file():
        return [path]
    raise EventSepError(f"{path}: no demo set (demo.json) or example (example.json) here")


def cmd_demo(args) -> int:
    from .audio import load_audio, match_length
    from .checkpoint import load_model
    from .shipped import model_dir as _model_dir
    from .metrics import si_sdr
    from .separate import Query, separate_file

    folders = example_folders(Path(args.example))
    model_dir = _model_dir(args.model)
    model, meta = load_model(model_dir)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    print(f"model: {model_dir} (step {meta.get('step')}); {len(folders)} example(s) from {args.example}")
    examples, panels = [], []
    for folder in folders:
        info_path = folder / "example.json"
        if not info_path.is_file():
            raise EventSepError(f"{folder}: no example here (example.json missing)")
        info = json.loads(info_path.read_text())
        mixture = folder / info["mixture"]
        target, rate = load_audio(folder / info["target"], mono=True)
        mix, _ = load_audio(mixture, rate, mono=True)
        base = si_sdr(target, match_length(mix, target.shape[-1]))
        cls = info["target_class"]
        dest = out / folder.name if len(folders) > 1 else out
        results, estimates = [], {}
        for name, query, label in (
                ("from_class", Query(class_name=cls), f"class name '{cls}'"),
                ("from_reference", Query(query=str(folder / info["reference"])), "reference clip")):
            t0 = time.perf_counter()
            z = query.resolve(model, model_dir)
            est_path, res_path = dest / f"{name}.wav", dest / f"{name}_residual.wav"
            result = separate_file(model, mixture, est_path, z, residual_out=res_path)
            est = match_length(result.estimate.mean(0, keepdims=True), target.shape[-1])
            estimates[name] = est[0]
            results.append({"query": label, "estimate": str(est_path), "residual": str(res_path),
                            "si_sdri_db": round(si_sdr(target, est) - base, 2),
                            "seconds": round(time.perf_counter() - t0, 2)})
        gains = {r["query"].split()[0]: r["si_sdri_db"] for r in results}
        what = f"{cls} ({info['target_fine']})" if info.get("target_fine") else cls
        print(f"  {folder.name:<16} {what[:40]:<40}  class name {gains['class']:+6.2f} dB"
              f"   reference clip {gains['reference']:+6.2f} dB")
        examples.append({"example": folder.name, "info": info, "mixture_si_sdr_db": round(base, 2),
                         "results": results})
        panels.append((f"{folder.name}: {cls}", mix[0], estimates["from_class"], estimates["from_reference"],
                       target[0], rate))
    means = {key: round(float(np.mean([e["results"][i]["si_sdri_db"] for e in examples])), 2)
             for i, key in enumerate(("class_name", "reference_clip"))}
    plural = "" if len(examples) == 1 else "s"
    print(f"mean SI-SDRi over {len(examples)} example{plural}: from the class name {means['class_name']:+.2f} dB, "
          f"from the reference clip {means['reference_clip']:+.2f} dB")
    report = {"model": str(model_dir), "model_step": meta.get("step"), "mean_si_sdri_db": means,
              "examples": examples}
    if len(examples) == 1:          # the one-example layout of earlier versions
        report.update(example=examples[0]["info"], results=examples[0]["results"],
                      mixture_si_sdr_db=examples[0]["mixture_si_sdr_db"])
    (out / "demo.json").write_text(json.dumps(report, indent=1))
    if not args.no_png:
        spectrogram_sheet(panels, out / "demo.png")
    print(f"wrote {out}/ (estimates, residuals = mixture - estimate, demo.json"
          f"{'' if args.no_png else ', demo.png'})")
    return 0


def spectrogram_sheet(panels, path: Path) -> Path:
    """One row per example: mixture, estimate from the class name, from the reference clip, true stem."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.signal import stft

    titles = ("mixture", "from class name", "from reference clip", "true stem")
    fig, axes = plt.subplots(len(panels), 4, figsize=(14, 1.9 * len(panels) + 0.6), squeeze=False,
                             sharex=True, sharey=True)
    for row, (label, *signals, rate) in enumerate(panels):
        ref = None
        for col, sig in enumerate(signals):
            f, t, spec = stft(sig, rate, nperseg=1024, noverlap=768)
            db = 20 * np.log10(np.abs(spec) + 1e-6)
            ref = db.max() if ref is None else ref           # one colour scale per row (the mixture's)
            ax = axes[row, col]
            ax.pcolormesh(t, f / 1000, db, vmin=ref - 80, vmax=ref, shading="auto", cmap="magma")
            if row == 0:
                ax.set_title(titles[col])
            if col == 0:
                ax.set_ylabel(f"{label}\nkHz", fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("s")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
