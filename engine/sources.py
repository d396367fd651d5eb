"""Stem sources by name, for the command line: ``synthetic``, ``corpus[:SOUNDFONT]``,
``musdb:PATH``, ``slakh:PATH``."""
from __future__ import annotations

from .errors import EventSepError
from .stems import StemSource, SyntheticStemSource

SOURCE_HELP = ("stem source: 'corpus' (rendered corpus, FluidR3; 'corpus:musescore' or 'corpus:timgm' "
               "for the unseen-timbre soundfonts), 'synthetic' (tones vs noise, for smoke tests), "
               "'musdb:PATH' (MUSDB18-HQ folder), 'slakh:PATH' (Slakh2100 folder) or 'bank' (the corpus "
               "rendered once to disk by `eventsep corpus bank`; 'bank:DIR' for another bank root; 'banks:fluidr3,musescore' "
               "for the banks of several soundfonts drawn as one; '+ensembles' after a bank adds the split's rendered "
               "ensembles, parts of one piece played together, for --p-ensemble: FluidR3's, or "
               "'+ensembles:fluidr3,csound' for several soundfonts' drawn as one)")


def open_stem_source(spec: str, split: str = "train", sample_rate: int = 22050) -> StemSource:
    base, plus, ensembles = spec.partition("+ensembles")
    if plus:
        # '+ensembles' alone: FluidR3's; '+ensembles:fluidr3,csound': several soundfonts' drawn as one
        names = [n for n in ensembles.removeprefix(":").split(",") if n] or ["fluidr3"]
        if ensembles and not ensembles.startswith(":"):
            raise EventSepError(f"unknown stem source {spec!r}; {SOURCE_HELP}")
        return _with_ensembles(open_stem_source(base, split, sample_rate), split, names)
    kind, _, arg = spec.partition(":")
    if kind == "synthetic":
        return SyntheticStemSource(sample_rate)
    if kind == "musdb":
        from .folders import musdb_source
        return musdb_source(arg, split, sample_rate)
    if kind == "slakh":
        from .folders import slakh_source
        return slakh_source(arg, split, sample_rate)
    if kind == "bank":
        from .corpus.bank import BankStemSource, bank_dir
        from .corpus.paths import CorpusError
        try:
            return BankStemSource(bank_dir(arg or None, split, "fluidr3"))
        except CorpusError as e:
            raise EventSepError(str(e)) from None
    if kind == "banks":
        from .corpus.bank import BankMixture, BankStemSource, bank_dir
        from .corpus.paths import CorpusError
        soundfonts = [name for name in arg.split(",") if name]
        if not soundfonts:
            raise EventSepError("'banks:' needs soundfont names, e.g. 'banks:fluidr3,musescore'")
        try:
            return BankMixture([BankStemSource(bank_dir(None, split, name)) for name in soundfonts])
        except CorpusError as e:
            raise EventSepError(str(e)) from None
    if kind == "corpus":
        try:
            from .corpus import CorpusStemSource
        except ImportError as e:
            raise EventSepError(f"the rendered corpus is not available: {e}") from None
        return CorpusStemSource(split=split, soundfont=arg or "fluidr3")
    raise EventSepError(f"unknown stem source {spec!r}; {SOURCE_HELP}")


def _with_ensembles(source: StemSource, split: str, soundfonts: list[str]) -> StemSource:
    from .corpus.ensembles import EnsembleMixture, Ensembles, WithEnsembles, ensembles_dir
    from .corpus.paths import CorpusError

    try:
        sets = [Ensembles(ensembles_dir(None, split, name)) for name in soundfonts]
        return WithEnsembles(source, sets[0] if len(sets) == 1 else EnsembleMixture(sets))
    except CorpusError as e:
        raise EventSepError(str(e)) from None
