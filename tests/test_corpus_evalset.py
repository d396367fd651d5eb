"""The evaluation set: seeded, bit-identical when rebuilt, loadable; tiny versions of the real thing."""
import json

import numpy as np
import pytest
import soundfile as sf

music21 = pytest.importorskip("music21")

from engine.corpus import evalset, scores, splits  # noqa: E402
from engine.corpus.cli import main as corpus_main  # noqa: E402
from engine.corpus.procedural import generate_piece  # noqa: E402
from engine.taxonomy import CORE_CLASSES  # noqa: E402


@pytest.fixture(scope="module")
def test_pieces():
    files = []
    for f in scores.corpus_files():
        rel = scores.corpus_relpath(f)
        if rel.startswith("bach/bwv") and f.suffix == ".mxl" and splits.split_of(f"music21:{rel}") == "test":
            files.append(f)
            if len(files) == 3:
                break
    procs = [generate_piece(s) for s in splits.procedural_seeds("test", 120)]
    return scores.parse_pieces(files) + procs


def test_tiny_evalset_rebuilds_bit_identically_and_loads(tmp_path, test_pieces):
    a, b = tmp_path / "a", tmp_path / "b"
    evalset.build_evalset(a, "fluidr3", per_class=2, seconds=3.0, pieces=test_pieces, progress=False)
    evalset.build_evalset(b, "fluidr3", per_class=2, seconds=3.0, pieces=list(reversed(test_pieces)),
                          progress=False)
    assert evalset.digest(a) == evalset.digest(b)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files_a == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel

    es = evalset.load_evalset(a)
    assert len(es) == 16
    assert sorted(es.manifest["items"][i]["target_class"] for i in range(16)) == sorted(CORE_CLASSES * 2)
    ids = {p.id: p for p in test_pieces}
    for i, item in enumerate(es):
        it = es.manifest["items"][i]
        assert item.target.shape == item.mixture.shape == item.reference.shape == (3 * 22050,)
        assert 1 <= len(item.others) <= 3 and item.target_class not in item.others_classes
        np.testing.assert_array_equal(item.mixture, item.target + item.rest)
        # the stored mixture is the sum of the stored stems (up to 24-bit rounding)
        stored, _ = sf.read(str(a / it["mixture"]), dtype="float32")
        assert np.abs(stored - item.mixture).max() < 1e-5 * (len(item.others) + 2)
        assert np.abs(item.mixture).max() <= evalset.PEAK + 1e-4
        assert np.sqrt(np.mean(item.target ** 2)) > 1e-3 and np.sqrt(np.mean(item.reference ** 2)) > 1e-3
        assert item.target_activity.shape == (300,) and item.target_activity.max() > 0
        assert all(a_.shape == (300,) for a_ in item.others_activity)
        # the reference is the same class from a different work
        assert it["reference"]["coarse"] == item.target_class
        assert splits.group_of(it["reference"]["piece"]) != splits.group_of(it["piece"])
        assert it["piece"] in ids and it["reference"]["piece"] in ids
        if item.target_class == "drums":
            assert it["piece"].startswith("proc:")


def test_other_soundfonts_and_seeds_give_other_sets(tmp_path, test_pieces):
    kw = dict(per_class=1, seconds=2.0, pieces=test_pieces, progress=False)
    evalset.build_evalset(tmp_path / "f", "fluidr3", **kw)
    evalset.build_evalset(tmp_path / "t", "timgm", **kw)
    evalset.build_evalset(tmp_path / "s", "fluidr3", seed=1, **kw)
    man_f = json.loads((tmp_path / "f" / "manifest.json").read_text())
    man_t = json.loads((tmp_path / "t" / "manifest.json").read_text())
    assert man_t["soundfont"] == "timgm" and man_t["soundfont_file"] == "TimGM6mb.sf2"
    # same plan (pieces, windows, programs), other timbres
    assert [i["target"]["plan"] for i in man_f["items"]] == [i["target"]["plan"] for i in man_t["items"]]
    assert (tmp_path / "f" / man_f["items"][0]["target"]["file"]).read_bytes() != \
        (tmp_path / "t" / man_t["items"][0]["target"]["file"]).read_bytes()
    assert len({evalset.digest(tmp_path / d) for d in ("f", "t", "s")}) == 3


def test_cli_errors_are_messages_not_tracebacks(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("EVENTSEP_CACHE", str(tmp_path))
    assert corpus_main(["corpus", "eval-set", "--soundfont", "timgm", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "eventsep corpus scores" in err and "Traceback" not in err
    assert corpus_main(["corpus", "hash", str(tmp_path / "nothing")]) == 2
    assert "manifest.json" in capsys.readouterr().err
