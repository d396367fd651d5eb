import numpy as np
import pytest

from engine.audio import load_audio, match_length, resample, save_audio
from engine.errors import AudioFileError

from .conftest import tone


@pytest.mark.parametrize("ext", [".wav", ".flac", ".ogg", ".mp3"])
def test_formats_round_trip(tmp_path, ext):
    x = tone(1.0, 44100, 440.0, channels=2)
    path = save_audio(tmp_path / f"a{ext}", x, 44100)
    y, rate = load_audio(path)
    assert rate == 44100 and y.shape[0] == 2
    if ext in (".wav", ".flac"):
        assert y.shape == x.shape and np.max(np.abs(y - x)) < 1e-5
    else:  # lossy codecs: length within the codec's padding, energy preserved
        assert abs(y.shape[1] - x.shape[1]) < 4096
        n = min(x.shape[1], y.shape[1])
        assert abs(np.std(y[:, :n]) - np.std(x[:, :n])) < 0.05


def test_multichannel_and_mono(tmp_path):
    x = np.random.default_rng(0).uniform(-0.5, 0.5, (6, 4000)).astype(np.float32)
    path = save_audio(tmp_path / "six.wav", x, 48000, "FLOAT")
    y, _ = load_audio(path)
    assert y.shape == (6, 4000) and np.array_equal(x, y)
    m, _ = load_audio(path, mono=True)
    assert m.shape == (1, 4000) and np.allclose(m[0], x.mean(0), atol=1e-6)


def test_resampling_to_model_rate_and_back_keeps_a_tone():
    x = tone(1.0, 44100, 1000.0)
    down = resample(x, 44100, 22050)
    assert down.shape == (1, 22050)
    back = match_length(resample(down, 22050, 44100), x.shape[1])
    mid = slice(2000, -2000)  # away from the filter's edges
    err = np.sqrt(np.mean((back[:, mid] - x[:, mid]) ** 2)) / np.sqrt(np.mean(x ** 2))
    assert err < 1e-3


def test_load_resamples_on_request(tmp_path):
    path = save_audio(tmp_path / "a.wav", tone(0.5, 48000), 48000)
    y, rate = load_audio(path, 22050)
    assert rate == 22050 and y.shape == (1, 11025)


def test_missing_file(tmp_path):
    with pytest.raises(AudioFileError, match="no such file"):
        load_audio(tmp_path / "nope.wav")


def test_empty_file(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioFileError, match="empty"):
        load_audio(tmp_path / "empty.wav")


def test_unreadable_file(tmp_path):
    (tmp_path / "junk.wav").write_bytes(b"this is not audio at all" * 10)
    with pytest.raises(AudioFileError, match="not a readable audio file"):
        load_audio(tmp_path / "junk.wav")


def test_zero_length_file(tmp_path):
    path = save_audio(tmp_path / "zero.wav", np.zeros((1, 0), np.float32), 22050)
    with pytest.raises(AudioFileError, match="zero length"):
        load_audio(path)


def test_folder_is_not_a_file(tmp_path):
    with pytest.raises(AudioFileError, match="folder"):
        load_audio(tmp_path)


def test_save_never_writes_nan(tmp_path):
    x = np.array([[0.1, np.nan, np.inf, -0.2]], np.float32)
    y, _ = load_audio(save_audio(tmp_path / "n.wav", x, 22050, "FLOAT"))
    assert np.all(np.isfinite(y)) and y[0, 0] == pytest.approx(0.1)
