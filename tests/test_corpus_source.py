"""Splits by work, and CorpusStemSource drawing real rendered stems (small piece sets, no full cache)."""
import numpy as np
import pytest

music21 = pytest.importorskip("music21")

from engine.corpus import scores, splits  # noqa: E402
from engine.corpus.procedural import generate_piece  # noqa: E402
from engine.corpus.source import CorpusStemSource  # noqa: E402
from engine.stems import StemSource  # noqa: E402
from engine.taxonomy import CORE_CLASSES, DRUM_KITS, programs_of  # noqa: E402

SR = 22050


def _chorales(split, n):
    out = []
    for f in scores.corpus_files():
        rel = scores.corpus_relpath(f)
        if rel.startswith("bach/bwv") and f.suffix == ".mxl" and splits.split_of(f"music21:{rel}") == split:
            out.append(f)
            if len(out) == n:
                break
    return out


@pytest.fixture(scope="module")
def pieces():
    files = _chorales("train", 2) + _chorales("valid", 1) + _chorales("test", 2)
    return scores.parse_pieces(files) + [generate_piece(s) for s in range(60)]


def test_split_is_by_work_and_stable():
    ids = [f"music21:beethoven/opus18no1/movement{i}.mxl" for i in range(1, 5)]
    assert len({splits.split_of(i) for i in ids}) == 1
    tunes = [f"music21:essenFolksong/han1.abc#{k}" for k in range(30)]
    assert len({splits.split_of(t) for t in tunes}) == 1
    assert splits.group_of("music21:bach/bwv112.5-sc.mxl") == splits.group_of("music21:bach/bwv112.5.mxl")
    # the movements and sections of one Palestrina mass, sections of one trecento piece, old copies
    mass = {splits.group_of(f"music21:palestrina/{m}.krn") for m in ("Kyrie_31_a", "Credo_31_c", "Agnus_II_31")}
    assert mass == {"music21:palestrina/mass_31"}
    assert splits.group_of("music21:palestrina/Kyrie_30_a.krn") != "music21:palestrina/mass_31"
    assert splits.group_of("music21:trecento/PMFC_12_10a-Credo PMFC12.10a.xml") == \
        splits.group_of("music21:trecento/PMFC_12_10b-Credo PMFC12.10b.xml")
    assert splits.group_of("music21:monteverdi/madrigal.3.1_old.mxl") == splits.group_of("music21:monteverdi/madrigal.3.1.mxl")
    assert len({splits.split_of(f"music21:palestrina/{m}_07.krn") for m in ("Kyrie", "Gloria", "Credo", "Sanctus")}) == 1
    # the procedural pool splits about 80 / 10 / 10, and the same way every time
    counts = {s: len(splits.procedural_seeds(s, 4000)) for s in splits.SPLITS}
    assert sum(counts.values()) == 4000
    assert 3050 < counts["train"] < 3350 and 300 < counts["valid"] < 500 and 300 < counts["test"] < 500
    assert splits.procedural_seeds("test", 4000) == splits.procedural_seeds("test", 4000)
    with pytest.raises(ValueError):
        splits.check_split("dev")


def test_no_piece_in_two_splits(pieces):
    sources = {s: CorpusStemSource(split=s, pieces=pieces, reverb_prob=0.0) for s in splits.SPLITS}
    sets = {s: {p.id for p in src._all_pieces()} for s, src in sources.items()}
    assert sets["train"] and sets["valid"] and sets["test"]
    assert not (sets["train"] & sets["valid"]) and not (sets["train"] & sets["test"]) and not (sets["valid"] & sets["test"])
    assert set.union(*sets.values()) == {p.id for p in pieces}
    groups = {s: {splits.group_of(i) for i in ids} for s, ids in sets.items()}
    assert not (groups["train"] & groups["test"]) and not (groups["valid"] & groups["test"])
    # what a train source draws comes from train pieces only
    rng = np.random.default_rng(0)
    for _ in range(12):
        stem = sources["train"].draw("piano", SR, rng)
        assert splits.split_of(stem.piece) == "train"


@pytest.mark.parametrize("coarse", CORE_CLASSES)
def test_draw_returns_the_class_with_sound_and_labels(pieces, coarse):
    src = CorpusStemSource(split="train", pieces=pieces, reverb_prob=0.3)
    assert isinstance(src, StemSource) and coarse in src.classes
    stem = src.draw(coarse, 6 * SR, np.random.default_rng(CORE_CLASSES.index(coarse)))
    assert stem.coarse == coarse and stem.sample_rate == SR
    assert stem.audio.shape == (6 * SR,) and stem.audio.dtype == np.float32
    assert np.all(np.isfinite(stem.audio)) and np.sqrt(np.mean(stem.audio ** 2)) > 1e-3
    assert stem.activity.shape == (600,) and stem.activity.max() > 0
    assert stem.fine in src.fine_labels(coarse)
    prog = stem.meta["program"]
    assert prog in (DRUM_KITS if coarse == "drums" else programs_of(coarse))
    if coarse == "drums":
        assert stem.piece.startswith("proc:")


def test_draw_is_deterministic_given_the_rng(pieces):
    src = CorpusStemSource(split="train", pieces=pieces)
    a = [src.draw(c, 2 * SR, np.random.default_rng(5)) for c in ("bass", "strings", "drums")]
    b = [src.draw(c, 2 * SR, np.random.default_rng(5)) for c in ("bass", "strings", "drums")]
    for x, y in zip(a, b):
        assert x.audio.tobytes() == y.audio.tobytes() and x.piece == y.piece and x.fine == y.fine


def test_segments_cover_stems_in_a_fixed_order(pieces):
    src = CorpusStemSource(split="valid", pieces=pieces)
    first = [(s.piece, s.coarse, s.meta["start_s"]) for _, s in zip(range(6), src.segments(3 * SR))]
    again = [(s.piece, s.coarse, s.meta["start_s"]) for _, s in zip(range(6), src.segments(3 * SR))]
    assert first == again and len(first) == 6
    for _, s in zip(range(6), src.segments(3 * SR)):
        assert s.coarse in src.classes and len(s.audio) == 3 * SR and s.activity.max() > 0


def test_unknown_class_and_missing_cache_are_clear_errors(pieces, tmp_path):
    src = CorpusStemSource(split="train", pieces=pieces)
    with pytest.raises(KeyError):
        src.draw("kazoo", SR, np.random.default_rng(0))
    with pytest.raises(scores.CorpusError, match="eventsep corpus scores"):
        CorpusStemSource(split="train", cache_root=tmp_path)
    only_proc = CorpusStemSource(split="train", include_scores=False, procedural_pool=200)
    assert only_proc.draw("guitar", SR, np.random.default_rng(1)).piece.startswith("proc:")


def test_speech_stems_from_espeak_are_seeded_and_labelled():
    from engine.corpus import speech

    if not speech.available():
        pytest.skip("espeak-ng is not installed (Debian package espeak-ng)")
    a = speech.speech_stem(3, 3 * SR, np.random.default_rng(0))
    b = speech.speech_stem(3, 3 * SR, np.random.default_rng(0))
    c = speech.speech_stem(4, 3 * SR, np.random.default_rng(0))
    assert a.audio.tobytes() == b.audio.tobytes() and a.audio.tobytes() != c.audio.tobytes()
    assert a.coarse == "speech" and a.meta["language"] in speech.languages() and len(speech.languages()) >= 20
    assert a.activity.shape == (300,) and 0.2 < a.activity.mean() < 1.0
    # the gaps between utterances are unlabelled and quiet; labelled frames are loud
    n = len(a.audio) // 300 * 300
    frames = a.audio[:n].reshape(300, -1)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1)) + 1e-12
    assert np.median(rms[a.activity >= 0.5]) > 10 * np.max(rms[a.activity == 0], initial=1e-12)
    src = CorpusStemSource(split="valid", include_scores=False, procedural_pool=50, classes=["speech", "bass"])
    s = src.draw("speech", SR, np.random.default_rng(2))
    assert s.coarse == "speech" and splits.split_of(s.piece) == "valid"
