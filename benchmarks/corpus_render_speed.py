"""Rendering throughput of the corpus (seconds of audio per CPU second, on one core).

    .venv/bin/python benchmarks/corpus_render_speed.py [--mixtures 40] [--soundfont fluidr3] [--scores]

Draws ``--mixtures`` four-stem 6 s excerpts (4 distinct core classes each, as training does) through
``CorpusStemSource.draw`` in this single process and reports, per stem and per 4-stem mixture: CPU time
(``time.process_time``, i.e. one core, unaffected by other load) and wall time, and the throughput in
seconds of audio rendered per CPU second (x real time). The first draw (soundfont loading) is timed
separately. Uses procedural pieces, plus the music21 score cache when ``--scores`` is given.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from engine.corpus.source import CorpusStemSource
from engine.taxonomy import CORE_CLASSES

SR = 22050


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mixtures", type=int, default=40, help="number of 4-stem excerpts (default 40)")
    ap.add_argument("--seconds", type=float, default=6.0, help="excerpt length (default 6)")
    ap.add_argument("--soundfont", default="fluidr3", help="fluidr3 (default), musescore, timgm")
    ap.add_argument("--scores", action="store_true", help="also draw from the music21 score cache")
    ap.add_argument("--reverb-prob", type=float, default=0.25, help="as in training (default 0.25)")
    ap.add_argument("--json", default=None, help="write the numbers to this JSON file")
    args = ap.parse_args()

    src = CorpusStemSource(split="train", soundfont=args.soundfont, include_scores=args.scores,
                           reverb_prob=args.reverb_prob)
    n = int(round(args.seconds * SR))
    rng = np.random.default_rng(0)
    t0w, t0c = time.perf_counter(), time.process_time()
    src.draw("piano", n, rng)
    load = {"wall_s": time.perf_counter() - t0w, "cpu_s": time.process_time() - t0c}

    stem_cpu, stem_wall, mix_cpu, mix_wall = [], [], [], []
    for _ in range(args.mixtures):
        classes = rng.choice(CORE_CLASSES, size=4, replace=False)
        mc, mw = time.process_time(), time.perf_counter()
        for c in classes:
            sc, sw = time.process_time(), time.perf_counter()
            src.draw(str(c), n, rng)
            stem_cpu.append(time.process_time() - sc)
            stem_wall.append(time.perf_counter() - sw)
        mix_cpu.append(time.process_time() - mc)
        mix_wall.append(time.perf_counter() - mw)
    audio_s = len(stem_cpu) * args.seconds
    res = {
        "soundfont": args.soundfont, "scores": args.scores, "excerpt_seconds": args.seconds,
        "mixtures": args.mixtures, "stems": len(stem_cpu), "first_draw_incl_soundfont_load": load,
        "stem_cpu_ms_mean": 1e3 * float(np.mean(stem_cpu)), "stem_cpu_ms_p95": 1e3 * float(np.percentile(stem_cpu, 95)),
        "mix4_cpu_ms_mean": 1e3 * float(np.mean(mix_cpu)), "mix4_cpu_ms_p50": 1e3 * float(np.median(mix_cpu)),
        "mix4_cpu_ms_p95": 1e3 * float(np.percentile(mix_cpu, 95)),
        "mix4_wall_ms_mean": 1e3 * float(np.mean(mix_wall)),
        "x_realtime_per_core_cpu": audio_s / float(np.sum(stem_cpu)),
        "x_realtime_wall": audio_s / float(np.sum(stem_wall)),
    }
    for k, v in res.items():
        print(f"{k:<34} {v if not isinstance(v, float) else round(v, 2)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
