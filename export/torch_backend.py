"""The PyTorch twin of :class:`engine.streaming.OnnxModels`: same interface, the engine's modules inside.

The streaming runtime accepts it in place of the ONNX bundle, which gives the benchmark its PyTorch path
(same DSP, same scheduling, only the networks differ) and the tests a second opinion.
"""
from __future__ import annotations

import numpy as np
import torch

from engine.models import QuerySeparator
from engine.streaming.bundle import BundleInfo

from .metadata import bundle_info


class TorchModels:
    def __init__(self, model: QuerySeparator, info: BundleInfo | None = None, threads: int | None = None):
        self.model = model.eval()
        self.info = info or bundle_info(model)
        if threads is not None:
            torch.set_num_threads(threads)

    @torch.inference_mode()
    def separate(self, magnitude: np.ndarray, z: np.ndarray) -> np.ndarray:
        mag = torch.from_numpy(np.ascontiguousarray(magnitude, np.float32))
        frames = mag.shape[-1]
        pad = (-frames) % self.model.separator.time_multiple
        mask = self.model.separator(torch.nn.functional.pad(mag, (0, pad)),
                                    torch.from_numpy(np.ascontiguousarray(z, np.float32)))
        return mask[..., :frames].numpy()

    @torch.inference_mode()
    def encode(self, magnitude: np.ndarray) -> np.ndarray:
        return self.model.query_net(torch.from_numpy(np.ascontiguousarray(magnitude, np.float32)))[0].numpy()
