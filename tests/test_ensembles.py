"""Ensembles (engine.corpus.ensembles): parts of one piece rendered together, and the training mixtures
made of them (engine.querymix with ``p_ensemble``)."""
import json
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("fluidsynth")

from engine.config import TrainConfig  # noqa: E402
from engine.corpus.bank import SHARD, BankStemSource, build_bank  # noqa: E402
from engine.corpus.ensembles import PARTS, Ensembles, WithEnsembles, build_ensembles  # noqa: E402
from engine.corpus.paths import CorpusError  # noqa: E402
from engine.querymix import class_vocabulary, make_query_example  # noqa: E402

CLASSES = ["bass", "drums"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("ens")
    bank = build_bank("train", "fluidr3", per_class=SHARD, seconds=1.5, classes=CLASSES, root=root,
                      workers=1, progress=False, include_scores=False)
    ens = build_ensembles("train", "fluidr3", per_class=SHARD, seconds=1.5, classes=CLASSES, root=root,
                          workers=1, progress=False, include_scores=False)
    return bank, ens


def test_an_ensemble_is_parts_of_one_piece_of_other_classes(built):
    _, folder = built
    for coarse in CLASSES:
        audio = np.load(folder / coarse / "0000.npy")
        meta = json.loads((folder / coarse / "0000.json").read_text())
        assert audio.shape == (SHARD, PARTS, 33075) and audio.dtype == np.float16 and len(meta) == SHARD
        for parts, m in zip(audio, meta):
            n = len(m["coarse"])
            assert 2 <= n <= PARTS and m["coarse"][0] == coarse and m["piece"].startswith("proc:")
            assert len(set(m["coarse"])) == n                     # every part another class
            assert all(np.abs(parts[j]).max() > 1e-3 for j in range(n)) and not parts[n:].any()


def test_draw_crops_every_part_at_one_place(built):
    _, folder = built
    ens = Ensembles(folder)
    assert ens.classes == CLASSES and len(ens) == 2 * SHARD
    stems = ens.draw("drums", 8000, np.random.default_rng(3))
    rng = np.random.default_rng(3)                              # the same draws, by hand
    index = int(rng.integers(SHARD))
    start = int(rng.integers(33075 - 8000 + 1))
    stored = np.load(folder / "drums" / "0000.npy")[index]
    meta = json.loads((folder / "drums" / "0000.json").read_text())[index]
    assert [s.coarse for s in stems] == meta["coarse"] and {s.piece for s in stems} == {meta["piece"]}
    for j, stem in enumerate(stems):
        np.testing.assert_array_equal(stem.audio, stored[j, start:start + 8000].astype(np.float32))


def test_training_mixes_ensembles_at_their_share_and_nothing_changes_without_them(built):
    bank_folder, folder = built
    bank = BankStemSource(bank_folder)
    both = WithEnsembles(bank, Ensembles(folder))
    vocab = {c: i for i, c in enumerate(class_vocabulary(bank.classes, bank.fine_labels))}
    cfg = TrainConfig(recipe="classquery", p_absent=0.0)
    # p_ensemble 0 draws nothing more: the same examples as the bank alone
    for seed in range(4):
        a = make_query_example(bank, 8000, np.random.default_rng(seed), cfg, vocab)
        b = make_query_example(both, 8000, np.random.default_rng(seed), cfg, vocab)
        np.testing.assert_array_equal(a["mixture"], b["mixture"])
    # p_ensemble 1: the rest is the target's own piece (every part of it sounding)
    ens_cfg = replace(cfg, p_ensemble=1.0)
    for seed in range(6):
        rng = np.random.default_rng(seed)
        ex = make_query_example(both, 8000, rng, ens_cfg, vocab)
        again = np.random.default_rng(seed)
        again.random()                                           # the share's draw
        stems = both.ensembles.draw(CLASSES[int(again.integers(2))], 8000, again)
        assert ex["coarse"] == vocab[stems[0].coarse]
        parts = np.stack([st.audio for st in stems])              # (parts, samples)
        gains, *_ = np.linalg.lstsq(parts.T, ex["mixture"], rcond=None)
        np.testing.assert_allclose(parts.T @ gains, ex["mixture"], atol=1e-4)
        np.testing.assert_allclose(gains[0] * stems[0].audio, ex["target"], atol=1e-4)
        assert np.all((gains > cfg.gain_low - 1e-3) & (gains < cfg.gain_high + 1e-3))


def test_a_recipe_with_ensembles_needs_a_source_with_them(tmp_path):
    from engine.config import tiny_model_config
    from engine.errors import EventSepError
    from engine.stems import SyntheticStemSource
    from engine.train import train

    src = SyntheticStemSource(8000)
    with pytest.raises(EventSepError, match="bank\\+ensembles"):
        train(tmp_path / "run", src, None, tiny_model_config(sample_rate=8000),
              TrainConfig(recipe="classquery", steps=1, p_ensemble=0.5), progress=False)


def test_missing_ensembles_are_a_clear_error(tmp_path):
    with pytest.raises(CorpusError, match="eventsep corpus ensembles"):
        Ensembles(tmp_path)


def test_ensembles_of_several_soundfonts_are_drawn_in_proportion(built, tmp_path, monkeypatch):
    import shutil

    from engine.corpus.ensembles import EnsembleMixture
    from engine.sources import open_stem_source

    bank_folder, folder = built
    cache = tmp_path / "cache"
    shutil.copytree(bank_folder, cache / "bank" / "train-fluidr3")
    shutil.copytree(folder, cache / "bank" / "ensembles-train-fluidr3")
    # a second "soundfont" holding drums only: bass must always come from the first
    shutil.copytree(folder, cache / "bank" / "ensembles-train-csound", ignore=shutil.ignore_patterns("bass"))
    monkeypatch.setenv("EVENTSEP_CACHE", str(cache))

    single = open_stem_source("bank+ensembles")
    assert isinstance(single.ensembles, Ensembles)               # '+ensembles' alone: FluidR3's, as before
    both = open_stem_source("bank+ensembles:fluidr3,csound")
    assert isinstance(both.ensembles, EnsembleMixture) and both.ensembles.classes == CLASSES
    assert len(both.ensembles) == 3 * SHARD
    first, second = both.ensembles.sets
    picks = {"bass": [], "drums": []}
    for seed in range(200):
        for coarse in CLASSES:
            rng = np.random.default_rng(seed)
            stems = both.ensembles.draw(coarse, 4000, rng)
            again = np.random.default_rng(seed)
            which = int(again.choice(2, p=[0.5, 0.5] if coarse == "drums" else [1.0, 0.0]))
            expected = (first, second)[which].draw(coarse, 4000, again)
            np.testing.assert_array_equal(stems[0].audio, expected[0].audio)
            picks[coarse].append(which)
    assert picks["bass"] == [0] * 200 and 70 < sum(picks["drums"]) < 130
    with pytest.raises(Exception, match="ensembles-train-timgm"):
        open_stem_source("bank+ensembles:fluidr3,timgm")
    with pytest.raises(Exception, match="unknown stem source"):
        open_stem_source("bank+ensemblesX")
