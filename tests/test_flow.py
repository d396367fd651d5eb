"""The generative separator: shapes, checkpoint round trip, sampling, reconstruction, a tiny training run."""
import numpy as np
import pytest
import torch

from engine.flow.checkpoint import load_flow, save_flow
from engine.flow.config import FlowConfig, FlowTrainConfig, tiny_flow_config
from engine.flow.model import VelocityNet, from_features, to_features
from engine.flow.sampler import flow_separate, griffin_lim, sample_features
from engine.spectral import Stft


@pytest.mark.parametrize("frames", [1, 7, 8, 33, 130])
def test_velocity_shape_any_length(frames):
    model = VelocityNet(tiny_flow_config()).eval()
    x = torch.randn(2, 512, frames)
    v = model(x, x, torch.rand(2), torch.randn(2, 32))
    assert v.shape == x.shape


def test_untrained_output_is_zero_velocity():
    # the output layer starts at zero: an untrained flow leaves its start point alone
    model = VelocityNet(tiny_flow_config()).eval()
    x = torch.randn(1, 512, 20)
    assert torch.count_nonzero(model(x, x, torch.rand(1), torch.randn(1, 32))) == 0


def test_features_round_trip():
    cfg = FlowConfig()
    mag = torch.rand(2, 513, 9) * 5
    back = from_features(to_features(mag, cfg), cfg)
    assert torch.allclose(back[:, :-1], mag[:, :-1], atol=1e-4)
    assert torch.all(back[:, -1] == 0)


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(3)
    model = VelocityNet(tiny_flow_config()).eval()
    for p in model.parameters():          # non-zero everywhere, so the comparison means something
        p.data.normal_(0, 0.1)
    save_flow(model, tmp_path / "f", {"step": 5})
    loaded, meta = load_flow(tmp_path / "f")
    assert meta["step"] == 5 and meta["config"]["channels"] == [4, 8]
    x = torch.randn(1, 512, 16)
    t, z = torch.rand(1), torch.randn(1, 32)
    assert torch.equal(model(x, x, t, z), loaded(x, x, t, z))


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    from engine.errors import EventSepError

    with pytest.raises(EventSepError, match="not a flow-model folder"):
        load_flow(tmp_path)


def test_sampling_is_seeded_and_bounded_by_the_mixture():
    torch.manual_seed(0)
    model = VelocityNet(tiny_flow_config()).eval()
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    mix = torch.randn(2, 11025) * 0.1
    z = torch.randn(2, 32)
    a = flow_separate(model, mix, z, steps=3, seed=7)
    b = flow_separate(model, mix, z, steps=3, seed=7)
    c = flow_separate(model, mix, z, steps=3, seed=8)
    assert a.shape == mix.shape and torch.equal(a, b) and not torch.equal(a, c)
    # mixture phase: a ratio mask <= 1 on the mixture's STFT (the iSTFT is a least-squares projection,
    # so the estimate carries no more energy than the mixture)
    assert a.pow(2).sum() <= mix.pow(2).sum() * 1.001
    with pytest.raises(ValueError):
        sample_features(model, torch.zeros(1, 512, 4), z[:1], steps=0)


def test_griffin_lim_recovers_a_tone_magnitude():
    stft = Stft()
    t = torch.arange(22050) / 22050
    x = 0.3 * torch.sin(2 * torch.pi * 440 * t)
    mag = stft(x[None]).abs()
    y = griffin_lim(mag, stft, x.shape[-1], iterations=32, generator=torch.Generator().manual_seed(0))
    err = (stft(y).abs() - mag).norm() / mag.norm()
    assert y.shape == (1, 22050) and err < 0.2


def test_tiny_training_run_lowers_the_loss_and_resumes(tmp_path):
    from engine.flow.train import train
    from engine.stems import SyntheticStemSource

    src = SyntheticStemSource()
    latents = tmp_path / "lat"
    latents.mkdir()
    from engine.checkpoint import save_latents

    g = torch.Generator().manual_seed(0)
    save_latents(latents, {"coarse": {c: torch.randn(32, generator=g) for c in src.classes}, "fine": {}},
                 {"coarse": {c: 1 for c in src.classes}, "fine": {}})
    cfg = FlowTrainConfig(steps=40, batch_size=4, lr=3e-3, warmup=5, bank_initial=2, bank_per_class=4,
                          validate_every=40, checkpoint_every=20, valid_items=4)
    out = tmp_path / "run"
    control = tmp_path / "control"
    control.mkdir()
    res = train(out, tiny_flow_config(), cfg, latents, source=src, valid_source=src, progress=False,
                control_dir=control)
    assert res["step"] == 40 and (out / "best" / "flow.safetensors").exists()
    import csv

    losses = [float(r["loss"]) for r in csv.DictReader(open(out / "log.csv"))]
    assert np.mean(losses[-10:]) < np.mean(losses[:5])
    cfg.steps = 45       # asking for more steps resumes from the last checkpoint
    res = train(out, tiny_flow_config(), cfg, latents, source=src, valid_source=src, progress=False,
                control_dir=control)
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert res["step"] == 45 and [int(r["step"]) for r in rows] == list(range(1, 46))


def test_prior_model_refines_the_unet_mask():
    """A model with ``prior`` starts at the U-Net's mask: untrained (zero velocity) and without noise it
    returns the U-Net's estimate exactly; without the U-Net it refuses to run."""
    from engine.config import tiny_model_config
    from engine.models import QuerySeparator

    unet = QuerySeparator(tiny_model_config(latent_dim=32)).eval()
    model = VelocityNet(tiny_flow_config(prior=True, start_noise=0.0)).eval()
    mix = torch.randn(1, 8000) * 0.1
    z = torch.randn(1, 32)
    with torch.no_grad():
        est = flow_separate(model, mix, z, steps=2, prior_mask=unet.separator)
        plain = unet.separate(mix, z)
    assert torch.allclose(est, plain, atol=1e-5)
    with pytest.raises(ValueError, match="prior"):
        flow_separate(model, mix, z, steps=2)
