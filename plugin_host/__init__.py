"""Pedalboard host for EventSep: the separator as a pedalboard-style effect, chains that mix native
pedalboard plugins with Python effects, file/live/headless runners, presets and the OSC bridge.

    import pedalboard
    from plugin_host import Chain, SeparatorEffect
    sep = SeparatorEffect(query_a="piano")                        # class name, audio file or latent
    chain = Chain([pedalboard.HighpassFilter(80), sep, pedalboard.Reverb(room_size=0.3)])
    out = chain(audio, 44100)                                     # (channels, n) -> (channels, n), aligned

numpy + onnxruntime + pedalboard + python-osc only: importing this package never imports torch.
See docs/plugin_host.md.
"""
from .chain import Chain, DelayLine, Mix, Native, Parallel
from .effect import EffectParams, SeparatorEffect
from .preset import Preset, load_preset, save_preset
from .query import QuerySpec

__all__ = ["SeparatorEffect", "EffectParams", "Chain", "Parallel", "Mix", "Native", "DelayLine", "QuerySpec",
           "Preset", "load_preset", "save_preset"]
