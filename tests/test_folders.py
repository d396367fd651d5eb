import numpy as np
import pytest

from engine.audio import save_audio
from engine.errors import EventSepError
from engine.folders import musdb_source, slakh_source
from engine.sources import open_stem_source

from .conftest import tone


def _make_musdb(root):
    for split, tracks in (("train", ["A", "B"]), ("test", ["C"])):
        for i, track in enumerate(tracks):
            for j, stem in enumerate(("vocals", "drums", "bass", "other")):
                save_audio(root / split / track / f"{stem}.wav",
                           tone(2.0, 44100, 110.0 * (j + 1) + i, channels=2), 44100)


def _make_slakh(root):
    meta = """UUID: x
audio_dir: stems
stems:
  S00:
    audio_rendered: true
    inst_class: Piano
    is_drum: false
    midi_program_name: Acoustic Grand Piano
    program_num: 0
  S01:
    audio_rendered: true
    inst_class: Strings (continued)
    is_drum: false
    midi_program_name: String Ensemble 1
    program_num: 48
  S02:
    audio_rendered: true
    inst_class: Drums
    is_drum: true
    midi_program_name: Drums
    program_num: 0
  S03:
    audio_rendered: false
    inst_class: Synth Pad
    is_drum: false
    midi_program_name: Pad 1 (new age)
    program_num: 88
"""
    for split in ("train", "validation", "test"):
        track = root / split / "Track00001"
        track.mkdir(parents=True)
        (track / "metadata.yaml").write_text(meta)
        for k in range(3):
            save_audio(track / "stems" / f"S0{k}.flac", tone(1.5, 44100, 200.0 * (k + 1)), 44100)


def test_musdb_layout(tmp_path):
    _make_musdb(tmp_path)
    src = musdb_source(tmp_path, "train")
    assert list(src.classes) == ["bass", "drums", "other", "voice"]
    stem = src.draw("voice", 22050, np.random.default_rng(0))
    assert stem.audio.shape == (22050,) and stem.coarse == "voice" and np.abs(stem.audio).max() > 0.1
    segments = list(src.segments(22050))
    assert len(segments) == 4 * 2  # train minus the 'valid' tenth (track A is every 10th: index 0)
    assert {s.piece for s in segments} == {"B"}
    assert {s.piece for s in musdb_source(tmp_path, "valid").segments(22050)} == {"A"}
    assert {s.piece for s in musdb_source(tmp_path, "test").segments(22050)} == {"C"}


def test_slakh_layout(tmp_path):
    _make_slakh(tmp_path)
    src = open_stem_source(f"slakh:{tmp_path}", "valid")
    assert list(src.classes) == ["drums", "piano", "strings"]  # S03 was not rendered
    assert src.fine_labels("strings") == ["String Ensemble 1"]
    stem = src.draw("piano", 11025, np.random.default_rng(1))
    assert stem.fine == "Acoustic Grand Piano" and stem.audio.shape == (11025,)


def test_missing_or_empty_folders_are_explained(tmp_path):
    with pytest.raises(EventSepError, match="no such folder"):
        musdb_source(tmp_path / "absent")
    with pytest.raises(EventSepError, match="no Slakh2100-style tracks"):
        slakh_source(tmp_path)
    _make_slakh(tmp_path / "odd")
    meta = tmp_path / "odd" / "train" / "Track00001" / "metadata.yaml"
    meta.write_text(meta.read_text().replace("inst_class: Piano", "inst_class: Theremin")
                    .replace("program_num: 0\n  S01", "program_num: null\n  S01"))
    with pytest.raises(EventSepError, match="unknown Slakh inst_class"):
        slakh_source(tmp_path / "odd")
    with pytest.raises(EventSepError, match="unknown stem source"):
        open_stem_source("youtube:abc")
