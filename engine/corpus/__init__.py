"""The rendered, Slakh-style corpus (SPEC section 4, issue 3).

- :mod:`.scores`: music21 scores -> cached note lists (``eventsep corpus scores``); :class:`Piece`, :class:`Part`;
- :mod:`.procedural`: seeded drum grooves, bass lines, pads, comping and leads over chord progressions;
- :mod:`.render`: per-stem FluidSynth rendering, deterministic; :mod:`.labels`: exact 10 ms activity labels;
- :mod:`.splits`: train / valid / test by work; :mod:`.source`: :class:`CorpusStemSource` (the StemSource);
- :mod:`.evalset`: the fixed evaluation set (build, digest, :func:`load_evalset`); :mod:`.stats`; :mod:`.cli`.

See docs/corpus.md.
"""
from .evalset import EvalItem, EvalSet, build_evalset, digest, load_evalset
from .labels import activity_from_intervals, activity_from_notes, binarize
from .paths import CorpusError, cache_dir, soundfont_path
from .procedural import generate_piece
from .render import render_notes
from .scores import Part, Piece, build_score_cache, load_score_cache, parse_pieces
from .source import CorpusStemSource, StemPlan, realize
from .splits import group_of, split_of

__all__ = [
    "CorpusError", "CorpusStemSource", "EvalItem", "EvalSet", "Part", "Piece", "StemPlan",
    "activity_from_intervals", "activity_from_notes", "binarize", "build_evalset", "build_score_cache",
    "cache_dir", "digest", "generate_piece", "group_of", "load_evalset", "load_score_cache", "parse_pieces",
    "realize", "render_notes", "soundfont_path", "split_of",
]
