import numpy as np
import torch

from engine.checkpoint import load_latents
from engine.latents import class_mean_latents
from engine.stems import SyntheticStemSource

from .test_cli import _run


def test_sampled_class_means_are_balanced_and_seeded(tiny_model):
    src = SyntheticStemSource()
    a, counts, _ = class_mean_latents(tiny_model, src, per_class=6, seed=3, progress=False)
    b, _, _ = class_mean_latents(tiny_model, src, per_class=6, seed=3, progress=False)
    c, _, _ = class_mean_latents(tiny_model, src, per_class=6, seed=4, progress=False)
    assert counts["coarse"] == {"tones": 6, "noise": 6}
    for name in ("tones", "noise"):
        assert torch.equal(a["coarse"][name], b["coarse"][name])
        assert not torch.equal(a["coarse"][name], c["coarse"][name])
    # the synthetic source's fine label is its class: both levels agree
    assert torch.equal(a["fine"]["tones"], a["coarse"]["tones"])


def test_class_means_keep_the_direction_of_the_mean_and_the_norm_of_the_clips(tiny_model, tmp_path):
    src = SyntheticStemSource()
    latents, counts, scales = class_mean_latents(tiny_model, src, per_class=8, seed=0, progress=False)
    n = tiny_model.config.segment_samples
    for i, name in enumerate(src.classes):
        rng = np.random.default_rng([0, i])
        stems = [src.draw(name, n, rng).audio for _ in range(8)]
        with torch.no_grad():
            mu = tiny_model.encode(torch.from_numpy(np.stack(stems)))
        plain = mu.mean(0)
        z = latents["coarse"][name]
        assert scales["coarse"][name] >= 1.0  # a mean is never longer than the mean length
        torch.testing.assert_close(z.norm(), mu.norm(dim=1).mean(), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(z / z.norm(), plain / plain.norm(), rtol=1e-4, atol=1e-5)
    from engine.checkpoint import save_latents
    save_latents(tmp_path, latents, counts, scales)
    torch.testing.assert_close(load_latents(tmp_path, plain=True)["coarse"]["tones"],
                               latents["coarse"]["tones"] / scales["coarse"]["tones"])


def test_latents_command_writes_what_classes_lists(capsys, tiny_checkpoint):
    code, out, err = _run(capsys, "latents", tiny_checkpoint, "--source", "synthetic", "--per-class", "3",
                          "--quiet")
    assert code == 0, err
    assert "tones (3)" in out and "noise (3)" in out
    latents = load_latents(tiny_checkpoint)
    assert set(latents["coarse"]) == {"tones", "noise"}
    code, out, _ = _run(capsys, "latents", tiny_checkpoint, "--source", "synthetic", "--per-class", "-1")
    assert code == 2
