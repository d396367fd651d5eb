"""Per-class thresholds for the classes a target-activity model's own validation did not hold:

    python -m engine.activity.thresholds DIR [--data runs/activity_thresholds]

A model trained on music examples (``engine.activity.music``) is validated on the 8 core classes only; the
separator also has latents for organ, reed, voice and the other classes the text mapping can ask for. Their
thresholds (``calibrate_curve`` maps them to 0.5) are tuned here the way training tunes the others, frame F1
on validation examples, on the random-stem recipe (``engine.activity.data``, the *valid* split, 30 % of
targets absent), which offers every class; the thresholds already in ``DIR`` are kept. ``DIR``'s metadata
is rewritten in place and says which classes came from where.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..detection.checkpoint import CONFIG
from .train import ActivityTrainConfig, build_data, predict, scores


def fill_thresholds(directory: Path, data_dir: Path, valid_examples: int = 512, unet_dir=None,
                    sources: dict | None = None) -> dict[str, float]:
    """Tune the thresholds ``directory``'s metadata lacks; returns the new ones (written into its JSON).
    ``unet_dir`` and ``sources`` as :func:`engine.activity.train.build_data`'s (default: shipped, corpus)."""
    from .infer import load_activity

    model, meta = load_activity(directory)
    cfg = ActivityTrainConfig(examples=0, valid_examples=valid_examples)
    cfg = replace(cfg, data=replace(cfg.data, p_absent=0.3))
    _, valid = build_data(data_dir, cfg, model.classes, model.config.front.sample_rate, unet_dir, sources,
                          progress=False)
    tuned = scores(predict(model, valid), valid, model.classes)["thresholds"]
    have = dict(meta.get("thresholds") or {})
    added = {c: t for c, t in tuned.items() if c not in have}
    meta = {**meta, "thresholds": {**have, **added}, "thresholds_source": {
        "validation": sorted(have),
        "random-stem valid examples (engine.activity.thresholds)": sorted(added)}}
    # only the metadata changes; replaced atomically, as checkpoint.write_weights writes it
    tmp = Path(directory) / (CONFIG + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    tmp.replace(Path(directory) / CONFIG)
    return added


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("directory", help="a target-activity model folder (detector.json is rewritten)")
    p.add_argument("--data", default="runs/activity_thresholds", help="where the valid examples are rendered")
    p.add_argument("--valid-examples", type=int, default=512)
    a = p.parse_args(argv)
    added = fill_thresholds(Path(a.directory), Path(a.data), a.valid_examples)
    print(json.dumps({c: round(t, 3) for c, t in added.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
