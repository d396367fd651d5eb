import numpy as np
import pytest
import torch

from engine.separate import apply_model, encode_clip, refine, separate_array


def test_chunked_equals_whole_when_one_chunk_covers_the_file(tiny_model):
    x = torch.randn(2, 22050)
    z = torch.randn(tiny_model.config.latent_dim)
    with torch.no_grad():
        whole = tiny_model.separate(x, z.expand(2, -1))
    chunked = apply_model(tiny_model, x, z, segment=22050)
    assert torch.max(torch.abs(whole - chunked)) < 1e-4


def test_overlap_add_weights_reconstruct_a_pass_through_model(tiny_model):
    # force the mask to 1 everywhere: any chunking must then give the input back (only the STFT
    # round trip's error remains), which checks the triangular weights and their normalisation
    last = tiny_model.separator.decoder_norms[-1]
    with torch.no_grad():
        for p in (last.scale.weight, last.scale.bias, last.shift.weight):
            p.zero_()
        last.shift.bias.fill_(50.0)
    x = torch.randn(2, 22050 * 4 + 777)
    for segment, overlap in ((22050, 0.25), (10000, 0.5), (22050 * 5, 0.25)):
        out = apply_model(tiny_model, x, torch.randn(tiny_model.config.latent_dim), segment=segment,
                          overlap=overlap)
        assert torch.max(torch.abs(out - x)) < 1e-4


def test_long_input_keeps_shape_and_is_finite(tiny_model):
    x = torch.randn(1, 22050 * 3 + 123)
    out = apply_model(tiny_model, x, torch.zeros(tiny_model.config.latent_dim), segment=22050)
    assert out.shape == x.shape and torch.isfinite(out).all()


@pytest.mark.parametrize("rate,channels", [(44100, 2), (8000, 1), (48000, 3), (22050, 1)])
def test_any_rate_and_channel_count(tiny_model, rate, channels):
    rng = np.random.default_rng(0)
    audio = rng.uniform(-0.3, 0.3, (channels, int(rate * 1.3))).astype(np.float32)
    z = torch.zeros(tiny_model.config.latent_dim)
    result = separate_array(tiny_model, audio, rate, z)
    assert result.estimate.shape == audio.shape
    assert result.sample_rate == rate
    assert np.allclose(result.estimate + result.residual, audio, atol=1e-6)


def test_silence_in_silence_out(tiny_model):
    audio = np.zeros((2, 30000), np.float32)
    result = separate_array(tiny_model, audio, 44100, torch.zeros(tiny_model.config.latent_dim))
    assert not result.estimate.any()


def test_nan_samples_are_replaced_and_reported(tiny_model):
    audio = np.random.default_rng(1).uniform(-0.3, 0.3, (1, 22050)).astype(np.float32)
    audio[0, 100:200] = np.nan
    result = separate_array(tiny_model, audio, 22050, torch.zeros(tiny_model.config.latent_dim))
    assert np.isfinite(result.estimate).all()
    assert any("NaN" in w for w in result.warnings)


def test_refinement_runs_the_requested_passes(tiny_model):
    x = torch.randn(1, 22050)
    z0 = torch.randn(tiny_model.config.latent_dim)
    est0, z_same = refine(tiny_model, x, z0, 0)
    assert torch.equal(z_same, z0)
    est2, z2 = refine(tiny_model, x, z0, 2)
    assert not torch.equal(z2, z0) and est2.shape == x.shape


def test_encode_clip_averages_windows(tiny_model):
    clip = torch.randn(1, 22050 * 3)
    z = encode_clip(tiny_model, clip, window=22050)
    with torch.no_grad():
        parts = tiny_model.encode(clip[0].reshape(3, 22050)).mean(0)
    assert torch.allclose(z, parts, atol=1e-6)
