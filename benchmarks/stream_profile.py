"""Where the streaming runtime's time goes, paced as a host feeds it (issue 17's question: what stands
between the stateful runtime and a real-time factor of 0.08 at 48 kHz, 128-sample blocks).

    .venv/bin/python benchmarks/stream_profile.py [--rate 48000 --block 128 --seconds 15 --setting default]

Three measurements in one process, each *paced* (the thread sleeps until the next block is due, as an
audio callback does; SCHED_FIFO when allowed) and *hot* (the same work back to back):

1. the runtime's stages, per second of audio: blocks without a host hop (FIFOs, ramps), blocks with one,
   and inside those the analysis FFT, the model magnitudes, the separator step, the host mask, synthesis,
   overlap-add and the rest (Python glue);
2. the separator step graph alone, fed the same shapes (onnxruntime), against a one-node graph (the
   fixed cost of one ``run``) and a plain numpy chain of matrix-vector products over the graph's own
   weights (the cost of reading them);
3. a hot/paced ratio per line: on a shared VM a thread that slept for a hop finds its caches cold, so
   what a paced hop costs is set by the bytes and the number of separate operations it touches.

Uses the shipped bundle unless ``--onnx`` names another. ``/tmp/bench/QUIET`` pauses our training jobs.
"""
from __future__ import annotations

import argparse
import collections
import os
from dataclasses import replace
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

HOP_SECONDS = 256 / 22050


def paced(fn, count: int, period: float) -> tuple[float, float]:
    """``fn`` once per ``period`` (sleeping between) and back to back: mean ms of each."""
    for _ in range(20):
        fn()
    times = []
    for _ in range(count):
        time.sleep(period)
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(count):
        fn()
    hot = (time.perf_counter() - start) / count
    return 1e3 * float(np.mean(times)), 1e3 * hot


def stage_profile(onnx_dir, rate: int, block: int, seconds: float, setting: str) -> list[tuple[str, float]]:
    """Paced run of the whole runtime; seconds spent per second of audio in each stage."""
    import engine.streaming.frames as frames
    import engine.streaming.grid as grid
    import engine.streaming.stateful as stateful
    from engine.streaming import StreamingSeparator, StreamSettings

    # inline: a background setting's runs, on the audio thread, so that the stages add up on one thread (the
    # same computation; the worker only moves it)
    settings = replace(getattr(StreamSettings, setting)(), background=False)
    sep = StreamingSeparator(onnx_dir, sample_rate=rate, channels=2, settings=settings)
    sep.set_reference_class("A", sorted(sep.class_names()["coarse"])[0])
    spent = collections.defaultdict(float)
    originals = []

    def timed(owner, name, label):
        fn = getattr(owner, name)
        originals.append((owner, name, fn))

        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[label] += time.perf_counter() - t
        setattr(owner, name, wrapper)

    for owner, name, label in [(grid.HostGrid, "analyse", "analysis FFT"),
                               (grid.HostGrid, "model_magnitude", "model magnitudes"),
                               (sep.models, "step", "separator step (onnxruntime)"),
                               (grid.HostGrid, "host_mask", "host mask"),
                               (grid.HostGrid, "synthesise", "synthesis iFFT"),
                               (frames.OverlapAddFrames, "add", "overlap-add"),
                               (stateful.StatefulCore, "advance", "hop total")]:
        timed(owner, name, label)
    try:
        audio = (np.random.default_rng(0).standard_normal((2, int(rate * seconds))) * 0.1).astype(np.float32)
        period = block / rate
        per_block = []
        t0 = time.perf_counter()
        for k, start in enumerate(range(0, audio.shape[1] - block + 1, block)):
            wait = t0 + k * period - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            t = time.perf_counter()
            sep.process(audio[:, start:start + block])
            per_block.append(time.perf_counter() - t)
    finally:
        for owner, name, fn in originals:
            setattr(owner, name, fn)
    per_block = np.array(per_block)
    total = per_block.sum()
    hop_total = spent["hop total"]
    inner = sum(v for k, v in spent.items() if k != "hop total")
    rows = [("all blocks (process)", total)]
    rows += [(k, v) for k, v in spent.items() if k != "hop total"]
    rows += [("hop glue (Python, stacking, FIFOs of frames)", hop_total - inner),
             ("outside the hop (per-block FIFOs, ramps, checks)", total - hop_total)]
    missed = int((per_block > period).sum())
    print(f"paced {seconds:.0f} s at {rate} Hz, blocks of {block}, setting {setting} (inline): rtf {total / seconds:.3f}, "
          f"p50 {1e3 * np.median(per_block):.2f} ms, p99 {1e3 * np.percentile(per_block, 99):.2f} ms, "
          f"blocks over their duration {missed}/{len(per_block)}")
    return [(name, value / seconds) for name, value in rows]


def step_floor(onnx_dir, count: int) -> list[tuple[str, float, float]]:
    """The separator step graph against its two floors, paced once per hop and hot."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    from engine.streaming.bundle import DEFAULT_BUNDLE, STEP_FILE, _session_options

    path = Path(onnx_dir or DEFAULT_BUNDLE) / STEP_FILE
    session = ort.InferenceSession(str(path), _session_options(1), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {i.name: rng.random([1 if isinstance(d, str) else d for d in i.shape]).astype(np.float32)
             for i in session.get_inputs()}
    outputs = [o.name for o in session.get_outputs()]
    graph = onnx.load(str(path))
    weights = [numpy_helper.to_array(t) for t in graph.graph.initializer
               if t.data_type == TensorProto.FLOAT and len(t.dims) == 2]
    vectors = [rng.random((1, w.shape[0])).astype(np.float32) for w in weights]
    megabytes = sum(w.nbytes for w in weights) / 2 ** 20

    one = helper.make_model(helper.make_graph(
        [helper.make_node("Add", ["a", "a"], ["b"])], "one",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 256])],
        [helper.make_tensor_value_info("b", TensorProto.FLOAT, [1, 256])]),
        opset_imports=[helper.make_opsetid("", 17)])
    one.ir_version = 8
    tiny = ort.InferenceSession(one.SerializeToString(), _session_options(1), providers=["CPUExecutionProvider"])
    a = np.ones((1, 256), np.float32)

    def matvecs():
        for v, w in zip(vectors, weights):
            v @ w

    nodes = sum(1 for n in graph.graph.node if n.op_type != "Constant")
    rows = []
    for name, fn in [(f"separator step, 1 frame ({nodes} nodes)", lambda: session.run(outputs, feeds)),
                     ("one-node graph (fixed cost of a run)", lambda: tiny.run(None, {"a": a})),
                     (f"numpy matvecs over its {len(weights)} weight matrices ({megabytes:.1f} MB)", matvecs)]:
        rows.append((name, *paced(fn, count, HOP_SECONDS)))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rate", type=int, default=48000, help="host sample rate (Hz)")
    p.add_argument("--block", type=int, default=128, help="host block size (samples)")
    p.add_argument("--seconds", type=float, default=15.0, help="seconds of audio streamed, paced")
    p.add_argument("--setting", default="default", help="a StreamSettings preset (default, low_latency, efficient)")
    p.add_argument("--calls", type=int, default=400, help="calls of each floor measurement")
    p.add_argument("--onnx", default=None, help="bundle folder (default: the shipped engine/assets/default_onnx)")
    args = p.parse_args(argv)
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(50))
        scheduling = "SCHED_FIFO"
    except (PermissionError, AttributeError, OSError):
        scheduling = "normal scheduling (not root)"
    quiet = Path("/tmp/bench/QUIET")
    quiet.parent.mkdir(parents=True, exist_ok=True)
    ours = not quiet.exists()
    quiet.touch()
    try:
        if ours:
            time.sleep(6)          # a training step in flight finishes
        print(f"stream_profile: {scheduling}, load average {os.getloadavg()[0]:.2f}\n")
        stages = stage_profile(args.onnx, args.rate, args.block, args.seconds, args.setting)
        print("\n| stage (paced) | seconds per second of audio |\n|---|---|")
        for name, value in stages:
            print(f"| {name} | {value:.4f} |")
        print(f"\n| one call, once per hop ({1e3 * HOP_SECONDS:.1f} ms) | paced ms | hot ms | paced / hot |\n|---|---|---|---|")
        for name, cold, hot in step_floor(args.onnx, args.calls):
            print(f"| {name} | {cold:.3f} | {hot:.3f} | {cold / hot:.1f}x |")
    finally:
        if ours:
            quiet.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
