"""Export the frame-wise sound event detector to ONNX and prove it computes what PyTorch computes.

    python -m export.sed_export [DETECTOR_DIR] [--out DIR]     # default: engine/assets/detector

The graph ``detector.onnx`` maps audio ``(batch, samples)`` at the detector rate (16 kHz) to frame
probabilities ``(batch, samples / hop, classes)``; ``samples`` must be a multiple of ``hop * time_factor``
(640 = 40 ms for the shipped detector) so the traced padding is the same for every length:
:func:`onnx_detect_fn` pads and crops for any length. The STFT is the conv filter bank (plain Conv ops).
Parity (:func:`verify_detector`): onnxruntime vs the PyTorch module on random noise and on real clips of
several lengths, within ``TOLERANCE`` on the probabilities; written to ``detector_parity.json``. A graph
over the tolerance raises ExportParityError and nothing is moved into place.
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnx
import torch

from engine.checkpoint import source_commit
from engine.detection.checkpoint import SHIPPED, load_detector
from engine.detection.model import FrameDetector
from export.metadata import weights_sha256
from export.onnx_export import (OPSET, TOLERANCE, ExportParityError, ParityReport, _diff, default_check_audio,
                                synthetic_music)

ONNX_FILE = "detector.onnx"
PARITY_FILE = "detector_parity.json"


class DetectorGraph(torch.nn.Module):
    """What the graph computes: conv-STFT front end, then the detector, then sigmoid."""

    def __init__(self, model: FrameDetector):
        super().__init__()
        self.model = model

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.model(audio))


def length_multiple(model: FrameDetector) -> int:
    return model.config.front.hop * model.config.time_factor


def _with_conv_stft(model: FrameDetector, on: bool) -> None:
    model.spectrogram_extractor.stft.use_conv = on


def export_graph(model: FrameDetector, path: Path, opset: int = OPSET) -> None:
    model = model.eval()
    _with_conv_stft(model, True)
    try:
        example = torch.randn(1, 4 * length_multiple(model)) * 0.1
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(DetectorGraph(model), (example,), str(path), input_names=["audio"],
                              output_names=["probabilities"], opset_version=opset,
                              dynamic_axes={"audio": {0: "batch", 1: "samples"},
                                            "probabilities": {0: "batch", 1: "frames"}}, dynamo=False)
    finally:
        _with_conv_stft(model, False)
    proto = onnx.load(str(path))
    cfg = model.config
    meta = {"eventsep.detector": json.dumps({"config": cfg.to_dict(), "length_multiple": length_multiple(model),
                                             "weights_sha256": weights_sha256(model),
                                             "export_commit": source_commit(), "torch": torch.__version__})}
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(proto, str(path))


def onnx_detect_fn(session, multiple: int, hop: int):
    """``(1, N) -> (1, ceil(N / hop), K)`` with onnxruntime for any N (zero-pads to the graph's multiple);
    plugs into :func:`engine.detection.infer.run_chunked`."""
    def fn(x: np.ndarray) -> np.ndarray:
        n = x.shape[-1]
        pad = (-n) % multiple
        y = session.run(None, {"audio": np.pad(x, ((0, 0), (0, pad))).astype(np.float32)})[0]
        return y[:, :-(-n // hop)]
    return fn


@torch.no_grad()
def verify_detector(model: FrameDetector, path: Path, clips: list[tuple[str, np.ndarray]],
                    tolerance: float = TOLERANCE) -> ParityReport:
    """max |onnx - torch| of the probabilities, torch with the same conv STFT (the graph's computation)
    and, as a separate row, torch's default FFT front end (what training and `eventsep detect` use)."""
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    model = model.eval()
    m = length_multiple(model)
    report = ParityReport(tolerance)
    rng = np.random.default_rng(0)
    cases = [(f"noise {b}x{k * m}", (0.1 * rng.standard_normal((b, k * m))).astype(np.float32))
             for b, k in ((1, 1), (2, 7), (1, 50))]
    for name, clip in clips:
        x = np.ascontiguousarray(clip[: (len(clip) // m) * m], np.float32)[None]
        cases.append((name, x))
    for name, x in cases:
        got = sess.run(None, {"audio": x})[0]
        for front, conv in (("conv stft", True), ("fft stft", False)):
            _with_conv_stft(model, conv)
            ref = torch.sigmoid(model(torch.from_numpy(x))).numpy()
            report.rows.append({"graph": f"detector ({front})", "input": name, "shape": list(x.shape),
                                "max_abs_diff": _diff(got, ref)})
    _with_conv_stft(model, False)
    return report


def export_detector(model: FrameDetector, out_dir: str | Path, clips: list[tuple[str, np.ndarray]] | None = None,
                    tolerance: float = TOLERANCE) -> ParityReport:
    """Export, verify, then move ``detector.onnx`` + ``detector_parity.json`` into ``out_dir``."""
    out_dir = Path(out_dir)
    rate = model.config.front.sample_rate
    if clips is None:
        clips = default_check_audio(rate) or [("synthetic music", synthetic_music(rate))]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ONNX_FILE
        export_graph(model, path)
        report = verify_detector(model, path, clips, tolerance)
        if not report.ok:
            raise ExportParityError(f"detector ONNX graph differs from PyTorch by {report.worst:.3g} "
                                    f"(tolerance {tolerance:g}):\n{report.table()}")
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), out_dir / ONNX_FILE)
    (out_dir / PARITY_FILE).write_text(json.dumps({"tolerance": tolerance, "worst": report.worst,
                                                   "rows": report.rows}, indent=1))
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Export the detector to ONNX with a parity check.")
    ap.add_argument("detector", nargs="?", default=None, help="detector folder (default: the shipped one)")
    ap.add_argument("--out", default=None, help="output folder (default: the detector folder)")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    model, _ = load_detector(a.detector)
    report = export_detector(model, a.out or a.detector or SHIPPED)
    print(report.table())
    print(f"worst {report.worst:.3g} <= {report.tolerance:g}: ok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
