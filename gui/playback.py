"""Playing a rendered file where the machine has an audio output (``pedalboard.io.AudioStream.play``)."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

from engine.errors import EventSepError

NO_DEVICE = "no audio output device on this machine"


def output_devices() -> list[str]:
    try:
        from plugin_host.live import audio_devices

        return audio_devices()[1]
    except EventSepError:
        return []


def play_file(path: str | Path, on_error: Callable[[str], None]) -> threading.Thread:
    """Start playing ``path`` on the default output on a background thread (``AudioStream.play`` blocks
    until the end); errors go to ``on_error`` (called on that thread)."""
    devices = output_devices()
    if not devices:
        raise EventSepError(f"{NO_DEVICE}: open {path} in a player")

    def run():
        from pedalboard.io import AudioFile, AudioStream

        try:
            with AudioFile(str(path)) as f:
                audio, rate = f.read(f.frames), f.samplerate
            AudioStream.play(audio, rate, AudioStream.default_output_device_name or devices[0])
        except Exception as e:
            on_error(f"cannot play {path} ({e})")

    thread = threading.Thread(target=run, name="eventsep-panel-play", daemon=True)
    thread.start()
    return thread
