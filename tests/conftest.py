import os

import numpy as np
import pytest
import torch

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _own_control_dir(tmp_path_factory, monkeypatch):
    """Training runs in tests watch their own cooperation folder, never the machine's ``/tmp/bench``:
    a timing benchmark's ``QUIET`` there would otherwise stall them."""
    monkeypatch.setenv("EVENTSEP_CONTROL_DIR", str(tmp_path_factory.mktemp("control")))


@pytest.fixture(autouse=True)
def _deterministic():
    torch.manual_seed(0)
    yield


@pytest.fixture
def tiny_model():
    from engine.config import tiny_model_config
    from engine.models import QuerySeparator

    torch.manual_seed(0)
    return QuerySeparator(tiny_model_config()).eval()


@pytest.fixture
def tiny_checkpoint(tmp_path, tiny_model):
    """A tiny checkpoint with class latents 'tones' and 'noise' (random weights: for plumbing tests)."""
    from engine.checkpoint import save_checkpoint, save_latents

    ckpt = tmp_path / "ckpt"
    save_checkpoint(ckpt, tiny_model, ["noise", "tones"], step=0)
    g = torch.Generator().manual_seed(1)
    zs = {name: torch.randn(tiny_model.config.latent_dim, generator=g) for name in ("noise", "tones")}
    save_latents(ckpt, {"coarse": zs, "fine": {"Sine Tones": zs["tones"]}},
                 {"coarse": {"noise": 1, "tones": 1}, "fine": {"Sine Tones": 1}})
    return ckpt


def tone(seconds=1.0, rate=22050, freq=440.0, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    x = 0.3 * np.sin(2 * np.pi * freq * t).astype(np.float32)
    return np.stack([x * (1 - 0.2 * c) for c in range(channels)])
