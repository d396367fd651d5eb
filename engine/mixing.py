"""Training mixtures exactly as the thesis builds them (§3.2.1), from any :class:`StemSource`.

For each example: draw at most ``max_classes`` distinct classes, put each at random into the target
group T or the rest R, gate each source with alpha ~ Bernoulli(p_active), scale it by
beta ~ U[gain_low, gain_high]; target = sum over T, mixture = target + sum over R. Sources come from
different pieces (random mixing).

``single_target`` (our option, not the thesis'): 2..max_classes classes, the first one alone is the
target and always sounds, the others form R. It matches how EventSep is queried (one class at a time)
and spends no steps on silent targets; it is what the default model is trained with.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from .config import TrainConfig
from .stems import StemSource


@dataclass
class MixtureExample:
    """mixture, target: ``(nb_timesteps,)`` float32; target_classes: the classes put into T."""

    mixture: np.ndarray
    target: np.ndarray
    target_classes: list[str]
    rest_classes: list[str]
    query: np.ndarray | None = None  # what the Query-net sees; None = the target itself


def make_mixture(source: StemSource, num_samples: int, rng: np.random.Generator, cfg: TrainConfig
                 ) -> MixtureExample:
    classes = list(source.classes)
    lowest = 2 if cfg.single_target else 1
    n = int(rng.integers(lowest, max(lowest, min(cfg.max_classes, len(classes))) + 1))
    chosen = [classes[i] for i in rng.choice(len(classes), size=n, replace=False)]
    target = np.zeros(num_samples, dtype=np.float32)
    rest = np.zeros(num_samples, dtype=np.float32)
    t_classes, r_classes = [], []
    for k, coarse in enumerate(chosen):
        # single_target: the first class is the target and always sounds, the others are the rest
        in_target = (k == 0) if cfg.single_target else bool(rng.random() < 0.5)
        alpha = 1.0 if cfg.single_target and k == 0 else float(rng.random() < cfg.p_active)
        beta = float(rng.uniform(cfg.gain_low, cfg.gain_high))
        stem = source.draw(coarse, num_samples, rng)
        contribution = alpha * beta * stem.audio
        if in_target:
            target += contribution
            t_classes.append(coarse)
        else:
            rest += contribution
            r_classes.append(coarse)
    query = None
    if cfg.single_target and cfg.query_other > 0 and rng.random() < cfg.query_other:
        query = source.draw(t_classes[0], num_samples, rng).audio
    return MixtureExample(target + rest, target, t_classes, r_classes, query)


def make_batch(source: StemSource, num_samples: int, batch_size: int, rng: np.random.Generator,
               cfg: TrainConfig) -> dict[str, torch.Tensor]:
    """``{"mixture", "target", "query"}``, each ``(batch, nb_timesteps)``."""
    examples = [make_mixture(source, num_samples, rng, cfg) for _ in range(batch_size)]
    return {"mixture": torch.from_numpy(np.stack([e.mixture for e in examples])),
            "target": torch.from_numpy(np.stack([e.target for e in examples])),
            "query": torch.from_numpy(np.stack([e.target if e.query is None else e.query for e in examples]))}


def batch_rng(seed: int, stream: int, step: int) -> np.random.Generator:
    """The generator of one batch: a pure function of (seed, stream, step), so a resumed run sees the
    same data it would have seen without the interruption."""
    return np.random.default_rng([seed, stream, step])


class MixtureStream(IterableDataset):
    """Batches for steps ``start_step, start_step + 1, ...``; worker ``w`` of ``W`` makes the steps
    congruent to ``w`` mod ``W``, so a DataLoader (batch_size=None) yields them in step order.
    ``stream`` separates the data of DDP ranks.
    """

    def __init__(self, source: StemSource, num_samples: int, cfg: TrainConfig, start_step: int = 0,
                 stream: int = 0, end_step: int | None = None, maker=None):
        self.source, self.num_samples, self.cfg = source, num_samples, cfg
        self.start_step, self.stream = start_step, stream
        self.end_step = cfg.steps if end_step is None else end_step
        # maker(source, num_samples, batch_size, rng, cfg) -> batch; default: the thesis' mixtures
        self.maker = maker or make_batch

    def __iter__(self):
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info else (0, 1)
        for step in range(self.start_step + wid, self.end_step, nw):
            rng = batch_rng(self.cfg.seed, self.stream, step)
            yield step, self.maker(self.source, self.num_samples, self.cfg.batch_size, rng, self.cfg)
