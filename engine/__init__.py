"""EventSep engine: audio I/O, the Query-net + Separator models, training, latents, offline separation,
metrics.

Importing ``engine`` stays light (no torch): the streaming runtime must be usable with numpy and
onnxruntime alone. Torch-based parts live in their own modules (``engine.models``, ``engine.train``...).
"""

MODEL_SAMPLE_RATE = 22050

__all__ = ["MODEL_SAMPLE_RATE"]
