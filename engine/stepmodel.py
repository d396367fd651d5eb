"""A model in memory seen as the streaming runtime sees an exported bundle: :class:`TorchModels` has the
interface of :class:`engine.streaming.OnnxModels` (``info``, ``encode``, ``separate`` and, for a separator
streamable by construction, ``initial_state`` and ``step``) with the engine's PyTorch modules inside.

``eventsep separate`` runs a streamable model through it with the runtime's own offline computation
(:func:`engine.streaming.separate_offline`), so the offline result is the stream's; the benchmark uses it
for its PyTorch path and the tests as a second opinion on the ONNX graphs.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .models import QuerySeparator
from .streaming.bundle import BundleInfo


def bundle_info(model: QuerySeparator, latents: dict[str, dict[str, torch.Tensor]] | None = None,
                classes: list[str] | None = None, source: dict[str, Any] | None = None) -> BundleInfo:
    """What an exported bundle of ``model`` says about itself (see :class:`BundleInfo`)."""
    cfg = model.config
    class_latents = {level: {name: [float(v) for v in z.detach().float().reshape(-1)]
                             for name, z in sorted((latents or {}).get(level, {}).items())}
                     for level in ("coarse", "fine")}
    streamable = model.streamable
    return BundleInfo(sample_rate=cfg.sample_rate, n_fft=cfg.stft.n_fft, hop_length=cfg.stft.hop_length,
                      latent_dim=cfg.latent_dim, time_multiple=model.separator.time_multiple,
                      query_min_frames=model.query_net.min_frames, segment_samples=cfg.segment_samples,
                      class_latents=class_latents, classes=list(classes or []),
                      source=dict(source or {}), model=cfg.to_dict(),
                      state=model.separator.state_layout() if streamable else [],
                      lookahead=model.separator.lookahead if streamable else 0)


class TorchModels:
    """The runtime's model interface over a :class:`QuerySeparator` (float32 numpy in and out)."""

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

    def initial_state(self, batch: int) -> list[np.ndarray]:
        from .streaming.bundle import initial_state

        return initial_state(self.info, batch)

    @torch.inference_mode()
    def step(self, magnitude: np.ndarray, z: np.ndarray, state: list[np.ndarray]
             ) -> tuple[np.ndarray, list[np.ndarray]]:
        if not self.model.streamable:
            raise ValueError("step() needs a separator streamable by construction")
        out = self.model.separator.step(*(torch.from_numpy(np.ascontiguousarray(a, np.float32))
                                          for a in (magnitude, z, *state)))
        return out[0].numpy(), [t.numpy() for t in out[1:]]
