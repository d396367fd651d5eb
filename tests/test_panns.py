"""PANNs Cnn14 / Cnn14_DecisionLevelMax: the public key layout, a weights-only round trip through the
loader, and AudioSet labels folded onto our classes."""
from __future__ import annotations

import csv
import pickle

import numpy as np
import pytest
import torch

from engine.detection.panns import (AUDIOSET_TO_COARSE, Cnn14, Cnn14DecisionLevelMax, PannsConfig,
                                    PannsFrameDetector, load_panns, read_audioset_labels)
from engine.errors import EventSepError


def public_layout(window=1024, mel_bins=64, widths=(64, 128, 256, 512, 1024, 2048), classes=527):
    """The state-dict keys and shapes of audioset_tagging_cnn's Cnn14 (pytorch/models.py + torchlibrosa),
    written out independently of our modules."""
    bins = window // 2 + 1
    layout = {"spectrogram_extractor.stft.conv_real.weight": (bins, 1, window),
              "spectrogram_extractor.stft.conv_imag.weight": (bins, 1, window),
              "logmel_extractor.melW": (bins, mel_bins)}

    def bn(prefix, n):
        layout.update({f"{prefix}.weight": (n,), f"{prefix}.bias": (n,), f"{prefix}.running_mean": (n,),
                       f"{prefix}.running_var": (n,), f"{prefix}.num_batches_tracked": ()})

    bn("bn0", mel_bins)
    prev = 1
    for i, w in enumerate(widths, start=1):
        layout[f"conv_block{i}.conv1.weight"] = (w, prev, 3, 3)
        layout[f"conv_block{i}.conv2.weight"] = (w, w, 3, 3)
        bn(f"conv_block{i}.bn1", w)
        bn(f"conv_block{i}.bn2", w)
        prev = w
    layout.update({"fc1.weight": (prev, prev), "fc1.bias": (prev,), "fc_audioset.weight": (classes, prev),
                   "fc_audioset.bias": (classes,)})
    return layout


@pytest.mark.parametrize("cls", [Cnn14, Cnn14DecisionLevelMax])
def test_full_size_models_have_the_public_layout(cls):
    with torch.device("meta"):
        model = cls(PannsConfig())
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert got == public_layout()


def random_state(layout, seed=0):
    g = torch.Generator().manual_seed(seed)
    state = {}
    for k, shape in layout.items():
        if k.endswith("num_batches_tracked"):
            state[k] = torch.tensor(1000, dtype=torch.long)
        elif k.endswith("running_var"):
            state[k] = torch.rand(shape, generator=g) + 0.5
        else:
            state[k] = torch.randn(shape, generator=g) * 0.05
    return state


SMALL = dict(window=512, mel_bins=64, widths=(8, 8, 16, 16, 32, 32), classes=527)


@pytest.mark.parametrize("arch,cls", [("Cnn14", Cnn14), ("Cnn14_DecisionLevelMax", Cnn14DecisionLevelMax)])
def test_loader_round_trip(tmp_path, arch, cls):
    state = random_state(public_layout(**SMALL))
    path = tmp_path / f"{arch}_mAP=0.385.pth"
    torch.save({"model": state, "iteration": 123}, path)          # the published checkpoints' layout
    model = load_panns(path, arch)
    assert isinstance(model, cls) and not model.training
    loaded = model.state_dict()
    assert set(loaded) == set(state)
    for k, v in state.items():
        assert torch.equal(loaded[k], v), k
    x = torch.randn(2, 32000) * 0.1
    with torch.no_grad():
        out = model(x)
    assert out["clipwise_output"].shape == (2, 527)
    assert torch.all((out["clipwise_output"] >= 0) & (out["clipwise_output"] <= 1))
    if arch == "Cnn14_DecisionLevelMax":
        assert out["framewise_output"].shape == (2, 1 + 32000 // 320, 527)   # 10 ms frames at 32 kHz
        # clip-level output is the max over frames of the segment outputs
        assert torch.allclose(out["framewise_output"].max(dim=1).values, out["clipwise_output"])


def test_bare_state_dict_and_dataparallel_prefix_load(tmp_path):
    state = random_state(public_layout(**SMALL))
    path = tmp_path / "bare.pth"
    torch.save({"module." + k: v for k, v in state.items()}, path)
    model = load_panns(path, "Cnn14")
    assert torch.equal(model.state_dict()["fc1.weight"], state["fc1.weight"])


def test_loader_rejects_mismatches_and_pickled_code(tmp_path):
    state = random_state(public_layout(**SMALL))
    del state["conv_block3.bn2.running_mean"]
    torch.save({"model": state}, tmp_path / "broken.pth")
    with pytest.raises(EventSepError, match="does not match"):
        load_panns(tmp_path / "broken.pth")
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"model": EventSepError("x")}, f)
    with pytest.raises(EventSepError, match="weights-only"):
        load_panns(tmp_path / "evil.pth")
    with pytest.raises(EventSepError, match="unknown PANNs architecture"):
        load_panns(tmp_path / "broken.pth", "Cnn10")


def write_labels(path, names):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["index", "mid", "display_name"])
        for i, n in enumerate(names):
            w.writerow([i, f"/m/{i:05d}", n])


def test_audioset_labels_fold_onto_our_classes(tmp_path):
    names = [f"Sound {i}" for i in range(527)]
    names[0], names[137], names[153], names[180], names[181] = "Speech", "Piano", "Violin, fiddle", "Drum kit", "Drum"
    write_labels(tmp_path / "class_labels_indices.csv", names)
    labels = read_audioset_labels(tmp_path / "class_labels_indices.csv")
    assert labels == names
    state = random_state(public_layout(**SMALL))
    torch.save({"model": state}, tmp_path / "m.pth")
    det = PannsFrameDetector(load_panns(tmp_path / "m.pth"), labels)
    assert set(det.classes) == {"speech", "piano", "strings", "drums"}
    x = torch.randn(1, 16000) * 0.1
    probs = det(x)
    frames = det.panns(x)["framewise_output"]
    assert probs.shape == (1, 1 + 16000 // 320, 4)
    drums = det.classes.index("drums")
    assert torch.equal(probs[0, :, drums], frames[0, :, [180, 181]].max(dim=-1).values)
    assert all(v in {"piano", "bass", "guitar", "strings", "synth_pad", "pipe", "brass", "drums", "organ", "reed",
                     "voice", "chromatic_percussion", "ethnic", "percussive", "sound_effects", "speech"}
               for v in AUDIOSET_TO_COARSE.values())
    with pytest.raises(EventSepError):
        PannsFrameDetector(load_panns(tmp_path / "m.pth"), labels[:10])
    assert np.isfinite(probs.numpy()).all()
