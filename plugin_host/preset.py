"""Presets: the effect's parameters, its queries (with their latents) and the model they were made for,
as JSON.

    {"format": "eventsep-preset", "version": 1,
     "model": {"sha256": "9b5b...", "step": 4500, "checkpoint": "engine/assets/default_model"},
     "settings": {"context_frames": 32, "hop_frames": 4, "lookahead_frames": 1, ...},
     "parameters": {"interp": 0.3, "mix": 1.0, "residual": 0.0, "bypass": false},
     "queries": {"a": {"kind": "class", "name": "piano", "latent": [32 floats]},
                 "b": {"kind": "file", "path": "/abs/flute.wav", "latent": [...]}}}

A latent only means something to the model that produced it. Loading a preset made for another model
(another checkpoint hash) recomputes what can be recomputed - class queries by name, file queries from
the file - and says so in a warning; a raw latent, or a file that is gone, is an error. ``strict=True``
refuses any other model.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from engine.errors import EventSepError
from engine.streaming import StreamSettings

from .effect import PARAM_NAMES, EffectParams
from .query import QuerySpec, query_from_class, query_from_file, query_from_latent

PRESET_FORMAT = "eventsep-preset"
PRESET_VERSION = 1
MAX_PRESET_BYTES = 1 << 20


@dataclass(frozen=True)
class Preset:
    params: EffectParams
    query_a: QuerySpec | None = None
    query_b: QuerySpec | None = None
    settings: StreamSettings | None = None
    model: dict[str, Any] | None = None

    @classmethod
    def from_effect(cls, effect) -> "Preset":
        source = effect.info.source
        return cls(params=effect.params, query_a=effect.query_a, query_b=effect.query_b, settings=effect.settings,
                   model={"sha256": source.get("sha256", ""), "step": source.get("step"),
                          "checkpoint": source.get("checkpoint", "")})

    def changes(self) -> list[tuple[str, Any]]:
        """(name, value) pairs in the order an effect applies them."""
        return [(name, getattr(self.params, name)) for name in PARAM_NAMES] + \
               [("query_a", self.query_a), ("query_b", self.query_b)]

    def to_dict(self) -> dict[str, Any]:
        def query(spec: QuerySpec | None):
            if spec is None:
                return None
            entry: dict[str, Any] = {"kind": spec.kind}
            if spec.kind == "class":
                entry["name"] = spec.value
            elif spec.kind == "file":
                entry["path"] = str(Path(spec.value).resolve())
            entry["latent"] = [float(v) for v in spec.latent]
            return entry

        return {"format": PRESET_FORMAT, "version": PRESET_VERSION, "model": dict(self.model or {}),
                "settings": asdict(self.settings) if self.settings else None,
                "parameters": {**asdict(self.params)},
                "queries": {"a": query(self.query_a), "b": query(self.query_b)}}


def _fail(where: str, message: str) -> EventSepError:
    return EventSepError(f"{where}: {message}")


def _parse_query(entry, slot: str, where: str) -> dict[str, Any] | None:
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise _fail(where, f"queries.{slot} must be an object or null")
    kind = entry.get("kind")
    if kind not in ("file", "class", "latent"):
        raise _fail(where, f"queries.{slot}.kind must be 'file', 'class' or 'latent', got {kind!r}")
    key = {"file": "path", "class": "name"}.get(kind)
    if key and (not isinstance(entry.get(key), str) or not entry[key]):
        raise _fail(where, f"queries.{slot} of kind {kind!r} needs a non-empty '{key}'")
    latent = entry.get("latent")
    if not isinstance(latent, list) or not latent or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in latent):
        raise _fail(where, f"queries.{slot}.latent must be a non-empty list of finite numbers")
    return {"kind": kind, "value": entry.get(key) if key else None, "latent": latent}


def parse_preset(data, where: str = "preset") -> tuple[dict[str, Any], dict[str, Any]]:
    """Check a preset's structure -> (fields for Preset without queries, raw query entries)."""
    if not isinstance(data, dict) or data.get("format") != PRESET_FORMAT:
        raise _fail(where, f"not an EventSep preset (expected \"format\": \"{PRESET_FORMAT}\")")
    if data.get("version") != PRESET_VERSION:
        raise _fail(where, f"preset version {data.get('version')!r}; this EventSep reads version {PRESET_VERSION}")
    params = data.get("parameters", {})
    if not isinstance(params, dict):
        raise _fail(where, "'parameters' must be an object")
    unknown = sorted(set(params) - set(PARAM_NAMES))
    if unknown:
        raise _fail(where, f"unknown parameter(s) {', '.join(unknown)}; known: {', '.join(PARAM_NAMES)}")
    try:
        effect_params = EffectParams(**params).validated()
    except EventSepError as e:
        raise _fail(where, str(e)) from None
    settings = data.get("settings")
    if settings is not None:
        names = {f.name for f in fields(StreamSettings)}
        if not isinstance(settings, dict) or set(settings) - names:
            raise _fail(where, f"'settings' must be an object with keys among {', '.join(sorted(names))}")
        settings = StreamSettings(**settings)
    model = data.get("model") or {}
    if not isinstance(model, dict):
        raise _fail(where, "'model' must be an object")
    queries = data.get("queries") or {}
    if not isinstance(queries, dict) or set(queries) - {"a", "b"}:
        raise _fail(where, "'queries' must be an object with keys 'a' and/or 'b'")
    raw = {slot: _parse_query(queries.get(slot), slot, where) for slot in ("a", "b")}
    return {"params": effect_params, "settings": settings, "model": model}, raw


def _resolve(entry: dict[str, Any] | None, slot: str, models, same_model: bool, where: str) -> QuerySpec | None:
    if entry is None:
        return None
    info = models.info
    try:
        if same_model:
            spec = query_from_latent(info, entry["latent"])
            return QuerySpec(entry["kind"], entry["value"], spec.latent)
        if entry["kind"] == "class":
            return query_from_class(info, entry["value"])
        if entry["kind"] == "file":
            return query_from_file(models, entry["value"])
    except EventSepError as e:
        raise _fail(where, f"query {slot}: {e}") from None
    raise _fail(where, f"query {slot} is a raw latent of another model; it cannot be carried over")


def load_preset(path: str | Path, models, strict: bool = False) -> tuple[Preset, list[str]]:
    """Read and validate a preset for ``models`` (an effect's ``models``) -> (preset, warnings)."""
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise _fail(where, "no such preset file" if not path.exists() else "not a file")
    if path.stat().st_size > MAX_PRESET_BYTES:
        raise _fail(where, "too large to be a preset")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise _fail(where, f"not valid JSON ({e})") from None
    base, raw = parse_preset(data, where)
    if base["settings"] is not None:
        try:
            base["settings"].resolve(models.info)        # checked against this model; kept as written
        except EventSepError as e:
            raise _fail(where, f"settings: {e}") from None
    ours = str(models.info.source.get("sha256", ""))
    theirs = str(base["model"].get("sha256", ""))
    warnings = []
    same = bool(theirs) and theirs == ours
    if not same:
        made_for = f"model {theirs[:12]} (step {base['model'].get('step')})" if theirs else "an unknown model"
        if strict:
            raise _fail(where, f"made for {made_for}; this bundle is model {ours[:12]}")
        if any(raw.values()):
            warnings.append(f"{where}: made for {made_for}, this bundle is model {ours[:12]} "
                            f"(step {models.info.source.get('step')}); its queries were recomputed "
                            f"(classes by name, files from disk)")
    for slot in ("a", "b"):
        if raw[slot] is not None and len(raw[slot]["latent"]) != models.info.latent_dim and same:
            raise _fail(where, f"queries.{slot}.latent has {len(raw[slot]['latent'])} values; this model's "
                               f"latents have {models.info.latent_dim}")
    queries = {f"query_{slot}": _resolve(raw[slot], slot, models, same, where) for slot in ("a", "b")}
    return Preset(**base, **queries), warnings


def save_preset(effect, path: str | Path, overwrite: bool = False) -> Path:
    """Write the effect's current parameters, queries and model id as a preset."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        raise EventSepError(f"{path}: a preset file name must end in .json")
    if path.exists() and not overwrite:
        raise EventSepError(f"{path}: already exists (pass --overwrite to replace it)")
    if path.is_dir():
        raise EventSepError(f"{path}: is a folder")
    text = json.dumps(Preset.from_effect(effect).to_dict(), indent=2)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
    except OSError as e:
        raise EventSepError(f"{path}: cannot write the preset ({e.strerror or e})") from None
    return path


def apply_preset(effect, preset: Preset) -> None:
    """Set an effect's parameters and queries from a preset, now (on the calling thread)."""
    for name, value in preset.changes():
        effect.apply(name, value)
