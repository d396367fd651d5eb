"""``eventsep corpus ...``: build, inspect and export the rendered corpus.

Wire it into the main CLI with ``engine.corpus.cli.add_parser(subparsers)``; it also runs on its own:
``python -m engine.corpus.cli --help``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .paths import SOUNDFONTS

SOUNDFONT_CHOICES = ("fluidr3", "musescore", "timgm")       # the evaluation sets' soundfonts
_SOUNDFONT_NAMES = ", ".join(SOUNDFONTS)


def add_parser(subparsers) -> None:
    """Add the ``corpus`` command (with its sub-commands) to an argparse ``add_subparsers()`` object."""
    p = subparsers.add_parser(
        "corpus", help="build and inspect the rendered training / evaluation corpus",
        description="The rendered, Slakh-style corpus: music21 scores + procedural pieces rendered part "
                    "by part through General MIDI soundfonts, with exact 10 ms activity labels. "
                    "Caches live under $EVENTSEP_CACHE (default <repo>/cache/corpus).")
    sub = p.add_subparsers(dest="corpus_command", metavar="COMMAND")
    sub.required = True

    s = sub.add_parser("scores", help="convert the music21 corpus to cached note lists (resumable)",
                       description="Parse every multi-part score of the music21 corpus once and cache its "
                                   "note lists under <cache>/scores. Interrupt and rerun at will: converted "
                                   "files are skipped.")
    _scores_args(s)
    s.set_defaults(corpus_func=cmd_scores)

    b = sub.add_parser("build", help="scores cache + the evaluation sets of all three soundfonts",
                       description="Everything the corpus needs on disk: the music21 note-list cache, then "
                                   "the evaluation set for each soundfont (fluidr3, musescore, timgm) under "
                                   "<cache>/evalset/<soundfont>. Training stems are rendered on the fly.")
    _scores_args(b)
    b.add_argument("--no-evalsets", action="store_true", help="only build the scores cache")
    _evalset_args(b, with_soundfont=False)
    b.set_defaults(corpus_func=cmd_build)

    st = sub.add_parser("stats", help="pieces and hours per split, stems and hours per coarse class",
                        description="Print pieces and hours of mixtures per source and split, and stem "
                                    "counts / hours per coarse class per split.")
    st.add_argument("--json", action="store_true", help="print the numbers as JSON instead of a table")
    st.add_argument("--procedural-pool", type=int, default=None, metavar="N",
                    help="size of the procedural pool (seeds 0..N-1; default 4000)")
    st.set_defaults(corpus_func=cmd_stats)

    for name in ("eval-set", "evalset"):
        e = sub.add_parser(name, help="(re)build the fixed evaluation set for a soundfont"
                           + (" (alias of eval-set)" if name == "evalset" else ""),
                           description="Build the seeded evaluation set bit-identically: per_class x 8 core "
                                       "classes mixtures of test pieces with target, other stems, labels and a "
                                       "reference clip from a different test piece. Prints a SHA-256 digest of "
                                       "the result; rebuilding gives the same digest.")
        _evalset_args(e, with_soundfont=True)
        e.set_defaults(corpus_func=cmd_evalset)

    h = sub.add_parser("hash", help="print the SHA-256 digest of a built evaluation set",
                       description="Digest of manifest.json and every audio file it names.")
    h.add_argument("dir", help="folder of a built evaluation set (holds manifest.json)")
    h.set_defaults(corpus_func=cmd_hash)

    x = sub.add_parser("example", help="render example stems and their mixture to WAV files",
                       description="Draw one stem per requested class from the corpus source (as training "
                                   "does), write each stem, their mixture and the labels to --out.")
    x.add_argument("--out", required=True, help="output folder (created)")
    x.add_argument("--classes", default="piano,bass,drums,strings",
                   help="comma-separated coarse classes (default: piano,bass,drums,strings)")
    x.add_argument("--split", default="train", choices=("train", "valid", "test"), help="corpus split (default train)")
    x.add_argument("--soundfont", default="fluidr3", help=f"soundfont: {_SOUNDFONT_NAMES} (default fluidr3) or an .sf2/.sf3 path")
    x.add_argument("--seconds", type=float, default=6.0, help="length of the excerpt (default 6)")
    x.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    x.add_argument("--procedural-only", action="store_true",
                   help="do not use the music21 score cache (works before `corpus scores` has run)")
    x.set_defaults(corpus_func=cmd_example)

    k = sub.add_parser("bank", help="render a stem bank to disk for fast training (resumable)",
                       description="Render --per-class excerpts of every class of a split once (the draws "
                                   "training makes) into float16 shards under <cache>/bank/<split>-<soundfont>; "
                                   "`eventsep train --source bank` then mixes random crops of them. Interrupt "
                                   "and rerun to continue; a larger --per-class extends the bank.")
    _render_args(k, ("train", "valid", "test"), 1024, "excerpts")
    k.set_defaults(corpus_func=cmd_render, render="bank")

    e = sub.add_parser("ensembles", help="render ensembles (parts of one piece played together) for training",
                       description="Render --per-class ensembles of every core class of a split once: the "
                                   "target's part and 1-3 other parts of the same piece at the same window and "
                                   "tempo, drawn as evaluation items are, into float16 shards under "
                                   "<cache>/bank/ensembles-<split>-<soundfont>. `eventsep train --p-ensemble P` "
                                   "then makes that share of its mixtures from them. Interrupt and rerun to "
                                   "continue; a larger --per-class extends them.")
    _render_args(e, ("train", "valid"), 512, "ensembles")
    e.set_defaults(corpus_func=cmd_render, render="ensembles")

    p.set_defaults(func=run)


def _render_args(r, splits: tuple[str, ...], per_class: int, what: str) -> None:
    r.add_argument("--split", default="train", choices=splits, help="corpus split (default train)")
    r.add_argument("--soundfont", default="fluidr3", help=f"soundfont: {_SOUNDFONT_NAMES} (default fluidr3)")
    r.add_argument("--per-class", type=int, default=per_class, metavar="N",
                   help=f"{what} per class, rounded up to shards of 64 (default {per_class})")
    r.add_argument("--seconds", type=float, default=4.0, help=f"length of each of the {what} (default 4)")
    r.add_argument("--workers", type=int, default=2, help="parallel renderer processes (default 2)")
    r.add_argument("--root", default=None, help="bank root folder (default <cache>/bank)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")


def cmd_render(args) -> int:
    """``corpus bank`` and ``corpus ensembles``: shards rendered once for training."""
    from .bank import build_bank
    from .ensembles import build_ensembles
    from .paths import CorpusError

    if args.per_class < 1 or args.seconds <= 0 or args.workers < 1:
        raise CorpusError("--per-class, --seconds and --workers must be positive")
    build, label = (build_bank, "stem bank") if args.render == "bank" else (build_ensembles, "ensembles")
    out = build(args.split, args.soundfont, args.per_class, args.seconds, root=args.root, workers=args.workers,
                progress=not args.no_progress)
    print(f"{label}: {out}")
    return 0


def _scores_args(s) -> None:
    s.add_argument("--workers", type=int, default=2, help="parallel parser processes (default 2)")
    s.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N corpus files (for a trial)")
    s.add_argument("--timeout", type=int, default=240, metavar="S",
                   help="give up on one file after S seconds (default 240); its record says timeout")
    s.add_argument("--retry-failed", action="store_true",
                   help="convert again the files whose earlier attempt ended in error or timeout")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")


def _evalset_args(e, with_soundfont: bool) -> None:
    if with_soundfont:
        e.add_argument("--soundfont", default="fluidr3", choices=SOUNDFONT_CHOICES + ("all",),
                       help="fluidr3 (training timbres), musescore or timgm (unseen timbres), or all")
        e.add_argument("--out", default=None,
                       help="output folder (default <cache>/evalset/<soundfont>; with --soundfont all, "
                            "one sub-folder per soundfont)")
    e.add_argument("--per-class", type=int, default=26, metavar="N",
                   help="mixtures per core class (default 26, i.e. 208 mixtures)")
    e.add_argument("--seconds", type=float, default=6.0, help="mixture length in seconds (default 6)")
    e.add_argument("--seed", type=int, default=20240603, help="the seed that fixes the set (default 20240603)")
    e.add_argument("--verify", action="store_true",
                   help="build twice (the second time in a temporary folder) and check the digests match")
    e.add_argument("--procedural-only", action="store_true",
                   help="use only procedural test pieces (no music21 score cache needed)")
    if with_soundfont:
        e.add_argument("--split", default="test", choices=("test", "valid"),
                       help="test: the evaluation sets (default); valid: a look-alike set of validation pieces, "
                            "on which defaults and thresholds are chosen (default folder "
                            "<cache>/evalset/valid-<soundfont>)")


def run(args) -> int:
    """Dispatch to the chosen sub-command; user errors print a message and return 2."""
    from .paths import CorpusError

    try:
        return int(args.corpus_func(args) or 0)
    except CorpusError as exc:
        print(f"eventsep corpus: error: {exc}", file=sys.stderr)
        return 2
    except (KeyError, ValueError) as exc:
        print(f"eventsep corpus: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("eventsep corpus: interrupted (rerun to resume)", file=sys.stderr)
        return 130


def cmd_scores(args) -> int:
    from .scores import build_score_cache

    summary = build_score_cache(workers=args.workers, limit=args.limit, progress=not args.no_progress,
                                timeout_s=args.timeout, retry_failed=args.retry_failed)
    print(json.dumps(summary, indent=1))
    return 0


def _evalset_dirs(args) -> list[tuple[str, Path]]:
    from .paths import cache_dir

    names = list(SOUNDFONT_CHOICES) if getattr(args, "soundfont", "all") == "all" else [args.soundfont]
    out = getattr(args, "out", None)
    if out is None:
        prefix = "" if getattr(args, "split", "test") == "test" else f"{args.split}-"
        return [(n, cache_dir() / "evalset" / f"{prefix}{n}") for n in names]
    if len(names) == 1:
        return [(names[0], Path(out))]
    return [(n, Path(out) / n) for n in names]


def _build_one(name: str, out: Path, args, pieces) -> str:
    import tempfile

    from .evalset import build_evalset, digest

    build_evalset(out, soundfont=name, per_class=args.per_class, seconds=args.seconds, seed=args.seed,
                  pieces=pieces)
    d = digest(out)
    print(f"{name}: {out}  sha256 {d}")
    if args.verify:
        with tempfile.TemporaryDirectory() as tmp:
            build_evalset(tmp, soundfont=name, per_class=args.per_class, seconds=args.seconds, seed=args.seed,
                          pieces=pieces)
            d2 = digest(tmp)
        if d2 != d:
            print(f"{name}: rebuild differs (sha256 {d2})", file=sys.stderr)
            raise SystemExit(1)
        print(f"{name}: rebuilt bit-identically")
    return d


def _test_pieces(args):
    from .evalset import split_pieces

    return split_pieces(getattr(args, "split", "test"), include_scores=not getattr(args, "procedural_only", False))


def cmd_evalset(args) -> int:
    from .paths import soundfont_path

    for name, _ in _evalset_dirs(args):
        soundfont_path(name)                       # fail early, naming the Debian package
    pieces = _test_pieces(args)
    for name, out in _evalset_dirs(args):
        _build_one(name, out, args, pieces)
    return 0


def cmd_build(args) -> int:
    rc = cmd_scores(args)
    if rc or args.no_evalsets:
        return rc
    args.soundfont, args.out = "all", None
    return cmd_evalset(args)


def cmd_stats(args) -> int:
    from .source import DEFAULT_PROCEDURAL_POOL
    from .stats import corpus_stats, format_stats

    st = corpus_stats(procedural_pool=args.procedural_pool or DEFAULT_PROCEDURAL_POOL, progress=not args.json)
    print(json.dumps(st, indent=1) if args.json else format_stats(st))
    return 0


def cmd_hash(args) -> int:
    from .evalset import digest

    print(digest(args.dir))
    return 0


def cmd_example(args) -> int:
    import numpy as np
    import soundfile as sf

    from .source import CorpusStemSource

    classes = [c.strip() for c in args.classes.split(",") if c.strip()]
    src = CorpusStemSource(split=args.split, soundfont=args.soundfont, include_scores=not args.procedural_only,
                           classes=classes)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    n = int(round(args.seconds * src.sample_rate))
    stems = [src.draw(c, n, rng) for c in classes]
    mix = np.sum([s.audio for s in stems], axis=0)
    peak = max(1e-9, float(np.abs(mix).max()))
    scale = min(1.0, 0.9 / peak)
    labels = {}
    for s in stems:
        sf.write(str(out / f"{s.coarse}.wav"), s.audio * scale, s.sample_rate, subtype="FLOAT")
        labels[s.coarse] = {"fine": s.fine, "piece": s.piece, "activity": [round(float(a), 4) for a in s.activity]}
        print(f"{s.coarse:<22} {s.fine:<28} {s.piece}")
    sf.write(str(out / "mixture.wav"), mix * scale, src.sample_rate, subtype="FLOAT")
    (out / "labels.json").write_text(json.dumps(labels))
    print(f"wrote {len(stems)} stems, mixture.wav and labels.json to {out}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="eventsep")
    add_parser(ap.add_subparsers(dest="command"))
    args = ap.parse_args(argv)
    if not hasattr(args, "func"):
        ap.print_help()
        return 2
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
