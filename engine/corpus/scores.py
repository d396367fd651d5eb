"""Symbolic scores as compact note lists, and the one-off conversion of the music21 corpus.

A :class:`Piece` is a list of :class:`Part` s; a part holds its notes as a ``(N, 4)`` float32 array of
``onset_s, duration_s, midi_pitch, velocity`` (velocity 1..127) plus a GM program guess (``-1`` when
unknown) and a drum flag (GM channel 10). Pieces come from two places:

- the ``music21`` corpus: every multi-part score that parses, converted **once** into
  ``<cache>/scores/`` (:func:`build_score_cache`), incrementally (one small JSON file per corpus file, so an
  interrupted run resumes where it stopped), over worker processes, with a progress bar; then consolidated
  into ``<cache>/scores/notes.npz`` + ``index.json`` which :func:`load_score_cache` reads in well under a second;
- the procedural generator (:mod:`engine.corpus.procedural`), deterministic from a seed.

Repeats are expanded when music21 can (``expandRepeats``); a piece with bad repeat marks is kept,
unexpanded, rather than dropped. ``music21.defaults.ticksPerQuarter`` is set to 960.
"""
from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .paths import CorpusError, cache_dir

NOTE_FIELDS = ("onset", "duration", "pitch", "velocity")
DEFAULT_VELOCITY = 80
DEFAULT_QPM = 100.0          # tempo when a score gives none
MIN_NOTE_SECONDS = 0.03      # grace notes and zero-length events get this length
FORMAT_PREFERENCE = (".mxl", ".xml", ".musicxml", ".krn", ".abc")   # .rntxt are analyses: skipped
PER_FILE_TIMEOUT_S = 240


@dataclass
class Part:
    name: str
    program: int                 # GM program 0-127 guessed from the score, -1 if unknown
    notes: np.ndarray            # (N, 4) float32: onset_s, duration_s, pitch, velocity; sorted by onset
    is_drum: bool = False
    coarse: str = ""             # set by generators that know the class (procedural), "" for scores

    def __post_init__(self) -> None:
        self.notes = np.asarray(self.notes, dtype=np.float32).reshape(-1, 4)
        if len(self.notes):
            self.notes = self.notes[np.argsort(self.notes[:, 0], kind="stable")]

    @property
    def end(self) -> float:
        return float((self.notes[:, 0] + self.notes[:, 1]).max()) if len(self.notes) else 0.0


@dataclass
class Piece:
    id: str                      # unique, stable: e.g. "music21:bach/bwv66.6" or "proc:000123"
    source: str                  # "music21" or "procedural"
    parts: list[Part]
    meta: dict = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return max((p.end for p in self.parts), default=0.0)


# ----------------------------------------------------------------------------------------------
# music21 -> note lists

def _music21():
    import music21

    music21.defaults.ticksPerQuarter = 960
    return music21


def corpus_files() -> list[Path]:
    """The music21 core corpus files to convert, one format per work (``.mxl`` preferred over ``.krn``
    over ``.abc``; the ``.rntxt`` roman-numeral analyses are skipped), in a stable order (scores first)."""
    m21 = _music21()
    by_stem: dict[str, Path] = {}
    for p in m21.corpus.getCorePaths():
        p = Path(p)
        ext = p.suffix.lower()
        if ext not in FORMAT_PREFERENCE:
            continue
        key = str(p.with_suffix(""))
        old = by_stem.get(key)
        if old is None or FORMAT_PREFERENCE.index(ext) < FORMAT_PREFERENCE.index(old.suffix.lower()):
            by_stem[key] = p
    files = list(by_stem.values())
    files.sort(key=lambda p: (p.suffix.lower() == ".abc", str(p)))
    return files


def corpus_relpath(path: Path) -> str:
    """The file's path inside music21's corpus folder (``bach/bwv66.6.mxl``): the piece id and the split
    depend on it, so it must not depend on where music21 is installed or whether the path goes through a
    symlink (a symlinked ``.venv`` makes music21 hand out resolved paths while its ``__file__`` is not)."""
    m21 = _music21()
    root = Path(m21.__file__).parent / "corpus"
    path = Path(path)
    for base, p in ((root, path), (root.resolve(), path.resolve())):
        try:
            return p.relative_to(base).as_posix()
        except ValueError:
            continue
    parts = path.resolve().parts
    for i in range(len(parts) - 2, 0, -1):      # any other music21 install: the part after music21/corpus/
        if parts[i] == "corpus" and parts[i - 1] == "music21":
            return "/".join(parts[i + 1:])
    return path.as_posix()


def _guess_program(part) -> int:
    from music21 import instrument

    inst = None
    try:
        inst = part.getInstrument(returnDefault=False)
    except Exception:
        inst = None
    if inst is not None and inst.midiProgram is not None and type(inst).__name__ != "Instrument":
        return int(inst.midiProgram)
    for name in (getattr(part, "partName", None), getattr(inst, "instrumentName", None),
                 getattr(inst, "partName", None)):
        if not name:
            continue
        try:
            guess = instrument.fromString(str(name))
            if guess.midiProgram is not None:
                return int(guess.midiProgram)
        except Exception:
            continue
    return -1


def _tempo_map(score) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-constant tempo: returns (start_quarters, seconds_per_quarter) sorted by start."""
    starts, spq = [], []
    try:
        bounds = score.metronomeMarkBoundaries()
    except Exception:
        bounds = []
    first_bpm = None
    for start, end, mm in bounds:
        try:
            bpm = float(mm.getQuarterBPM())
        except Exception:
            bpm = None
        if not bpm or not np.isfinite(bpm) or bpm <= 0:
            continue
        first_bpm = first_bpm or bpm
        if end > start:
            starts.append(float(start))
            spq.append(60.0 / bpm)
    if not starts:
        starts, spq = [0.0], [60.0 / (first_bpm or DEFAULT_QPM)]
    order = np.argsort(starts, kind="stable")
    starts_a = np.asarray(starts, dtype=np.float64)[order]
    spq_a = np.asarray(spq, dtype=np.float64)[order]
    starts_a[0] = min(starts_a[0], 0.0)
    return starts_a, spq_a


def _quarters_to_seconds(q: np.ndarray, starts: np.ndarray, spq: np.ndarray) -> np.ndarray:
    seg_seconds = np.concatenate([[0.0], np.cumsum(np.diff(starts) * spq[:-1])])
    idx = np.clip(np.searchsorted(starts, q, side="right") - 1, 0, len(starts) - 1)
    return seg_seconds[idx] + (q - starts[idx]) * spq[idx]


def _merged_note_rows(part) -> list[tuple[float, float, int, int]]:
    """(onset_q, duration_q, midi, velocity) of a part, tied notes merged into one note.

    Linear-time tie merging (music21's ``stripTies`` takes tens of seconds on a long quartet movement).
    """
    rows: list[list] = []
    open_ties: dict[int, int] = {}
    for el in part.flatten().notes:
        q_on = float(el.offset)
        q_dur = float(el.quarterLength)
        try:
            vel = el.volume.velocity
        except Exception:
            vel = None
        vel = vel if vel else DEFAULT_VELOCITY
        is_chord = hasattr(el, "notes") and len(getattr(el, "notes", ())) > 0
        members = list(el.notes) if is_chord else [el]
        for n in members:
            try:
                midi = int(round(n.pitch.ps))
            except Exception:
                continue
            if not 0 <= midi <= 127:
                continue
            tie = getattr(n, "tie", None)
            if tie is None and is_chord:
                tie = getattr(el, "tie", None)
            ttype = getattr(tie, "type", None)
            if ttype in ("stop", "continue") and midi in open_ties:
                row = rows[open_ties[midi]]
                row[1] = max(row[1], q_on + q_dur - row[0])
                if ttype == "stop":
                    del open_ties[midi]
                continue
            rows.append([q_on, q_dur, midi, vel])
            if ttype in ("start", "continue"):
                open_ties[midi] = len(rows) - 1
            else:
                open_ties.pop(midi, None)
    return [tuple(r) for r in rows]


def score_to_parts(score) -> list[Part]:
    """Note lists of every part of a music21 Score that has notes (repeats expanded when possible)."""
    try:
        expanded = score.expandRepeats()
        if expanded is not None and len(expanded.parts):
            score = expanded
    except Exception:
        pass                                   # bad repeat marks: keep the unexpanded stream
    starts, spq = _tempo_map(score)
    parts = []
    for i, part in enumerate(score.parts):
        rows = _merged_note_rows(part)
        if not rows:
            continue
        arr = np.asarray(rows, dtype=np.float64)
        on = _quarters_to_seconds(arr[:, 0], starts, spq)
        off = _quarters_to_seconds(arr[:, 0] + arr[:, 1], starts, spq)
        dur = np.maximum(off - on, MIN_NOTE_SECONDS)
        notes = np.stack([on, dur, arr[:, 2], np.clip(arr[:, 3], 1, 127)], axis=1)
        name = (getattr(part, "partName", None) or f"part{i + 1}").strip()
        parts.append(Part(name=name, program=_guess_program(part), notes=notes))
    return parts


def _abc_has_voices(path: Path) -> bool:
    """ABC tunes are one melody unless they declare voices (``V:`` lines)."""
    try:
        return re.search(r"^V:", path.read_text(errors="ignore"), re.M) is not None
    except OSError:
        return True


class _Timeout(BaseException):  # not an Exception: broad handlers inside music21 must not swallow it
    pass


def _on_alarm(signum, frame):  # pragma: no cover - only on pathological files
    raise _Timeout()


def convert_file(path: str | Path, timeout_s: int = PER_FILE_TIMEOUT_S) -> dict:
    """Parse one corpus file (a score, or an opus of several) into a JSON-able record:
    ``{"file", "status", "seconds", "pieces": [{"id", "parts": [{"name", "program", "notes"}]}]}``.
    Only multi-part pieces (>= 2 parts with notes) are kept. Never raises: failures are a status."""
    m21 = _music21()
    rel = corpus_relpath(Path(path))
    t0 = time.time()
    rec: dict = {"file": rel, "status": "ok", "pieces": [], "single_part": 0}
    use_alarm = hasattr(signal, "SIGALRM") and timeout_s > 0
    if use_alarm:
        old = signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(timeout_s)
    try:
        if Path(path).suffix.lower() == ".abc" and not _abc_has_voices(Path(path)):
            rec["status"] = "single-voice-abc"     # no V: field: one melody per tune, nothing to separate
            return rec
        obj = m21.converter.parse(str(path))
        if isinstance(obj, m21.stream.Opus):
            scores = list(obj.scores)
        else:
            scores = [obj]
        for k, sc in enumerate(scores):
            try:
                parts = score_to_parts(sc)
            except _Timeout:
                raise
            except Exception as exc:  # one bad tune in an opus does not sink the others
                rec.setdefault("errors", []).append(f"{k}: {type(exc).__name__}: {exc}"[:300])
                continue
            if len(parts) < 2:
                rec["single_part"] += 1
                continue
            pid = f"music21:{rel}" if len(scores) == 1 else f"music21:{rel}#{k}"
            title = ""
            try:
                title = (sc.metadata.title or "") if sc.metadata else ""
            except Exception:
                pass
            rec["pieces"].append({
                "id": pid, "title": title,
                "parts": [{"name": p.name, "program": p.program,
                           "notes": np.round(p.notes.astype(np.float64), 4).tolist()} for p in parts]})
    except _Timeout:
        rec["status"] = "timeout"
    except Exception as exc:
        rec["status"] = "error"
        rec["error"] = f"{type(exc).__name__}: {exc}"[:500]
    finally:
        if use_alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old)
    rec["seconds"] = round(time.time() - t0, 3)
    return rec


def _record_name(rel: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", rel) + ".json"


def scores_dir(root: Path | None = None) -> Path:
    return (root or cache_dir()) / "scores"


def build_score_cache(root: Path | None = None, workers: int = 2, limit: int | None = None,
                      progress: bool = True, files: Sequence[Path] | None = None,
                      timeout_s: int = PER_FILE_TIMEOUT_S, retry_failed: bool = False) -> dict:
    """Convert the music21 corpus into note lists under ``<root>/scores`` (resumable), then consolidate.

    Files already converted (a record exists) are skipped, so this can be interrupted and rerun;
    ``retry_failed`` converts again the files whose record says ``error`` or ``timeout``.
    Returns a summary dict.
    """
    import functools
    from multiprocessing import get_context

    from tqdm import tqdm

    out = scores_dir(root)
    rec_dir = out / "records"
    rec_dir.mkdir(parents=True, exist_ok=True)
    todo_all = list(files) if files is not None else corpus_files()
    if limit is not None:
        todo_all = todo_all[:limit]
    def needed(p: Path) -> bool:
        rec = rec_dir / _record_name(corpus_relpath(p))
        if not rec.exists():
            return True
        if retry_failed:
            try:
                return json.loads(rec.read_text())["status"] in ("error", "timeout")
            except (OSError, ValueError, KeyError):
                return True
        return False

    todo = [p for p in todo_all if needed(p)]
    convert = functools.partial(convert_file, timeout_s=timeout_s)
    t0 = time.time()
    bar = tqdm(total=len(todo_all), initial=len(todo_all) - len(todo), desc="music21 scores",
               unit="file", disable=not progress, file=sys.stderr, mininterval=2.0)
    if todo:
        if workers <= 1:
            results = map(convert, todo)
            pool = None
        else:
            pool = get_context("fork").Pool(workers, maxtasksperchild=40)
            results = pool.imap_unordered(convert, todo, chunksize=1)
        try:
            for rec in results:
                tmp = rec_dir / (_record_name(rec["file"]) + ".tmp")
                tmp.write_text(json.dumps(rec))
                os.replace(tmp, rec_dir / _record_name(rec["file"]))
                bar.update(1)
                bar.set_postfix(pieces=len(rec["pieces"]), status=rec["status"], refresh=False)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    bar.close()
    summary = consolidate_score_cache(root)
    summary["convert_seconds_this_run"] = round(time.time() - t0, 1)
    summary["files_total"] = len(todo_all)
    return summary


def consolidate_score_cache(root: Path | None = None) -> dict:
    """Merge the per-file records into ``notes.npz`` (one float32 array) + ``index.json``."""
    out = scores_dir(root)
    rec_dir = out / "records"
    if not rec_dir.is_dir():
        raise CorpusError(f"no score records under {rec_dir}; run `eventsep corpus scores` first")
    pieces_meta, chunks, n = [], [], 0
    status: dict[str, int] = {}
    single = 0
    convert_seconds = 0.0
    for f in sorted(rec_dir.glob("*.json")):
        rec = json.loads(f.read_text())
        status[rec["status"]] = status.get(rec["status"], 0) + 1
        single += rec.get("single_part", 0)
        convert_seconds += rec.get("seconds", 0.0)
        for pc in rec["pieces"]:
            parts_meta = []
            for p in pc["parts"]:
                arr = np.asarray(p["notes"], dtype=np.float32).reshape(-1, 4)
                parts_meta.append({"name": p["name"], "program": p["program"], "start": n, "count": len(arr)})
                chunks.append(arr)
                n += len(arr)
            dur = max(float((np.asarray(p["notes"])[:, 0] + np.asarray(p["notes"])[:, 1]).max())
                      for p in pc["parts"])
            pieces_meta.append({"id": pc["id"], "title": pc.get("title", ""), "file": rec["file"],
                                "duration": round(dur, 3), "parts": parts_meta})
    notes = np.concatenate(chunks) if chunks else np.zeros((0, 4), np.float32)
    tmp = out / "notes.tmp.npz"
    np.savez(tmp, notes=notes)
    os.replace(tmp, out / "notes.npz")
    summary = {"pieces": len(pieces_meta), "notes": int(n), "files_by_status": status,
               "single_part_scores_skipped": single,
               "hours": round(sum(p["duration"] for p in pieces_meta) / 3600.0, 3),
               "cpu_seconds_converting": round(convert_seconds, 1)}
    (out / "index.json").write_text(json.dumps({"summary": summary, "pieces": pieces_meta}))
    return summary


def load_score_cache(root: Path | None = None, required: bool = True) -> list[Piece]:
    """The converted music21 pieces (empty list if absent and ``required`` is False)."""
    out = scores_dir(root)
    if not (out / "index.json").is_file() or not (out / "notes.npz").is_file():
        if required:
            raise CorpusError(f"the music21 score cache is missing under {out}; "
                              f"build it with `eventsep corpus scores` (takes a while, resumable)")
        return []
    index = json.loads((out / "index.json").read_text())
    notes = np.load(out / "notes.npz")["notes"]
    pieces = []
    for pm in index["pieces"]:
        parts = [Part(name=p["name"], program=int(p["program"]),
                      notes=notes[p["start"]:p["start"] + p["count"]]) for p in pm["parts"]]
        pieces.append(Piece(id=pm["id"], source="music21", parts=parts,
                            meta={"title": pm.get("title", ""), "file": pm.get("file", "")}))
    return pieces


def parse_pieces(paths: Iterable[str | Path]) -> list[Piece]:
    """Parse a few score files directly (no cache): used by tests and small experiments."""
    pieces = []
    for path in paths:
        rec = convert_file(path, timeout_s=0)
        if rec["status"] != "ok":
            raise CorpusError(f"could not parse {path}: {rec.get('error', rec['status'])}")
        for pc in rec["pieces"]:
            parts = [Part(p["name"], p["program"], np.asarray(p["notes"], np.float32)) for p in pc["parts"]]
            pieces.append(Piece(pc["id"], "music21", parts, {"title": pc.get("title", ""), "file": rec["file"]}))
    return pieces


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m engine.corpus.scores [--workers N] [--limit N]``: build the cache (background-friendly)."""
    import argparse

    ap = argparse.ArgumentParser(description=_main.__doc__)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--timeout", type=int, default=PER_FILE_TIMEOUT_S)
    ap.add_argument("--retry-failed", action="store_true")
    args = ap.parse_args(argv)
    summary = build_score_cache(workers=args.workers, limit=args.limit, timeout_s=args.timeout,
                                retry_failed=args.retry_failed)
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
