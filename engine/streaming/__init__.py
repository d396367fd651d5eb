"""Block-streaming runtime of EventSep: the exported Query-net and Separator in onnxruntime, a cached
query latent, any host block size, rate and channel count, a constant latency. numpy + onnxruntime only
(importing this package never imports torch).

    from engine.streaming import StreamingSeparator, StreamSettings
    sep = StreamingSeparator("bundle_dir", sample_rate=48000, channels=2, settings=StreamSettings.default())
    sep.set_reference_audio("A", clip, 44100)      # or set_reference_class("A", "piano")
    out = sep.process(block)                       # (2, n) float32 -> (2, n), delayed by sep.latency_samples

    separate_offline(load_bundle(), audio, 48000, z)   # the same computation over a whole file, undelayed

See docs/streaming.md.
"""
from .bundle import DEFAULT_BUNDLE, BundleInfo, MaskModel, OnnxModels, StepModel, load_bundle
from .offline import separate_offline
from .runtime import StreamingSeparator
from .settings import PRESETS, Latency, StreamSettings

__all__ = ["StreamingSeparator", "StreamSettings", "Latency", "OnnxModels", "BundleInfo", "MaskModel",
           "StepModel", "load_bundle", "separate_offline", "DEFAULT_BUNDLE", "PRESETS"]
