"""Frame labels at 10 ms with fractional edges (220.5 samples per frame at 22050 Hz)."""
import numpy as np
import pytest

from engine.corpus.labels import (activity_from_intervals, activity_from_notes, binarize, frame_to_sample_range,
                                  merge_intervals, num_frames)

SR = 22050


def test_fraction_of_each_frame_is_exact():
    # a note from 10.5 ms to 30 ms: frame 0 empty, frame 1 95 % covered, frame 2 full, frame 3 empty
    act = activity_from_intervals(np.array([0.0105]), np.array([0.030]), 0.05)
    np.testing.assert_allclose(act, [0.0, 0.95, 1.0, 0.0, 0.0], atol=1e-6)


def test_edges_at_half_samples_are_not_rounded():
    # a note starting exactly at sample 220.5 * 3 = 661.5 (frame 3's edge) and ending at sample 882
    on, off = 661.5 / SR, 882 / SR
    act = activity_from_intervals(np.array([on]), np.array([off]), 0.06)
    assert act[2] == 0.0
    np.testing.assert_allclose(act[3], (882 - 661.5) / 220.5, atol=1e-6)     # = 1.0
    # one sample less at the end: (881 - 661.5) / 220.5 of the frame
    act2 = activity_from_intervals(np.array([on]), np.array([881 / SR]), 0.06)
    np.testing.assert_allclose(act2[3], (881 - 661.5) / 220.5, atol=1e-6)
    assert 0.99 < act2[3] < 1.0
    assert binarize(act2)[3] == 1.0 and binarize(np.array([0.49]))[0] == 0.0


def test_overlapping_notes_are_counted_once_and_clipped_to_the_excerpt():
    starts = np.array([-0.5, 0.001, 0.002, 0.0119])
    ends = np.array([0.004, 0.008, 0.006, 0.2])
    act = activity_from_intervals(starts, ends, 0.0155)
    assert len(act) == 2                                    # 15.5 ms -> a full frame + a partial one
    np.testing.assert_allclose(act[0], 0.8, atol=1e-6)       # union [0, 8 ms) of the first three notes
    # the last frame is partial (10 .. 15.5 ms): 3.6 ms of its 5.5 ms are covered
    np.testing.assert_allclose(act[1], 0.0036 / 0.0055, atol=1e-5)
    assert merge_intervals(starts, ends).shape == (2, 2)


def test_matches_a_brute_force_count_on_random_notes():
    rng = np.random.default_rng(7)
    on = rng.uniform(-1, 6, 200)
    notes = np.stack([on, rng.uniform(0.001, 0.3, 200), np.full(200, 60), np.full(200, 80)], axis=1)
    start, dur = 0.37, 5.0
    act = activity_from_notes(notes, start, dur)
    assert len(act) == num_frames(dur) == 500
    t = start + (np.arange(int(dur * 1e5)) + 0.5) / 1e5     # 10 us grid
    covered = np.zeros_like(t, dtype=bool)
    for o, d in notes[:, :2]:
        covered |= (t >= o) & (t < o + d)
    brute = covered.reshape(500, -1).mean(axis=1)
    np.testing.assert_allclose(act, brute, atol=2e-3)
    assert 0.0 < act.mean() < 1.0


def test_frame_counts_and_sample_ranges():
    assert num_frames(6.0) == 600
    assert num_frames(6 * SR / SR) == 600
    assert num_frames(0.0155) == 2
    assert frame_to_sample_range(0, SR) == (0, 221)
    assert frame_to_sample_range(1, SR) == (220, 441)       # sample 220 straddles the 220.5 edge
    with pytest.raises(Exception):
        activity_from_notes(np.zeros((3, 3)), 0.0, 1.0)


def test_sample_mask_follows_fractional_frames():
    from engine.corpus.labels import frame_mask

    act = np.array([1.0, 0.0, 1.0])
    m = frame_mask(act, 662, SR)
    assert m[220] and not m[221] and not m[440] and m[441] and m[661]     # edges at 220.5 and 441.0
