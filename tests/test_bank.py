"""The stem bank (engine.corpus.bank): rendered once, served as random crops, resumable."""
import json

import numpy as np
import pytest

pytest.importorskip("fluidsynth")

from engine.corpus.bank import SHARD, BankStemSource, build_bank  # noqa: E402
from engine.corpus.paths import CorpusError  # noqa: E402


@pytest.fixture(scope="module")
def bank(tmp_path_factory):
    root = tmp_path_factory.mktemp("bank")
    return build_bank("train", "fluidr3", per_class=SHARD, seconds=1.5, classes=["bass", "drums"], root=root,
                      workers=1, progress=False, include_scores=False)


def test_bank_holds_every_class_and_serves_crops(bank):
    src = BankStemSource(bank)
    assert src.classes == ["bass", "drums"] and len(src) == 2 * SHARD
    rng = np.random.default_rng(0)
    stem = src.draw("bass", 22050, rng)
    assert stem.audio.shape == (22050,) and stem.audio.dtype == np.float32 and stem.coarse == "bass"
    assert np.abs(stem.audio).max() > 1e-3 and stem.piece.startswith("proc:")
    longer = src.draw("drums", 40000, rng)                   # longer than the stems: zero-padded
    assert longer.audio.shape == (40000,) and not longer.audio[33075:].any()
    with pytest.raises(KeyError):
        src.draw("piano", 100, rng)


def test_query_clips_come_from_another_piece(bank):
    src = BankStemSource(bank)
    rng = np.random.default_rng(1)
    for _ in range(20):
        target = src.draw("bass", 8000, rng)
        query = src.draw_query(target, 8000, rng, same_fine=True)
        assert query.coarse == "bass" and query.piece != target.piece


def test_rebuilding_skips_done_shards_and_refuses_another_length(bank):
    before = {p: p.stat().st_mtime_ns for p in bank.rglob("*.npy")}
    build_bank("train", "fluidr3", per_class=SHARD, seconds=1.5, classes=["bass", "drums"], root=bank.parent,
               workers=1, progress=False, include_scores=False)
    assert {p: p.stat().st_mtime_ns for p in bank.rglob("*.npy")} == before
    with pytest.raises(CorpusError, match="another length"):
        build_bank("train", "fluidr3", per_class=SHARD, seconds=2.0, classes=["bass"], root=bank.parent,
                   workers=1, progress=False, include_scores=False)
    assert json.loads((bank / "bank.json").read_text())["num_samples"] == 33075


def test_missing_bank_is_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="no stem bank"):
        BankStemSource(tmp_path)


def test_a_mixture_of_banks_draws_from_each_in_proportion(bank):
    from engine.corpus.bank import BankMixture

    both, bass_only = BankStemSource(bank), BankStemSource(bank, classes=["bass"])
    used = {"both": 0, "bass_only": 0}
    for name, src in (("both", both), ("bass_only", bass_only)):
        draw = src.draw

        def counted(*a, _draw=draw, _name=name, **k):
            used[_name] += 1
            return _draw(*a, **k)
        src.draw = counted
    mixed = BankMixture([both, bass_only])
    assert mixed.classes == ["bass", "drums"] and len(mixed) == 3 * SHARD
    rng = np.random.default_rng(2)
    for _ in range(200):
        assert mixed.draw("drums", 4000, rng).coarse == "drums"       # only one bank has drums
    assert used == {"both": 200, "bass_only": 0}
    for _ in range(400):
        mixed.draw("bass", 4000, rng)
    assert 150 < used["bass_only"] < 250                             # two banks of equal size: half each
    for _ in range(20):
        target = mixed.draw("bass", 8000, rng)
        query = mixed.draw_query(target, 8000, rng, same_fine=False)
        assert query.coarse == "bass" and query.piece != target.piece


def test_banks_source_names_its_soundfonts(tmp_path, monkeypatch):
    from engine.errors import EventSepError
    from engine.sources import open_stem_source

    with pytest.raises(EventSepError, match="needs soundfont names"):
        open_stem_source("banks:")
    monkeypatch.setenv("EVENTSEP_CACHE", str(tmp_path))
    with pytest.raises(EventSepError, match="no stem bank"):
        open_stem_source("banks:fluidr3,musescore")
