"""Live audio: run a chain between an input and an output device with ``pedalboard.io.AudioStream``
(read a block, process it with ``reset=False``, write it back)."""
from __future__ import annotations

import logging
import threading

from engine.errors import EventSepError

log = logging.getLogger("eventsep.live")


def audio_devices() -> tuple[list[str], list[str]]:
    """(input device names, output device names) as pedalboard sees them."""
    from pedalboard.io import AudioStream

    try:
        return list(AudioStream.input_device_names), list(AudioStream.output_device_names)
    except Exception as e:       # no audio backend at all
        raise EventSepError(f"cannot list audio devices ({e})") from None


def pick_devices(input_device: str | None, output_device: str | None) -> tuple[str, str]:
    """Check the named (or default) devices exist; clear errors when there are none."""
    from pedalboard.io import AudioStream

    inputs, outputs = audio_devices()
    if not inputs and not outputs:
        raise EventSepError("no audio devices found (no sound card, or no audio server running); use "
                            "'eventsep process' for files or 'eventsep serve --silence' to run without audio hardware")
    if not inputs or not outputs:
        missing = "input" if not inputs else "output"
        raise EventSepError(f"no audio {missing} device found; live processing needs an input and an output")

    def choose(name, names, default, kind):
        if name is None:
            name = default or names[0]
        if name not in names:
            raise EventSepError(f"no {kind} device named {name!r}; {kind} devices: {', '.join(names)}")
        return name

    return (choose(input_device, inputs, AudioStream.default_input_device_name, "input"),
            choose(output_device, outputs, AudioStream.default_output_device_name, "output"))


def run_live(chain, input_device: str, output_device: str, sample_rate: int | None, block: int, channels: int,
             stop: threading.Event, seconds: float | None = None) -> int:
    """Stream until ``stop`` is set (or ``seconds`` have passed); returns the frames processed."""
    from pedalboard.io import AudioStream

    try:
        stream = AudioStream(input_device_name=input_device, output_device_name=output_device,
                             sample_rate=sample_rate, buffer_size=block, num_input_channels=channels,
                             num_output_channels=channels)
    except Exception as e:
        raise EventSepError(f"cannot open the audio devices ({e})") from None
    frames = 0
    with stream:
        rate = int(stream.sample_rate)
        chain.reset()
        chain.prepare(rate, channels)
        log.info("live: %s -> %s at %d Hz, blocks of %d, latency %d samples", input_device, output_device, rate,
                 block, chain.latency_samples)
        limit = None if seconds is None else int(seconds * rate)
        while not stop.is_set() and (limit is None or frames < limit):
            x = stream.read(block)
            stream.write(chain.process(x, rate, buffer_size=block, reset=False), rate)
            frames += x.shape[-1]
    return frames
