"""The taxonomy table: every GM program has a fine label and a coarse class; dataset label mappings."""
import pytest

from engine import taxonomy as tx


def test_all_128_programs_have_a_fine_label_and_a_known_coarse_class():
    assert sorted(tx.GM_PROGRAMS) == list(range(128))
    names = [tx.program_to_fine(p) for p in range(128)]
    assert len(set(names)) == 128, "fine labels must be unique"
    for p in range(128):
        assert tx.program_to_coarse(p) in tx.COARSE_CLASSES
        assert tx.fine_to_coarse(tx.program_to_fine(p)) == tx.program_to_coarse(p)


def test_core_classes_and_required_extra_classes():
    assert tx.CORE_CLASSES == ("piano", "bass", "guitar", "strings", "synth_pad", "pipe", "brass", "drums")
    for c in ("organ", "reed", "voice", "synth_lead", "chromatic_percussion", "speech"):
        assert c in tx.COARSE_CLASSES
    for c in tx.CORE_CLASSES:
        assert tx.fine_labels_of(c), c
        if c != "drums":
            assert tx.programs_of(c), c
    assert tx.programs_of("drums") == [] and tx.fine_labels_of("drums")[0] == "Standard Kit"


@pytest.mark.parametrize("program,fine,coarse", [
    (0, "Acoustic Grand Piano", "piano"), (35, "Fretless Bass", "bass"), (40, "Violin", "strings"),
    (52, "Choir Aahs", "voice"), (73, "Flute", "pipe"), (65, "Alto Sax", "reed"), (61, "Brass Section", "brass"),
    (89, "Pad 2 (warm)", "synth_pad"), (81, "Lead 2 (sawtooth)", "synth_lead"), (19, "Church Organ", "organ"),
    (27, "Electric Guitar (clean)", "guitar"), (11, "Vibraphone", "chromatic_percussion"),
    (47, "Timpani", "percussive"), (127, "Gunshot", "sound_effects"),
])
def test_known_gm_entries(program, fine, coarse):
    assert tx.program_to_fine(program) == fine
    assert tx.program_to_coarse(program) == coarse


def test_drum_channel_overrides_program_and_bad_input_raises():
    assert tx.program_to_coarse(0, is_drum=True) == "drums"
    assert tx.fine_to_coarse("TR-808 Kit") == "drums"
    assert tx.fine_to_coarse("Speech") == "speech"
    with pytest.raises(ValueError):
        tx.program_to_fine(128)
    with pytest.raises(KeyError):
        tx.fine_to_coarse("Theremin")
    with pytest.raises(KeyError):
        tx.programs_of("kazoo")


def test_slakh_mapping():
    assert tx.coarse_from_slakh("Piano") == "piano"
    assert tx.coarse_from_slakh("Synth Pad") == "synth_pad"
    assert tx.coarse_from_slakh("Strings (continued)") == "strings"
    assert tx.coarse_from_slakh("Chromatic Percussion") == "chromatic_percussion"
    assert tx.coarse_from_slakh("Drums") == "drums"
    # the program number wins over the family string (a Slakh choir patch is voice here)
    assert tx.coarse_from_slakh("Strings (continued)", program_num=52) == "voice"
    assert tx.coarse_from_slakh("Guitar", program_num=0, is_drum=True) == "drums"
    with pytest.raises(KeyError):
        tx.coarse_from_slakh("Didgeridoo")


def test_musdb_mapping():
    assert tx.coarse_from_musdb("vocals") == "voice"
    assert tx.coarse_from_musdb("drums.wav") == "drums"
    assert tx.coarse_from_musdb("bass") == "bass"
    assert tx.coarse_from_musdb("other") is None
    with pytest.raises(KeyError):
        tx.coarse_from_musdb("mixture")


def test_markdown_table_lists_every_program():
    table = tx.table_markdown()
    assert table.count("\n") == 128 + 1 + 2
    assert "| 127 | Gunshot | sound_effects |" in table
