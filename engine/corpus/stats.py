"""Corpus statistics: pieces, hours of mixtures, stems and hours per coarse class, per split and source.

Hours of *mixtures* are the summed durations of the pieces (each piece is one multi-part mixture at its
own tempo). Per-class numbers use each part's canonical class (:func:`engine.corpus.source.canonical_assignment`):
on the fly, a score part may be drawn as any melodic class, so these counts describe the canonical pass
(``segments``), not a limit.
"""
from __future__ import annotations

import json
from pathlib import Path

from .paths import cache_dir
from .procedural import PROCEDURAL_VERSION, generate_piece
from .scores import Piece, load_score_cache, scores_dir
from .source import DEFAULT_PROCEDURAL_POOL, canonical_assignment
from .splits import SPLITS, split_of


def _empty() -> dict:
    return {"pieces": 0, "hours": 0.0, "stems": {}, "stem_hours": {}}


def _add(acc: dict, piece: Piece) -> None:
    acc["pieces"] += 1
    acc["hours"] += piece.duration / 3600.0
    for part_idx, coarse, _ in canonical_assignment(piece):
        acc["stems"][coarse] = acc["stems"].get(coarse, 0) + 1
        acc["stem_hours"][coarse] = acc["stem_hours"].get(coarse, 0.0) + piece.parts[part_idx].end / 3600.0


def procedural_stats(pool: int = DEFAULT_PROCEDURAL_POOL, root: Path | None = None, progress: bool = True) -> dict:
    """Stats of the procedural pool per split (cached in ``<cache>/procedural_stats_v<version>_<pool>.json``)."""
    from tqdm import tqdm

    path = (root or cache_dir()) / f"procedural_stats_v{PROCEDURAL_VERSION}_{pool}.json"
    if path.is_file():
        return json.loads(path.read_text())
    out = {s: _empty() for s in SPLITS}
    for seed in tqdm(range(pool), desc="procedural pieces", unit="piece", disable=not progress):
        p = generate_piece(seed)
        _add(out[split_of(p.id)], p)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out))
    return out


def corpus_stats(root: Path | None = None, procedural_pool: int = DEFAULT_PROCEDURAL_POOL,
                 progress: bool = True) -> dict:
    """``{"music21": {split: ...}, "procedural": {split: ...}, "scores_summary": ..., "total": ...}``."""
    scores = load_score_cache(root, required=False)
    m21 = {s: _empty() for s in SPLITS}
    for p in scores:
        _add(m21[split_of(p.id)], p)
    proc = procedural_stats(procedural_pool, root, progress)
    summary = {}
    idx = scores_dir(root) / "index.json"
    if idx.is_file():
        summary = json.loads(idx.read_text()).get("summary", {})
    total = {s: _empty() for s in SPLITS}
    for src in (m21, proc):
        for s in SPLITS:
            t, a = total[s], src[s]
            t["pieces"] += a["pieces"]
            t["hours"] += a["hours"]
            for k, v in a["stems"].items():
                t["stems"][k] = t["stems"].get(k, 0) + v
            for k, v in a["stem_hours"].items():
                t["stem_hours"][k] = t["stem_hours"].get(k, 0.0) + v
    return {"music21": m21, "procedural": proc, "total": total, "scores_summary": summary,
            "scores_cached": bool(scores), "procedural_pool": procedural_pool}


def format_stats(st: dict) -> str:
    lines = []
    if not st["scores_cached"]:
        lines.append("note: the music21 score cache is not built yet (`eventsep corpus scores`); "
                     "only procedural pieces are counted")
    lines.append(f"{'source':<11} {'split':<6} {'pieces':>7} {'hours':>8}")
    for src in ("music21", "procedural", "total"):
        for s in SPLITS:
            a = st[src][s]
            lines.append(f"{src:<11} {s:<6} {a['pieces']:>7} {a['hours']:>8.2f}")
    classes = sorted({c for s in SPLITS for c in st["total"][s]["stems"]})
    lines.append("")
    lines.append("stems (canonical class) and their hours, per split:")
    lines.append(f"{'class':<21}" + "".join(f"{s + ' stems':>13}{s + ' h':>10}" for s in SPLITS))
    for c in classes:
        row = f"{c:<21}"
        for s in SPLITS:
            a = st["total"][s]
            row += f"{a['stems'].get(c, 0):>13}{a['stem_hours'].get(c, 0.0):>10.2f}"
        lines.append(row)
    sm = st.get("scores_summary") or {}
    if sm:
        lines.append("")
        lines.append(f"music21 conversion: {sm.get('pieces')} multi-part pieces, {sm.get('hours')} h, files by status "
                     f"{sm.get('files_by_status')}, single-part scores skipped {sm.get('single_part_scores_skipped')}")
    return "\n".join(lines)
