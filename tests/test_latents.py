import numpy as np
import torch

from engine.checkpoint import load_latents
from engine.latents import class_mean_latents
from engine.stems import SyntheticStemSource

from .test_cli import _run


def test_sampled_class_means_are_balanced_and_seeded(tiny_model):
    src = SyntheticStemSource()
    a, counts = class_mean_latents(tiny_model, src, per_class=6, seed=3, progress=False)
    b, _ = class_mean_latents(tiny_model, src, per_class=6, seed=3, progress=False)
    c, _ = class_mean_latents(tiny_model, src, per_class=6, seed=4, progress=False)
    assert counts["coarse"] == {"tones": 6, "noise": 6}
    for name in ("tones", "noise"):
        assert torch.equal(a["coarse"][name], b["coarse"][name])
        assert not torch.equal(a["coarse"][name], c["coarse"][name])
    # the synthetic source's fine label is its class: both levels agree
    assert torch.equal(a["fine"]["tones"], a["coarse"]["tones"])


def test_latents_command_writes_what_classes_lists(capsys, tiny_checkpoint):
    code, out, err = _run(capsys, "latents", tiny_checkpoint, "--source", "synthetic", "--per-class", "3",
                          "--quiet")
    assert code == 0, err
    assert "tones (3)" in out and "noise (3)" in out
    latents = load_latents(tiny_checkpoint)
    assert set(latents["coarse"]) == {"tones", "noise"}
    code, out, _ = _run(capsys, "latents", tiny_checkpoint, "--source", "synthetic", "--per-class", "-1")
    assert code == 2
