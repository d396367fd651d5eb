"""Per-stem rendering of note lists through FluidSynth (pyfluidsynth), deterministic.

One synth per (process, soundfont, sample rate) is kept in a module-level cache, so DataLoader workers
each load the soundfont once (FluidR3 takes ~2 s, MuseScore_General.sf3 ~16 s) and then render excerpts
at 100x+ real time. Every render starts from ``system_reset()`` with FluidSynth's own reverb and chorus
off and float output (no dither), so the same notes and settings give bit-identical audio whatever was
rendered before. Reverb, when wanted, is our own seeded convolution (:func:`add_reverb`).

Pitfall handled here: with a shared synth, presets are selected with the ``sfid`` that ``sfload``
returned, never an assumed ``1``.
"""
from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass

import numpy as np

from ..taxonomy import DRUM_CHANNEL
from .paths import CorpusError, soundfont_path

MELODIC_CHANNEL = 0
BLOCK = 4096
SYNTH_GAIN = 0.5

_SYNTHS: dict[tuple, "_Synth"] = {}


def _import_fluidsynth():
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth loads libfluidsynth at import time)
    except ImportError as exc:
        raise CorpusError(
            "FluidSynth is not available: install the Debian package `fluidsynth` (libfluidsynth3) "
            f"and the Python package `pyfluidsynth` ({exc})") from exc
    except OSError as exc:  # pragma: no cover - pyfluidsynth present but no shared library
        raise CorpusError(f"libfluidsynth could not be loaded: apt-get install fluidsynth ({exc})") from exc
    return fluidsynth


@dataclass
class _Synth:
    """A loaded soundfont of this process: the synth that owns it, its sfid and the raw sfont pointer."""
    owner: object
    sfid: int
    sfont: int
    path: str
    sample_rate: int
    api: dict
    pid: int


def _quiet(fluidsynth) -> None:
    """Silence FluidSynth's warnings (a fresh synth warns once per channel before a preset is chosen)."""
    try:
        set_log = fluidsynth.cfunc("fluid_set_log_function", ctypes.c_void_p,
                                   ("level", ctypes.c_int, 1), ("fun", ctypes.c_void_p, 1),
                                   ("data", ctypes.c_void_p, 1))
        for level in (2, 3, 4):            # FLUID_WARN, FLUID_INFO, FLUID_DBG
            set_log(level, None, None)
    except Exception:  # pragma: no cover - older libfluidsynth
        pass


def _bind(fluidsynth) -> dict:
    c = ctypes
    return {
        "new": fluidsynth.new_fluid_synth,
        "delete": fluidsynth.delete_fluid_synth,
        "noteon": fluidsynth.fluid_synth_noteon,
        "noteoff": fluidsynth.fluid_synth_noteoff,
        "program_select": fluidsynth.fluid_synth_program_select,
        "get_sfont_by_id": fluidsynth.fluid_synth_get_sfont_by_id,
        "add_sfont": fluidsynth.cfunc("fluid_synth_add_sfont", c.c_int,
                                      ("synth", c.c_void_p, 1), ("sfont", c.c_void_p, 1)),
        "remove_sfont": fluidsynth.cfunc("fluid_synth_remove_sfont", c.c_int,
                                         ("synth", c.c_void_p, 1), ("sfont", c.c_void_p, 1)),
        "write_float": fluidsynth.cfunc(
            "fluid_synth_write_float", c.c_int,
            ("synth", c.c_void_p, 1), ("len", c.c_int, 1),
            ("lout", c.c_void_p, 1), ("loff", c.c_int, 1), ("lincr", c.c_int, 1),
            ("rout", c.c_void_p, 1), ("roff", c.c_int, 1), ("rincr", c.c_int, 1)),
    }


def get_synth(soundfont: str = "fluidr3", sample_rate: int = 22050) -> _Synth:
    """The soundfont ``soundfont`` loaded once in this process (per sample rate), cached.

    FluidSynth voices keep a little state from one note to the next (amplitude ramps at note starts),
    so a long-lived synth would make a render depend on what was rendered before it. We therefore load
    the soundfont once into an *owner* synth and give every render a fresh, cheap (~5 ms) synth that
    borrows the loaded soundfont (``fluid_synth_add_sfont`` / ``fluid_synth_remove_sfont``).
    """
    path = str(soundfont_path(soundfont))
    key = (path, int(sample_rate))
    cached = _SYNTHS.get(key)
    if cached is not None and cached.pid == os.getpid():
        return cached
    fluidsynth = _import_fluidsynth()
    _quiet(fluidsynth)
    owner = fluidsynth.Synth(gain=SYNTH_GAIN, samplerate=float(sample_rate), channels=16,
                             **{"synth.reverb.active": 0, "synth.chorus.active": 0,
                                "synth.cpu-cores": 1, "synth.polyphony": 256})
    sfid = owner.sfload(path)
    if sfid is None or sfid < 0:
        raise CorpusError(f"FluidSynth could not load the soundfont {path}")
    api = _bind(fluidsynth)
    sfont = api["get_sfont_by_id"](owner.synth, sfid)
    if not sfont:
        raise CorpusError(f"FluidSynth loaded {path} but returned no soundfont object")
    entry = _Synth(owner, int(sfid), int(sfont), path, int(sample_rate), api, os.getpid())
    _SYNTHS[key] = entry
    return entry


def _write(api: dict, synth: int, out: np.ndarray, pos: int, n: int, buf: np.ndarray) -> None:
    """Render ``n`` frames into ``out[pos:pos+n]`` (mono = mean of the stereo pair)."""
    done = 0
    ptr = buf.ctypes.data
    while done < n:
        k = min(BLOCK, n - done)
        api["write_float"](synth, k, ptr, 0, 2, ptr, 1, 2)
        out[pos + done:pos + done + k] = 0.5 * (buf[0:2 * k:2] + buf[1:2 * k:2])
        done += k


def render_notes(notes: np.ndarray, program: int, duration_s: float, *, is_drum: bool = False,
                 bank: int | None = None, soundfont: str = "fluidr3", sample_rate: int = 22050,
                 start_s: float = 0.0, preroll_s: float = 1.0, velocity_scale: float = 1.0) -> np.ndarray:
    """Render the notes sounding in ``[start_s, start_s + duration_s)`` as a mono float32 signal.

    ``notes``: ``(N, 4)`` onset_s, duration_s, pitch, velocity. Notes that began before the excerpt are
    started ``preroll_s`` before it (or at their onset if later), so that sustained notes sound in the
    excerpt with a natural attack before it; the pre-roll is rendered and cut off. ``program`` is a GM
    program (melodic) or a bank-128 drum kit preset when ``is_drum``. Bit-identical for identical
    arguments. FluidSynth applies events at 64-sample block boundaries (onsets land up to 2.9 ms late).
    """
    entry = get_synth(soundfont, sample_rate)
    api = entry.api
    sr = int(sample_rate)
    notes = np.asarray(notes, dtype=np.float64).reshape(-1, 4)
    preroll_s = max(0.0, float(preroll_s))
    t0 = start_s - preroll_s
    t_end = start_s + duration_s
    on = notes[:, 0]
    off = notes[:, 0] + notes[:, 1]
    sel = (off > t0) & (on < t_end)
    notes, on, off = notes[sel], np.maximum(on[sel], t0), off[sel]

    total = int(round((t_end - t0) * sr))
    out = np.zeros(total, dtype=np.float32)
    vel = np.clip(np.round(notes[:, 3] * velocity_scale), 1, 127).astype(int)
    pitch = np.clip(notes[:, 2], 0, 127).astype(int)
    # Events: (sample, kind, pitch, velocity); note-offs (kind 0) before note-ons (kind 1) at equal times.
    ev_on = np.stack([np.round((on - t0) * sr), np.ones(len(on)), pitch, vel], axis=1)
    ev_off = np.stack([np.round((off - t0) * sr), np.zeros(len(off)), pitch, np.zeros(len(off))], axis=1)
    events = np.concatenate([ev_on, ev_off]) if len(notes) else np.zeros((0, 4))
    if len(events):
        events = events[np.lexsort((events[:, 1], events[:, 0]))]

    synth = api["new"](entry.owner.settings)
    if not synth:
        raise CorpusError("FluidSynth could not create a synthesizer")
    try:
        sfid = api["add_sfont"](synth, entry.sfont)      # the id *this* synth gives the shared soundfont
        chan = DRUM_CHANNEL if is_drum else MELODIC_CHANNEL
        default_bank = 128 if is_drum else 0
        api["program_select"](synth, chan, sfid, default_bank if bank is None else int(bank), int(program))
        buf = np.zeros(2 * BLOCK, dtype=np.float32)
        pos = 0
        for s, kind, p, v in events:
            s = int(min(max(s, 0), total))
            if s > pos:
                _write(api, synth, out, pos, s - pos, buf)
                pos = s
            if kind == 1:
                api["noteon"](synth, chan, int(p), int(v))
            else:
                api["noteoff"](synth, chan, int(p))
        if pos < total:
            _write(api, synth, out, pos, total - pos, buf)
    finally:
        api["remove_sfont"](synth, entry.sfont)
        api["delete"](synth)
    skip = int(round(preroll_s * sr))
    n_out = int(round(duration_s * sr))
    audio = out[skip:skip + n_out]
    if len(audio) < n_out:
        audio = np.pad(audio, (0, n_out - len(audio)))
    return audio


def reverb_ir(rng: np.random.Generator, sample_rate: int, rt60: float | None = None) -> np.ndarray:
    """A seeded synthetic room impulse response: exponentially decaying, low-passed noise."""
    rt60 = float(rng.uniform(0.3, 1.6)) if rt60 is None else rt60
    n = int(min(rt60, 2.0) * sample_rate)
    t = np.arange(n) / sample_rate
    ir = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)
    # gentle one-pole low-pass so the tail darkens
    a = float(rng.uniform(0.2, 0.6))
    from scipy.signal import lfilter

    ir = lfilter([1 - a], [1, -a], ir)
    ir[: int(0.005 * sample_rate)] *= np.linspace(0, 1, int(0.005 * sample_rate))
    return (ir / (np.sqrt(np.sum(ir ** 2)) + 1e-12)).astype(np.float64)


def add_reverb(audio: np.ndarray, rng: np.random.Generator, sample_rate: int,
               wet: float | None = None) -> np.ndarray:
    """Dry + seeded convolution reverb (same length as ``audio``)."""
    from scipy.signal import fftconvolve

    wet = float(rng.uniform(0.1, 0.35)) if wet is None else wet
    ir = reverb_ir(rng, sample_rate)
    tail = fftconvolve(audio.astype(np.float64), ir)[: len(audio)]
    return ((1.0 - wet) * audio + wet * tail).astype(np.float32)


def db_to_gain(db: float) -> float:
    return float(10.0 ** (db / 20.0))
