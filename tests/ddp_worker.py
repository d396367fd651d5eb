"""Run by tests/test_train.py under torchrun: a few training steps, then each rank saves its weights."""
import os
import sys

import torch
from safetensors.torch import save_file

from engine.config import TrainConfig, tiny_model_config
from engine.stems import SyntheticStemSource
from engine.train import train

out = sys.argv[1]
torch.set_num_threads(1)
cfg = TrainConfig(steps=3, batch_size=2, lr=1e-3, validate_every=10**9, checkpoint_every=10**9, log_every=1)
result = train(os.path.join(out, "run"), SyntheticStemSource(), None, tiny_model_config(segment_seconds=0.5),
               cfg, device="cpu", progress=False)
state = {k: v.detach().clone() for k, v in result.model.state_dict().items()}
save_file(state, os.path.join(out, f"rank{os.environ['RANK']}.safetensors"))
