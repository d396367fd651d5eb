"""Training examples for the class-query recipe (SPEC §2a): the query is what a user gives.

Each example has one target class and at least one other source that sounds. The Separator is conditioned either on the *learned embedding* of the
target's class (its coarse class, or its fine label part of the time) or on the Query-net's latent of
*another clip* of the class (another piece; the same fine label part of the time), never on the target
itself. 1..``max_classes - 1`` other classes form the rest, or, for a ``p_ensemble`` share when the source
has ensembles, the other parts of the target's own piece. With probability ``p_absent`` the queried class is
not in the mixture at all and the right answer is silence.

Shapes: ``mixture``, ``target``, ``query`` are ``(batch, nb_timesteps)``; ``coarse``, ``fine`` are
``(batch,)`` indices into the model's class vocabulary (``fine`` is -1 when the label is not in it);
``use_class`` and ``absent`` are ``(batch,)`` booleans.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .config import TrainConfig
from .stems import Stem, StemSource
from .timbre import equalise

FINE_PREFIX = "fine:"


def class_vocabulary(classes: Sequence[str], fine_labels) -> tuple[str, ...]:
    """Coarse class names, then ``fine:<label>`` for every fine label of those classes (no duplicates)."""
    vocab = list(classes)
    for c in classes:
        for label in fine_labels(c):
            name = FINE_PREFIX + label
            if name not in vocab:
                vocab.append(name)
    return tuple(vocab)


def draw_query(source: StemSource, target: Stem, num_samples: int, rng: np.random.Generator,
               same_fine: bool) -> Stem:
    """Another clip of the target's class: the source's own rule when it has one (the stem bank: another
    piece, optionally the same fine label), else a fresh draw of the class, retried if it is the same piece."""
    if hasattr(source, "draw_query"):
        return source.draw_query(target, num_samples, rng, same_fine)
    stem = source.draw(target.coarse, num_samples, rng)
    for _ in range(4):
        if stem.piece != target.piece or not target.piece:
            break
        stem = source.draw(target.coarse, num_samples, rng)
    return stem


def _timbre(stem: Stem, rng: np.random.Generator, cfg: TrainConfig) -> np.ndarray:
    """The stem's audio, through a random equaliser with probability ``cfg.timbre_aug`` (no draw at 0, so
    a recipe without augmentation makes the same examples as before it existed)."""
    if cfg.timbre_aug and rng.random() < cfg.timbre_aug:
        return equalise(stem.audio, stem.sample_rate, rng)
    return stem.audio


def _ensemble(source: StemSource, num_samples: int, rng: np.random.Generator, cfg: TrainConfig) -> list[Stem] | None:
    """With probability ``cfg.p_ensemble``, the parts of one piece played together (target first) from the
    source's ensembles (:mod:`engine.corpus.ensembles`); None otherwise, drawing nothing when the recipe or
    the source has no ensembles (so such a recipe makes the same examples as before they existed)."""
    ensembles = getattr(source, "ensembles", None)
    if not cfg.p_ensemble or ensembles is None or rng.random() >= cfg.p_ensemble:
        return None
    return ensembles.draw(ensembles.classes[int(rng.integers(len(ensembles.classes)))], num_samples, rng)


def make_query_example(source: StemSource, num_samples: int, rng: np.random.Generator, cfg: TrainConfig,
                       vocab_index: dict[str, int]) -> dict:
    ensemble = _ensemble(source, num_samples, rng, cfg)
    if ensemble is not None:
        # every part of the piece sounds, as in the evaluation items; levels and timbres drawn as below
        queried = ensemble[0].coarse
        absent = bool(rng.random() < cfg.p_absent)
        rest = np.zeros(num_samples, dtype=np.float32)
        for stem in ensemble[1:]:
            rest += float(rng.uniform(cfg.gain_low, cfg.gain_high)) * _timbre(stem, rng, cfg)
        target_stem = ensemble[0]
    else:
        classes = list(source.classes)
        n_rest = int(rng.integers(1, max(1, min(cfg.max_classes, len(classes)) - 1) + 1))
        chosen = [classes[i] for i in rng.choice(len(classes), size=min(len(classes), n_rest + 1), replace=False)]
        queried, others = chosen[0], chosen[1:]
        absent = bool(rng.random() < cfg.p_absent)
        rest = np.zeros(num_samples, dtype=np.float32)
        # at least one other source always sounds: a target alone in its "mixture" teaches nothing (the mask
        # 1 is perfect) and, gated at p_active, it was ~30-40 % of the examples
        active = [c for c in others if rng.random() < cfg.p_active] or others[:1]
        for c in active:
            level = float(rng.uniform(cfg.gain_low, cfg.gain_high))    # drawn first, as before augmentation
            rest += level * _timbre(source.draw(c, num_samples, rng), rng, cfg)
        target_stem = source.draw(queried, num_samples, rng)
    gain = float(rng.uniform(cfg.gain_low, cfg.gain_high))
    target = np.zeros(num_samples, dtype=np.float32) if absent else gain * _timbre(target_stem, rng, cfg)
    query = draw_query(source, target_stem, num_samples, rng, same_fine=bool(rng.random() < cfg.p_same_fine))
    fine = vocab_index.get(FINE_PREFIX + target_stem.fine, -1)
    use_class = bool(rng.random() < cfg.p_class_query)
    coarse = vocab_index[queried]
    if use_class and fine >= 0 and rng.random() < cfg.p_fine_query:
        coarse_or_fine = fine
    else:
        coarse_or_fine = coarse
    return {"mixture": target + rest, "target": target, "query": _timbre(query, rng, cfg), "coarse": coarse,
            "fine": fine, "class_query": coarse_or_fine, "use_class": use_class, "absent": absent}


def make_query_batch(source: StemSource, num_samples: int, batch_size: int, rng: np.random.Generator,
                     cfg: TrainConfig, vocab_index: dict[str, int]) -> dict[str, torch.Tensor]:
    ex = [make_query_example(source, num_samples, rng, cfg, vocab_index) for _ in range(batch_size)]

    def stack(key, dtype=None):
        return torch.from_numpy(np.stack([e[key] for e in ex])) if dtype is None else \
            torch.tensor([e[key] for e in ex], dtype=dtype)

    return {"mixture": stack("mixture"), "target": stack("target"), "query": stack("query"),
            "coarse": stack("coarse", torch.long), "fine": stack("fine", torch.long),
            "class_query": stack("class_query", torch.long), "use_class": stack("use_class", torch.bool),
            "absent": stack("absent", torch.bool)}
