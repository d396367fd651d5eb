"""Training examples of the target-activity model cut from *music*: parts of one piece played together.

:mod:`engine.activity.data` mixes stems of unrelated pieces. The pipeline is judged on, and used for,
mixtures whose parts share a piece's tempo and harmony (the evaluation set's recipe,
:func:`engine.corpus.evalset.plan_ensemble`), where the separator's leakage of the other parts is harder to
tell from its target. These examples use that recipe on the pieces of one split (the *train* split for
training, *valid* for validation; never *test*), rendered in memory. Every drawn item gives three mixtures,
as the pipeline's evaluation asks them: the target *whole*, *intermittent* (one or two spans covering
U[0.2, 0.8] of the item, 20 ms fades; the evaluation draws U[0.3, 0.7]) and *absent* (the other parts
alone, labels all 0). The shipped separator's estimate (:func:`engine.separate.separate_array`, what the
pipeline feeds the model) goes beside each mixture, and each 6 s item is cut into two 3 s examples.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import soxr

from ..corpus.evalset import peak_scale, plan_ensemble, split_pieces
from ..corpus.source import realize
from ..flow.data import condition_latent
from ..stems import LABEL_FRAME_SECONDS, fit_length
from ..taxonomy import CORE_CLASSES
from .data import ActivityExamples, frame_labels, span_gate

VARIANTS = ("whole", "intermittent", "absent")


@dataclass(frozen=True)
class MusicDataConfig:
    soundfonts: tuple[str, ...] = ("fluidr3", "timgm", "musescore")
    item_seconds: float = 6.0         # drawn and separated whole (context), then cut into pieces
    pieces_per_item: int = 2          # 3 s examples per mixture
    items_per_shard: int = 100        # each gives len(VARIANTS) x pieces_per_item examples
    gate_low: float = 0.2
    gate_high: float = 0.8
    p_fine: float = 0.5
    rate: int = 22050                 # the corpus' and the separator's rate
    procedural_only: bool = False     # no music21 score cache needed (tests)
    # the labels: "notes" (the notes' activity inside the spans, as engine.activity.data's) or "level" (the
    # target's frame level within level_db of its loudest frame: a note's release and ring count as sounding)
    labels: str = "notes"
    level_db: float = 30.0

    @property
    def examples_per_shard(self) -> int:
        return self.items_per_shard * len(VARIANTS) * self.pieces_per_item


def musical_item(pieces, target: str, index: int, soundfont: str, rng: np.random.Generator,
                 cfg: MusicDataConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """``(target (n,), rest (n,), target activity (frames,), fine label)`` of one piece's parts, scaled
    together so the mixture's peak stays at or below the evaluation set's."""
    n = int(round(cfg.item_seconds * cfg.rate))
    piece, tplan, others = plan_ensemble(index, target, pieces, rng, n, cfg.rate)
    tstem = realize(tplan, piece, soundfont, cfg.rate)
    rest = sum(realize(p, piece, soundfont, cfg.rate).audio.astype(np.float64) for p in others)
    scale = peak_scale(tstem.audio + rest)
    return ((tstem.audio * scale).astype(np.float32), (rest * scale).astype(np.float32), tstem.activity,
            tstem.fine)


def level_labels(target: np.ndarray, frames: int, rate: int, level_db: float) -> np.ndarray:
    """0/1 per 10 ms frame: the frame's RMS within ``level_db`` of the loudest frame's (all 0 for silence)."""
    edges = np.round(np.arange(frames + 1) * rate * LABEL_FRAME_SECONDS).astype(np.int64)
    power = np.add.reduceat(np.square(fit_length(target, int(edges[-1])), dtype=np.float64), edges[:-1])
    power /= np.diff(edges)
    loudest = float(power.max())
    if loudest <= 0:
        return np.zeros(frames, np.uint8)
    return (power > loudest * 10 ** (-level_db / 10)).astype(np.uint8)


def music_examples(split: str, shard: int, seed: int, separator, latents, model_classes: tuple[str, ...],
                   det_rate: int, cfg: MusicDataConfig, progress: bool = False) -> ActivityExamples:
    """One shard: ``cfg.items_per_shard`` items of ``split``'s pieces (classes in turn, the shard's
    soundfont), each whole, intermittent and absent, separated, at the detector rate ``det_rate``."""
    from tqdm import tqdm

    from ..separate import separate_array

    rng = np.random.default_rng([seed, 31, shard])
    pieces = split_pieces(split, include_scores=not cfg.procedural_only)
    soundfont = cfg.soundfonts[shard % len(cfg.soundfonts)]
    n = int(round(cfg.item_seconds * cfg.rate))
    frames = int(round(cfg.item_seconds / LABEL_FRAME_SECONDS))
    piece_frames = frames // cfg.pieces_per_item
    hop = int(round(det_rate * LABEL_FRAME_SECONDS))
    count = cfg.examples_per_shard
    inputs = np.zeros((count, 2, piece_frames * hop), np.float16)
    labels = np.zeros((count, piece_frames), np.uint8)
    classes = np.zeros(count, np.int16)
    present = np.ones(count, bool)
    k = 0
    for j in tqdm(range(cfg.items_per_shard), desc=f"{split} shard {shard}", disable=not progress, leave=False):
        target_class = CORE_CLASSES[j % len(CORE_CLASSES)]
        target, rest, activity, fine = musical_item(pieces, target_class, shard * cfg.items_per_shard + j,
                                                    soundfont, rng, cfg)
        z = condition_latent(latents, target_class, fine, cfg.p_fine, rng)
        for variant in VARIANTS:
            if variant == "absent":
                gain, mixture = np.zeros(n), rest
            else:
                gain = (span_gate(n, cfg.rate, rng, 0.02, cfg.gate_low, cfg.gate_high)
                        if variant == "intermittent" else np.ones(n))
                mixture = (target * gain + rest).astype(np.float32)
            estimate = separate_array(separator, mixture[None], cfg.rate, z).estimate[0]
            if cfg.labels == "level":
                lab = level_labels(target * gain, frames, cfg.rate, cfg.level_db)
            else:
                lab = frame_labels(activity, gain, frames, cfg.rate)
            pair = [fit_length(soxr.resample(x, cfg.rate, det_rate), frames * hop) for x in (mixture, estimate)]
            for p in range(cfg.pieces_per_item):
                cut = slice(p * piece_frames * hop, (p + 1) * piece_frames * hop)
                inputs[k] = np.stack([x[cut] for x in pair])
                labels[k] = lab[p * piece_frames:(p + 1) * piece_frames]
                classes[k] = model_classes.index(target_class)
                present[k] = variant != "absent"
                k += 1
    return ActivityExamples(inputs, labels, classes, present)
