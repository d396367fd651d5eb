"""The target-activity model (engine.activity): a two-input detector (mixture, U-Net estimate)."""
import csv
from dataclasses import replace

import numpy as np
import pytest
import torch

from engine.activity.data import ActivityDataConfig, ActivityExamples, frame_labels, make_examples, span_gate
from engine.activity.train import (ActivityTrainConfig, from_detector, load_examples, roc_auc, target_logits,
                                   train)
from engine.detection.config import tiny_detector_config
from engine.detection.infer import run_chunked, torch_fn
from engine.detection.model import FrameDetector


def test_two_input_model_shapes_and_a_wrong_input_is_refused():
    model = FrameDetector(tiny_detector_config(inputs=2)).eval()
    hop = model.config.front.hop
    for n in (hop * 40, hop * 40 + 7, 16000):
        with torch.no_grad():
            out = model(torch.randn(3, 2, n) * 0.1)
        assert out.shape == (3, -(-n // hop), len(model.classes))
    with pytest.raises(ValueError, match="2 input channel"):
        model(torch.randn(3, 16000))
    with pytest.raises(ValueError, match="1 input channel"):
        FrameDetector(tiny_detector_config())(torch.randn(3, 2, 16000))


def test_initial_model_is_the_detector_run_on_the_estimate():
    detector = FrameDetector(tiny_detector_config()).eval()
    with torch.no_grad():
        for p in detector.parameters():        # non-trivial weights everywhere, BatchNorm statistics too
            p.add_(0.1 * torch.randn_like(p))
        detector.bn0.running_mean.uniform_(-20, -10)
    model = from_detector(detector).eval()
    mix, est = torch.randn(2, 16000) * 0.2, torch.randn(2, 16000) * 0.05
    with torch.no_grad():
        both = model(torch.stack([mix, est], dim=1))
        alone = detector(est)
        picked = target_logits(model, torch.stack([mix, est], dim=1), torch.tensor([1, 0]))
    assert torch.allclose(both, alone, atol=1e-5)
    assert torch.allclose(picked[0], both[0, :, 1]) and torch.allclose(picked[1], both[1, :, 0])


def test_chunked_two_channel_run_matches_one_pass():
    model = FrameDetector(tiny_detector_config(inputs=2, gru_hidden=0)).eval()
    hop, rate = model.config.front.hop, model.config.front.sample_rate
    pair = (np.random.default_rng(0).standard_normal((2, 5 * rate + 37)) * 0.1).astype(np.float32)
    whole = run_chunked(torch_fn(model), pair, hop, rate, chunk_seconds=60.0)
    # chunk and context on the pooling grid (40 frames), as the defaults (30 s, 2 s) are
    chunked = run_chunked(torch_fn(model), pair, hop, rate, chunk_seconds=1.0, context_seconds=0.4)
    assert whole.shape == (-(-pair.shape[-1] // hop), len(model.classes))
    np.testing.assert_allclose(chunked, whole, atol=1e-4)


@pytest.mark.parametrize("seed", range(5))
def test_span_gate_covers_its_fraction_and_cuts_the_labels(seed):
    rate, n = 22050, 3 * 22050
    gain = span_gate(n, rate, np.random.default_rng(seed))
    assert gain.shape == (n,) and gain.min() >= 0 and gain.max() <= 1 + 1e-9
    assert 0.2 - 0.01 <= float(np.mean(gain >= 0.5)) <= 0.8 + 0.01
    assert np.abs(np.diff(gain)).max() < 0.01            # faded, never a step
    labels = frame_labels(np.ones(300, np.float32), gain, 300, rate)
    centres = ((np.arange(300) + 0.5) * rate * 0.01).astype(int)
    assert np.array_equal(labels.astype(bool), gain[centres] >= 0.5)
    notes = np.zeros(300, np.float32)
    notes[100:150] = 1
    assert frame_labels(notes, np.ones(n), 300, rate).nonzero()[0].tolist() == list(range(100, 150))


def test_roc_auc_matches_the_pairwise_count():
    rng = np.random.default_rng(3)
    scores, labels = rng.random(200), rng.random(200) < 0.3
    pairs = np.mean([s_pos > s_neg for s_pos in scores[labels] for s_neg in scores[~labels]])
    assert roc_auc(scores, labels) == pytest.approx(pairs)
    assert roc_auc(labels.astype(float), labels) == 1.0 and roc_auc(-labels.astype(float), labels) == 0.0
    assert np.isnan(roc_auc(scores, np.ones(200, bool)))


def test_examples_hold_the_mixture_the_estimate_and_labels(tiny_checkpoint):
    from engine.checkpoint import load_latents, load_model
    from engine.stems import SyntheticStemSource

    unet, _ = load_model(tiny_checkpoint)
    cfg = ActivityDataConfig(seconds=1.0, p_gate=1.0)
    ex = make_examples(SyntheticStemSource(), unet.eval(), load_latents(tiny_checkpoint), ("noise", "tones", "x"),
                       6, cfg, 16000, np.random.default_rng(0), batch=4)
    assert ex.inputs.shape == (6, 2, 16000) and ex.labels.shape == (6, 100) and len(ex) == 6
    assert set(ex.classes.tolist()) <= {0, 1}
    assert np.isfinite(ex.inputs.astype(np.float32)).all() and np.abs(ex.inputs).max() > 0
    fractions = ex.labels.mean(axis=1)
    assert np.all((fractions > 0.1) & (fractions < 0.9))     # every target was cut to spans


def test_tiny_training_run_learns_and_resumes(tmp_path, tiny_checkpoint):
    from engine.detection.checkpoint import load_detector, save_detector
    from engine.stems import SyntheticStemSource

    det_dir = tmp_path / "det"
    save_detector(FrameDetector(tiny_detector_config(classes=("noise", "tones"))), det_dir)
    cfg = ActivityTrainConfig(examples=64, valid_examples=32, shard=32, steps=30, batch_size=8, lr=3e-3,
                              validate_every=15, checkpoint_every=10,
                              data=ActivityDataConfig(seconds=1.0))
    out, control = tmp_path / "run", tmp_path / "control"
    control.mkdir()
    src = {"train": SyntheticStemSource(), "valid": SyntheticStemSource()}
    kw = dict(threads=1, control_dir=control, detector_dir=det_dir, unet_dir=tiny_checkpoint, sources=src,
              progress=False)
    res = train(out, cfg, **kw)
    assert res["step"] == 30 and np.isfinite(res["best_auc"])
    model, meta = load_detector(out / "best")
    assert model.config.inputs == 2 and meta["kind"] == "target-activity"
    assert set(meta["thresholds"]) <= {"noise", "tones"} and meta["thresholds"]
    losses = [float(r["loss"]) for r in csv.DictReader(open(out / "log.csv"))]
    assert np.mean(losses[-10:]) < np.mean(losses[:5])
    assert sorted(p.name for p in (out / "data").iterdir()) == ["train-000.npz", "train-001.npz", "valid-000.npz"]
    cfg.steps = 35                      # more steps resume from the last checkpoint, reusing the data shards
    res = train(out, cfg, **kw)
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert res["step"] == 35 and [int(r["step"]) for r in rows] == list(range(1, 36))


def test_a_plain_detector_is_not_taken_for_an_activity_model(tmp_path):
    from engine.activity.infer import load_activity
    from engine.detection.checkpoint import save_detector
    from engine.errors import EventSepError

    save_detector(FrameDetector(tiny_detector_config()), tmp_path / "det")
    with pytest.raises(EventSepError, match="not a target-activity model"):
        load_activity(tmp_path / "det")


def test_shipped_model_hears_when_the_target_sounds():
    """The bundled example with its piano kept only in the first half, then only in the second: the shipped
    model's piano curve (on the mixture and the U-Net's piano estimate) is higher where the piano plays."""
    import json
    from pathlib import Path

    from engine.activity.infer import SHIPPED, load_activity, target_activity
    from engine.audio import load_audio
    from engine.checkpoint import load_latents, load_model
    from engine.shipped import model_dir as _model_dir
    from engine.separate import apply_model

    model, meta = load_activity()
    assert model.config.inputs == 2 and meta["kind"] == "target-activity"
    assert all(p.stat().st_size < 50e6 for p in SHIPPED.iterdir())
    unet, _ = load_model(_model_dir(None))
    latents = load_latents(_model_dir(None))
    assert set(latents["coarse"]) <= set(model.classes) and set(latents["coarse"]) <= set(meta["thresholds"])
    folder = Path(__file__).resolve().parents[1] / "engine" / "assets" / "example"
    mix, rate = load_audio(folder / "mixture.flac")
    target, _ = load_audio(folder / "target.flac")
    assert json.loads((folder / "example.json").read_text())["target_class"] == "piano" and rate == 22050
    half = mix.shape[-1] // 2
    for first in (True, False):
        keep = np.zeros(mix.shape[-1], np.float32)
        keep[:half] = 1
        if not first:
            keep = 1 - keep
        x = mix - target + target * keep
        est = apply_model(unet.eval(), torch.from_numpy(x), latents["coarse"]["piano"]).numpy()
        p, frame_seconds = target_activity(model, x, est, rate, "piano")
        k = int(half / rate / frame_seconds)
        on, off = (p[:k].mean(), p[k:].mean()) if first else (p[k:].mean(), p[:k].mean())
        assert on > off + 0.05, (first, on, off)


def test_absent_targets_leave_the_mixture_to_the_others_and_zero_labels(tiny_checkpoint):
    from engine.checkpoint import load_latents, load_model
    from engine.stems import SyntheticStemSource

    unet, _ = load_model(tiny_checkpoint)
    cfg = ActivityDataConfig(seconds=1.0, p_absent=0.5)
    ex = make_examples(SyntheticStemSource(), unet.eval(), load_latents(tiny_checkpoint), ("noise", "tones", "x"),
                       24, cfg, 16000, np.random.default_rng(1), batch=8)
    present = ex.presence()
    assert 4 <= (~present).sum() <= 20
    assert not ex.labels[~present].any() and ex.labels[present].any(axis=1).all()
    # something sounds in every mixture, the target or not
    assert (np.abs(ex.inputs[:, 0].astype(np.float32)).max(axis=1) > 0).all()


def test_a_refit_with_absent_targets_scores_presence_and_starts_from_a_model(tmp_path, tiny_checkpoint):
    from engine.detection.checkpoint import load_detector, save_detector
    from engine.stems import SyntheticStemSource

    det_dir = tmp_path / "det"
    save_detector(FrameDetector(tiny_detector_config(classes=("noise", "tones"))), det_dir)
    src = {"train": SyntheticStemSource(), "valid": SyntheticStemSource()}
    kw = dict(threads=1, detector_dir=det_dir, unet_dir=tiny_checkpoint, sources=src, progress=False)
    data = ActivityDataConfig(seconds=1.0, p_absent=0.4)
    first = ActivityTrainConfig(examples=48, valid_examples=32, shard=48, steps=10, batch_size=8, lr=3e-3,
                                validate_every=10, checkpoint_every=10, data=data)
    train(tmp_path / "a", first, **kw)
    rows = list(csv.DictReader(open(tmp_path / "a" / "log.csv")))
    assert 0.0 <= float(rows[-1]["valid_presence_auc"]) <= 1.0
    _, meta = load_detector(tmp_path / "a" / "best")
    assert meta["valid_presence_auc"] is not None
    # a refit starts from that model (one step at a negligible rate leaves its weights where they were)
    res = train(tmp_path / "b", replace(first, steps=1, validate_every=1, lr=1e-12, lr_final=1e-12),
                init_dir=tmp_path / "a" / "best", **kw)
    assert res["step"] == 1
    start, _ = load_detector(tmp_path / "a" / "best")
    after, _ = load_detector(tmp_path / "b" / "last")
    a, b = dict(start.named_parameters()), dict(after.named_parameters())      # (batch-norm statistics move)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_music_examples_ask_each_item_whole_intermittent_and_absent():
    from engine.activity.music import VARIANTS, MusicDataConfig, music_examples
    from engine.checkpoint import load_latents, load_model
    from engine.shipped import model_dir
    from engine.taxonomy import CORE_CLASSES

    separator, _ = load_model(model_dir(None))
    cfg = MusicDataConfig(items_per_shard=3, item_seconds=2.0, procedural_only=True)
    classes = tuple(reversed(CORE_CLASSES))
    ex = music_examples("train", 0, 5, separator, load_latents(model_dir(None)), classes, 16000, cfg)
    per_item = len(VARIANTS) * cfg.pieces_per_item
    assert len(ex) == cfg.examples_per_shard == 3 * per_item
    assert ex.inputs.shape == (len(ex), 2, 16000) and ex.labels.shape == (len(ex), 100)
    assert np.isfinite(ex.inputs.astype(np.float32)).all()
    for j in range(3):
        whole, gated, absent = (slice(j * per_item + 2 * v, j * per_item + 2 * v + 2) for v in range(3))
        # classes in turn; the same item asked three ways
        assert (ex.classes[j * per_item:(j + 1) * per_item] == classes.index(CORE_CLASSES[j])).all()
        assert ex.presence()[whole].all() and ex.presence()[gated].all() and not ex.presence()[absent].any()
        assert not ex.labels[absent].any() and ex.labels[whole].any()
        # the intermittent target is the whole one cut to spans: its labels are a subset, and fewer
        assert (ex.labels[gated] <= ex.labels[whole]).all() and ex.labels[gated].sum() < ex.labels[whole].sum()
        # the separator's estimate is not the mixture it was given
        mix, est = ex.inputs[whole, 0].astype(np.float32), ex.inputs[whole, 1].astype(np.float32)
        assert np.abs(mix - est).max() > 1e-3


def test_level_labels_count_the_frames_within_their_range_of_the_loudest():
    from engine.activity.music import level_labels

    rate = 22050
    x = np.zeros(2 * rate, np.float32)
    x[5000:20000] = np.sin(np.arange(15000) * 0.1)                 # loud: frames 22-90
    x[20000:30000] = 0.01 * np.sin(np.arange(10000) * 0.1)         # 40 dB down: under a 30 dB range
    labels = level_labels(x, 200, rate, 30.0)
    assert labels.dtype == np.uint8 and labels.shape == (200,)
    assert np.flatnonzero(labels).tolist() == list(range(22, 91))
    assert level_labels(x, 200, rate, 50.0)[95:130].all()         # within a 50 dB range they count
    assert not level_labels(np.zeros(100, np.float32), 200, rate, 30.0).any()


def test_missing_thresholds_are_tuned_and_the_others_kept(tmp_path, tiny_checkpoint):
    import json

    from engine.activity.thresholds import fill_thresholds
    from engine.detection.checkpoint import load_detector, save_detector
    from engine.stems import SyntheticStemSource

    model = from_detector(FrameDetector(tiny_detector_config(classes=("noise", "tones"))))
    save_detector(model, tmp_path / "act", {"kind": "target-activity", "thresholds": {"noise": 0.3}})
    src = {"valid": SyntheticStemSource()}
    added = fill_thresholds(tmp_path / "act", tmp_path / "data", 32, tiny_checkpoint, src)
    assert set(added) == {"tones"} and 0 < added["tones"] < 1
    _, meta = load_detector(tmp_path / "act")
    assert meta["thresholds"] == {"noise": 0.3, "tones": added["tones"]}
    assert json.loads((tmp_path / "act" / "detector.json").read_text())["thresholds_source"] == {
        "validation": ["noise"], "random-stem valid examples (engine.activity.thresholds)": ["tones"]}


def test_shards_are_built_once_and_read_back_in_order_up_to_the_count(tmp_path):
    """``load_examples`` builds the missing shards, then reads them back into one array: the same
    examples in order, whatever was built before, and no more than ``count`` of them."""
    def build(k, size):
        x = np.full((size, 2, 8), k, np.float16) + np.arange(size, dtype=np.float16)[:, None, None] / 100
        return ActivityExamples(x, np.full((size, 4), k, np.uint8), np.full(size, k, np.int16),
                                np.arange(size) % 2 == 0)

    built = []
    ex = load_examples(tmp_path, "t", 7, 3, lambda k, n: built.append(k) or build(k, n), progress=False)
    assert built == [0, 1, 2] and len(ex) == 7 and ex.inputs.shape == (7, 2, 8)
    want = [build(k, n) for k, n in ((0, 3), (1, 3), (2, 1))]
    np.testing.assert_array_equal(ex.inputs, np.concatenate([w.inputs for w in want]))
    np.testing.assert_array_equal(ex.classes, [0, 0, 0, 1, 1, 1, 2])
    np.testing.assert_array_equal(ex.present, np.concatenate([w.present for w in want]))
    again = load_examples(tmp_path, "t", 5, 3, lambda k, n: pytest.fail("rebuilt a shard"), progress=False)
    assert len(again) == 5 and again.labels.shape == (5, 4)
    np.testing.assert_array_equal(again.inputs, ex.inputs[:5])
