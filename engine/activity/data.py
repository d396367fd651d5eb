"""Training examples of the target-activity model: a mixture, the U-Net's estimate of its target, and the
target's 0/1 activity per 10 ms frame.

A mixture takes a target class (its stem drawn from the corpus with its note activity) and 1..max_classes-1
other classes gated by Bernoulli(p_active), every stem scaled by U[gain_low, gain_high]. With probability
``p_gate`` the target is also cut to one or two spans covering U[0.2, 0.8] of the clip (20 ms raised-cosine
fades), so that the model sees targets that come and go inside dense mixes, which is what the temporal mask
is for; its labels are cut the same way. The U-Net then separates the target from the mixture with the
latent the text pipeline would use (the fine label's with probability ``p_fine``, else the coarse class's),
and both signals go to the detector rate. With probability ``p_absent`` the queried class is not in the
mixture at all (labels all 0): the model then learns WHETHER as well as WHEN (``engine.presence``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr
import torch

from ..flow.data import condition_latent, draw_classes
from ..stems import LABEL_FRAME_SECONDS, StemSource, fit_length


@dataclass
class ActivityDataConfig:
    seconds: float = 3.0
    max_classes: int = 4
    p_active: float = 0.85
    p_gate: float = 0.6
    gain_low: float = 0.25
    gain_high: float = 1.25
    level_db: tuple[float, float] = (-24.0, 6.0)
    p_fine: float = 0.5
    fade_seconds: float = 0.02
    p_absent: float = 0.0         # the queried class left out of the mixture (0: the first refit's data)


@dataclass
class ActivityExamples:
    """``inputs (count, 2, samples)`` float16 at the detector rate (mixture, estimate), ``labels (count,
    frames)`` uint8, ``classes (count,)`` index into the model's class list, ``present (count,)`` bool:
    whether the queried class is in the mixture at all (None: in every one)."""

    inputs: np.ndarray
    labels: np.ndarray
    classes: np.ndarray
    present: np.ndarray | None = None

    def presence(self) -> np.ndarray:
        return np.ones(len(self.labels), bool) if self.present is None else self.present.astype(bool)

    def __len__(self) -> int:
        return len(self.labels)

    def batch(self, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (torch.from_numpy(self.inputs[index].astype(np.float32)),
                torch.from_numpy(self.labels[index].astype(np.float32)),
                torch.from_numpy(self.classes[index].astype(np.int64)))


def span_gate(num_samples: int, rate: int, rng: np.random.Generator, fade_seconds: float = 0.02,
              low: float = 0.2, high: float = 0.8) -> np.ndarray:
    """A 0-1 gain ``(num_samples,)``: one or two spans covering U[low, high] of the clip, with fades."""
    frac = float(rng.uniform(low, high))
    spans = int(rng.integers(1, 3))
    keep = np.zeros(num_samples, np.float64)
    lengths = np.full(spans, frac * num_samples / spans).astype(int)
    cuts = np.sort(rng.integers(0, num_samples - lengths.sum() + 1, size=spans))
    pos = 0
    for k in range(spans):
        keep[cuts[k] + pos:cuts[k] + pos + lengths[k]] = 1.0
        pos += lengths[k]
    fade = max(1, int(fade_seconds * rate))
    kernel = np.hanning(2 * fade + 1)
    kernel /= kernel.sum()
    return np.convolve(np.pad(keep, fade, mode="edge"), kernel, mode="valid")[:num_samples]


def intermittent(target: np.ndarray, rate: int, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """An *intermittent* version of a target stem, as the pipeline's evaluation builds them: kept in one or
    two spans covering U[0.3, 0.7] of its length with 20 ms raised-cosine fades (the training gate,
    narrower); returns it and the fraction kept."""
    gain = span_gate(len(target), rate, rng, 0.02, 0.3, 0.7)
    return (target * gain).astype(np.float32), float(np.mean(gain >= 0.5))


def frame_labels(activity: np.ndarray | None, gain: np.ndarray, frames: int, rate: int) -> np.ndarray:
    """0/1 per 10 ms frame: the stem's note activity (>= 0.5; a stem without labels counts as sounding
    throughout) where the span gain is at least 0.5."""
    act = np.ones(frames, np.float32)
    if activity is not None:
        act[:] = 0.0
        a = (np.asarray(activity, np.float32)[:frames] >= 0.5).astype(np.float32)
        act[:len(a)] = a
    hop = rate * LABEL_FRAME_SECONDS
    centres = np.minimum(((np.arange(frames) + 0.5) * hop).astype(np.int64), len(gain) - 1)
    return (act * (gain[centres] >= 0.5)).astype(np.uint8)


def make_mixture(source: StemSource, classes: tuple[str, ...], latents, cfg: ActivityDataConfig,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str, torch.Tensor, bool]:
    """``(mixture (n,), labels (frames,), target class, latent, present)`` at the source rate."""
    rate = source.sample_rate
    n = int(round(cfg.seconds * rate))
    frames = int(round(cfg.seconds / LABEL_FRAME_SECONDS))
    chosen = draw_classes(classes, cfg.max_classes, rng)
    # no draw at p_absent 0: the examples stay the ones made before absent targets existed
    absent = bool(cfg.p_absent) and bool(rng.random() < cfg.p_absent)
    mixture = np.zeros(n, np.float32)
    labels = np.zeros(frames, np.uint8)
    fine = ""
    others = 0
    for k, coarse in enumerate(chosen):
        if k > 0 and rng.random() >= cfg.p_active and not (absent and k == len(chosen) - 1 and not others):
            continue                            # (where the target is missing, something always sounds)
        others += k > 0
        stem = source.draw(coarse, n, rng)
        audio = float(rng.uniform(cfg.gain_low, cfg.gain_high)) * fit_length(stem.audio, n)
        if k == 0:
            fine = stem.fine                    # the latent names the drawn program, heard or not
            if absent:
                continue
            gain = span_gate(n, rate, rng, cfg.fade_seconds) if rng.random() < cfg.p_gate else np.ones(n)
            audio = (audio * gain).astype(np.float32)
            labels = frame_labels(stem.activity, gain, frames, rate)
        mixture += audio
    mixture *= float(10 ** (rng.uniform(*cfg.level_db) / 20))
    peak = float(np.abs(mixture).max())
    if peak > 0.99:
        mixture *= 0.99 / peak
    return mixture, labels, chosen[0], condition_latent(latents, chosen[0], fine, cfg.p_fine, rng), not absent


@torch.no_grad()
def make_examples(source: StemSource, unet, latents, model_classes: tuple[str, ...], count: int,
                  cfg: ActivityDataConfig, rate: int, rng: np.random.Generator, batch: int = 16,
                  progress: bool = False) -> ActivityExamples:
    """``count`` examples, the U-Net run ``batch`` mixtures at a time; ``rate``: the detector's."""
    from tqdm import tqdm

    classes = tuple(c for c in source.classes if c in latents["coarse"] and c in model_classes)
    frames = int(round(cfg.seconds / LABEL_FRAME_SECONDS))
    n_out = frames * int(round(rate * LABEL_FRAME_SECONDS))
    inputs = np.zeros((count, 2, n_out), np.float16)
    labels = np.zeros((count, frames), np.uint8)
    index = np.zeros(count, np.int16)
    present = np.ones(count, bool)
    bar = tqdm(total=count, desc="examples", disable=not progress, leave=False)
    for start in range(0, count, batch):
        made = [make_mixture(source, classes, latents, cfg, rng) for _ in range(min(batch, count - start))]
        mix = torch.from_numpy(np.stack([m[0] for m in made]))
        est = unet.separate(mix, torch.stack([m[3] for m in made])).numpy()
        for j, (m, lab, target, _, here) in enumerate(made):
            for c, signal in enumerate((m, est[j])):
                inputs[start + j, c] = fit_length(soxr.resample(signal, source.sample_rate, rate), n_out)
            labels[start + j] = lab
            index[start + j] = model_classes.index(target)
            present[start + j] = here
        bar.update(len(made))
    bar.close()
    return ActivityExamples(inputs, labels, index, present)
