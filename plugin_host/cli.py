"""``eventsep process``, ``eventsep live`` and ``eventsep serve``. Building the parsers imports nothing
heavy (it runs for every ``eventsep`` call); the commands import what they need when they run."""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from .arg_types import SETTING_NAMES as PRESETS, chosen_setting, port as _port, positive_int as _positive_int, unit as _unit


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _effect_options(p, query_required: bool) -> None:
    need = " (this or --class or --preset is required)" if query_required else ""
    p.add_argument("--model", metavar="BUNDLE", default=None,
                   help="ONNX bundle folder written by 'eventsep export' (default: the shipped model)")
    q = p.add_mutually_exclusive_group()
    q.add_argument("--query", metavar="REF", help="reference audio file of the sound to keep (query A)" + need)
    q.add_argument("--class", dest="class_name", metavar="NAME",
                   help="class name or fine label to keep (query A); 'eventsep classes' lists them")
    qb = p.add_mutually_exclusive_group()
    qb.add_argument("--query-b", metavar="REF2", help="second reference audio file (query B)")
    qb.add_argument("--class-b", metavar="NAME2", help="second class name (query B)")
    p.add_argument("--interp", type=_unit, default=None, help="slerp position A (0) -> B (1) (default: 0)")
    p.add_argument("--mix", type=_unit, default=None, help="wet/dry, 1 = only the separated signal (default: 1)")
    p.add_argument("--residual", action="store_true", default=None,
                   help="keep everything but the target instead of the target")
    p.add_argument("--preset", metavar="P.json", default=None,
                   help="load parameters and queries from a preset (options given here override it)")
    p.add_argument("--save-preset", metavar="P.json", default=None,
                   help="save the resulting parameters, queries and model id as a preset")
    p.add_argument("--strict-preset", action="store_true",
                   help="refuse a preset made for another model (default: recompute its class and file queries "
                        "with a warning)")
    p.add_argument("--setting", choices=PRESETS, default=None,
                   help="streaming setting; with the shipped model: default (2 frames per run on a worker "
                        "thread: 69.6 ms), low_latency (no lookahead, on a worker thread: 46.4 ms), every_frame "
                        "(a run every frame, inline: 46.4 ms, the most CPU), efficient (3 frames per run, inline: "
                        "69.6 ms, the least CPU), background_runs (a run every frame on a worker thread: 58.0 ms), "
                        "windowed / windowed_low_latency (the previous runtime: 92.9 / 58.0 ms); default: the "
                        "preset's, else default")
    p.add_argument("--low-latency", action="store_true", help="same as --setting low_latency")


def _osc_options(p, required: bool) -> None:
    p.add_argument("--osc-port", type=_port, default=9000 if required else None,
                   help="UDP port of the OSC bridge (0 = any free port)" +
                        (" (default: 9000)" if required else "; without it no OSC bridge is started"))
    p.add_argument("--osc-host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--allow-remote", action="store_true",
                   help="allow an --osc-host reachable from other machines (they can then drive the effect "
                        "and make it read files)")
    p.add_argument("--map", action="append", default=[], metavar="DAW:A/B/C=KNOB",
                   help="drive a knob (interp, mix, bypass, residual) from a DAW message: "
                        "reaper:TRACK/FX/PARAM=KNOB for /track/N/fx/M/fxparam/K/value, "
                        "ardour:STRIP/PLUGIN/PARAM=KNOB for /strip/plugin/parameter; repeatable")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "process", help="separate a file through the streaming effect, in chunks (any length)",
        description="Stream IN through the EventSep effect (the ONNX streaming runtime) in chunks read with "
                    "pedalboard.io.AudioFile and write OUT as it goes: memory stays flat however long the "
                    "file is. The effect's latency is removed, so OUT lines up with IN and has its exact "
                    "length, rate and channel count.")
    p.add_argument("input", metavar="IN", help="audio file to process (wav, flac, mp3, ogg, aiff...)")
    p.add_argument("output", metavar="OUT", help="file to write (.wav, .flac, .aiff, .ogg or .mp3)")
    _effect_options(p, query_required=True)
    p.add_argument("--overwrite", action="store_true", help="replace OUT (and --save-preset) if it exists")
    p.add_argument("--block", type=_positive_int, default=65536, help="samples read per chunk (default: 65536)")
    p.add_argument("--bit-depth", type=int, choices=[16, 24, 32], default=24,
                   help="sample format of WAV/FLAC/AIFF output; 32 = float WAV (default: 24)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_process)

    p = sub.add_parser(
        "live", help="run the effect on an audio device (pedalboard.io.AudioStream)",
        description="Run the EventSep effect live between an audio input and output device. Says so and "
                    "exits when the machine has no audio device. With --osc-port the knobs can be turned "
                    "over OSC while it runs.")
    p.add_argument("--input-device", default=None, help="input device name (default: the system default)")
    p.add_argument("--output-device", default=None, help="output device name (default: the system default)")
    p.add_argument("--list-devices", action="store_true", help="list the audio devices and exit")
    p.add_argument("--sample-rate", type=_positive_int, default=None, help="device sample rate (default: the device's)")
    p.add_argument("--block", type=_positive_int, default=512, help="device buffer size in samples (default: 512)")
    p.add_argument("--channels", type=_positive_int, default=2, help="channels in and out (default: 2)")
    p.add_argument("--seconds", type=_seconds, default=None, help="stop after this many seconds (default: Ctrl-C)")
    _effect_options(p, query_required=False)
    p.add_argument("--overwrite", action="store_true", help="replace --save-preset if it exists")
    _osc_options(p, required=False)
    p.set_defaults(func=cmd_live)

    p = sub.add_parser(
        "serve", help="run the effect headless, driven over OSC (a file in a loop, or silence)",
        description="Run the EventSep effect with the OSC bridge and no audio device: process a file in a loop "
                    "(or silence) at real-time pace, so a DAW or an OSC tool can drive it. Logs every accepted "
                    "change; stops on Ctrl-C, SIGTERM or after --seconds.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--input", metavar="FILE", default=None, help="audio file to play in a loop")
    src.add_argument("--silence", action="store_true", help="process silence (the default without --input)")
    p.add_argument("--output", metavar="FILE", default=None,
                   help="record the processed stream (delayed by the latency, as a live host hears it)")
    p.add_argument("--seconds", type=_seconds, default=None, help="stop after this much audio (default: run until stopped)")
    p.add_argument("--block", type=_positive_int, default=512, help="samples per block (default: 512)")
    p.add_argument("--sample-rate", type=_positive_int, default=48000, help="rate of --silence (default: 48000)")
    p.add_argument("--channels", type=_positive_int, default=2, help="channels of --silence (default: 2)")
    _effect_options(p, query_required=False)
    p.add_argument("--overwrite", action="store_true", help="replace --output and --save-preset if they exist")
    _osc_options(p, required=True)
    p.add_argument("--quiet", action="store_true", help="log only warnings, not every accepted change")
    p.set_defaults(func=cmd_serve)


# ------------------------------------------------------------------------------------------ helpers

def _warn(args, message: str) -> None:
    print(f"eventsep {args.command}: warning: {message}", file=sys.stderr)


def build_effect(args, query_required: bool):
    """A SeparatorEffect from the shared options: preset first, explicit options over it."""
    from engine.errors import EventSepError
    from engine.streaming import OnnxModels

    from .effect import SeparatorEffect
    from .preset import apply_preset, load_preset, save_preset

    models = OnnxModels(args.model)
    preset = None
    if args.preset:
        preset, warnings = load_preset(args.preset, models, strict=args.strict_preset)
        for w in warnings:
            _warn(args, w)
    settings = chosen_setting(args, preset)
    effect = SeparatorEffect(models=models, settings=settings)
    if preset is not None:
        apply_preset(effect, preset)
    for slot, ref, name in (("A", args.query, args.class_name), ("B", args.query_b, args.class_b)):
        if ref is not None:
            effect.set_query(slot, effect.resolve_file(ref))
        elif name is not None:
            effect.set_query(slot, effect.resolve_class(name))
    if query_required and effect.query_a is None and effect.query_b is None:
        raise EventSepError("say what to separate: --query REF, --class NAME or --preset P.json")
    if args.interp is not None:
        if args.interp > 0 and effect.query_b is None:
            raise EventSepError("--interp needs a second query (--query-b REF2 or --class-b NAME2)")
        effect.interp = args.interp
    if args.mix is not None:
        effect.mix = args.mix
    if args.residual:
        effect.residual = 1.0
    if args.save_preset:
        path = save_preset(effect, args.save_preset, overwrite=getattr(args, "overwrite", False))
        print(f"saved preset {path}", file=sys.stderr)
    return effect


@contextmanager
def _stop_on_signals():
    """An Event set by SIGTERM (and SIGINT): the loops stop at their next block and clean up."""
    stop = threading.Event()
    handlers = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            handlers[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        yield stop
    finally:
        for sig, old in handlers.items():
            signal.signal(sig, old)


def _log_changes(quiet: bool) -> None:
    """Every accepted OSC change on stderr, with a time stamp (the engine's CLI only shows warnings)."""
    logger = logging.getLogger("eventsep")
    if not any(getattr(h, "_eventsep", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        handler._eventsep = True
        logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def _bridge(args, effect):
    if args.osc_port is None:
        return None
    from .osc import DawMapping, OscBridge, OscConfig

    config = OscConfig(host=args.osc_host, port=args.osc_port, allow_remote=args.allow_remote,
                       mapping=DawMapping.parse(args.map))
    return OscBridge(effect, config)


# ------------------------------------------------------------------------------------------ commands

def cmd_process(args) -> int:
    from .files import check_paths, process_file

    src, dst = Path(args.input), Path(args.output)
    check_paths(src, dst, args.overwrite)         # before loading anything: fail fast on paths
    effect = build_effect(args, query_required=True)
    result = process_file(effect, src, dst, block=args.block, overwrite=args.overwrite, bit_depth=args.bit_depth,
                          progress=not args.quiet)
    seconds = result.frames / result.sample_rate
    print(f"{src} -> {dst}  [{seconds:.1f} s of audio, {result.sample_rate} Hz, {result.channels} ch, in "
          f"{result.seconds:.1f} s = {result.realtime_factor:.1f}x real time; latency of "
          f"{result.latency_samples} samples removed]")
    return 0


def cmd_live(args) -> int:
    from .chain import Chain
    from .live import audio_devices, pick_devices, run_live

    if args.list_devices:
        inputs, outputs = audio_devices()
        print("input devices:  " + (", ".join(inputs) or "(none)"))
        print("output devices: " + (", ".join(outputs) or "(none)"))
        return 0
    inp, out = pick_devices(args.input_device, args.output_device)   # before loading the model
    effect = build_effect(args, query_required=False)
    _log_changes(quiet=False)
    bridge = _bridge(args, effect)
    with _stop_on_signals() as stop:
        if bridge is not None:
            bridge.start()
        try:
            frames = run_live(Chain([effect]), inp, out, args.sample_rate, args.block, args.channels, stop,
                              args.seconds)
        finally:
            if bridge is not None:
                bridge.stop()
    print(f"live: stopped after {frames} samples", file=sys.stderr)
    return 0


def cmd_serve(args) -> int:
    from .chain import Chain
    from .serve import ServeConfig, run_serve

    config = ServeConfig(input=Path(args.input) if args.input else None,
                         output=Path(args.output) if args.output else None, seconds=args.seconds,
                         block=args.block, sample_rate=args.sample_rate, channels=args.channels,
                         overwrite=args.overwrite)
    effect = build_effect(args, query_required=False)
    _log_changes(args.quiet)
    bridge = _bridge(args, effect)
    with _stop_on_signals() as stop, bridge:
        host, port = bridge.address
        print(f"eventsep serve: OSC on {host}:{port}; send /eventsep/status for the state", file=sys.stderr,
              flush=True)
        report = run_serve(Chain([effect]), config, stop)
    s = bridge.stats
    print(f"eventsep serve: stopped after {report.frames / report.sample_rate:.1f} s of audio; OSC: {s.accepted} "
          f"accepted, {s.rejected} rejected, {s.replies} status replies", file=sys.stderr)
    return 0
