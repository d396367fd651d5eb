"""``eventsep text``: the whole EventSep pipeline for a text prompt. Registered by ``engine.cli``; the
parser imports nothing heavy until the command runs."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .errors import EventSepError


def _mask_threshold(text: str) -> float:
    """``--threshold``: in (0, 1] (the knee of a soft or root mask may sit at the curve's top)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1], got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def add_parser(sub) -> None:
    from .text_options import (DEFAULT_GATE_DEPTH_DB, DEFAULT_MASK, DEFAULT_PRESENCE, DEFAULT_RELATIVE,
                               DEFAULT_STEPS, DEFAULT_THRESHOLDS, ENSEMBLES, MASKS, PRESENCE, WHENS,
                               EnsembleConfig)

    e = EnsembleConfig()
    p = sub.add_parser(
        "text", help="separate what a text prompt names: text -> class, U-Net + generative, temporal mask",
        description="The full EventSep pipeline: the prompt picks a class (and a fine label when it names an "
                    "instrument); the U-Net and the generative (flow) separator extract it; their outputs "
                    "are combined in the STFT domain; a probability curve that the class sounds (the "
                    "target-activity model's, from the mixture and the U-Net's estimate) gates the result in "
                    "time. Any input format, rate, channel count and length. "
                    "'eventsep text MIX PROMPT -o OUT' for one file, "
                    "'eventsep text --batch DIR PROMPT -o OUTDIR' for a folder.")
    p.add_argument("args", nargs="+", metavar="MIX PROMPT",
                   help="the mixture file and the prompt (with --batch: the prompt only)")
    p.add_argument("-o", "--out", required=True, help="output file (or folder, with --batch)")
    p.add_argument("--batch", metavar="DIR", default=None, help="process every audio file in DIR")
    p.add_argument("--mask", choices=MASKS, default=DEFAULT_MASK, help=f"temporal mask (default: {DEFAULT_MASK})")
    own = ", ".join(f"{m} {t:g}" for m, t in DEFAULT_THRESHOLDS.items() if m != "none")
    p.add_argument("--threshold", type=_mask_threshold, default=None,
                   help="where the mask's knee reaches full gain (soft, root) or its step sits (hard) on the "
                        "class probability, in (0, 1]; at 1 the root mask is the square root of the curve "
                        f"(default: each mask's own, picked on validation data: {own})")
    p.add_argument("--when", choices=WHENS, default="activity",
                   help="the mask's curve: 'activity' = the target-activity model on the mixture and the "
                        "U-Net's estimate (default), 'detector' = the detector on the mixture alone")
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--absolute", dest="relative", action="store_false",
                       help="use the calibrated probability as is" + (" (default)" if not DEFAULT_RELATIVE else ""))
    scale.add_argument("--relative", dest="relative", action="store_true",
                       help="scale the calibrated probability by its 95th percentile in the file, as the prompt "
                            "says the class is there" + (" (default)" if DEFAULT_RELATIVE else ""))
    p.set_defaults(relative=DEFAULT_RELATIVE)
    p.add_argument("--presence", choices=PRESENCE, default=DEFAULT_PRESENCE,
                   help="is the class in the file at all? 'gate': judge it (the detector's evidence, the "
                        "target-activity model and the separator's output) and turn the output down by "
                        "--gate-depth when the evidence says it is not (the score under the calibration's "
                        "gate threshold); 'report': judge and report it, output unchanged; 'off': assume it "
                        "is there (default: " + DEFAULT_PRESENCE + ")")
    p.add_argument("--gate-depth", type=float, default=DEFAULT_GATE_DEPTH_DB, metavar="DB",
                   help="how far --presence gate turns a judged-absent output down, in dB, 0-200 "
                        f"(default: {DEFAULT_GATE_DEPTH_DB:.0f}: near-silence that a wrong decision can be "
                        "turned back up from)")
    p.add_argument("--ensemble", choices=ENSEMBLES, default=e.mode,
                   help=f"how U-Net and generative outputs combine (default: {e.mode})")
    p.add_argument("--weight", type=float, default=e.weight,
                   help=f"rate ensemble: the U-Net's share, 0-1 (default: {e.weight})")
    p.add_argument("--crossover", type=float, default=e.crossover_hz,
                   help=f"band/progressive ensembles: crossover frequency in Hz (default: {e.crossover_hz:.0f})")
    p.add_argument("--steps", type=int, default=DEFAULT_STEPS,
                   help=f"Euler steps of the generative separator (default: {DEFAULT_STEPS})")
    p.add_argument("--seed", type=int, default=0, help="noise seed of the generative separator (default: 0)")
    p.add_argument("--report", metavar="DIR", default=None, help="write a JSON and PNGs of each run here")
    p.add_argument("--residual", metavar="OUT2", default=None,
                   help="also write the input minus the output (a file, or a folder with --batch)")
    p.add_argument("--model", default=None, help="U-Net checkpoint folder (default: the shipped model)")
    p.add_argument("--flow", default=None, help="generative model folder (default: the shipped one)")
    p.add_argument("--detector", default=None, help="detector folder (default: the shipped one)")
    p.add_argument("--activity", default=None, help="target-activity model folder (default: the shipped one)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace outputs that already exist (without it the command stops before any work)")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_text)


def presence_line(result, config) -> str:
    """The console line of the WHETHER decision (``config``: the run's :class:`PipelineConfig`)."""
    p, name, mode = result.presence, result.target.coarse, config.presence
    if p.present:
        return f"presence of {name}: {p.score:.2f} (threshold {p.threshold:.2f}): in the file"
    if mode != "gate":
        consequence = "output kept (--presence report)"
    elif p.gated:
        consequence = f"the output is turned down by {config.gate_depth_db:.0f} dB (near-silence)"
    else:   # between the two thresholds: not sure enough to throw the output away
        consequence = f"output kept (score above the gate threshold {p.gate_threshold:.2f})"
    return f"presence of {name}: {p.score:.2f} (threshold {p.threshold:.2f}): NOT in the file; {consequence}"


def _plan(args) -> tuple[str, list[tuple[Path, Path]], bool]:
    from .audio import is_audio_file

    out = Path(args.out)
    if args.batch:
        if len(args.args) != 1:
            raise EventSepError("with --batch DIR give only the prompt: eventsep text --batch DIR PROMPT -o OUTDIR")
        folder = Path(args.batch)
        if not folder.is_dir():
            raise EventSepError(f"{folder}: no such folder")
        files = sorted(p for p in folder.rglob("*") if is_audio_file(p))
        if not files:
            raise EventSepError(f"{folder}: the folder holds no audio files")
        if out.exists() and not out.is_dir():
            raise EventSepError(f"{out}: with --batch, --out must be a folder")
        return args.args[0], [(f, out / (f.relative_to(folder).with_suffix(".wav"))) for f in files], True
    if len(args.args) != 2:
        raise EventSepError("give the mixture and the prompt: eventsep text MIX \"only the flute\" -o OUT")
    mix = Path(args.args[0])
    if not mix.exists():
        raise EventSepError(f"{mix}: no such file")
    if out.is_dir() or not out.suffix:
        out = out / (mix.stem + ".wav")
    return args.args[1], [(mix, out)], False


def _residual_path(dst: Path, out: Path, residual: str | None, batch: bool) -> Path | None:
    """Where the input minus the output goes: with --batch, the output's own path under the residual
    folder (so files of the same name in two subfolders keep theirs apart)."""
    if not residual:
        return None
    r = Path(residual)
    if batch:
        return r / dst.relative_to(out)
    return r if r.suffix else r / dst.name


def _check_outputs(jobs: list[tuple[Path, Path]], out: Path, residual: str | None, batch: bool,
                   overwrite: bool) -> None:
    """Before the models load: every output can be written (its format, its folder), none is its own input,
    and none is replaced unasked."""
    from .audio import input_clash, refuse_existing, refuse_shared_outputs
    from .separation_io import check_outputs

    writes = []
    for src, dst in jobs:
        r = _residual_path(dst, out, residual, batch)
        clash = input_clash(src, (dst, r))
        if clash:
            raise EventSepError(clash)
        check_outputs(dst, r)
        writes += [(src, dst), (src, r)]
    refuse_shared_outputs(writes)
    refuse_existing([path for _, path in writes], overwrite)


def cmd_text(args) -> int:
    from .audio import load_audio, save_audio
    from .ensemble import EnsembleConfig
    from .pipeline import EventSep, PipelineConfig

    prompt, jobs, batch = _plan(args)
    config = PipelineConfig(mask=args.mask, threshold=args.threshold, steps=args.steps, seed=args.seed,
                            relative=args.relative, when=args.when, presence=args.presence,
                            gate_depth_db=args.gate_depth,
                            ensemble=EnsembleConfig(mode=args.ensemble, weight=args.weight,
                                                    crossover_hz=args.crossover))
    config.check()
    _check_outputs(jobs, Path(args.out), args.residual, batch, args.overwrite)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    say("loading models ...")
    es = EventSep(args.model, args.flow, args.detector, config, activity_dir=args.activity)
    target = es.resolve(prompt)      # a prompt that matches nothing stops here, before any audio work
    fine = f" / {target.fine}" if target.fine else ""
    print(f"class: {target.coarse}{fine} ({target.level} latent, score {target.score:.2f})")
    if config.presence != "off" and es.presence_stale():
        say("warning: the presence calibration was fitted to another separator; refit it with "
            "`python -m engine.presence_fit --model ...`")
    failures = 0
    for i, (src, dst) in enumerate(jobs, 1):
        t0 = time.perf_counter()
        try:
            audio, rate = load_audio(src)
            if batch:
                say(f"[{i}/{len(jobs)}] {src}")
            result = es.run(audio, rate, target=target, progress=not args.quiet)
        except EventSepError as e:
            if not batch:
                raise
            failures += 1
            print(f"skipped {src}: {e}", file=sys.stderr)
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        save_audio(dst, result.estimate, rate, "FLOAT" if dst.suffix.lower() == ".wav" else None)
        r = _residual_path(dst, Path(args.out), args.residual, batch)
        if r is not None:
            r.parent.mkdir(parents=True, exist_ok=True)
            save_audio(r, (audio - result.estimate).astype("float32"), rate,
                       "FLOAT" if r.suffix.lower() == ".wav" else None)
        if args.report:
            from .pipeline_report import write_report

            write_report(result, config, args.report, src.stem, audio, str(src))
        if result.presence is not None:
            print(presence_line(result, config))
        stages = ", ".join(f"{k} {v:.1f}" for k, v in result.seconds.items())
        print(f"{src} -> {dst}  [{audio.shape[-1] / rate:.1f} s audio in {time.perf_counter() - t0:.1f} s: "
              f"{stages}; mask mean gain {result.gain.mean():.2f}]")
    if failures:
        print(f"{failures} of {len(jobs)} files could not be processed", file=sys.stderr)
        return 1
    return 0
