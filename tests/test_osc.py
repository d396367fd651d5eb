"""The OSC bridge over real UDP sockets on 127.0.0.1, driving a running chain with the shipped bundle."""
import logging
import struct
import threading

import numpy as np
import pedalboard
import pytest
import soundfile as sf

from engine.errors import EventSepError
from plugin_host import Chain, SeparatorEffect, save_preset
from plugin_host.osc import DawMapping, OscBridge, OscConfig

from .host_audio import OscClient, music, osc, wait_for

RATE = 22050
BLOCK = 256


@pytest.fixture(scope="module")
def models():
    from engine.streaming import OnnxModels
    return OnnxModels()


@pytest.fixture
def rig(models):
    """A chain with the effect, an OSC bridge on a free port, and a client socket."""
    effect = SeparatorEffect(models=models, query_a="piano", query_b="bass")
    chain = Chain([pedalboard.Gain(-1.0), effect, pedalboard.Reverb(room_size=0.3)])
    mapping = DawMapping.parse(["reaper:1/1/1=interp", "reaper:1/1/2=bypass", "ardour:1/2/3=mix"])
    bridge = OscBridge(effect, OscConfig(port=0, mapping=mapping)).start()
    client = OscClient(bridge.address[1])
    chain.reset()
    chain.prepare(RATE, 2)
    yield effect, chain, bridge, client
    client.close()
    bridge.stop()


class AudioThread:
    """Runs the chain block after block, as a host's audio callback would."""

    def __init__(self, chain):
        self.chain, self.blocks, self.error = chain, 0, None
        self._stop = threading.Event()
        self._x = music(0.5, RATE, 2)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            while not self._stop.is_set():
                i = (self.blocks * BLOCK) % (self._x.shape[1] - BLOCK)
                y = self.chain(self._x[:, i:i + BLOCK], RATE, reset=False)
                assert y.shape == (2, BLOCK) and np.isfinite(y).all()
                self.blocks += 1
                self._stop.wait(0.001)
        except Exception as e:       # reported by the test, not swallowed
            self.error = e

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=10)


def _block(chain):
    return chain(np.zeros((2, BLOCK), np.float32), RATE, reset=False)


def test_osc_changes_the_knob_within_one_block(rig):
    effect, chain, bridge, client = rig
    _block(chain)
    client.send_msg("/eventsep/interp", 0.75)
    client.send_msg("/eventsep/mix", 0.25)
    wait_for(lambda: bridge.stats.accepted == 2, what="the bridge to accept two changes")
    assert effect.interp == 0.0 and effect.mix == 1.0          # queued, not yet applied by the audio side
    _block(chain)                                             # the very next block applies them
    assert effect.interp == 0.75 and effect.mix == 0.25
    assert effect._runtime.interp == 0.75 and effect._runtime.mix == 0.25
    client.send_msg("/eventsep/bypass", 1)
    client.send_msg("/eventsep/class/a", "Strings")
    wait_for(lambda: bridge.stats.accepted == 4, what="bypass and class")
    _block(chain)
    assert effect.bypass is True and effect.query_a.value == "strings"


def test_status_is_answered_over_udp(rig):
    effect, chain, bridge, client = rig
    client.send_msg("/eventsep/mix", 0.5)
    status = client.status()                                  # the reply comes back to our socket
    assert status["mix"] == pytest.approx(0.5)                # pending changes are what the next block has
    assert status["query_a"] == "class piano" and status["query_b"] == "class bass"
    assert status["sample_rate"] == RATE and status["latency_samples"] == effect.latency_samples
    assert status["model"] == effect.model_id[:12] and status["bypass"] == 0
    assert bridge.stats.replies == 1


def test_daw_mappings_drive_the_knobs(rig):
    effect, chain, bridge, client = rig
    client.send_msg("/track/1/fx/1/fxparam/1/value", 0.3)     # REAPER -> interp
    client.send_msg("/track/1/fx/1/fxparam/2/value", 0.9)     # REAPER toggle -> bypass on
    client.send_msg("/strip/plugin/parameter", 1, 2, 3, 0.6)  # Ardour -> mix
    client.send_msg("/track/2/volume", 0.5)                   # DAW feedback we do not map: ignored
    client.send_msg("/track/1/fx/1/fxparam/1/value", 1.5)     # mapped but out of range: rejected
    wait_for(lambda: bridge.stats.messages == 5, what="five DAW messages")
    _block(chain)
    assert effect.interp == pytest.approx(0.3) and effect.bypass is True and effect.mix == pytest.approx(0.6)
    assert bridge.stats.ignored == 1 and bridge.stats.rejected == 1 and "between 0 and 1" in bridge.last_rejection


def test_files_and_presets_load_off_the_audio_thread(rig, tmp_path, caplog):
    effect, chain, bridge, client = rig
    ref = tmp_path / "ref.wav"
    sf.write(ref, music(1.0, 16000, 1, seed=5).T, 16000)
    (tmp_path / "junk.wav").write_bytes(b"\x00" * 100)
    caplog.set_level(logging.INFO, logger="eventsep.osc")
    with AudioThread(chain) as audio:
        client.send_msg("/eventsep/query/b", str(ref))
        client.send_msg("/eventsep/query/a", str(tmp_path / "junk.wav"))
        client.send_msg("/eventsep/query/a", str(tmp_path / "missing.wav"))   # coalesced: newest request wins
        wait_for(lambda: bridge.stats.loaded + bridge.stats.load_failed >= 2 and bridge.loader_idle(),
                 what="the loader")
        start = audio.blocks
        wait_for(lambda: audio.blocks >= start + 2, what="two more audio blocks")
    assert audio.error is None
    assert effect.query_b.kind == "file" and effect.query_b.value == str(ref)
    assert effect.query_a.value == "piano"                                     # the failed load changed nothing
    assert "missing.wav: no such file" in caplog.text
    # a preset over OSC
    other = SeparatorEffect(models=effect.models, query_a="drums", interp=0.6, mix=0.4)
    preset = save_preset(other, tmp_path / "p.json")
    client.send_msg("/eventsep/preset/load", str(preset))
    wait_for(lambda: bridge.stats.loaded == 2 and bridge.loader_idle() and len(effect.pending) > 0, what="preset")
    _block(chain)
    assert effect.query_a.value == "drums" and effect.query_b is None and (effect.interp, effect.mix) == (0.6, 0.4)
    # (the junk file's load may or may not have run before the missing file's request replaced it: count
    # from what failed so far)
    failed = bridge.stats.load_failed
    client.send_msg("/eventsep/preset/load", str(tmp_path / "ref.wav"))        # not a preset
    wait_for(lambda: bridge.stats.load_failed == failed + 1, what="the bad preset")
    assert "not valid JSON" in bridge.last_rejection or "not an EventSep preset" in bridge.last_rejection


def _garbage(rng, i):
    """Every kind of bad datagram, in turn."""
    kind = i % 12
    if kind == 0:
        return rng.bytes(int(rng.integers(1, 200)))                    # random bytes
    if kind == 1:
        return b""                                                      # empty datagram
    if kind == 2:
        return osc("/eventsep/interp", "half")                          # wrong type
    if kind == 3:
        return osc("/eventsep/mix", float("nan"))                       # NaN
    if kind == 4:
        return osc("/eventsep/interp", 1.5)                             # out of range
    if kind == 5:
        return osc("/eventsep/nothing", 0.5)                            # unknown address
    if kind == 6:
        return osc("/eventsep/bypass", 7)                               # not 0/1
    if kind == 7:
        return osc("/eventsep/class/a", "kazoo")                        # unknown class
    if kind == 8:
        return osc("/eventsep/interp")                                  # missing argument
    if kind == 9:
        return osc("/eventsep/mix", 0.1, 0.2)                           # too many arguments
    if kind == 10:
        return b"/eventsep/interp\x00\x00\x00\x00,f\x00\x00"             # truncated: no float
    return b"#bundle\x00" + struct.pack(">Q", 1) + struct.pack(">i", 999) + b"xx"   # broken bundle


def test_a_flood_of_valid_and_garbage_datagrams(rig):
    effect, chain, bridge, client = rig
    rng = np.random.default_rng(0)
    last = {}
    sent_valid = sent_bad = 0
    with AudioThread(chain) as audio:
        for i in range(10_000):
            if rng.random() < 0.5:
                choice = int(rng.integers(0, 4))
                if choice == 0:
                    value = float(np.float32(rng.random()))
                    client.send_msg("/eventsep/interp", value)
                    last["interp"] = value
                elif choice == 1:
                    value = float(np.float32(rng.random()))
                    client.send_msg("/eventsep/mix", value)
                    last["mix"] = value
                elif choice == 2:
                    value = int(rng.integers(0, 2))
                    client.send_msg("/eventsep/bypass", value)
                    last["bypass"] = bool(value)
                else:
                    name = ["guitar", "drums", "organ"][int(rng.integers(0, 3))]
                    client.send_msg("/eventsep/class/a", name)
                    last["class"] = name
                sent_valid += 1
            else:
                client.send(_garbage(rng, i))
                sent_bad += 1
            if i % 100 == 99:
                client.status()           # keep the socket buffer from overflowing: wait until it caught up
        status = client.status()
        start = audio.blocks
        wait_for(lambda: audio.blocks >= start + 2, what="two more audio blocks")
    assert audio.error is None and audio.blocks > 0
    assert bridge.alive
    assert bridge.stats.datagrams == 10_000 + 101                      # nothing lost, every status answered
    assert bridge.stats.accepted == sent_valid and bridge.stats.rejected == sent_bad
    assert effect.interp == pytest.approx(last["interp"]) and effect.mix == pytest.approx(last["mix"])
    assert effect.bypass is last["bypass"] and effect.query_a.value == last["class"]
    assert status["interp"] == pytest.approx(last["interp"]) and status["query_a"] == "class " + last["class"]
    assert len(effect.pending) == 0
    client.send_msg("/eventsep/interp", 0.125)                          # and it still listens
    wait_for(lambda: bridge.stats.accepted == sent_valid + 1, what="one more change")


def test_listening_beyond_loopback_needs_a_flag(models):
    effect = SeparatorEffect(models=models)
    with pytest.raises(EventSepError, match="--allow-remote"):
        OscBridge(effect, OscConfig(host="0.0.0.0", port=0))
    with OscBridge(effect, OscConfig(host="0.0.0.0", port=0, allow_remote=True)) as bridge:
        assert bridge.address[0] == "0.0.0.0"
    with OscBridge(effect, OscConfig(port=0)) as first:
        with pytest.raises(EventSepError, match="cannot listen for OSC on 127.0.0.1"):
            OscBridge(effect, OscConfig(port=first.address[1])).start()
    with pytest.raises(EventSepError, match="OSC port"):
        OscBridge(effect, OscConfig(port=70000))
    with pytest.raises(EventSepError, match="unknown knob"):
        DawMapping.parse(["reaper:1/1/1=volume"])
    with pytest.raises(EventSepError, match="expected reaper"):
        DawMapping.parse(["cubase:1=interp"])
