"""The EventSep class taxonomy: GM program -> fine label -> coarse class.

One table, :data:`GM_PROGRAMS`, lists all 128 General MIDI melodic programs (0-based) with their GM
instrument name (the *fine* label) and the *coarse* class EventSep separates by. The coarse classes follow
the GM families, which is also what Slakh2100 does, with three deliberate changes so that a coarse class
sounds like one thing:

- choir and voice patches (52 Choir Aahs, 53 Voice Oohs, 54 Synth Voice) are ``voice``, not strings;
- 47 Timpani is ``percussive`` (a drum, not a bowed string); 55 Orchestra Hit is ``sound_effects``;
- the GM "Synth Effects" family (96-103) is ``synth_effects`` and 120-127 are ``sound_effects``.

Drums are not a program: anything on GM channel 10 (MIDI channel index 9) is ``drums``; the drum kit
(a bank-128 preset) gives the fine label (:data:`DRUM_KITS`). ``speech`` (spoken voice, e.g. from espeak-ng)
is a coarse class with no GM program.

:data:`CORE_CLASSES` are the eight classes of the thesis (Slakh's): piano, bass, guitar, strings, synth_pad,
pipe, brass, drums. :func:`coarse_from_slakh` and :func:`coarse_from_musdb` map the labels of real datasets
(Slakh2100 ``inst_class`` / ``program_num``; MUSDB18 stem names) onto these classes.
"""
from __future__ import annotations

from typing import Mapping, Sequence

# The 8 classes of the thesis, in a fixed order (class indices of trained models follow this order).
CORE_CLASSES: tuple[str, ...] = ("piano", "bass", "guitar", "strings", "synth_pad", "pipe", "brass", "drums")

# Every coarse class, core ones first.
COARSE_CLASSES: tuple[str, ...] = CORE_CLASSES + (
    "organ", "reed", "voice", "synth_lead", "chromatic_percussion", "synth_effects", "ethnic",
    "percussive", "sound_effects", "speech")

# fmt: off
# GM program (0-127) -> (fine label = GM instrument name, coarse class)
GM_PROGRAMS: dict[int, tuple[str, str]] = {
    # Piano family
    0: ("Acoustic Grand Piano", "piano"),    1: ("Bright Acoustic Piano", "piano"),
    2: ("Electric Grand Piano", "piano"),    3: ("Honky-tonk Piano", "piano"),
    4: ("Electric Piano 1", "piano"),        5: ("Electric Piano 2", "piano"),
    6: ("Harpsichord", "piano"),             7: ("Clavinet", "piano"),
    # Chromatic percussion
    8: ("Celesta", "chromatic_percussion"),  9: ("Glockenspiel", "chromatic_percussion"),
    10: ("Music Box", "chromatic_percussion"), 11: ("Vibraphone", "chromatic_percussion"),
    12: ("Marimba", "chromatic_percussion"), 13: ("Xylophone", "chromatic_percussion"),
    14: ("Tubular Bells", "chromatic_percussion"), 15: ("Dulcimer", "chromatic_percussion"),
    # Organ
    16: ("Drawbar Organ", "organ"),          17: ("Percussive Organ", "organ"),
    18: ("Rock Organ", "organ"),             19: ("Church Organ", "organ"),
    20: ("Reed Organ", "organ"),             21: ("Accordion", "organ"),
    22: ("Harmonica", "organ"),              23: ("Tango Accordion", "organ"),
    # Guitar
    24: ("Acoustic Guitar (nylon)", "guitar"), 25: ("Acoustic Guitar (steel)", "guitar"),
    26: ("Electric Guitar (jazz)", "guitar"),  27: ("Electric Guitar (clean)", "guitar"),
    28: ("Electric Guitar (muted)", "guitar"), 29: ("Overdriven Guitar", "guitar"),
    30: ("Distortion Guitar", "guitar"),       31: ("Guitar Harmonics", "guitar"),
    # Bass
    32: ("Acoustic Bass", "bass"),           33: ("Electric Bass (finger)", "bass"),
    34: ("Electric Bass (pick)", "bass"),    35: ("Fretless Bass", "bass"),
    36: ("Slap Bass 1", "bass"),             37: ("Slap Bass 2", "bass"),
    38: ("Synth Bass 1", "bass"),            39: ("Synth Bass 2", "bass"),
    # Strings
    40: ("Violin", "strings"),               41: ("Viola", "strings"),
    42: ("Cello", "strings"),                43: ("Contrabass", "strings"),
    44: ("Tremolo Strings", "strings"),      45: ("Pizzicato Strings", "strings"),
    46: ("Orchestral Harp", "strings"),      47: ("Timpani", "percussive"),
    # Ensemble
    48: ("String Ensemble 1", "strings"),    49: ("String Ensemble 2", "strings"),
    50: ("Synth Strings 1", "strings"),      51: ("Synth Strings 2", "strings"),
    52: ("Choir Aahs", "voice"),             53: ("Voice Oohs", "voice"),
    54: ("Synth Voice", "voice"),            55: ("Orchestra Hit", "sound_effects"),
    # Brass
    56: ("Trumpet", "brass"),                57: ("Trombone", "brass"),
    58: ("Tuba", "brass"),                   59: ("Muted Trumpet", "brass"),
    60: ("French Horn", "brass"),            61: ("Brass Section", "brass"),
    62: ("Synth Brass 1", "brass"),          63: ("Synth Brass 2", "brass"),
    # Reed
    64: ("Soprano Sax", "reed"),             65: ("Alto Sax", "reed"),
    66: ("Tenor Sax", "reed"),               67: ("Baritone Sax", "reed"),
    68: ("Oboe", "reed"),                    69: ("English Horn", "reed"),
    70: ("Bassoon", "reed"),                 71: ("Clarinet", "reed"),
    # Pipe
    72: ("Piccolo", "pipe"),                 73: ("Flute", "pipe"),
    74: ("Recorder", "pipe"),                75: ("Pan Flute", "pipe"),
    76: ("Blown Bottle", "pipe"),            77: ("Shakuhachi", "pipe"),
    78: ("Whistle", "pipe"),                 79: ("Ocarina", "pipe"),
    # Synth lead
    80: ("Lead 1 (square)", "synth_lead"),   81: ("Lead 2 (sawtooth)", "synth_lead"),
    82: ("Lead 3 (calliope)", "synth_lead"), 83: ("Lead 4 (chiff)", "synth_lead"),
    84: ("Lead 5 (charang)", "synth_lead"),  85: ("Lead 6 (voice)", "synth_lead"),
    86: ("Lead 7 (fifths)", "synth_lead"),   87: ("Lead 8 (bass + lead)", "synth_lead"),
    # Synth pad
    88: ("Pad 1 (new age)", "synth_pad"),    89: ("Pad 2 (warm)", "synth_pad"),
    90: ("Pad 3 (polysynth)", "synth_pad"),  91: ("Pad 4 (choir)", "synth_pad"),
    92: ("Pad 5 (bowed)", "synth_pad"),      93: ("Pad 6 (metallic)", "synth_pad"),
    94: ("Pad 7 (halo)", "synth_pad"),       95: ("Pad 8 (sweep)", "synth_pad"),
    # Synth effects
    96: ("FX 1 (rain)", "synth_effects"),    97: ("FX 2 (soundtrack)", "synth_effects"),
    98: ("FX 3 (crystal)", "synth_effects"), 99: ("FX 4 (atmosphere)", "synth_effects"),
    100: ("FX 5 (brightness)", "synth_effects"), 101: ("FX 6 (goblins)", "synth_effects"),
    102: ("FX 7 (echoes)", "synth_effects"), 103: ("FX 8 (sci-fi)", "synth_effects"),
    # Ethnic
    104: ("Sitar", "ethnic"),                105: ("Banjo", "ethnic"),
    106: ("Shamisen", "ethnic"),             107: ("Koto", "ethnic"),
    108: ("Kalimba", "ethnic"),              109: ("Bagpipe", "ethnic"),
    110: ("Fiddle", "ethnic"),               111: ("Shanai", "ethnic"),
    # Percussive
    112: ("Tinkle Bell", "percussive"),      113: ("Agogo", "percussive"),
    114: ("Steel Drums", "percussive"),      115: ("Woodblock", "percussive"),
    116: ("Taiko Drum", "percussive"),       117: ("Melodic Tom", "percussive"),
    118: ("Synth Drum", "percussive"),       119: ("Reverse Cymbal", "percussive"),
    # Sound effects
    120: ("Guitar Fret Noise", "sound_effects"), 121: ("Breath Noise", "sound_effects"),
    122: ("Seashore", "sound_effects"),      123: ("Bird Tweet", "sound_effects"),
    124: ("Telephone Ring", "sound_effects"), 125: ("Helicopter", "sound_effects"),
    126: ("Applause", "sound_effects"),      127: ("Gunshot", "sound_effects"),
}

# GM channel-10 drum kits (bank 128 presets in GS/GM soundfonts): preset -> fine label.
DRUM_KITS: dict[int, str] = {
    0: "Standard Kit", 8: "Room Kit", 16: "Power Kit", 24: "Electronic Kit", 25: "TR-808 Kit",
    32: "Jazz Kit", 40: "Brush Kit", 48: "Orchestra Kit",
}
DRUM_CHANNEL = 9  # 0-based MIDI channel index of GM channel 10

# GM percussion key map (channel 10), key -> (name, group). Groups are what the procedural drummer plays.
GM_DRUM_NOTES: dict[int, tuple[str, str]] = {
    35: ("Acoustic Bass Drum", "kick"), 36: ("Bass Drum 1", "kick"), 37: ("Side Stick", "snare"),
    38: ("Acoustic Snare", "snare"), 39: ("Hand Clap", "snare"), 40: ("Electric Snare", "snare"),
    41: ("Low Floor Tom", "tom"), 42: ("Closed Hi-Hat", "hihat"), 43: ("High Floor Tom", "tom"),
    44: ("Pedal Hi-Hat", "hihat"), 45: ("Low Tom", "tom"), 46: ("Open Hi-Hat", "hihat"),
    47: ("Low-Mid Tom", "tom"), 48: ("Hi-Mid Tom", "tom"), 49: ("Crash Cymbal 1", "cymbal"),
    50: ("High Tom", "tom"), 51: ("Ride Cymbal 1", "cymbal"), 52: ("Chinese Cymbal", "cymbal"),
    53: ("Ride Bell", "cymbal"), 54: ("Tambourine", "aux"), 55: ("Splash Cymbal", "cymbal"),
    56: ("Cowbell", "aux"), 57: ("Crash Cymbal 2", "cymbal"), 58: ("Vibraslap", "aux"),
    59: ("Ride Cymbal 2", "cymbal"), 60: ("Hi Bongo", "aux"), 61: ("Low Bongo", "aux"),
    62: ("Mute Hi Conga", "aux"), 63: ("Open Hi Conga", "aux"), 64: ("Low Conga", "aux"),
    65: ("High Timbale", "aux"), 66: ("Low Timbale", "aux"), 67: ("High Agogo", "aux"),
    68: ("Low Agogo", "aux"), 69: ("Cabasa", "aux"), 70: ("Maracas", "aux"),
    71: ("Short Whistle", "aux"), 72: ("Long Whistle", "aux"), 73: ("Short Guiro", "aux"),
    74: ("Long Guiro", "aux"), 75: ("Claves", "aux"), 76: ("Hi Wood Block", "aux"),
    77: ("Low Wood Block", "aux"), 78: ("Mute Cuica", "aux"), 79: ("Open Cuica", "aux"),
    80: ("Mute Triangle", "aux"), 81: ("Open Triangle", "aux"),
}
# fmt: on

SPEECH_FINE = "Speech"


def program_to_fine(program: int) -> str:
    """GM instrument name of ``program`` (0-127)."""
    return GM_PROGRAMS[_check_program(program)][0]


def program_to_coarse(program: int, is_drum: bool = False) -> str:
    """Coarse class of GM ``program`` (0-127); ``drums`` whenever the part is on the drum channel."""
    if is_drum:
        return "drums"
    return GM_PROGRAMS[_check_program(program)][1]


def fine_to_coarse(fine: str) -> str:
    """Coarse class of a fine label (a GM instrument name, a drum kit name, or ``Speech``)."""
    key = fine.strip().lower()
    for name, coarse in GM_PROGRAMS.values():
        if name.lower() == key:
            return coarse
    if key in {k.lower() for k in DRUM_KITS.values()} or key == "drums":
        return "drums"
    if key in (SPEECH_FINE.lower(), "speech"):
        return "speech"
    raise KeyError(f"unknown fine label {fine!r}")


def programs_of(coarse: str) -> list[int]:
    """GM programs whose coarse class is ``coarse`` (empty for ``drums`` and ``speech``)."""
    _check_coarse(coarse)
    return [p for p, (_, c) in GM_PROGRAMS.items() if c == coarse]


def fine_labels_of(coarse: str) -> list[str]:
    """Fine labels under ``coarse``: GM names, drum kit names for ``drums``, ``Speech`` for ``speech``."""
    _check_coarse(coarse)
    if coarse == "drums":
        return list(DRUM_KITS.values())
    if coarse == "speech":
        return [SPEECH_FINE]
    return [GM_PROGRAMS[p][0] for p in programs_of(coarse)]


def drum_kit_name(preset: int) -> str:
    """Fine label of a bank-128 drum preset (kits not in the GM/GS list are ``Drum Kit <n>``)."""
    return DRUM_KITS.get(int(preset), f"Drum Kit {int(preset)}")


# Slakh2100 ``inst_class`` strings (GM family names as written in its metadata.yaml) -> coarse class.
SLAKH_CLASSES: dict[str, str] = {
    "piano": "piano", "chromatic percussion": "chromatic_percussion", "organ": "organ",
    "guitar": "guitar", "bass": "bass", "strings": "strings", "strings (continued)": "strings",
    "ensemble": "strings", "brass": "brass", "reed": "reed", "pipe": "pipe",
    "synth lead": "synth_lead", "synth pad": "synth_pad", "synth effects": "synth_effects",
    "ethnic": "ethnic", "percussive": "percussive", "sound effects": "sound_effects",
    "drums": "drums", "drum": "drums", "voice": "voice",
}

# MUSDB18 stem names -> coarse class. "other" is a mixture of everything else: no single class.
MUSDB_STEMS: dict[str, str | None] = {"vocals": "voice", "drums": "drums", "bass": "bass", "other": None}


def coarse_from_slakh(inst_class: str | None, program_num: int | None = None, is_drum: bool = False) -> str:
    """Coarse class of a Slakh2100 stem from its metadata (``inst_class``, ``program_num``, ``is_drum``).

    The program number is authoritative when given (so e.g. a Slakh "Strings (continued)" choir patch
    becomes ``voice``, as in our table); otherwise the ``inst_class`` string decides.
    """
    if is_drum:
        return "drums"
    if program_num is not None and 0 <= int(program_num) <= 127:
        return program_to_coarse(int(program_num))
    if inst_class is None:
        raise KeyError("a Slakh stem needs inst_class or program_num")
    key = " ".join(str(inst_class).strip().lower().replace("_", " ").split())
    if key in SLAKH_CLASSES:
        return SLAKH_CLASSES[key]
    if key.replace(" ", "_") in COARSE_CLASSES:
        return key.replace(" ", "_")
    raise KeyError(f"unknown Slakh inst_class {inst_class!r}; known: {sorted(SLAKH_CLASSES)}")


def coarse_from_musdb(stem: str) -> str | None:
    """Coarse class of a MUSDB18 stem name (``vocals`` -> ``voice``, ``drums``, ``bass``; ``other`` -> None
    because it mixes several classes; ``mixture`` is not a stem and raises)."""
    key = str(stem).strip().lower()
    if key.endswith(".wav"):
        key = key[:-4]
    if key not in MUSDB_STEMS:
        raise KeyError(f"unknown MUSDB18 stem {stem!r}; known: {sorted(MUSDB_STEMS)}")
    return MUSDB_STEMS[key]


def find_class(tables: Mapping[str, Mapping[str, object]], name: str) -> tuple[str, str] | None:
    """``(level, key)`` of the entry of ``{"coarse": {...}, "fine": {...}}`` spelled like ``name``, ignoring
    case, spaces and punctuation ("Synth Pad", "synth_pad"); coarse classes first. None when nothing matches."""
    wanted = _spelling(name)
    for level in ("coarse", "fine"):
        for key in tables.get(level, {}):
            if _spelling(key) == wanted:
                return level, key
    return None


def _spelling(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def class_index(coarse: str, classes: Sequence[str] = COARSE_CLASSES) -> int:
    """Index of ``coarse`` in ``classes`` (default: all coarse classes, core first)."""
    _check_coarse(coarse)
    return list(classes).index(coarse)


def _check_program(program: int) -> int:
    p = int(program)
    if not 0 <= p <= 127:
        raise ValueError(f"GM program must be in 0..127, got {program}")
    return p


def _check_coarse(coarse: str) -> None:
    if coarse not in COARSE_CLASSES:
        raise KeyError(f"unknown coarse class {coarse!r}; known: {list(COARSE_CLASSES)}")


def table_markdown() -> str:
    """The taxonomy as a Markdown table (used to write docs/corpus.md)."""
    lines = ["| program | fine label (GM name) | coarse class |", "|---:|---|---|"]
    for p in range(128):
        name, coarse = GM_PROGRAMS[p]
        lines.append(f"| {p} | {name} | {coarse} |")
    lines.append("| ch. 10 | " + " / ".join(DRUM_KITS.values()) + " | drums |")
    lines.append(f"| — | {SPEECH_FINE} (espeak-ng) | speech |")
    return "\n".join(lines)
