"""The running effect that the panel, the OSC bridge and the monitor loop share.

The panel never sets the effect's attributes directly: it posts to ``effect.pending``, the same coalescing
queue the OSC bridge posts to. Every change then carries a sequence number, so a knob turn and an OSC
message are applied in the order they were made (and a slow reference file finishing late cannot
overwrite a newer choice), and ``/eventsep/status`` reports the knob as soon as it moves.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from engine.errors import EventSepError
from plugin_host import Chain, EffectParams, SeparatorEffect
from plugin_host.effect import PARAM_NAMES
from plugin_host.preset import Preset, apply_preset, save_preset
from plugin_host.query import QuerySpec


@dataclass(frozen=True)
class EffectSnapshot:
    """What a preset needs from an effect (``Preset.from_effect`` reads these attributes), taken from the
    values the next audio block will use, pending changes included."""

    info: Any
    settings: Any
    params: EffectParams
    query_a: QuerySpec | None
    query_b: QuerySpec | None


class PanelSession:
    """``effect`` inside ``chain`` (what the monitor loop runs), optionally driven by ``bridge`` too."""

    def __init__(self, effect: SeparatorEffect, bridge=None, osc_error: str | None = None):
        self.effect = effect
        self.chain = Chain([effect])
        self.bridge = bridge
        self.osc_error = osc_error

    @property
    def models(self):
        return self.effect.models

    def class_names(self) -> dict[str, list[str]]:
        return self.effect.class_names()

    # ------------------------------------------------------------------------------------- changes

    def post(self, name: str, value, seq: int | None = None) -> bool:
        """Queue a change for the next block; False when a newer change of ``name`` was already queued.
        Values are checked here: on the audio thread an error could only stop the stream."""
        if name in PARAM_NAMES:
            value = getattr(replace(EffectParams(), **{name: value}).validated(), name)
        elif name in ("query_a", "query_b"):
            if value is not None and not isinstance(value, QuerySpec):
                raise EventSepError(f"{name} must be a QuerySpec or None, got {type(value).__name__}")
        else:
            raise EventSepError(f"unknown parameter {name!r}")
        return self.effect.pending.put(name, value, seq)

    def values(self) -> dict[str, Any]:
        """Parameters and queries as the next block will see them (QuerySpec objects for the queries)."""
        # pending first: if the audio thread applies it in between, the parameters read next already hold it
        pending = self.effect.pending.peek()
        e = self.effect
        values: dict[str, Any] = {**asdict(e.params), "query_a": e.query_a, "query_b": e.query_b}
        values.update(pending)
        return values

    def snapshot(self) -> EffectSnapshot:
        v = self.values()
        params = EffectParams(**{name: v[name] for name in PARAM_NAMES})
        return EffectSnapshot(self.effect.info, self.effect.settings, params, v["query_a"], v["query_b"])

    def save_preset(self, path, overwrite: bool = True):
        return save_preset(self.snapshot(), path, overwrite=overwrite)

    def render_chain(self) -> Chain:
        """A copy of the chain for offline rendering: its own stream state (a render must not reset the
        running monitor stream), the same ONNX sessions, the current knobs and queries."""
        snap = self.snapshot()
        if snap.query_a is None and snap.query_b is None:
            raise EventSepError("fill slot A or B first: without a query the effect passes the input through")
        clone = SeparatorEffect(models=self.effect.models, settings=self.effect.settings)
        apply_preset(clone, Preset(params=snap.params, query_a=snap.query_a, query_b=snap.query_b))
        return Chain([clone])

    # ------------------------------------------------------------------------------------- info

    def describe_model(self) -> str:
        src = self.effect.info.source
        step = src.get("step")
        sha = str(src.get("sha256", ""))[:12] or "unknown"
        return f"model {sha}" + (f" · step {step}" if step is not None else "")

    def osc_text(self) -> str:
        if self.bridge is None:
            return f"OSC off ({self.osc_error})" if self.osc_error else "OSC off"
        host, port = self.bridge.address
        return f"OSC {host}:{port}"

    def close(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge = None
