"""The streamable separators (engine.streamnet) and the class-query recipe (engine.querymix,
engine.query_objective): streamed equals whole-file, causality, learned class latents, training."""
import numpy as np
import pytest
import torch

from engine.config import ModelConfig, TrainConfig
from engine.models import QuerySeparator
from engine.streamnet import STREAM_ARCHS, StreamSeparator, mel_filterbank


def small_stream_config(arch, **kw):
    base = dict(arch=arch, hidden=24, query_hidden=16, latent_dim=8, core_layers=2, lookahead=2,
                mel_bands=32, class_vocab=("tones", "noise", "fine:Sine Tones"))
    base.update(kw)
    return ModelConfig(**base)


def stream_in_chunks(sep, mag, z, sizes):
    state, outs, i = sep.init_state(mag.shape[0]), [], 0
    for n in sizes:
        out, state = sep.stream(mag[:, :, i:i + n], z, state)
        outs.append(out)
        i += n
    assert i == mag.shape[-1]
    outs.append(sep.flush(z, state, mag.shape[1]))
    return torch.cat(outs, dim=2)


@pytest.mark.parametrize("arch", STREAM_ARCHS)
@torch.no_grad()
def test_whole_file_equals_chunked_with_state(arch):
    model = QuerySeparator(small_stream_config(arch)).eval()
    mag = torch.rand(2, 513, 97) * 4
    z = torch.randn(2, 8)
    whole = model.separator(mag, z)
    for sizes in ([1] * 97, [64, 33], [3, 1, 50, 43], [97]):
        chunked = stream_in_chunks(model.separator, mag, z, sizes)
        assert chunked.shape == whole.shape
        assert float((chunked - whole).abs().max()) < 1e-5


@pytest.mark.parametrize("arch", STREAM_ARCHS)
@torch.no_grad()
def test_mask_never_looks_further_than_the_lookahead(arch):
    model = QuerySeparator(small_stream_config(arch, lookahead=2)).eval()
    mag = torch.rand(1, 513, 40) * 4
    z = torch.randn(1, 8)
    changed = mag.clone()
    changed[:, :, 30:] = 0.0
    a, b = model.separator(mag, z), model.separator(changed, z)
    assert torch.allclose(a[:, :, :28], b[:, :, :28], atol=1e-6)      # frames <= 27 see frames <= 29 only
    assert not torch.allclose(a[:, :, 28:], b[:, :, 28:], atol=1e-6)  # frame 28 sees frame 30


def test_mel_filterbank_rows_are_normalised_and_cover_the_spectrum():
    fb = mel_filterbank(513, 64, 22050)
    assert fb.shape == (64, 513)
    assert torch.allclose(fb.sum(1), torch.ones(64), atol=1e-5)
    assert (fb.sum(0)[5:-1] > 0).all()                                  # every bin but DC and Nyquist


@torch.no_grad()
def test_learned_class_latents_are_the_checkpoint_class_latents(tmp_path):
    from engine.checkpoint import load_model, save_checkpoint
    from engine.separate import class_names, latent_from_class

    model = QuerySeparator(small_stream_config("tcn")).eval()
    save_checkpoint(tmp_path, model, ["tones", "noise"], step=3)
    assert class_names(tmp_path) == {"coarse": ["noise", "tones"], "fine": ["Sine Tones"]}
    z = latent_from_class(tmp_path, "sine tones")
    assert torch.allclose(z, model.class_latents()["fine:Sine Tones"])
    assert abs(float(z.norm()) - 8 ** 0.5) < 1e-4                      # on the Query-net's sphere
    again, _ = load_model(tmp_path)
    assert torch.equal(again.class_embedding, model.class_embedding)


@torch.no_grad()
def test_query_net_latent_is_on_the_sphere_and_separation_keeps_shapes():
    from engine.separate import apply_model, encode_clip

    model = QuerySeparator(small_stream_config("fcgru")).eval()
    clip = torch.randn(1, 22050)
    z = encode_clip(model, clip)
    assert z.shape == (8,) and abs(float(z.norm()) - 8 ** 0.5) < 1e-3
    mix = torch.randn(2, 30000) * 0.1
    est = apply_model(model, mix, z)
    res = apply_model(model, mix, z, residual=True)
    assert est.shape == mix.shape
    assert torch.allclose(est + res, mix, atol=1e-4)


def test_query_examples_never_query_with_the_target_and_train_absent_targets():
    from engine.querymix import class_vocabulary, make_query_example
    from engine.stems import SyntheticStemSource

    source = SyntheticStemSource(22050)
    vocab = class_vocabulary(source.classes, source.fine_labels)
    index = {n: i for i, n in enumerate(vocab)}
    cfg = TrainConfig(recipe="classquery", p_absent=0.3)
    rng = np.random.default_rng(0)
    absent = 0
    for _ in range(60):
        ex = make_query_example(source, 8000, rng, cfg, index)
        assert ex["mixture"].shape == ex["target"].shape == ex["query"].shape == (8000,)
        if ex["absent"]:
            absent += 1
            assert not ex["target"].any() and ex["mixture"].any()
        else:
            assert not np.allclose(ex["query"], ex["target"])
            assert np.abs(ex["mixture"] - ex["target"]).max() > 0          # never the target alone
            assert np.abs(ex["target"]).max() > 0
    assert 8 <= absent <= 30


def test_class_query_training_learns_and_resumes(tmp_path):
    from engine.stems import SyntheticStemSource
    from engine.train import read_log, train

    source = SyntheticStemSource(22050)
    cfg = TrainConfig(steps=40, batch_size=4, lr=2e-3, recipe="classquery", validate_every=20,
                      valid_batches=2, checkpoint_every=20, log_every=10)
    mc = ModelConfig(arch="tcn", hidden=24, query_hidden=16, latent_dim=8, segment_seconds=0.5)
    run = tmp_path / "run"
    result = train(run, source, source, mc, cfg, progress=False)
    rows = read_log(run)
    valid = [r for r in rows if "valid_class_si_sdri" in r]
    assert [int(r["step"]) for r in valid] == [20, 40]
    assert valid[-1]["valid_class_si_sdri"] > 3.0           # tones vs noise from the class name
    assert valid[-1]["valid_clip_si_sdri"] > 3.0            # ... and from another clip
    assert result.model.config.class_vocab[:2] == tuple(source.classes)
    assert (run / "latents.json").exists() and (run / "best" / "latents.json").exists()
    # resuming from step 40 with more steps continues the same run
    more = train(run, source, source, None, TrainConfig(steps=50, recipe="classquery"), progress=False)
    assert more.step == 50 and more.model.config.arch == "tcn"


def test_cpu_budget_stops_at_a_checkpoint_and_the_same_command_continues(tmp_path):
    from engine.stems import SyntheticStemSource
    from engine.train import read_log, train

    source = SyntheticStemSource(22050)
    mc = ModelConfig(arch="fcgru", hidden=16, query_hidden=16, latent_dim=8, segment_seconds=0.5)
    cfg = TrainConfig(steps=10_000, batch_size=2, recipe="classquery", validate_every=10_000, checkpoint_every=5,
                      log_every=5)
    first = train(tmp_path, source, None, mc, cfg, progress=False, max_cpu_seconds=0.5)
    assert first.step % 5 == 0 and 5 <= first.step < 10_000
    rows = read_log(tmp_path)
    assert rows[-1]["step"] == first.step and rows[-1]["cpu_seconds"] >= 0.5
    second = train(tmp_path, source, None, None, cfg, progress=False, max_cpu_seconds=rows[-1]["cpu_seconds"] + 0.3)
    assert second.step > first.step
    assert read_log(tmp_path)[-1]["cpu_seconds"] > rows[-1]["cpu_seconds"]      # the clock continued


def test_si_sdr_loss_matches_the_metric_and_joins_the_objective():
    from engine.metrics import si_sdr
    from engine.query_objective import QueryObjective, query_batch_maker, si_sdr_torch
    from engine.stems import SyntheticStemSource

    rng = np.random.default_rng(0)
    ref, est = rng.standard_normal((2, 3000)), rng.standard_normal((2, 3000))
    est[0] += 3 * ref[0]
    got = si_sdr_torch(torch.from_numpy(ref), torch.from_numpy(est)).numpy()
    np.testing.assert_allclose(got, [si_sdr(r, e) for r, e in zip(ref, est)], atol=1e-4)
    model = QuerySeparator(small_stream_config("tcn"))
    cfg = TrainConfig(recipe="classquery", lambda_si_sdr=0.1)
    batch = query_batch_maker(model)(SyntheticStemSource(22050), 4000, 4, np.random.default_rng(0), cfg)
    out = QueryObjective(model, cfg)(batch)
    assert "si_sdr" in out and torch.isfinite(out["loss"])
    out["loss"].backward()
    assert model.separator.to_mask.weight.grad.abs().sum() > 0


def test_training_watches_the_cooperation_folder_named_by_the_environment(tmp_path, monkeypatch):
    from engine.stems import SyntheticStemSource
    from engine.train import train

    control = tmp_path / "control"
    control.mkdir()
    (control / "STOP_TRAINING").touch()
    monkeypatch.setenv("EVENTSEP_CONTROL_DIR", str(control))
    mc = ModelConfig(arch="fcgru", hidden=16, query_hidden=16, latent_dim=8, segment_seconds=0.5)
    cfg = TrainConfig(steps=50, batch_size=2, recipe="classquery", validate_every=10_000, checkpoint_every=5,
                      log_every=5)
    assert train(tmp_path / "run", SyntheticStemSource(22050), None, mc, cfg, progress=False).step == 5


@pytest.mark.parametrize("arch", ["tcn", "fcgru", "melgru"])
def test_the_export_friendly_step_computes_what_stream_computes(arch):
    torch.manual_seed(0)
    sep = StreamSeparator(small_stream_config(arch)).eval()
    mag, z = torch.rand(2, 513, 23) * 3, torch.randn(2, 8)
    with torch.no_grad():
        ref, _ = sep.stream(mag, z, sep.init_state(2))
        state = [torch.zeros([2 if d == "batch" else d for d in e["shape"]]) for e in sep.state_layout()]
        la = sep.lookahead
        primed = sep.step(mag[:, :, :la], z, *state)[1:]
        state = [primed[0], *state[1:]]                  # the context kept, the core state reset
        outs = []
        for lo, hi in ((la, la + 1), (la + 1, la + 6), (la + 6, 23)):
            out = sep.step(mag[:, :, lo:hi], z, *state)
            outs.append(out[0])
            state = list(out[1:])
    torch.testing.assert_close(torch.cat(outs, dim=-1), ref, atol=1e-5, rtol=0)
