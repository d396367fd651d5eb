"""``eventsep``: the command line. Thin: parses options, calls the engine, prints clear errors."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from .errors import EventSepError
from .shipped import DEFAULT_MODEL_DIR as DEFAULT_MODEL  # noqa: F401  (the shipped model's folder)
from .shipped import model_dir as _model_dir


def _csv_ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) <= 0:
        raise argparse.ArgumentTypeError("widths must be positive")
    return values


def _unit(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


# --------------------------------------------------------------------------------------------------- train

def add_train(sub) -> None:
    from .sources import SOURCE_HELP

    p = sub.add_parser("train", help="train Query-net + Separator on a stem source",
                       description="Train Query-net + Separator (thesis recipe) on mixtures built from a stem "
                                   "source. Resumes when OUT already holds a run. Works unchanged under "
                                   "'torchrun --nproc_per_node N -m engine.cli train ...'.")
    p.add_argument("--out", required=True, help="run folder: checkpoint, training state, log.csv, best/")
    p.add_argument("--source", default="corpus", help=SOURCE_HELP + " (default: corpus)")
    p.add_argument("--valid-source", default=None,
                   help="stem source for validation (default: the training source's 'valid' split)")
    p.add_argument("--steps", type=int, default=10000, help="total optimisation steps (default: 10000)")
    p.add_argument("--batch-size", type=int, default=5, help="mixtures per step (default: 5, as the thesis)")
    p.add_argument("--lr", type=float, default=None,
                   help="Adam learning rate (default: 2e-4; given with a resumed or forked run, it changes that "
                        "run's learning rate from here on)")
    p.add_argument("--lr-decay-start", type=int, default=200_000,
                   help="step from which lr drops by --lr-decay-amount every --lr-decay-every steps "
                        "(default: 200000, as the thesis)")
    p.add_argument("--lr-decay-every", type=int, default=10_000,
                   help="steps between learning-rate drops after --lr-decay-start (default: 10000)")
    p.add_argument("--lr-decay-amount", type=float, default=5e-6,
                   help="learning-rate drop at each of those steps (default: 5e-6)")
    p.add_argument("--lr-min", type=float, default=1e-6, help="the learning rate never drops below this (1e-6)")
    p.add_argument("--lambda-recon", type=float, default=10.0, help="weight of the L1 reconstruction (10)")
    p.add_argument("--lambda-kl", type=float, default=0.01, help="weight of the KL term (0.01)")
    p.add_argument("--lambda-latent", type=float, default=0.5, help="weight of the latent regression (0.5)")
    p.add_argument("--max-classes", type=int, default=4, help="at most this many classes per mixture (4)")
    p.add_argument("--single-target", action="store_true",
                   help="one always-sounding target class per mixture, 1-3 others as the rest (default: the "
                        "thesis' random target groups)")
    p.add_argument("--query-other", type=float, default=0.0,
                   help="with --single-target: probability that the query is another clip of the target's "
                        "class from another piece, not the target itself (default 0: the thesis' recipe)")
    p.add_argument("--p-active", type=float, default=0.5,
                   help="probability that a drawn source sounds in its mixture (thesis: 0.5)")
    p.add_argument("--segment-seconds", type=float, default=None, help="segment length (default: 3.0; tiny: 1.0)")
    p.add_argument("--separator-widths", type=_csv_ints, default=None,
                   help="U-Net encoder widths, comma-separated (default: 16,32,64,128,256,512)")
    p.add_argument("--query-widths", type=_csv_ints, default=None,
                   help="Query-net conv widths, 6 values (default: 32,32,64,64,128,128)")
    p.add_argument("--latent-dim", type=int, default=None, help="latent size (default: 32)")
    p.add_argument("--recipe", default="thesis", choices=("thesis", "classquery"),
                   help="thesis: own-clip query, VAE, latent regression; classquery: learned class embeddings "
                        "and other-clip queries, absent targets trained (SPEC 2a) (default: thesis)")
    p.add_argument("--arch", default="unet", choices=("unet", "fcgru", "melgru", "tcn"),
                   help="separator design: the thesis U-Net, or a streamable one (default: unet)")
    p.add_argument("--hidden", type=int, default=None, help="width of a streamable design (default: 256)")
    p.add_argument("--core-layers", type=int, default=None,
                   help="GRU or TCN layers of a streamable design (default: 2)")
    p.add_argument("--lookahead", type=int, default=None,
                   help="frames a streamable design looks ahead (default: 1)")
    p.add_argument("--p-absent", type=float, default=0.1,
                   help="classquery: probability that the queried class is absent from the mixture (0.1)")
    p.add_argument("--p-class-query", type=float, default=0.5,
                   help="classquery: probability of conditioning on the class embedding, not a clip (0.5)")
    p.add_argument("--lambda-align", type=float, default=0.1,
                   help="classquery: weight of the clip-latent/class-embedding classification (0.1)")
    p.add_argument("--lambda-si-sdr", type=float, default=0.0,
                   help="classquery: weight of -SI-SDR (dB) of the waveform estimate (default 0: L1 only)")
    p.add_argument("--timbre-aug", type=float, default=None,
                   help="classquery: probability that a stem goes through a random equaliser, so the model "
                        "learns classes rather than one soundfont's timbres (default 0; given with a resumed "
                        "or forked run, it changes that run's recipe from here on)")
    p.add_argument("--p-ensemble", type=float, default=None,
                   help="classquery: share of mixtures made of parts of one piece played together, as the "
                        "evaluation items are (needs --source bank+ensembles and `eventsep corpus ensembles`; "
                        "default 0; given with a resumed or forked run, it changes that run's recipe from here on)")
    p.add_argument("--fork-from", default=None, metavar="RUN",
                   help="start OUT as a copy of RUN's last checkpoint (weights, optimiser, log, CPU clock), "
                        "then continue with the recipe changes given here (--timbre-aug, --p-ensemble, --lr)")
    p.add_argument("--adam-beta1", type=float, default=None,
                   help="Adam's beta1 (default: 0.5 as the thesis; 0.9 with --recipe classquery)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--max-cpu-seconds", type=float, default=None,
                   help="stop at the first checkpoint after this much logged CPU time of the training process "
                        "(designs compared at equal CPU time; the same command with a larger value continues)")
    p.add_argument("--tiny", action="store_true", help="the tiny registered model (tests, smoke runs)")
    p.add_argument("--workers", type=int, default=0, help="data-loader worker processes (default: 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights, data and noise (default: 0)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default: auto)")
    p.add_argument("--validate-every", type=int, default=500, help="steps between validations (500)")
    p.add_argument("--valid-batches", type=int, default=8, help="fixed validation batches (8)")
    p.add_argument("--checkpoint-every", type=int, default=250, help="steps between checkpoints (250)")
    p.add_argument("--no-resume", action="store_true", help="start afresh even if OUT holds a run")
    p.add_argument("--init-from", default=None, help="start from this checkpoint's weights")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def cmd_train(args) -> int:
    from .config import ModelConfig, TrainConfig, tiny_model_config
    from .sources import open_stem_source
    from .train import train

    overrides = {}
    if args.segment_seconds is not None:
        overrides["segment_seconds"] = args.segment_seconds
    if args.separator_widths:
        overrides["separator_channels"] = args.separator_widths
    if args.query_widths:
        if len(args.query_widths) != 6:
            raise EventSepError("--query-widths takes 6 values (the Query-net has 6 conv layers)")
        overrides["query_channels"] = args.query_widths
    if args.latent_dim:
        overrides["latent_dim"] = args.latent_dim
    overrides["arch"] = args.arch
    for name in ("hidden", "core_layers", "lookahead"):
        if getattr(args, name) is not None:
            if getattr(args, name) < (0 if name == "lookahead" else 1):
                raise EventSepError(f"--{name.replace('_', '-')} is too small")
            overrides[name] = getattr(args, name)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    for name in ("p_absent", "p_class_query", "timbre_aug", "p_ensemble"):
        if getattr(args, name) is not None and not 0.0 <= getattr(args, name) <= 1.0:
            raise EventSepError(f"--{name.replace('_', '-')} must be in [0, 1]")
    model_cfg = tiny_model_config(**overrides) if args.tiny else ModelConfig(**overrides)
    for name, value in (("steps", args.steps), ("batch-size", args.batch_size), ("max-classes", args.max_classes)):
        if value < 1:
            raise EventSepError(f"--{name} must be at least 1")
    if not 0.0 < args.p_active <= 1.0:
        raise EventSepError("--p-active must be in (0, 1]")
    if not 0.0 <= args.query_other <= 1.0:
        raise EventSepError("--query-other must be in [0, 1]")
    if args.query_other and not args.single_target:
        raise EventSepError("--query-other needs --single-target (the query is a clip of the one target class)")
    if args.lr is not None and not 0.0 < args.lr < 1.0:
        raise EventSepError("--lr must be in (0, 1)")
    cfg = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr or 2e-4, p_active=args.p_active,
                      single_target=args.single_target, query_other=args.query_other,
                      lr_decay_start=args.lr_decay_start, lr_decay_every=args.lr_decay_every,
                      lr_decay_amount=args.lr_decay_amount, lr_min=args.lr_min, lambda_recon=args.lambda_recon,
                      lambda_kl=args.lambda_kl, lambda_latent=args.lambda_latent, max_classes=args.max_classes,
                      seed=args.seed, num_workers=args.workers, validate_every=args.validate_every,
                      valid_batches=args.valid_batches, checkpoint_every=args.checkpoint_every,
                      recipe=args.recipe, p_absent=args.p_absent, p_class_query=args.p_class_query,
                      lambda_align=args.lambda_align, lambda_si_sdr=args.lambda_si_sdr,
                      timbre_aug=args.timbre_aug or 0.0, p_ensemble=args.p_ensemble or 0.0,
                      betas=(args.adam_beta1 if args.adam_beta1 is not None else
                             0.9 if args.recipe == "classquery" else 0.5, 0.999))
    source = open_stem_source(args.source, "train", model_cfg.sample_rate)
    valid = open_stem_source(args.valid_source or args.source, "valid", model_cfg.sample_rate)
    if args.fork_from:
        from .train import fork_run

        if args.no_resume or args.init_from:
            raise EventSepError("--fork-from continues a run: it does not go with --no-resume or --init-from")
        try:
            fork_run(args.fork_from, args.out)
        except (FileNotFoundError, FileExistsError) as e:
            raise EventSepError(str(e)) from None
    changes = {name: getattr(args, name) for name in ("timbre_aug", "p_ensemble", "lr")
               if getattr(args, name) is not None}
    t0 = time.time()
    result = train(args.out, source, valid, model_cfg, cfg, device=args.device, resume=not args.no_resume,
                   init_from=args.init_from, progress=not args.quiet, max_cpu_seconds=args.max_cpu_seconds,
                   recipe_changes=changes)
    print(f"trained {result.step} steps into {result.run_dir} in {time.time() - t0:.1f} s")
    return 0


# --------------------------------------------------------------------------------------------------- latents

def add_latents(sub) -> None:
    from .sources import SOURCE_HELP

    p = sub.add_parser("latents", help="compute class-mean latents (coarse and fine) for a checkpoint",
                       description="Average mu(Q(segment)) over every non-silent segment of each class "
                                   "(coarse classes and fine labels) and store them beside the checkpoint "
                                   "(latents.safetensors + latents.json).")
    p.add_argument("checkpoint", help="checkpoint folder (config.json + model.safetensors)")
    p.add_argument("--source", default="corpus", help=SOURCE_HELP + " (default: corpus)")
    p.add_argument("--split", default="train", help="split of the source (default: train)")
    p.add_argument("--per-class", type=int, default=256,
                   help="random excerpts per coarse class, drawn as training draws them (default: 256); "
                        "0 walks every segment of the split in order (slow on the full corpus)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random excerpts (default: 0)")
    p.add_argument("--from-clips", action="store_true",
                   help="for a model with learned class embeddings (--recipe classquery): replace them by means "
                        "of clip latents (the thesis' class means); without it such a model's class latents "
                        "are rewritten from its embeddings")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_latents)


def cmd_latents(args) -> int:
    from .checkpoint import load_model
    from .latents import compute_and_save
    from .sources import open_stem_source

    ckpt = _model_dir(args.checkpoint)
    model, _ = load_model(ckpt)
    if model.config.class_vocab and not args.from_clips:
        from .checkpoint import save_learned_latents

        save_learned_latents(ckpt, model)
        print(f"{ckpt}: class latents = the model's {len(model.config.class_vocab)} learned class embeddings "
              f"(--from-clips for means of clip latents instead)")
        return 0
    source = open_stem_source(args.source, args.split, model.config.sample_rate)
    if args.per_class < 0:
        raise EventSepError("--per-class must be 0 (every segment) or more")
    counts = compute_and_save(model, source, ckpt, args.per_class or None, args.seed, progress=not args.quiet)
    for level in ("coarse", "fine"):
        print(f"{level}: " + ", ".join(f"{k} ({v})" for k, v in sorted(counts[level].items())))
    return 0


def add_classes(sub) -> None:
    p = sub.add_parser("classes", help="list the class names a checkpoint knows",
                       description="List the coarse classes and fine labels with class-mean latents.")
    p.add_argument("--model", default=None, help="checkpoint folder (default: the shipped model)")
    p.set_defaults(func=cmd_classes)


def cmd_classes(args) -> int:
    from .separate import class_names

    names = class_names(_model_dir(args.model))
    if not names["coarse"] and not names["fine"]:
        print("this checkpoint has no class latents; run 'eventsep latents' on it")
        return 1
    print("coarse: " + ", ".join(names["coarse"]))
    print("fine:   " + ", ".join(names["fine"]))
    return 0


# --------------------------------------------------------------------------------------------------- separate

def add_separate(sub) -> None:
    p = sub.add_parser(
        "separate", help="separate a source from audio files (offline)",
        description="Separate the source a query describes from one or more files (any format, rate, "
                    "channel count and length). With several inputs or a folder, OUT is a folder. "
                    "The query is a reference clip (--query) or a class name (--class); a second query "
                    "(--query-b/--class-b) and --interp move between them (slerp).")
    p.add_argument("inputs", nargs="+", help="mixture file(s) or folder(s) of audio files")
    p.add_argument("-o", "--out", required=True,
                   help="output file (one input) or folder (several inputs, or a folder input, whose "
                        "subfolders are kept)")
    p.add_argument("--model", default=None, help="checkpoint folder (default: the shipped model)")
    q = p.add_mutually_exclusive_group()
    q.add_argument("--query", metavar="REF", help="reference clip of the sound to keep (query A)")
    q.add_argument("--class", dest="class_name", metavar="NAME", help="class name or fine label (query A)")
    qb = p.add_mutually_exclusive_group()
    qb.add_argument("--query-b", metavar="REF2", help="second reference clip (query B)")
    qb.add_argument("--class-b", metavar="NAME2", help="second class name (query B)")
    p.add_argument("--interp", type=_unit, default=0.0, help="slerp position A (0) -> B (1) (default: 0)")
    p.add_argument("--iterate", type=int, default=0, help="iterative refinement passes (default: 0)")
    p.add_argument("--channel-mode", choices=["mono", "per_channel"], default="mono",
                   help="one mask from the channel mean (mono, as the live effect's default, which then "
                        "gives this same output, delayed) or one mask per channel (per_channel); streamable "
                        "models only, the thesis U-Net always masks each channel (default: mono)")
    p.add_argument("--synthesis", choices=["short", "full"], default="short",
                   help="synthesis window of a streamable model: short (the analysis window's last 3 hops, as "
                        "the live effect's stateful settings and the VST3: one hop less latency live, -0.01 dB on "
                        "validation) or full (the whole analysis window, as the windowed settings) "
                        "(default: short)")
    p.add_argument("--residual", metavar="OUT2", default=None,
                   help="also write everything but the target: a file (one input) or a folder (laid out as --out)")
    p.add_argument("--format", default=None, choices=["wav", "flac", "ogg", "mp3"],
                   help="output format for folder outputs (default: wav)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace outputs that already exist (without it the command stops before any work)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_separate)


def _collect_inputs(inputs: list[str]) -> list[tuple[Path, Path]]:
    """Every audio file the inputs name, once, as ``(path, name under OUT)``: a folder's files keep their
    subfolders (``in/a/song.wav`` -> ``a/song``), a file given by itself its bare name."""
    from .audio import is_audio_file

    files: list[tuple[Path, Path]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if is_audio_file(p))
            if not found:
                raise EventSepError(f"{path}: the folder holds no audio files")
            files += [(p, p.relative_to(path).with_suffix("")) for p in found]
        elif path.exists():
            files.append((path, Path(path.stem)))
        else:
            raise EventSepError(f"{path}: no such file or folder")
    seen: set[Path] = set()                                    # a file named twice is separated once
    return [(f, rel) for f, rel in files if not (f.resolve() in seen or seen.add(f.resolve()))]


def _separator(args):
    """``separate_file(path, out, residual)`` for the chosen model: the shipped one through its ONNX bundle
    (no PyTorch import: the command starts in a fraction of a second), any other checkpoint in PyTorch."""
    query = (args.query, args.class_name, args.query_b, args.class_b, args.interp)
    ckpt = _model_dir(args.model)
    if args.model is None:
        from . import separate_bundle

        models = separate_bundle.default_models(ckpt)
        if models is not None:
            z = separate_bundle.BundleQuery(*query).resolve(models)
            return lambda path, out, residual: separate_bundle.separate_file(
                models, path, out, z, residual, args.iterate, channel_mode=args.channel_mode,
                synthesis=args.synthesis)
    from .checkpoint import load_model
    from .separate import Query, separate_file

    model, _ = load_model(ckpt)
    z = Query(*query).resolve(model, ckpt)
    return lambda path, out, residual: separate_file(model, path, out, z, residual, args.iterate,
                                                     progress=not args.quiet, channel_mode=args.channel_mode,
                                                     synthesis=args.synthesis)


def _separate_outputs(path: Path, rel: Path, out: Path, residual_arg: str | None, fmt: str | None,
                      batch: bool) -> tuple[Path, Path, str | None, Path | None]:
    """Where ``eventsep separate`` writes ``path``'s estimate and residual (``rel``: its name under a batch's
    output folder, without extension), and why it cannot (an output that is the input itself), as
    ``(input, estimate, reason or None, residual or None)``."""
    from .audio import input_clash

    ext = "." + fmt if fmt else (path.suffix if not batch else ".wav")
    name = rel.with_name(rel.name + ext)
    target = out / name if batch else (out if out.suffix else out / (path.stem + ".wav"))
    residual = None
    if residual_arg:
        r = Path(residual_arg)
        residual = r / name if batch else (r if r.suffix else r / (path.stem + ext))
    return path, target, input_clash(path, (target, residual)), residual


def cmd_separate(args) -> int:
    from tqdm import tqdm

    from .audio import refuse_existing, refuse_shared_outputs

    if args.iterate < 0:
        raise EventSepError("--iterate must be 0 or more")
    if args.query is None and args.class_name is None:
        raise EventSepError("say what to separate: --query REF or --class NAME")
    files = _collect_inputs(args.inputs)
    out = Path(args.out)
    batch = len(files) > 1 or any(Path(i).is_dir() for i in args.inputs)
    if batch and out.suffix and not out.is_dir():
        raise EventSepError(f"{out}: with several inputs, --out must be a folder")
    plan = [_separate_outputs(path, rel, out, args.residual, args.format, batch) for path, rel in files]
    if not batch and plan[0][2]:
        raise EventSepError(plan[0][2])
    # every output is checked before the model loads, so a rerun replaces nothing unasked
    writes = [(path, p) for path, target, clash, residual in plan if not clash for p in (target, residual)]
    refuse_shared_outputs(writes)
    refuse_existing([p for _, p in writes], args.overwrite)
    separate_file = _separator(args)
    failures = 0
    bar = tqdm(plan, desc="files", unit="file", disable=args.quiet or not batch)
    for path, target, clash, residual in bar:
        if clash:
            failures += 1
            bar.write(f"skipped {path}: {clash}")
            continue
        t0 = time.time()
        try:
            result = separate_file(path, target, residual)
        except EventSepError as e:
            if not batch:
                raise
            failures += 1
            bar.write(f"skipped {path}: {e}")
            continue
        for w in result.warnings:
            bar.write(f"warning: {path}: {w}")
        seconds = result.estimate.shape[-1] / result.sample_rate
        bar.write(f"{path} -> {target}" + (f" (+ {residual})" if residual else "") +
                  f"  [{seconds:.1f} s audio in {time.time() - t0:.1f} s]")
    if failures:
        print(f"{failures} of {len(files)} files could not be separated", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------------------------------- eval

def add_eval(sub) -> None:
    p = sub.add_parser("eval", help="score a folder of estimates against a folder of references",
                       description="Score estimates against references matched by file name: BSSEval v4 "
                                   "SDR (median over 1 s frames), energy-ratio SDR and SI-SDR; with "
                                   "--mixtures also SDRi and SI-SDRi. Prints a table; --csv saves it.")
    p.add_argument("estimates", help="folder of estimated sources")
    p.add_argument("references", help="folder of reference sources (same file names)")
    p.add_argument("--mixtures", default=None, help="folder of the mixtures, for improvements")
    p.add_argument("--csv", default=None, help="also write the table as CSV here")
    p.set_defaults(func=cmd_eval)


def cmd_eval(args) -> int:
    import csv

    import numpy as np

    from .audio import is_audio_file, load_audio, match_length
    from .metrics import score

    est_dir, ref_dir = Path(args.estimates), Path(args.references)
    for d in (est_dir, ref_dir) + ((Path(args.mixtures),) if args.mixtures else ()):
        if not d.is_dir():
            raise EventSepError(f"{d}: no such folder")
    refs = {p.stem: p for p in ref_dir.iterdir() if is_audio_file(p)}
    ests = {p.stem: p for p in est_dir.iterdir() if is_audio_file(p)}
    names = sorted(set(refs) & set(ests))
    if not names:
        raise EventSepError(f"no file names in common between {est_dir} and {ref_dir}")
    missing = sorted(set(refs) - set(ests))
    mixes = ({p.stem: p for p in Path(args.mixtures).iterdir() if is_audio_file(p)} if args.mixtures else {})
    rows = []
    for name in names:
        ref, rate = load_audio(refs[name])
        est, _ = load_audio(ests[name], rate)
        est = match_length(est, ref.shape[-1])
        mix = match_length(load_audio(mixes[name], rate)[0], ref.shape[-1]) if name in mixes else None
        if est.shape[0] != ref.shape[0]:
            est = np.broadcast_to(est.mean(0, keepdims=True), ref.shape)
        rows.append({"name": name, **score(ref, est, mix, rate)})
    keys = [k for k in ("sdr", "sdr_energy", "si_sdr", "sdri", "sdr_energy_i", "si_sdri") if k in rows[0]]
    width = max(len("file"), *(len(r["name"]) for r in rows))
    print(f"{'file':<{width}}  " + "  ".join(f"{k:>12}" for k in keys))
    for r in rows:
        print(f"{r['name']:<{width}}  " + "  ".join(f"{r[k]:12.2f}" for k in keys))
    for label, fn in (("mean", np.nanmean), ("median", np.nanmedian)):
        print(f"{label:<{width}}  " + "  ".join(f"{fn([r[k] for r in rows]):12.2f}" for k in keys))
    if missing:
        print(f"no estimate for {len(missing)} reference(s): {', '.join(missing[:5])}", file=sys.stderr)
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, ["name"] + keys)
            w.writeheader()
            for r in rows:
                w.writerow({k: r[k] for k in ["name"] + keys})
    return 0


# --------------------------------------------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eventsep",
        description="EventSep: pull one sound out of a mix, from a reference clip, a class name or text.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debugging detail and tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    add_separate(sub)
    add_train(sub)
    add_latents(sub)
    add_classes(sub)
    add_eval(sub)
    from .demo import add_parser as add_demo
    add_demo(sub)
    from export.cli import add_parser as add_export
    add_export(sub)
    from export.quantize import add_parser as add_quantize
    add_quantize(sub)
    from plugin_host.cli import add_parser as add_host
    add_host(sub)
    from .detection.cli import add_parser as add_detect
    add_detect(sub)
    from .text_cli import add_parser as add_text
    add_text(sub)
    from gui.cli import add_parser as add_panel
    add_panel(sub)
    try:
        from .corpus.cli import add_parser as add_corpus
    except ImportError:
        add_corpus = None
    if add_corpus is not None:
        add_corpus(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except EventSepError as e:
        if args.verbose:
            raise
        print(f"eventsep {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
