"""A procedural band: what the music21 corpus lacks (drums, bass lines, pads, comping, leads).

:func:`generate_piece` writes one short piece from a seed, deterministically: a tempo (64-168 bpm), a key
and mode, a meter (4/4 or 3/4), a density, and a chord progression (one or two chords per bar, from
common pop / jazz / minor templates and the 12-bar blues). Over it play, each present with some
probability (at least two parts):

- ``drums`` on GM channel 10: kick, snare (or side stick / clap), closed / open / pedal hi-hats or ride,
  crash cymbals at section starts, tom fills at phrase ends; humanized velocities. Each hit's note length
  is its audible length (kick 0.25 s, crash 1.5 s, ...), which the labels use;
- ``bass``: roots / root-fifth / eighth-note pulse / walking lines in the bass register;
- ``pad``: sustained voicings of the chords;
- ``comp``: strummed or pulsed chord hits, or arpeggios (guitar or keyboard comping);
- ``lead``: a melody over the chords (chord tones on strong beats, mostly stepwise, phrases with rests).

Each part's ``name`` is its role; :data:`ROLE_CLASSES` says which coarse classes a role may be rendered as.
"""
from __future__ import annotations

import numpy as np

from ..taxonomy import DRUM_KITS
from .scores import Part, Piece

# Bump when the generator or ROLE_CLASSES change (cached statistics are keyed by it).
PROCEDURAL_VERSION = 1

ROLE_CLASSES: dict[str, tuple[str, ...]] = {
    "drums": ("drums",),
    "bass": ("bass",),
    "pad": ("synth_pad", "strings", "organ", "voice", "brass"),
    "comp": ("piano", "guitar", "organ", "chromatic_percussion"),
    "lead": ("synth_lead", "pipe", "reed", "brass", "strings", "guitar", "piano", "voice", "ethnic"),
}
ROLE_DEFAULT_PROGRAM = {"drums": 0, "bass": 33, "pad": 89, "comp": 0, "lead": 80}

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
# Progressions as scale degrees (0-based), one entry per chord slot.
PROGRESSIONS_MAJOR = [(0, 4, 5, 3), (0, 5, 3, 4), (1, 4, 0, 0), (0, 3, 4, 3), (5, 3, 0, 4),
                      (0, 3, 0, 4), (0, 5, 1, 4), (3, 4, 2, 5)]
PROGRESSIONS_MINOR = [(0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 4), (0, 3, 6, 2), (0, 5, 3, 4)]
BLUES = (0, 3, 0, 0, 3, 3, 0, 0, 4, 3, 0, 4)

# Audible lengths of drum hits (seconds): what the labels count as "sounding".
DRUM_LENGTH = {36: 0.25, 35: 0.25, 38: 0.25, 37: 0.12, 39: 0.2, 40: 0.25, 42: 0.08, 44: 0.08,
               46: 0.4, 49: 1.5, 57: 1.5, 51: 0.6, 53: 0.6, 59: 0.6, 55: 0.8,
               41: 0.35, 43: 0.35, 45: 0.3, 47: 0.3, 48: 0.3, 50: 0.3, 54: 0.15, 56: 0.15}


def _chord(root_pc: int, scale: tuple, degree: int, seventh: bool) -> list[int]:
    """Pitch classes (relative to C) of the diatonic triad / seventh on ``degree``."""
    idx = [degree, degree + 2, degree + 4] + ([degree + 6] if seventh else [])
    return [(root_pc + scale[i % 7] + 12 * (i // 7)) % 12 for i in idx]


def _near(pc: int, center: int) -> int:
    """The MIDI pitch of pitch class ``pc`` closest to ``center``."""
    base = center - ((center - pc) % 12)
    return base if center - base <= 6 else base + 12


def generate_piece(seed: int, bars: int | None = None) -> Piece:
    """One procedural piece, identical for identical ``seed``."""
    rng = np.random.default_rng([int(seed), 0x5EED])
    bpm = float(rng.uniform(64, 168))
    beats_per_bar = 3 if rng.random() < 0.15 else 4
    beat = 60.0 / bpm
    bar_s = beats_per_bar * beat
    n_bars = int(bars if bars is not None else rng.integers(12, 29))
    key = int(rng.integers(0, 12))
    minor = rng.random() < 0.4
    scale = MINOR if minor else MAJOR
    density = float(rng.uniform(0.25, 1.0))
    swing = rng.random() < 0.2
    seventh = rng.random() < 0.35
    if not minor and beats_per_bar == 4 and rng.random() < 0.12:
        prog = BLUES
    else:
        prog = (PROGRESSIONS_MINOR if minor else PROGRESSIONS_MAJOR)[
            int(rng.integers(len(PROGRESSIONS_MINOR if minor else PROGRESSIONS_MAJOR)))]
    per_bar = 2 if (beats_per_bar == 4 and rng.random() < 0.25) else 1
    slot_s = bar_s / per_bar
    chords = []                                  # (start_s, length_s, pitch classes)
    for b in range(n_bars):
        for k in range(per_bar):
            i = b * per_bar + k
            deg = prog[i % len(prog)]
            chords.append((i * slot_s, slot_s, _chord(key, scale, deg, seventh)))

    present = {
        "drums": rng.random() < 0.85, "bass": rng.random() < 0.9, "pad": rng.random() < 0.6,
        "comp": rng.random() < 0.8, "lead": rng.random() < 0.75,
    }
    if sum(present.values()) < 2:
        present["bass"] = present["comp"] = True
    parts: list[Part] = []
    if present["drums"]:
        kit = int(rng.choice(sorted(DRUM_KITS)))
        parts.append(Part("drums", kit, _drums(rng, n_bars, beats_per_bar, beat, density, swing), is_drum=True))
    if present["bass"]:
        parts.append(Part("bass", int(rng.choice([32, 33, 34, 35, 38])), _bass(rng, chords, beat, density)))
    if present["pad"]:
        parts.append(Part("pad", int(rng.choice([48, 49, 88, 89, 91, 19])), _pad(rng, chords)))
    if present["comp"]:
        parts.append(Part("comp", int(rng.choice([0, 4, 24, 25, 27, 16])),
                          _comp(rng, chords, beat, beats_per_bar, per_bar, density, swing)))
    if present["lead"]:
        parts.append(Part("lead", int(rng.choice([80, 81, 73, 65, 56, 40])),
                          _lead(rng, chords, key, scale, beat, density, swing)))
    for p in parts:
        p.coarse = ""
    meta = {"bpm": round(bpm, 2), "key": key, "minor": bool(minor), "meter": beats_per_bar,
            "density": round(density, 3), "bars": n_bars}
    return Piece(id=f"proc:{int(seed):06d}", source="procedural", parts=parts, meta=meta)


def _t(pos_beats: float, beat: float, swing: bool) -> float:
    """Beat position -> seconds, with swung off-beat eighths."""
    if swing:
        whole = np.floor(pos_beats)
        frac = pos_beats - whole
        if abs(frac - 0.5) < 1e-6:
            frac = 2.0 / 3.0
        pos_beats = whole + frac
    return pos_beats * beat


def _drums(rng, n_bars, bpb, beat, density, swing) -> np.ndarray:
    rows = []
    sub = 4 if density > 0.75 and not swing else 2               # hat subdivision per beat
    ride = rng.random() < 0.25
    snare_key = int(rng.choice([38, 38, 40, 37, 39]))
    kick_key = int(rng.choice([36, 35]))
    kick_pattern = rng.random(bpb * 2) < (0.15 + 0.35 * density)
    kick_pattern[0] = True
    if bpb == 4:
        kick_pattern[4] = kick_pattern[4] or rng.random() < 0.7
    open_hat_every = int(rng.choice([0, 2, 4]))

    def hit(t, key, vel):
        v = float(np.clip(vel + rng.normal(0, 7), 20, 127))
        rows.append((t + rng.normal(0, 0.004) if t > 0 else t, DRUM_LENGTH.get(key, 0.25), key, v))

    for b in range(n_bars):
        t0 = b * bpb * beat
        fill = (b % 4 == 3) and rng.random() < 0.5 * (0.5 + density)
        if b % 8 == 0 and (b > 0 or rng.random() < 0.6):
            hit(t0, int(rng.choice([49, 57])), 105)
        # hats / ride
        for i in range(bpb * sub):
            if fill and i >= bpb * sub // 2:
                break
            pos = i / sub
            key = 51 if ride else 42
            if not ride and open_hat_every and i == bpb * sub - 1 and b % open_hat_every == 1:
                key = 46
            vel = 90 if i % sub == 0 else 68
            hit(t0 + _t(pos, beat, swing), key, vel)
        # kick on the eighth-note grid
        for i, on in enumerate(kick_pattern):
            if on and not (fill and i >= bpb):
                hit(t0 + _t(i / 2, beat, swing), kick_key, 105)
        # backbeat
        for bt in ([1, 3] if bpb == 4 else [1, 2]):
            if not (fill and bt >= bpb / 2):
                hit(t0 + bt * beat, snare_key, 100)
        if density > 0.6 and rng.random() < 0.3:
            hit(t0 + _t(bpb - 0.5, beat, swing), snare_key, 55)   # ghost note
        if fill:
            toms = [50, 48, 47, 45, 43, 41]
            n = int(rng.integers(4, 9))
            start = bpb / 2
            for k in range(n):
                pos = start + k * (bpb / 2) / n
                key = toms[min(len(toms) - 1, int(k * len(toms) / n))] if rng.random() < 0.75 else snare_key
                hit(t0 + pos * beat, key, 95)
        if not ride and bpb == 4 and rng.random() < 0.2:
            hit(t0 + 2 * beat, 44, 60)                               # pedal hat
    end_t = n_bars * bpb * beat
    hit(end_t, int(rng.choice([49, 57])), 100)                      # final crash
    hit(end_t, kick_key, 110)
    return np.asarray(rows, dtype=np.float64)


def _bass(rng, chords, beat, density) -> np.ndarray:
    style = rng.choice(["whole", "rootfifth", "pulse", "walk"], p=[0.2, 0.3, 0.3, 0.2])
    center = int(rng.integers(36, 44))
    rows = []
    for idx, (start, length, pcs) in enumerate(chords):
        root = _near(pcs[0], center)
        n_beats = max(1, int(round(length / beat)))
        if style == "whole":
            rows.append((start, length * 0.95, root, 95))
        elif style == "rootfifth":
            half = length / 2
            rows.append((start, half * 0.9, root, 100))
            rows.append((start + half, half * 0.9, _near(pcs[2], root + 5), 85))
        elif style == "pulse":
            step = beat / 2 if density > 0.5 else beat
            t = 0.0
            while t < length - 1e-6:
                rows.append((start + t, step * 0.8, root + (12 if rng.random() < 0.1 else 0), 90))
                t += step
        else:  # walking: chord tones and passing tones toward the next root
            nxt = chords[(idx + 1) % len(chords)][2][0]
            target = _near(nxt, root)
            for k in range(n_beats):
                if k == 0:
                    p = root
                elif k == n_beats - 1:
                    p = target + (1 if rng.random() < 0.5 else -1)
                else:
                    p = _near(pcs[int(rng.integers(0, len(pcs)))], root + 3 * k)
                rows.append((start + k * beat, beat * 0.9, int(np.clip(p, 24, 55)), 92))
    return np.asarray(rows, dtype=np.float64)


def _voicing(pcs, center) -> list[int]:
    return sorted({_near(pc, center + 3 * i) for i, pc in enumerate(pcs)})


def _pad(rng, chords) -> np.ndarray:
    center = int(rng.integers(55, 66))
    rows = []
    for start, length, pcs in chords:
        for p in _voicing(pcs, center):
            rows.append((start, length * 0.98, p, 70))
    return np.asarray(rows, dtype=np.float64)


def _comp(rng, chords, beat, bpb, per_bar, density, swing) -> np.ndarray:
    style = rng.choice(["strum", "pulse", "arp"], p=[0.4, 0.3, 0.3])
    center = int(rng.integers(55, 68))
    rows = []
    slot_beats = bpb // per_bar
    grid = rng.random(slot_beats * 2) < (0.3 + 0.5 * density)
    grid[0] = True
    for start, length, pcs in chords:
        voicing = _voicing(pcs, center)
        if style == "arp":
            step = beat / 2 if density > 0.4 else beat
            seq = voicing + voicing[-2:0:-1] if len(voicing) > 2 else voicing
            t, k = 0.0, 0
            while t < length - 1e-6:
                rows.append((start + t, step * 1.5, seq[k % len(seq)], 80))
                t += step
                k += 1
            continue
        for i, on in enumerate(grid):
            if not on:
                continue
            t = start + _t(i / 2, beat, swing)
            dur = beat * (0.45 if style == "pulse" else 0.9)
            for j, p in enumerate(voicing):
                offset = j * 0.012 if style == "strum" else 0.0          # strum spread
                rows.append((t + offset, dur, p, 78 if i % 2 == 0 else 66))
    return np.asarray(rows, dtype=np.float64)


def _lead(rng, chords, key, scale, beat, density, swing) -> np.ndarray:
    center = int(rng.integers(64, 76))
    scale_pitches = sorted(p for p in range(center - 14, center + 15) if (p - key) % 12 in scale)
    rows = []
    cur = min(scale_pitches, key=lambda p: abs(p - center))
    for start, length, pcs in chords:
        n_steps = max(1, int(round(length / (beat / 2))))
        t = 0
        while t < n_steps:
            if rng.random() < 0.25 * (1.2 - density):                # rest
                t += int(rng.integers(1, 4))
                continue
            dur_steps = int(rng.choice([1, 1, 2, 2, 3, 4]))
            strong = t % 2 == 0
            if strong and rng.random() < 0.6:
                cur = min((p for p in scale_pitches if p % 12 in pcs), key=lambda p: abs(p - cur), default=cur)
            else:
                i = scale_pitches.index(cur) if cur in scale_pitches else len(scale_pitches) // 2
                i = int(np.clip(i + rng.choice([-2, -1, -1, 1, 1, 2]), 0, len(scale_pitches) - 1))
                cur = scale_pitches[i]
            on = start + _t(t / 2, beat, swing)
            dur = min(dur_steps, n_steps - t) * beat / 2 * 0.92
            rows.append((on, dur, cur, float(np.clip(rng.normal(88, 10), 50, 120))))
            t += dur_steps
    return np.asarray(rows, dtype=np.float64) if rows else np.zeros((0, 4))
