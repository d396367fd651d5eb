import pytest
import torch

from engine.checkpoint import load_model, save_checkpoint
from engine.config import ModelConfig, StftConfig
from engine.models import QuerySeparator, Separator, slerp
from engine.spectral import Stft


def test_stft_defaults_are_the_thesis_settings():
    cfg = StftConfig()
    assert (cfg.n_fft, cfg.hop_length, cfg.window) == (1024, 256, "hann")


@pytest.mark.parametrize("length", [1024, 22050, 22050 * 3 + 17])
def test_stft_round_trip(length):
    stft = Stft()
    x = torch.randn(2, length, dtype=torch.float64)
    spec = stft(x)
    assert spec.shape == (2, 513, stft.num_frames(length))
    y = stft.inverse(spec, length)
    rms = torch.sqrt(torch.mean((x - y) ** 2))
    assert rms < 1e-6


@pytest.mark.parametrize("length", [300, 4000, 22050, 33333])
@torch.no_grad()
def test_forward_shapes_and_mask_range(tiny_model, length):
    x = torch.randn(3, length)
    z = tiny_model.encode(x)
    assert z.shape == (3, tiny_model.config.latent_dim)
    mag = tiny_model.stft(x).abs()
    mask = tiny_model.separator(mag, z)
    assert mask.shape == mag.shape
    assert float(mask.min()) >= 0.0 and float(mask.max()) <= 1.0
    assert tiny_model.separate(x, z).shape == x.shape


def test_default_separator_shapes():
    model = QuerySeparator(ModelConfig()).eval()
    x = torch.randn(1, 22050 * 3)
    with torch.no_grad():
        z = model.encode(x)
        assert z.shape == (1, 32)
        assert model.separate(x, z).shape == x.shape


def test_two_latents_give_different_outputs(tiny_model):
    x = torch.randn(1, 22050)
    d = tiny_model.config.latent_dim
    with torch.no_grad():
        a = tiny_model.separate(x, torch.full((1, d), 2.0))
        b = tiny_model.separate(x, torch.full((1, d), -2.0))
    assert float((a - b).abs().max()) > 1e-3


def test_slerp_endpoints_and_norm():
    z1, z2 = torch.randn(32), torch.randn(32)
    assert torch.equal(slerp(z1, z2, 0.0), z1)
    assert torch.equal(slerp(z1, z2, 1.0), z2)
    mid = slerp(z1, z2, 0.5)
    assert not torch.allclose(mid, z1) and not torch.allclose(mid, z2)
    # unit vectors stay on the sphere
    u1, u2 = z1 / z1.norm(), z2 / z2.norm()
    assert abs(float(slerp(u1, u2, 0.3).norm()) - 1.0) < 1e-5
    # parallel latents fall back to a linear blend, never NaN
    assert torch.isfinite(slerp(z1, 2 * z1, 0.5)).all()


def test_checkpoint_reloads_to_identical_outputs(tmp_path, tiny_model):
    save_checkpoint(tmp_path / "c", tiny_model, ["a", "b"], step=7)
    loaded, meta = load_model(tmp_path / "c")
    assert meta["step"] == 7 and meta["classes"] == ["a", "b"] and meta["sample_rate"] == 22050
    assert meta["stft"] == {"n_fft": 1024, "hop_length": 256, "window": "hann"}
    assert "source_commit" in meta
    x = torch.randn(2, 12345)
    with torch.no_grad():
        z = tiny_model.encode(x)
        assert torch.equal(tiny_model.separate(x, z), loaded.separate(x, loaded.encode(x)))
    # weights are safetensors, the config is JSON: no pickle anywhere
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["config.json", "model.safetensors"]


def test_separator_rejects_unhalvable_depth():
    with pytest.raises(ValueError):
        Separator(ModelConfig(separator_channels=(8,) * 10))


def test_query_shorter_than_conv_stack_is_padded(tiny_model):
    z = tiny_model.encode(torch.randn(1, 256))  # 2 frames
    assert torch.isfinite(z).all()
