"""What each class of the taxonomy is called and how people describe it.

Bare class names embed poorly ("synth_pad", "pipe"), so every coarse class has a short description and a
list of everyday names and phrasings, and the fine labels (GM instrument names) get readable names and a
few synonyms. Each phrase is embedded on its own; a prompt scores against a class by its best phrase.
``NONE_PHRASES`` describe common sounds that are *not* in the taxonomy: a prompt closest to one of them
is reported as matching nothing, instead of being forced onto the nearest instrument.
"""
from __future__ import annotations

import re

from ..taxonomy import COARSE_CLASSES, DRUM_KITS, GM_PROGRAMS

COARSE_TEXTS: dict[str, tuple[str, ...]] = {
    "piano": ("piano", "the piano part", "grand piano", "upright piano", "keyboard instrument", "piano keys",
              "someone playing the piano", "piano chords", "electric piano", "rhodes piano", "harpsichord",
              "pianist", "piano melody", "piano solo"),
    "bass": ("bass", "the bass line", "bass guitar", "electric bass", "bassline", "low bass notes",
             "slap bass", "synth bass", "fretless bass", "the bass player", "deep low end"),
    "guitar": ("guitar", "acoustic guitar", "electric guitar", "guitar strumming", "guitar riff",
               "distorted guitar", "nylon string guitar", "guitarist playing", "guitar chords",
               "clean electric guitar"),
    "strings": ("strings", "string section", "violin", "viola", "cello", "contrabass", "double bass",
                "orchestral strings", "bowed string instruments", "string quartet", "violins and cellos",
                "pizzicato strings", "tremolo strings", "string ensemble"),
    "synth_pad": ("synth pad", "pad", "ambient synthesizer pad", "warm pad sound", "atmospheric synth chords",
                  "sustained synthesizer texture", "new age pad", "soft synth background chords"),
    "pipe": ("flute", "piccolo", "recorder", "pan flute", "pan pipes", "ocarina", "tin whistle",
             "shakuhachi", "flute melody", "airy flute sound", "blown bottle"),
    "brass": ("brass", "brass section", "trumpet", "trombone", "tuba", "french horn", "horns",
              "horn section", "trumpet solo", "brass instruments", "cornet", "muted trumpet"),
    "drums": ("drums", "drum kit", "the drummer", "drum beat", "snare drum", "kick drum", "hi-hat",
              "cymbals", "the beat", "percussion groove", "drum set", "toms and cymbals", "rhythm section drums",
              "drum machine"),
    "organ": ("organ", "church organ", "pipe organ", "hammond organ", "rock organ", "accordion",
              "harmonica", "organ chords", "drawbar organ", "reed organ"),
    "reed": ("saxophone", "sax", "clarinet", "oboe", "bassoon", "english horn", "alto sax", "tenor saxophone",
             "reed instrument", "woodwind reed", "sax solo"),
    "voice": ("choir", "singing", "vocals", "singer", "voices singing", "choir aahs", "humming voices",
              "the vocal line", "sung melody", "chorus of voices", "lead vocals", "soprano singing"),
    "synth_lead": ("synth lead", "lead synthesizer", "square wave lead", "sawtooth lead", "chiptune melody",
                   "synthesizer melody", "lead synth solo", "8-bit lead", "calliope lead"),
    "chromatic_percussion": ("xylophone", "marimba", "vibraphone", "glockenspiel", "celesta", "music box",
                             "tubular bells", "dulcimer", "mallet instruments", "vibes", "bells melody"),
    "synth_effects": ("synth effects", "sci-fi synthesizer effects", "atmospheric fx", "crystal synth fx",
                      "goblin fx", "soundtrack synth effect", "echo drops fx", "brightness fx"),
    "ethnic": ("sitar", "banjo", "shamisen", "koto", "kalimba", "bagpipes", "fiddle", "shehnai",
               "folk instrument", "world music instrument", "thumb piano", "bluegrass banjo"),
    "percussive": ("timpani", "taiko drum", "steel drums", "steel pan", "woodblock", "agogo bells",
                   "melodic toms", "synth drum", "reverse cymbal", "kettle drums", "tinkle bell"),
    "sound_effects": ("orchestra hit", "guitar fret noise", "breath noise", "ocean waves on a seashore",
                      "bird tweet", "birds chirping", "telephone ringing", "helicopter", "applause",
                      "clapping audience", "gunshot", "sound effect"),
    "speech": ("speech", "talking", "spoken words", "someone speaking", "a person talking", "narration",
               "dialogue", "voice-over", "a man speaking", "a woman speaking", "spoken voice", "conversation",
               "podcast host talking", "the narrator"),
}

# Sounds outside the taxonomy (AudioSet-style everyday sounds).
NONE_PHRASES: tuple[str, ...] = (
    "dog barking", "cat meowing", "car engine", "traffic noise", "police siren", "ambulance siren",
    "baby crying", "footsteps", "knocking on a door", "door slamming", "glass breaking", "water running",
    "toilet flushing", "wind blowing", "thunder", "rain falling", "vacuum cleaner", "microwave beeping",
    "typing on a computer keyboard", "clock ticking", "chainsaw", "airplane flying", "train passing",
    "cow mooing", "rooster crowing", "frog croaking", "fire crackling", "coughing", "sneezing", "snoring",
    "laughing", "chewing food", "hair dryer", "washing machine", "lawn mower", "motorcycle", "car horn",
    "alarm clock", "smoke alarm", "crowd cheering at a stadium", "construction drilling", "keys jingling",
    "paper rustling", "cutlery clinking", "insects buzzing", "horse galloping", "sheep bleating",
    "the weather", "a recipe", "stock prices", "silence", "white noise", "electrical hum",
)

# Extra names for fine labels (the GM name is always included).
FINE_SYNONYMS: dict[str, tuple[str, ...]] = {
    "Acoustic Grand Piano": ("grand piano", "acoustic piano", "concert piano"),
    "Electric Piano 1": ("rhodes", "electric piano", "e-piano"),
    "Electric Piano 2": ("fm electric piano", "dx7 piano"),
    "Harpsichord": ("harpsichord", "baroque keyboard"),
    "Clavinet": ("clavinet", "clav"),
    "Violin": ("violin", "violins", "solo violin"),
    "Viola": ("viola",),
    "Cello": ("cello", "cellos", "violoncello"),
    "Contrabass": ("double bass", "contrabass", "upright bass"),
    "Tremolo Strings": ("tremolo strings",),
    "Pizzicato Strings": ("pizzicato strings", "plucked strings"),
    "Orchestral Harp": ("harp", "orchestral harp"),
    "String Ensemble 1": ("string section", "string ensemble", "orchestral strings"),
    "Acoustic Guitar (nylon)": ("nylon guitar", "classical guitar", "spanish guitar"),
    "Acoustic Guitar (steel)": ("acoustic guitar", "steel string guitar", "folk guitar"),
    "Electric Guitar (clean)": ("electric guitar", "clean electric guitar"),
    "Distortion Guitar": ("distorted guitar", "heavy metal guitar"),
    "Overdriven Guitar": ("overdriven guitar", "crunchy rock guitar"),
    "Electric Bass (finger)": ("bass guitar", "electric bass", "fingered bass"),
    "Slap Bass 1": ("slap bass", "funk slap bass"),
    "Fretless Bass": ("fretless bass",),
    "Synth Bass 1": ("synth bass", "synthesizer bass"),
    "Trumpet": ("trumpet", "trumpets"), "Trombone": ("trombone", "trombones"), "Tuba": ("tuba",),
    "French Horn": ("french horn", "horn"), "Muted Trumpet": ("muted trumpet",),
    "Brass Section": ("brass section", "horn section"),
    "Flute": ("flute", "flutes"), "Piccolo": ("piccolo",), "Recorder": ("recorder",),
    "Pan Flute": ("pan flute", "pan pipes"), "Ocarina": ("ocarina",), "Whistle": ("whistle", "tin whistle"),
    "Shakuhachi": ("shakuhachi", "japanese bamboo flute"),
    "Soprano Sax": ("soprano sax",), "Alto Sax": ("alto sax", "saxophone", "sax"),
    "Tenor Sax": ("tenor sax", "tenor saxophone"), "Baritone Sax": ("baritone sax",),
    "Oboe": ("oboe",), "English Horn": ("english horn", "cor anglais"), "Bassoon": ("bassoon",),
    "Clarinet": ("clarinet",),
    "Church Organ": ("church organ", "pipe organ", "cathedral organ"), "Drawbar Organ": ("hammond organ",),
    "Accordion": ("accordion",), "Harmonica": ("harmonica", "blues harp"),
    "Choir Aahs": ("choir", "chorus", "choir aahs"), "Voice Oohs": ("voice oohs", "humming voices"),
    "Synth Voice": ("synth voice", "vocoder voice"),
    "Xylophone": ("xylophone",), "Marimba": ("marimba",), "Vibraphone": ("vibraphone", "vibes"),
    "Glockenspiel": ("glockenspiel",), "Celesta": ("celesta",), "Music Box": ("music box",),
    "Tubular Bells": ("tubular bells", "chimes"),
    "Sitar": ("sitar",), "Banjo": ("banjo",), "Koto": ("koto",), "Kalimba": ("kalimba", "thumb piano"),
    "Bagpipe": ("bagpipes", "bagpipe"), "Fiddle": ("fiddle",), "Shamisen": ("shamisen",),
    "Timpani": ("timpani", "kettle drums"), "Taiko Drum": ("taiko", "taiko drum"),
    "Steel Drums": ("steel drums", "steel pan"),
    "Applause": ("applause", "clapping"), "Bird Tweet": ("bird tweet", "birds chirping"),
    "Helicopter": ("helicopter",), "Gunshot": ("gunshot",), "Seashore": ("seashore", "ocean waves"),
    "Telephone Ring": ("telephone ringing", "phone ringing"),
    "Lead 1 (square)": ("square wave lead", "chiptune lead"), "Lead 2 (sawtooth)": ("sawtooth lead",),
    "Pad 2 (warm)": ("warm pad",), "Pad 1 (new age)": ("new age pad",),
}


def readable(fine: str) -> str:
    """``"Lead 1 (square)" -> "square lead"``; ``"Acoustic Guitar (nylon)" -> "nylon acoustic guitar"``."""
    m = re.match(r"^(.*?)\s*(\d+)?\s*\((.*)\)$", fine)
    if m:
        base, _, paren = m.groups()
        base = re.sub(r"\s+\d+$", "", base)
        return f"{paren} {base}".lower().strip()
    return re.sub(r"\s+\d+$", "", fine).lower()


def fine_phrases() -> dict[str, tuple[str, str, ...]]:
    """``{fine label: (coarse, phrase, phrase, ...)}`` for every GM program, drum kit and speech."""
    out: dict[str, tuple] = {}
    for _, (fine, coarse) in sorted(GM_PROGRAMS.items()):
        phrases = (readable(fine),) + FINE_SYNONYMS.get(fine, ())
        out[fine] = (coarse,) + tuple(dict.fromkeys(phrases))
    for kit in DRUM_KITS.values():
        out[kit] = ("drums", readable(kit), readable(kit).replace(" kit", " drum kit"))
    return out


def check_tables() -> None:
    """Every coarse class of the taxonomy has phrases (a new class must be described here)."""
    missing = set(COARSE_CLASSES) - set(COARSE_TEXTS)
    if missing:
        raise AssertionError(f"classes without phrases: {sorted(missing)}")
