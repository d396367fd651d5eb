"""eventsep process / live / serve and presets, through the real command line on real files."""
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.cli import main
from plugin_host import SeparatorEffect
from plugin_host.live import audio_devices

from .host_audio import OscClient, music

ROOT = Path(__file__).resolve().parents[1]


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def song(tmp_path):
    """0.8 s of stereo music at 32 kHz as float WAV (an unusual rate on purpose)."""
    path = tmp_path / "song.wav"
    sf.write(path, music(0.8, 32000, 2).T, 32000, subtype="FLOAT")
    return path


def test_process_streams_a_file_aligned_and_of_the_same_length(capsys, tmp_path, song):
    out = tmp_path / "piano.wav"
    code, stdout, err = _run(capsys, "process", song, out, "--class", "piano", "--block", "3000", "--bit-depth", "32")
    assert code == 0, err
    y, rate = sf.read(out, dtype="float32", always_2d=True)
    x, _ = sf.read(song, dtype="float32", always_2d=True)
    assert rate == 32000 and y.shape == x.shape
    assert "100%" in err and "song.wav" in err                 # the progress bar
    assert "latency of" in stdout and "real time" in stdout
    # the chunked, latency-compensated stream equals the effect run on the whole file at once
    expected = SeparatorEffect(query_a="piano")(x.T, 32000)
    np.testing.assert_allclose(y.T, expected, atol=1e-5)
    assert not list(tmp_path.glob(".*partial*"))               # no temporary file left behind


def test_process_with_mix_zero_returns_the_input_exactly(capsys, tmp_path):
    mono = tmp_path / "mono.flac"
    sf.write(mono, music(0.6, 44100, 1, seed=2).T, 44100, subtype="PCM_24")
    out = tmp_path / "same.flac"
    code, _, err = _run(capsys, "process", mono, out, "--class", "bass", "--mix", "0", "--quiet", "--block", "1000")
    assert code == 0, err
    a, _ = sf.read(mono, dtype="int32")
    b, rate = sf.read(out, dtype="int32")
    assert rate == 44100 and a.shape == b.shape
    # aligned to the sample; pedalboard.io's 24-bit read/write scales differ, so about half the samples come
    # back one step (one 24-bit LSB = 256 here) off; a shift by even one sample would be far larger
    assert np.max(np.abs(a.astype(np.int64) - b)) <= 256
    wav = tmp_path / "float.wav"
    sf.write(wav, music(0.6, 44100, 1, seed=2).T, 44100, subtype="FLOAT")
    code, _, err = _run(capsys, "process", wav, tmp_path / "same.wav", "--class", "bass", "--mix", "0", "--quiet",
                        "--bit-depth", "32")
    assert code == 0, err
    assert np.array_equal(sf.read(wav, dtype="float32")[0], sf.read(tmp_path / "same.wav", dtype="float32")[0])
    assert "%" not in err                                                   # --quiet: no progress bar


@pytest.mark.parametrize("case,expected", [
    ("missing", "no such file"),
    ("unreadable", "not a readable audio file"),
    ("unknown_class", "unknown class 'kazoo'; coarse classes: bass"),
    ("exists", "already exists (pass --overwrite"),
    ("same_file", "would overwrite the input"),
    ("bad_extension", "cannot write '.xyz'"),
    ("no_query", "--query REF, --class NAME or --preset"),
    ("interp_without_b", "needs a second query"),
    ("bad_preset", "not valid JSON"),
    ("bad_model", "not an EventSep ONNX bundle"),
])
def test_process_errors_are_one_clear_line(capsys, tmp_path, song, case, expected):
    out = tmp_path / "out.wav"
    args = ["process", song, out, "--class", "piano", "--quiet"]
    if case == "missing":
        args[1] = tmp_path / "absent.wav"
    elif case == "unreadable":
        (tmp_path / "junk.wav").write_bytes(b"RIFF\x00\x00junk" * 10)
        args[1] = tmp_path / "junk.wav"
    elif case == "unknown_class":
        args[4] = "kazoo"
    elif case == "exists":
        out.write_bytes(b"keep me")
    elif case == "same_file":
        args[2] = song
    elif case == "bad_extension":
        args[2] = tmp_path / "out.xyz"
    elif case == "no_query":
        args = ["process", song, out, "--quiet"]
    elif case == "interp_without_b":
        args += ["--interp", "0.5"]
    elif case == "bad_preset":
        (tmp_path / "p.json").write_text("{nope")
        args += ["--preset", tmp_path / "p.json"]
    elif case == "bad_model":
        args += ["--model", tmp_path]
    code, _, err = _run(capsys, *args)
    assert code == 2
    assert err.startswith("eventsep process: error: ") and expected in err, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    if case == "exists":
        assert out.read_bytes() == b"keep me"                   # never clobbered
    elif case != "same_file":
        assert not out.exists()


def test_presets_round_trip_through_the_cli(capsys, tmp_path, song):
    preset = tmp_path / "p.json"
    first = tmp_path / "first.wav"
    code, _, err = _run(capsys, "process", song, first, "--class", "drums", "--class-b", "bass", "--interp", "0.3",
                        "--mix", "0.7", "--save-preset", preset, "--quiet", "--bit-depth", "32")
    assert code == 0, err
    data = json.loads(preset.read_text())
    assert data["parameters"]["interp"] == pytest.approx(0.3) and data["queries"]["b"]["name"] == "bass"
    again = tmp_path / "again.wav"
    code, _, err = _run(capsys, "process", song, again, "--preset", preset, "--quiet", "--bit-depth", "32")
    assert code == 0, err
    assert np.array_equal(sf.read(first)[0], sf.read(again)[0])
    # the same preset for another model: a warning, class queries recomputed, still runs
    data["model"]["sha256"] = "f" * 64
    preset.write_text(json.dumps(data))
    code, _, err = _run(capsys, "process", song, tmp_path / "third.wav", "--preset", preset, "--quiet")
    assert code == 0 and "warning:" in err and "recomputed" in err
    code, _, err = _run(capsys, "process", song, tmp_path / "fourth.wav", "--preset", preset, "--strict-preset")
    assert code == 2 and "made for model ffffffffffff" in err


def test_live_says_clearly_when_there_is_no_audio_device(capsys):
    inputs, outputs = audio_devices()
    code, out, err = _run(capsys, "live", "--list-devices")
    assert code == 0 and out.startswith("input devices:")
    if not inputs and not outputs:
        assert "(none)" in out
        code, _, err = _run(capsys, "live", "--class", "piano")
        assert code == 2 and err.startswith("eventsep live: error: no audio devices found")
        assert "Traceback" not in err
    else:                      # a machine with devices: a wrong name is still a clear error
        code, _, err = _run(capsys, "live", "--input-device", "no such device ###")
        assert code == 2 and "no input device named" in err


def test_serve_for_a_few_seconds_of_a_looped_file(capsys, tmp_path, song):
    rec = tmp_path / "rec.wav"
    t0 = time.monotonic()
    code, _, err = _run(capsys, "serve", "--osc-port", "0", "--input", song, "--seconds", "0.4", "--output", rec,
                        "--class", "organ", "--quiet")
    assert code == 0, err
    assert time.monotonic() - t0 >= 0.35                        # real-time pace, not as fast as possible
    assert "OSC on 127.0.0.1:" in err and "stopped after 0.4 s of audio" in err
    assert sf.info(rec).frames == int(0.4 * 32000) and sf.info(rec).samplerate == 32000
    code, _, err = _run(capsys, "serve", "--osc-port", "0", "--silence", "--seconds", "0.1", "--output", rec)
    assert code == 2 and "already exists" in err
    code, _, err = _run(capsys, "serve", "--osc-host", "0.0.0.0", "--seconds", "0.1")
    assert code == 2 and "--allow-remote" in err


def test_serve_is_driven_over_osc_and_stops_on_sigterm(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli", "serve", "--osc-port", "0", "--silence",
                             "--class", "piano", "--block", "1024", "--sample-rate", "22050"],
                            cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        port = None
        while port is None:
            assert time.monotonic() < deadline and proc.poll() is None, "".join(lines)
            for line in list(lines):
                if "OSC on 127.0.0.1:" in line:
                    port = int(line.split("OSC on 127.0.0.1:")[1].split(";")[0])
            time.sleep(0.05)
        client = OscClient(port)
        client.send_msg("/eventsep/mix", 0.3)
        client.send_msg("/eventsep/interp", "loud")             # rejected, logged, harmless
        status = client.status(timeout=30)
        assert status["mix"] == pytest.approx(0.3) and status["query_a"] == "class piano"
        client.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=5)
    log = "".join(lines)
    assert "/eventsep/mix from 127.0.0.1" in log and "mix = 0.3" in log
    assert "rejected /eventsep/interp" in log and "takes a number 0..1" in log
    assert "stopped after" in log and "1 accepted, 1 rejected, 1 status replies" in log
    assert "Traceback" not in log
