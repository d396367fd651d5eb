"""Real FluidSynth rendering with the real soundfonts: determinism, silence, onsets, level."""
import hashlib

import numpy as np
import pytest

from engine.corpus import paths
from engine.corpus.labels import activity_from_notes
from engine.corpus.procedural import generate_piece
from engine.corpus.render import add_reverb, render_notes
from engine.corpus.source import draw_plan, frame_mask, realize

SR = 22050
FRAME = 0.010


def _h(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _frame_db(audio, frame_s=FRAME):
    """RMS level (dBFS) of each 10 ms label frame (frame k = samples [floor(220.5 k), floor(220.5 (k+1))))."""
    k = int(np.ceil(len(audio) / (frame_s * SR) - 1e-9))
    edges = np.floor(np.arange(k + 1) * frame_s * SR).astype(int)
    x = audio.astype(np.float64) ** 2
    c = np.concatenate([[0.0], np.cumsum(x)])
    ends = np.minimum(edges[1:], len(audio))
    ms = (c[ends] - c[edges[:-1]]) / np.maximum(ends - edges[:-1], 1)
    return 10 * np.log10(ms + 1e-24)


NOTES = np.array([[0.50, 0.60, 60, 100], [0.50, 0.60, 64, 100], [4.00, 0.50, 67, 90]])


def test_same_arguments_same_bytes_whatever_was_rendered_before():
    a = render_notes(NOTES, 0, 5.0)
    render_notes(NOTES + [0, 0, 3, 0], 48, 2.0)            # something else in between
    render_notes(NOTES, 0, 5.0, is_drum=True)
    b = render_notes(NOTES, 0, 5.0)
    assert _h(a) == _h(b)
    c = render_notes(NOTES, 1, 5.0)                         # another program is another sound
    assert _h(a) != _h(c)
    assert len(a) == 5 * SR and a.dtype == np.float32


@pytest.mark.parametrize("program,is_drum", [(0, False), (33, False), (40, False), (73, False), (61, False),
                                             (25, False), (0, True)])
def test_audible_where_labelled_and_silent_well_away(program, is_drum):
    notes = np.array([[0.5, 0.6, 60 if not is_drum else 38, 100], [4.0, 0.5, 62 if not is_drum else 36, 100]])
    audio = render_notes(notes, program, 5.0, is_drum=is_drum)
    act = activity_from_notes(notes, 0.0, 5.0)
    db = _frame_db(audio)
    active = act >= 0.5
    # audible where the labels say: the first 100 ms of each note are well above -60 dBFS
    for on in notes[:, 0]:
        k = int(on / FRAME) + 1
        assert db[k:k + 10].max() > -40, (program, on, db[k:k + 10])
    assert np.median(db[active][:10]) > -50
    # silent before the first note, and >= 2.4 s after a note ended (release tails allowed)
    assert np.abs(audio[: int(0.49 * SR)]).max() == 0.0
    quiet = slice(int((0.5 + 0.6 + 2.4) / FRAME), int(4.0 / FRAME) - 1)
    assert db[quiet].max() < -60, (program, db[quiet].max())


@pytest.mark.parametrize("program,is_drum", [(0, False), (40, False), (33, False), (0, True)])
def test_label_onsets_line_up_with_audio_onsets(program, is_drum):
    pitches = [38, 36, 42, 38] if is_drum else [60, 65, 55, 72]
    onsets = [0.3137, 1.5021, 2.7003, 3.9511]
    notes = np.array([[t, 0.3, p, 100] for t, p in zip(onsets, pitches)])
    audio = render_notes(notes, program, 5.0, is_drum=is_drum)
    act = activity_from_notes(notes, 0.0, 5.0)
    env = np.abs(audio)
    for t in onsets:
        # label onset: first frame of this note with activity
        k0 = int((t - 0.2) / FRAME)
        label_on = (k0 + np.argmax(act[k0:] > 0)) * FRAME
        # audio onset: first sample after the preceding quiet stretch above 1 % of the note's peak
        seg = env[int((t - 0.2) * SR): int((t + 0.3) * SR)]
        thr = 0.01 * seg.max()
        audio_on = (t - 0.2) + np.argmax(seg > thr) / SR
        assert abs(audio_on - label_on) <= 0.020, (program, t, audio_on, label_on)


def test_sustained_note_sounds_in_an_excerpt_that_starts_after_its_onset():
    notes = np.array([[0.0, 4.0, 60, 100]])
    ex = render_notes(notes, 48, 1.0, start_s=2.0)          # strings, held
    assert _frame_db(ex).min() > -50
    assert activity_from_notes(notes, 2.0, 1.0).min() == 1.0


def test_stems_of_a_piece_are_deterministic_and_levelled():
    piece = generate_piece(11)
    stems = []
    for part, p in enumerate(piece.parts):
        coarse = {"drums": "drums", "bass": "bass", "pad": "synth_pad", "comp": "piano", "lead": "pipe"}[p.name]
        plan = draw_plan(piece, part, coarse, 4 * SR, np.random.default_rng(part), SR, reverb_prob=0.0)
        s1, s2 = realize(plan, piece), realize(plan, piece)
        assert _h(s1.audio) == _h(s2.audio)
        assert s1.coarse == coarse and s1.activity.shape == (400,)
        if s1.activity.max() >= 0.5:
            mask = frame_mask(s1.activity, len(s1.audio), SR)
            rms_db = 20 * np.log10(np.sqrt(np.mean(s1.audio[mask].astype(np.float64) ** 2)))
            assert abs(rms_db - (-20.0 + plan.gain_db)) < 0.5
        stems.append(s1.audio)
    mix = np.sum(stems, axis=0)
    assert np.abs(mix).max() > 0


def test_reverb_is_seeded():
    x = render_notes(NOTES, 0, 2.0)
    a = add_reverb(x, np.random.default_rng(3), SR)
    b = add_reverb(x, np.random.default_rng(3), SR)
    c = add_reverb(x, np.random.default_rng(4), SR)
    assert _h(a) == _h(b) and _h(a) != _h(c) and len(a) == len(x)


def test_unseen_timbre_soundfonts_render_differently():
    a = render_notes(NOTES, 0, 1.5, soundfont="fluidr3")
    b = render_notes(NOTES, 0, 1.5, soundfont="timgm")
    assert np.abs(b).max() > 0 and _h(a) != _h(b)


def test_missing_soundfont_names_the_debian_package(monkeypatch):
    monkeypatch.setitem(paths.SOUNDFONTS, "timgm", {"candidates": ["/nonexistent/TimGM6mb.sf2"],
                                                    "package": "timgm6mb-soundfont"})
    with pytest.raises(paths.CorpusError, match="apt-get install timgm6mb-soundfont"):
        paths.soundfont_path("timgm")
    with pytest.raises(paths.CorpusError, match="unknown soundfont"):
        paths.soundfont_path("nosuchfont")
