"""The target-activity curve of a file: ``P(target sounds)`` per 10 ms frame, from the mixture and a
separated estimate of the target (both any rate and channel count)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..detection.checkpoint import load_detector
from ..detection.infer import run_chunked, to_mono_rate, torch_fn
from ..detection.model import FrameDetector
from ..errors import EventSepError

SHIPPED = Path(__file__).resolve().parents[1] / "assets" / "activity"


def load_activity(directory: str | Path | None = None) -> tuple[FrameDetector, dict]:
    """The target-activity model in ``directory`` (default: the shipped one) and its metadata."""
    d = Path(directory) if directory else SHIPPED
    if directory is None and not d.is_dir():
        raise EventSepError(f"the shipped target-activity model is missing from this installation ({d}); "
                            "use --when detector, or pass --activity DIR")
    model, meta = load_detector(d)
    if model.config.inputs != 2:
        raise EventSepError(f"{d}: a detector of the mixture alone, not a target-activity model (two inputs)")
    return model, meta


def target_activity(model: FrameDetector, mixture: np.ndarray, estimate: np.ndarray, rate: int, coarse: str,
                    chunk_seconds: float = 30.0) -> tuple[np.ndarray, float]:
    """``(frames,)`` probability that ``coarse`` (the estimate's class) sounds, and the frame length (s)."""
    front = model.config.front
    pair = np.stack([to_mono_rate(x, rate, front.sample_rate) for x in (mixture, estimate)])
    probs = run_chunked(torch_fn(model), pair, front.hop, front.sample_rate, chunk_seconds)
    return probs[:, model.classes.index(coarse)].astype(np.float32), front.hop / front.sample_rate


def detect_by_separation(activity: FrameDetector, detector: FrameDetector, unet, latents, audio: np.ndarray,
                         rate: int, classes: tuple[str, ...] | None = None):
    """Separation-assisted detection: for every class the U-Net has a latent for (or those of ``classes``),
    separate it from ``audio`` and ask the target-activity model when it sounds; other classes (speech)
    keep the detector's curve. Returns a :class:`~engine.detection.infer.Detection` like ``detect``'s.

    Costs one U-Net pass per class (about 14 for the shipped models) where the detector costs one pass."""
    import torch

    from ..audio import match_length, resample
    from ..detection.infer import Detection, detect
    from ..separate import apply_model

    det = detect(detector, audio, rate)
    probs = det.probs.copy()
    model_rate = unet.config.sample_rate
    mix = resample(np.asarray(audio, np.float32).reshape(-1, audio.shape[-1]), rate, model_rate)
    for k, coarse in enumerate(det.classes):
        if coarse not in latents["coarse"] or coarse not in activity.classes or (classes and coarse not in classes):
            continue
        est = apply_model(unet, torch.from_numpy(mix), latents["coarse"][coarse]).numpy()
        curve, _ = target_activity(activity, mix, est, model_rate, coarse)
        probs[:, k] = match_length(curve[None], len(probs))[0]
    return Detection(probs, det.classes, det.frame_seconds, det.duration)
