"""Prompts as people type them, for the items of an evaluation (or validation) set: each item's target
named through one of five templates in turn, by its fine label or its coarse class in everyday words. The
text pipeline's evaluation and the fits made on the valid split ask the same way."""
from __future__ import annotations

TEMPLATES = ("only the {fine}", "isolate the {coarse}", "{fine}", "extract the {coarse} part",
             "keep just the {fine} please")
COARSE_WORDS = {"synth_pad": "synth pad", "drums": "drums", "pipe": "flute", "brass": "brass section",
                "strings": "strings", "piano": "piano", "bass": "bass", "guitar": "guitar"}


def prompt_for(i: int, coarse: str, fine: str) -> str:
    """The ``i``-th item's prompt for a target of class ``coarse`` and fine label ``fine``."""
    return TEMPLATES[i % len(TEMPLATES)].format(fine=fine.lower(), coarse=COARSE_WORDS.get(coarse, coarse))
