"""Timbre augmentation (engine.timbre) in the class-query recipe, and forking a run with a changed recipe."""
import json

import numpy as np
from scipy.signal import sosfreqz

from engine.cli import main
from engine.config import TrainConfig
from engine.querymix import class_vocabulary, make_query_example
from engine.stems import SyntheticStemSource
from engine.timbre import EqRanges, equalise, random_eq
from engine.train import read_log


def test_the_random_equaliser_stays_in_its_ranges_and_keeps_the_level():
    rng = np.random.default_rng(0)
    ranges = EqRanges()
    boost = ranges.low_shelf_db + ranges.high_shelf_db + ranges.peak_db + 0.5
    spans, lowpassed = [], 0
    for _ in range(50):
        sos = random_eq(22050, rng)
        f, h = sosfreqz(sos, worN=512, fs=22050)
        db = 20 * np.log10(np.abs(h) + 1e-12)
        assert np.all(np.isfinite(db)) and db.max() <= boost
        # below 1 kHz only the shelves and the peak act (a low-pass's corner is at 3 kHz or above)
        assert np.abs(db[f < 1000]).max() <= boost
        spans.append(db[f < 8000].max() - db[f < 8000].min())
        lowpassed += len(sos) == 4
    assert np.median(spans) > 6.0                       # it really changes the spectral balance
    assert 10 <= lowpassed <= 40
    x = np.random.default_rng(1).standard_normal(22050).astype(np.float32)
    y = equalise(x, 22050, np.random.default_rng(2))
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(np.sqrt(np.mean(y ** 2)), np.sqrt(np.mean(x ** 2)), rtol=1e-4)
    np.testing.assert_array_equal(y, equalise(x, 22050, np.random.default_rng(2)))     # seeded
    assert not equalise(np.zeros(100, np.float32), 22050, np.random.default_rng(0)).any()


def _examples(cfg, n=30):
    source = SyntheticStemSource(22050)
    index = {c: i for i, c in enumerate(class_vocabulary(source.classes, source.fine_labels))}
    rng = np.random.default_rng(5)
    return [make_query_example(source, 4000, rng, cfg, index) for _ in range(n)]


def test_augmented_examples_stay_sums_of_their_parts_and_zero_changes_nothing():
    plain = _examples(TrainConfig(recipe="classquery"))
    # the field's default draws nothing, so the recipe without augmentation makes the examples it always made
    again = _examples(TrainConfig(recipe="classquery", timbre_aug=0.0))
    for a, b in zip(plain, again):
        np.testing.assert_array_equal(a["mixture"], b["mixture"])
    augmented = _examples(TrainConfig(recipe="classquery", timbre_aug=1.0))
    assert any(not np.allclose(a["query"], b["query"]) for a, b in zip(plain, augmented))
    for ex in augmented:
        rest = ex["mixture"] - ex["target"]
        assert np.abs(rest).max() > 0 and np.all(np.isfinite(ex["mixture"]))
        if ex["absent"]:
            assert not ex["target"].any()


TINY = ["--source", "synthetic", "--recipe", "classquery", "--arch", "tcn", "--hidden", "16", "--latent-dim", "8",
        "--segment-seconds", "0.5", "--batch-size", "2", "--checkpoint-every", "5", "--validate-every", "1000",
        "--quiet"]


def test_a_fork_continues_the_parents_lineage_with_the_new_recipe(tmp_path, capsys):
    parent, child = tmp_path / "parent", tmp_path / "child"
    assert main(["train", "--out", str(parent), "--steps", "10", *TINY]) == 0
    assert main(["train", "--out", str(child), "--fork-from", str(parent), "--timbre-aug", "0.5", "--steps", "15",
                 *TINY]) == 0
    state = json.loads((child / "train_state.json").read_text())
    assert state["step"] == 15 and state["train"]["timbre_aug"] == 0.5
    assert json.loads((parent / "train_state.json").read_text())["train"]["timbre_aug"] == 0.0
    rows = read_log(child)
    assert [r["step"] for r in rows][:2] == [10, 15]     # the parent's row, then the fork's own
    assert rows[1]["cpu_seconds"] > rows[0]["cpu_seconds"]
    # --lr is a recipe change too: the fork trains on at the new rate, the parent keeps its own
    slow = tmp_path / "slow"
    assert main(["train", "--out", str(slow), "--fork-from", str(parent), "--lr", "1e-5", "--steps", "15", *TINY]) == 0
    assert json.loads((slow / "train_state.json").read_text())["train"]["lr"] == 1e-5
    assert read_log(slow)[-1]["lr"] == 1e-5 and read_log(parent)[-1]["lr"] == 2e-4
    capsys.readouterr()
    # a second fork into the same folder, a missing parent, a bad probability: one line each, no traceback
    for argv, message in ((["--fork-from", str(parent)], "already holds a run"),
                          (["--fork-from", str(tmp_path / "nope")], "no training run to fork"),
                          (["--timbre-aug", "1.5"], "--timbre-aug must be in [0, 1]"),
                          (["--lr", "0"], "--lr must be in (0, 1)")):
        assert main(["train", "--out", str(child), "--steps", "20", *argv, *TINY]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


def test_validation_scores_the_mixtures_as_they_are_whatever_the_augmentation():
    import torch

    from engine.config import ModelConfig
    from engine.models import QuerySeparator
    from engine.query_objective import validate_query

    torch.manual_seed(0)
    source = SyntheticStemSource(22050)
    mc = ModelConfig(arch="tcn", hidden=16, query_hidden=16, latent_dim=8, segment_seconds=0.5,
                     class_vocab=class_vocabulary(source.classes, source.fine_labels))
    model = QuerySeparator(mc)
    plain = validate_query(model, source, 11025, TrainConfig(recipe="classquery", valid_batches=2, batch_size=4),
                           torch.device("cpu"))
    augmented = validate_query(model, source, 11025, TrainConfig(recipe="classquery", valid_batches=2, batch_size=4,
                                                                timbre_aug=1.0), torch.device("cpu"))
    assert plain == augmented
