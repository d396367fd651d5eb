"""music21 scores -> note lists (a few small scores parsed directly, never the full corpus)."""
import json
import os

import numpy as np
import pytest

music21 = pytest.importorskip("music21")

from engine.corpus import scores  # noqa: E402
from engine.corpus.procedural import ROLE_CLASSES, generate_piece  # noqa: E402
from engine.taxonomy import GM_DRUM_NOTES  # noqa: E402


def _work(name):
    return music21.corpus.getWork(name)


def test_chorale_to_note_lists_with_tempo_and_programs():
    [piece] = scores.parse_pieces([_work("bach/bwv66.6")])
    assert music21.defaults.ticksPerQuarter == 960
    assert piece.id == "music21:bach/bwv66.6.mxl"
    assert [p.name for p in piece.parts] == ["Soprano", "Alto", "Tenor", "Bass"]
    assert all(p.program == 53 for p in piece.parts)            # music21's vocal instruments -> Voice Oohs
    sop = piece.parts[0].notes
    assert sop.shape[1] == 4 and np.all(np.diff(sop[:, 0]) >= 0)
    # the score says quarter = 96: every onset is a multiple of an eighth note (0.3125 s)
    np.testing.assert_allclose(sop[:, 0] / 0.3125, np.round(sop[:, 0] / 0.3125), atol=1e-3)
    assert 20.0 < piece.duration < 40.0
    assert piece.parts[3].notes[:, 2].mean() < piece.parts[0].notes[:, 2].mean()   # bass below soprano


def _score(bad_repeats):
    from music21 import bar, meter, note, stream

    sc = stream.Score()
    for pitch in ("C5", "C3"):
        p = stream.Part()
        for i in range(4):
            m = stream.Measure(number=i + 1)
            if i == 0:
                m.insert(0, meter.TimeSignature("4/4"))
            m.append(note.Note(pitch, quarterLength=4))
            if i == 1:
                m.leftBarline = bar.Repeat(direction="start")
            if i == 2 and not bad_repeats:
                m.rightBarline = bar.Repeat(direction="end")
            if i == 3 and bad_repeats:
                m.leftBarline = bar.Repeat(direction="start")
            p.append(m)
        sc.insert(0, p)
    return sc


def test_repeats_are_expanded_and_bad_repeats_are_stripped_not_fatal():
    good = scores.score_to_parts(_score(False))
    assert [len(p.notes) for p in good] == [6, 6]             # bars 2-3 played twice
    bad = scores.score_to_parts(_score(True))
    assert [len(p.notes) for p in bad] == [4, 4]              # kept, unexpanded


def test_cache_is_built_incrementally_and_loads_back(tmp_path):
    files = [_work("bach/bwv66.6"), _work("bach/bwv10.7")]
    abc = tmp_path / "tune.abc"
    abc.write_text("X:1\nT:One voice\nM:4/4\nL:1/4\nK:C\nCDEF|GABc|\n")
    s1 = scores.build_score_cache(root=tmp_path, workers=1, progress=False, files=files + [abc])
    assert s1["pieces"] == 2 and s1["files_by_status"] == {"ok": 2, "single-voice-abc": 1}
    rec_dir = tmp_path / "scores" / "records"
    mtimes = {f.name: f.stat().st_mtime_ns for f in rec_dir.iterdir()}
    loaded = {p.id: p for p in scores.load_score_cache(tmp_path)}
    direct = {p.id: p for p in scores.parse_pieces(files)}
    assert loaded.keys() == direct.keys()
    for pid, p in direct.items():
        for a, b in zip(p.parts, loaded[pid].parts):
            np.testing.assert_allclose(a.notes, b.notes, atol=1e-3)
            assert (a.name, a.program) == (b.name, b.program)
    # a rerun converts nothing again (resumable), and gives the same index
    index_before = json.loads((tmp_path / "scores" / "index.json").read_text())["pieces"]
    scores.build_score_cache(root=tmp_path, workers=1, progress=False, files=files + [abc])
    assert {f.name: f.stat().st_mtime_ns for f in rec_dir.iterdir()} == mtimes
    assert json.loads((tmp_path / "scores" / "index.json").read_text())["pieces"] == index_before


def test_missing_cache_is_a_clear_error(tmp_path):
    with pytest.raises(scores.CorpusError, match="eventsep corpus scores"):
        scores.load_score_cache(tmp_path)
    assert scores.load_score_cache(tmp_path, required=False) == []


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EVENTSEP_CACHE", str(tmp_path / "c"))
    assert scores.scores_dir() == tmp_path / "c" / "scores"
    monkeypatch.delenv("EVENTSEP_CACHE")
    assert str(scores.scores_dir()).endswith(os.path.join("cache", "corpus", "scores"))


def test_procedural_pieces_are_seeded_and_varied():
    a, b = generate_piece(42), generate_piece(42)
    assert a.id == "proc:000042" and len(a.parts) == len(b.parts) >= 2
    for x, y in zip(a.parts, b.parts):
        assert x.name == y.name and np.array_equal(x.notes, y.notes)
    pieces = [generate_piece(s) for s in range(40)]
    assert len({p.meta["bpm"] for p in pieces}) == 40
    assert len({p.meta["key"] for p in pieces}) >= 8
    assert {p.meta["minor"] for p in pieces} == {True, False}
    roles = {q.name for p in pieces for q in p.parts}
    assert roles == set(ROLE_CLASSES)
    drum_keys = set()
    for p in pieces:
        for q in p.parts:
            assert len(q.notes) > 0 and np.all(q.notes[:, 1] > 0)
            assert np.all((q.notes[:, 2] >= 0) & (q.notes[:, 2] <= 127))
            if q.name == "drums":
                assert q.is_drum
                drum_keys |= {GM_DRUM_NOTES[int(k)][1] for k in q.notes[:, 2]}
            else:
                assert not q.is_drum
    assert {"kick", "snare", "hihat", "tom", "cymbal"} <= drum_keys
    bass = [q for p in pieces for q in p.parts if q.name == "bass"]
    lead = [q for p in pieces for q in p.parts if q.name == "lead"]
    assert np.median([np.median(q.notes[:, 2]) for q in bass]) < np.median([np.median(q.notes[:, 2]) for q in lead]) - 12


def test_piece_ids_do_not_depend_on_where_music21_is_installed(tmp_path):
    """A symlinked .venv makes music21 hand out paths that do not start with its own __file__; the id
    (and so the split) must stay the path inside the corpus folder."""
    real = music21.corpus.getWork("bach/bwv66.6")
    corpus_root = os.path.dirname(music21.__file__)
    link = tmp_path / "venv-link"
    link.symlink_to(corpus_root, target_is_directory=True)
    through_link = link / os.path.relpath(str(real), corpus_root)
    assert through_link.exists()
    assert scores.corpus_relpath(real) == "bach/bwv66.6.mxl"
    assert scores.corpus_relpath(through_link) == "bach/bwv66.6.mxl"
    resolved_elsewhere = tmp_path / "other" / "music21" / "corpus" / "bach" / "bwv66.6.mxl"
    assert scores.corpus_relpath(resolved_elsewhere) == "bach/bwv66.6.mxl"
