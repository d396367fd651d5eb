import os
import subprocess
import sys

import numpy as np
import torch
from safetensors.torch import load_file

from engine.checkpoint import load_model
from engine.config import TrainConfig, tiny_model_config
from engine.metrics import si_sdr
from engine.mixing import make_batch, make_mixture
from engine.separate import apply_model, encode_clip
from engine.stems import SyntheticStemSource
from engine.train import read_log, train, validate


def test_mixtures_follow_the_thesis_recipe():
    src = SyntheticStemSource()
    cfg = TrainConfig()
    rng = np.random.default_rng(0)
    sizes, silent_targets = [], 0
    for _ in range(200):
        ex = make_mixture(src, 2205, rng, cfg)
        assert len(ex.target_classes) + len(ex.rest_classes) <= min(cfg.max_classes, 2)
        assert not set(ex.target_classes) & set(ex.rest_classes)
        if not ex.rest_classes:
            np.testing.assert_array_equal(ex.mixture, ex.target)
        sizes.append(len(ex.target_classes) + len(ex.rest_classes))
        silent_targets += not np.any(ex.target)
    assert set(sizes) == {1, 2}
    # Bernoulli(0.5) gating and the random split leave many silent targets, as in the thesis
    assert 40 < silent_targets < 160


def test_resume_continues_bit_identically(tmp_path):
    src = SyntheticStemSource()
    model_cfg = tiny_model_config(segment_seconds=0.5)
    common = dict(batch_size=2, lr=1e-3, validate_every=10**9, log_every=1)
    straight = train(tmp_path / "a", src, None, model_cfg, TrainConfig(steps=4, checkpoint_every=4, **common),
                     device="cpu", progress=False)
    train(tmp_path / "b", src, None, model_cfg, TrainConfig(steps=2, checkpoint_every=2, **common),
          device="cpu", progress=False)
    resumed = train(tmp_path / "b", src, None, model_cfg, TrainConfig(steps=4, checkpoint_every=2, **common),
                    device="cpu", progress=False)
    assert resumed.step == 4
    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [row["step"] for row in read_log(tmp_path / "b")] == [1, 2, 3, 4]


def test_torchrun_two_processes_keep_identical_weights(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    worker = os.path.join(os.path.dirname(__file__), "ddp_worker.py")
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                          worker, str(tmp_path)], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    r0, r1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert r0.keys() == r1.keys()
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    # and training changed them (the test would pass trivially on untouched weights otherwise)
    start, _ = load_model(tmp_path / "run")
    assert (tmp_path / "run" / "train_state.json").exists()
    assert load_model(tmp_path / "run")[1]["step"] == 3


def _held_out_si_sdri(model, src, rng, target_class, other_class, n=4):
    values = []
    for _ in range(n):
        target = src.draw(target_class, 44100, rng).audio
        other = src.draw(other_class, 44100, rng).audio
        reference = src.draw(target_class, 44100, rng).audio  # a different clip of the same class
        mixture = target + other
        z = encode_clip(model, torch.from_numpy(reference)[None])
        est = apply_model(model, torch.from_numpy(mixture)[None], z)[0].numpy()
        values.append(si_sdr(target, est) - si_sdr(target, mixture))
    return float(np.mean(values))


def test_a_tiny_model_really_learns_to_separate(tmp_path):
    """Harmonic tones vs noise bursts: validation loss drops and held-out mixtures separate from a
    reference clip of the wanted class (not the ground truth) with SI-SDRi > 3 dB."""
    torch.set_num_threads(2)
    src = SyntheticStemSource()
    model_cfg = tiny_model_config(segment_seconds=0.5)
    cfg = TrainConfig(steps=LEARNING_STEPS, batch_size=8, lr=3e-3, p_active=1.0, max_classes=2,
                      validate_every=10**9, checkpoint_every=10**9, valid_batches=3, log_every=25)
    torch.manual_seed(cfg.seed)
    from engine.models import QuerySeparator
    untrained = QuerySeparator(model_cfg)
    before = validate(untrained, src, model_cfg.segment_samples, cfg, torch.device("cpu"))
    result = train(tmp_path / "run", src, None, model_cfg, cfg, device="cpu", progress=False)
    after = validate(result.model, src, model_cfg.segment_samples, cfg, torch.device("cpu"))
    assert after["valid_recon"] < 0.8 * before["valid_recon"]
    model = result.model.eval()
    rng = np.random.default_rng(2024)
    tones = _held_out_si_sdri(model, src, rng, "tones", "noise")
    noise = _held_out_si_sdri(model, src, rng, "noise", "tones")
    assert tones > 3.0, (tones, noise)
    assert noise > 3.0, (tones, noise)


LEARNING_STEPS = 300


def test_single_target_mixtures_have_one_sounding_target():
    src = SyntheticStemSource()
    cfg = TrainConfig(single_target=True, max_classes=4)
    rng = np.random.default_rng(0)
    rest_sounds = 0
    for _ in range(50):
        ex = make_mixture(src, 2205, rng, cfg)
        assert len(ex.target_classes) == 1 and len(ex.rest_classes) == 1  # the synthetic source has 2 classes
        assert np.any(ex.target)
        rest_sounds += bool(np.any(ex.mixture - ex.target))
        assert ex.query is None
    # the rest is gated by Bernoulli(p_active = 0.5)
    assert 10 < rest_sounds < 40


def test_query_other_draws_another_clip_of_the_target_class():
    src = SyntheticStemSource()
    rng = np.random.default_rng(1)
    always = TrainConfig(single_target=True, query_other=1.0)
    for _ in range(20):
        ex = make_mixture(src, 2205, rng, always)
        assert ex.query is not None and ex.query.shape == ex.target.shape
        assert not np.allclose(ex.query, ex.target)
    batch = make_batch(src, 2205, 8, rng, TrainConfig(single_target=True, query_other=0.5))
    same = [torch.equal(q, t) for q, t in zip(batch["query"], batch["target"])]
    assert any(same) and not all(same)
    batch = make_batch(src, 2205, 4, rng, TrainConfig(single_target=True))
    assert torch.equal(batch["query"], batch["target"])
