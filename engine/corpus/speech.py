"""Speech stems from ``espeak-ng`` (the ``speech`` class): many languages and voices, seeded.

An utterance is drawn from a seed: a language (:data:`LANGUAGES`, those the installed espeak-ng knows), a
voice variant (male / female / croak / klatt ...), speed, pitch and word gap, and a text of digit groups
(read as numbers in the chosen language) and pseudo-words built from common syllables, read with that
language's rules. espeak-ng synthesizes at 22050 Hz natively. Its output is deterministic for identical
arguments, so speech stems are reproducible like the rendered ones.

Labels come from the audio itself (there are no notes): a 10 ms frame is active by the fraction of its
samples inside voiced/unvoiced speech segments, found by a short-time energy gate at -40 dB below the
utterance peak, then closed over gaps shorter than 60 ms.

Speech "pieces" are seeds, ``speech:<seed>``, split like the procedural pieces.
"""
from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache

import numpy as np

from ..stems import Stem, fit_length
from ..taxonomy import SPEECH_FINE
from .labels import activity_from_intervals
from .paths import CorpusError
from .render import db_to_gain

ESPEAK_RATE = 22050
LANGUAGES = ("en", "en-gb", "en-us", "de", "fr", "fr-fr", "es", "it", "pt", "nl", "sv", "pl", "ru", "cs", "fi", "hu", "tr",
             "el", "hi", "id", "vi", "sw", "ro", "da", "nb", "ca", "hr", "sk", "af", "eo", "is", "lv")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5", "croak", "klatt",
            "klatt2", "klatt3")
SYLLABLES = ("ka", "lo", "mi", "ne", "ta", "ri", "so", "pu", "de", "va", "ko", "ma", "li", "sen", "tor",
             "an", "el", "is", "on", "ber", "gal", "mun", "pre", "sta", "vin", "dor", "le", "ha", "ju", "we")


def espeak_path() -> str:
    path = shutil.which("espeak-ng")
    if not path:
        raise CorpusError("speech stems need espeak-ng: install the Debian package `espeak-ng` "
                          "(apt-get install espeak-ng)")
    return path


def available() -> bool:
    return shutil.which("espeak-ng") is not None


@lru_cache(maxsize=1)
def languages() -> tuple[str, ...]:
    """The languages of :data:`LANGUAGES` that the installed espeak-ng offers (fixed order)."""
    out = subprocess.run([espeak_path(), "--voices"], capture_output=True, text=True, check=True).stdout
    have = {line.split()[1] for line in out.splitlines()[1:] if len(line.split()) > 1}
    langs = tuple(l for l in LANGUAGES if l in have)
    return langs or ("en",)


def utterance_params(seed: int) -> dict:
    rng = np.random.default_rng([int(seed), 0x5BEEC])
    langs = languages()
    words = []
    for _ in range(int(rng.integers(6, 14))):
        if rng.random() < 0.3:
            words.append(str(int(rng.integers(1, 10000))))
        else:
            words.append("".join(SYLLABLES[int(i)] for i in rng.integers(0, len(SYLLABLES), int(rng.integers(1, 4)))))
    text = " ".join(words)
    if rng.random() < 0.5:
        text += "."
    return {"language": langs[int(rng.integers(len(langs)))], "variant": VARIANTS[int(rng.integers(len(VARIANTS)))],
            "speed": int(rng.integers(120, 221)), "pitch": int(rng.integers(20, 81)),
            "gap": int(rng.integers(0, 8)), "text": text}


def synthesize(params: dict) -> np.ndarray:
    """Run espeak-ng; float32 mono at 22050 Hz."""
    cmd = [espeak_path(), "-v", f"{params['language']}+{params['variant']}", "-s", str(params["speed"]),
           "-p", str(params["pitch"]), "-g", str(params["gap"]), "--stdout", params["text"]]
    res = subprocess.run(cmd, capture_output=True, check=False)
    if res.returncode != 0 or len(res.stdout) <= 44:
        raise CorpusError(f"espeak-ng failed ({res.returncode}): {res.stderr.decode(errors='ignore')[:200]}")
    data = res.stdout
    # streamed WAV: the header's sizes are bogus; the PCM data starts after the "data" chunk header
    k = data.find(b"data")
    pcm = np.frombuffer(data[k + 8:] if k >= 0 else data[44:], dtype="<i2")
    return (pcm.astype(np.float32) / 32768.0)


def speech_activity(audio: np.ndarray, sr: int, duration_s: float) -> np.ndarray:
    """10 ms activity fractions of speech in ``audio`` from a -40 dB energy gate (see module doc)."""
    win = int(0.005 * sr)
    n = len(audio) // win
    if n == 0 or not np.any(audio):
        return activity_from_intervals(np.zeros(0), np.zeros(0), duration_s)
    e = np.sqrt(np.mean(audio[: n * win].astype(np.float64).reshape(n, win) ** 2, axis=1))
    on = e > e.max() * 10 ** (-40 / 20)
    # close gaps shorter than 60 ms
    idx = np.flatnonzero(on)
    if len(idx) == 0:
        return activity_from_intervals(np.zeros(0), np.zeros(0), duration_s)
    starts, ends = [idx[0]], []
    for a, b in zip(idx[:-1], idx[1:]):
        if (b - a) * win > 0.060 * sr:
            ends.append(a + 1)
            starts.append(b)
    ends.append(idx[-1] + 1)
    return activity_from_intervals(np.asarray(starts) * win / sr, np.asarray(ends) * win / sr, duration_s)


def speech_stem(seed: int, num_samples: int, rng: np.random.Generator, sample_rate: int = 22050,
                gain_db: float = 0.0, target_rms_db: float = -20.0) -> Stem:
    """A speech stem: utterances of seed ``seed`` (and following seeds, if one is too short), excerpted."""
    if sample_rate != ESPEAK_RATE:
        raise CorpusError(f"speech stems are made at {ESPEAK_RATE} Hz; resample for {sample_rate} Hz")
    chunks, params, s = [], [], int(seed)
    total = 0
    while total < num_samples:
        p = utterance_params(s)
        a = synthesize(p)
        pause = np.zeros(int(rng.uniform(0.15, 0.8) * sample_rate), np.float32)
        chunks += [a, pause]
        params.append(p)
        total += len(a) + len(pause)
        s += 1_000_003
    audio = np.concatenate(chunks)
    start = int(rng.integers(0, max(1, len(audio) - num_samples + 1)))
    audio = fit_length(audio[start:start + num_samples], num_samples)
    dur = num_samples / sample_rate
    act = speech_activity(audio, sample_rate, dur)
    from .labels import frame_mask

    mask = frame_mask(act, len(audio), sample_rate)
    x = audio[mask] if mask.any() else audio
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0
    if rms > 1e-7:
        audio = audio * (db_to_gain(target_rms_db + gain_db) / rms)
    return Stem(audio.astype(np.float32), sample_rate, "speech", SPEECH_FINE, f"speech:{int(seed):06d}", act,
                {"utterances": params, "start_sample": start, "gain_db": gain_db,
                 "language": params[0]["language"], "variant": params[0]["variant"]})
