"""Detector metrics on the three evaluation sets and its real-time factor.

    .venv/bin/python benchmarks/detect_eval.py [--detector DIR] [--sets fluidr3,musescore,timgm]
                                               [--limit N] [--json OUT.json] [--markdown OUT.md]

``--by-separation``: separation-assisted detection (``engine.activity.infer.detect_by_separation``): for each
of the 8 core classes the shipped U-Net separates the class and the target-activity model says when it
sounds (one U-Net pass per class); the other classes keep the detector's curve; tuned thresholds are the
activity model's (valid split) for those 8.

Per class: frame-level F1 (threshold 0.5), segment-based F1 (1 s segments), AP; their means over the
8 core classes (mAP = mean AP); RTF = CPU seconds of detection per audio second (one thread, resampling
included, reading files excluded). Also the speech class on rendered speech-over-music mixtures from the
corpus' test split (the evaluation sets hold no speech).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.corpus.paths import CorpusError  # noqa: E402
from engine.detection.checkpoint import load_detector  # noqa: E402
from engine.detection.evaluate import collect, score  # noqa: E402
from engine.detection.metrics import average_precision, frame_f1  # noqa: E402
from engine.taxonomy import CORE_CLASSES  # noqa: E402

CACHE = Path(__file__).resolve().parents[1] / "cache" / "corpus" / "evalset"


def speech_check(model, items: int = 24, seed: int = 5) -> dict:
    """Speech F1/AP on test-split mixtures: speech over 1-3 music stems (fresh renders, seeded)."""
    from engine.corpus.source import CorpusStemSource
    from engine.detection.batches import StemBank, make_example
    from engine.detection.config import DetectorTrainConfig
    from engine.detection.infer import detect

    classes = tuple(model.classes)
    src = CorpusStemSource("test", classes=list(classes))
    cfg = DetectorTrainConfig(bank_initial=3, bank_per_class=1000, p_active=1.0)
    rng = np.random.default_rng(seed)
    bank = StemBank(src, classes, cfg, model.config.front.sample_rate, rng)
    k = classes.index("speech")
    probs, refs = [], []
    for _ in range(items):
        audio, labels = make_example(bank.stems, classes, 300, model.config.front.hop, cfg, rng)
        if rng.random() < 0.5:   # half the items are forced to hold speech
            s = bank.stems["speech"][int(rng.integers(len(bank.stems["speech"])))]
            audio = audio + 0.7 * s.audio[:len(audio)]
            labels[:, k] = np.maximum(labels[:, k], s.active[:300])
        det = detect(model, audio, model.config.front.sample_rate)
        probs.append(det.probs[:, k]), refs.append(labels[:, k])
    p, r = np.concatenate(probs), np.concatenate(refs)
    return {"items": items, "speech_frame_f1": float(frame_f1(p[:, None], r[:, None])[0]),
            "speech_ap": float(average_precision(p, r)), "speech_frames_active": float(r.mean())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--detector", default=None, help="detector folder (default: the shipped one)")
    ap.add_argument("--sets", default="fluidr3,musescore,timgm")
    ap.add_argument("--limit", type=int, default=None, help="items per set (default: all 208)")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--no-speech", action="store_true")
    ap.add_argument("--by-separation", action="store_true",
                    help="separation-assisted detection for the 8 core classes (see above)")
    ap.add_argument("--activity", default=None, help="target-activity model folder (default: the shipped one)")
    ap.add_argument("--json", default=None)
    ap.add_argument("--markdown", default=None)
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, meta = load_detector(a.detector)
    thresholds = meta.get("thresholds")
    detect_fn = None
    if a.by_separation:
        from functools import partial

        from engine.activity.infer import detect_by_separation, load_activity
        from engine.checkpoint import load_latents, load_model
        from engine.shipped import model_dir as _model_dir

        activity, ameta = load_activity(a.activity)
        unet, _ = load_model(_model_dir(None))
        detect_fn = partial(detect_by_separation, activity, model, unet.eval(), load_latents(_model_dir(None)),
                            classes=CORE_CLASSES)
        thresholds = {**(thresholds or {}), **{c: ameta["thresholds"][c] for c in CORE_CLASSES
                                               if c in ameta.get("thresholds", {})}}
    tuned = np.array([thresholds.get(c, 0.5) for c in model.classes]) if thresholds else None
    reports, tuned_reports = [], []
    for name in a.sets.split(","):
        t0 = time.time()
        try:
            probs, refs, lengths, audio_s, cpu_s = collect(model, CACHE / name, a.limit, detect_fn)
        except CorpusError as e:
            print(f"{name}: skipped ({e})")
            continue
        rep = score(name, model.classes, probs, refs, lengths, audio_s, cpu_s, a.threshold)
        reports.append(rep)
        if tuned is not None:
            tuned_reports.append(score(name, model.classes, probs, refs, lengths, audio_s, cpu_s, tuned))
        s = rep.summary()
        print(f"{name}: {rep.items} items, frame F1(core) {s['frame_f1_core']:.3f}, segment F1(core) "
              f"{s['segment_f1_core']:.3f}, mAP(core) {s['map_core']:.3f}, RTF {s['rtf']:.4f} "
              f"({time.time() - t0:.0f} s wall)", flush=True)
    lines = [("separation-assisted (`--by-separation`): U-Net + target-activity model for the 8 core classes; "
              if a.by_separation else "") + f"threshold {a.threshold} for every class" + (" (rows marked 'valid-tuned': per-class thresholds "
             "from the valid split)" if tuned is not None else ""), "",
             "| set | frame F1 (core mean) | segment F1 1 s (core mean) | mAP (core) | RTF (CPU s / audio s) |",
             "|---|---|---|---|---|"]
    for rep, tag in [(r, "") for r in reports] + [(r, " valid-tuned") for r in tuned_reports]:
        s = rep.summary()
        lines.append(f"| {rep.name}{tag} | {s['frame_f1_core']:.3f} | {s['segment_f1_core']:.3f} | "
                     f"{s['map_core']:.3f} | {s['rtf']:.4f} |")
    lines += ["", "per class, threshold " + str(a.threshold) + ": frame F1 / segment F1 / AP", "",
              "| class | " + " | ".join(r.name for r in reports) + " |", "|---|" + "---|" * len(reports)]
    for c in model.classes:
        cells = [f"{r.frame_f1[c]:.3f} / {r.segment_f1[c]:.3f} / {r.ap[c]:.3f}" for r in reports]
        lines.append(f"| {c}{' (core)' if c in CORE_CLASSES else ''} | " + " | ".join(cells) + " |")
    speech = None
    if not a.no_speech and "speech" in model.classes:
        speech = speech_check(model)
        lines += ["", f"speech (test-split speech over music, {speech['items']} x 3 s): frame F1 "
                      f"{speech['speech_frame_f1']:.3f}, AP {speech['speech_ap']:.3f}"]
    table = "\n".join(lines)
    print(table)
    if a.json:
        Path(a.json).write_text(json.dumps({"detector_step": meta.get("step"), "threshold": a.threshold,
                                            "by_separation": a.by_separation,
                                            "sets": [{**r.summary(), "frame_f1": r.frame_f1, "segment_f1": r.segment_f1,
                                                      "ap": r.ap} for r in reports],
                                            "sets_valid_tuned": [{**r.summary(), "frame_f1": r.frame_f1,
                                                                  "segment_f1": r.segment_f1}
                                                                 for r in tuned_reports],
                                            "thresholds": thresholds, "speech": speech}, indent=1))
    if a.markdown:
        Path(a.markdown).write_text(table + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
