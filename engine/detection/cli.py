"""``eventsep detect``: which classes sound when, optionally for a text prompt. Registered by
``engine.cli``; the parser imports nothing heavy (torch, the encoder) until the command runs."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import EventSepError


def _unit(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def add_parser(sub) -> None:
    p = sub.add_parser(
        "detect", help="frame-wise sound event detection: which classes sound when",
        description="Run the frame-wise sound event detector on a file (any format, rate, channels) and "
                    "print every detected class with its active time spans. --class or --text narrows it "
                    "to one class; with --text the first line is 'class: <coarse> (fine: <label>, score <s>)' "
                    "or 'class: none (<why>)'. --png writes the probability curves.")
    p.add_argument("mix", help="audio file")
    q = p.add_mutually_exclusive_group()
    q.add_argument("--class", dest="class_name", metavar="NAME", help="a coarse class (e.g. piano, speech)")
    q.add_argument("--text", metavar="PROMPT", help="a text prompt, e.g. 'only the violin' (needs the text extra)")
    p.add_argument("--png", metavar="OUT.png", default=None, help="write the probability curves here")
    p.add_argument("--threshold", type=_unit, default=None,
                   help="detection threshold for every class (default: the detector's per-class thresholds "
                        "tuned on the valid split, else 0.5)")
    p.add_argument("--min-duration", type=float, default=0.1, help="shortest span listed, seconds (0.1)")
    p.add_argument("--detector", default=None, help="detector folder (default: the shipped one)")
    p.add_argument("--panns", metavar="CKPT", default=None,
                   help="use a PANNs Cnn14_DecisionLevelMax checkpoint instead (needs --audioset-labels)")
    p.add_argument("--audioset-labels", metavar="CSV", default=None, help="AudioSet class_labels_indices.csv")
    p.set_defaults(func=cmd_detect)


def _load(args):
    if args.panns:
        if not args.audioset_labels:
            raise EventSepError("--panns needs --audioset-labels class_labels_indices.csv")
        from .panns import PannsFrameDetector, load_panns, read_audioset_labels

        model = PannsFrameDetector(load_panns(args.panns), read_audioset_labels(args.audioset_labels))
        return model, model.classes, {}
    from .checkpoint import load_detector

    model, meta = load_detector(args.detector)
    return model, tuple(model.classes), meta.get("thresholds") or {}


def _panns_detection(model, audio, rate):
    import numpy as np
    import torch

    from .infer import Detection, to_mono_rate

    cfg = model.panns.config
    mono = to_mono_rate(audio, rate, cfg.sample_rate)
    if len(mono) < cfg.window_size:
        mono = np.pad(mono, (0, cfg.window_size - len(mono)))
    probs = model(torch.from_numpy(mono[None]))[0].numpy()
    return Detection(probs, model.classes, cfg.hop_size / cfg.sample_rate, audio.shape[-1] / rate)


def cmd_detect(args) -> int:
    from ..audio import load_audio
    from ..taxonomy import COARSE_CLASSES

    if args.min_duration < 0:
        raise EventSepError("--min-duration must be 0 or more")
    wanted = None
    if args.text is not None:
        from ..textquery import map_prompt

        match = map_prompt(args.text)
        print(match.line())
        if match.coarse is None:
            return 0
        wanted = match.coarse
    elif args.class_name is not None:
        wanted = args.class_name.strip().lower().replace(" ", "_").replace("-", "_")
        if wanted not in COARSE_CLASSES:
            raise EventSepError(f"unknown class {args.class_name!r}; known: {', '.join(COARSE_CLASSES)}")
    audio, rate = load_audio(args.mix)
    model, classes, tuned = _load(args)
    if wanted is not None and wanted not in classes:
        raise EventSepError(f"the detector has no output for {wanted!r}; it knows {', '.join(classes)}")
    if args.panns:
        det = _panns_detection(model, audio, rate)
    else:
        from .infer import detect

        det = detect(model, audio, rate)
    shown = [wanted] if wanted else list(classes)
    found: list[str] = []

    def threshold(c: str) -> float:
        return args.threshold if args.threshold is not None else float(tuned.get(c, 0.5))

    for c in shown:
        spans = det.spans(c, threshold(c), args.min_duration)
        if not spans and wanted is None:
            continue
        found.append(c)
        total = sum(e - s for s, e in spans)
        listing = ", ".join(f"{s:.2f}-{e:.2f}" for s, e in spans) or "-"
        print(f"{c:<21} {total:6.2f} s active  peak {det.curve(c).max():.2f}  spans: {listing}")
    if not found:
        print(f"no class detected in {det.duration:.2f} s")
    if args.png:
        from .plot import plot_detection

        # the curves of the classes listed above (or the most probable ones when none was detected)
        out = plot_detection(det, args.png, [wanted] if wanted else (found or None),
                             {c: threshold(c) for c in classes}, title=Path(args.mix).name)
        print(f"wrote {out}")
    return 0
