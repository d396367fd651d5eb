"""all-MiniLM-L6-v2 as a plain ``nn.Module``: the same arithmetic as sentence-transformers' pipeline
(BERT encoder, mean pooling over real tokens, L2 normalisation), without importing transformers.

Importing sentence-transformers costs about 5 s (transformers and its registry) at every start of
``eventsep text``; this module needs only torch (which the separator loads anyway), ``tokenizers`` and
the packaged weights. ``tests/test_textquery.py`` checks it against sentence-transformers when that is
installed.

Shapes: token ids and attention mask ``(B, T)`` int64 -> hidden states ``(B, T, 384)`` -> embeddings
``(B, 384)``.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class BertConfig:
    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_json(cls, path: Path) -> "BertConfig":
        raw = json.loads(Path(path).read_text())
        if raw.get("hidden_act", "gelu") != "gelu" or raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: only BERT with gelu and absolute positions is supported")
        return cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})


class _Embeddings(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.position_embeddings(positions) + self.token_type_embeddings.weight[0]
        return self.LayerNorm(x)


class _SelfAttention(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.heads = c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape

        def split(y):
            return y.view(b, t, self.heads, d // self.heads).transpose(1, 2)        # (B, heads, T, d_head)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d // self.heads) + bias
        return (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)


class _Dense(nn.Module):
    """``dense`` then residual and LayerNorm: BERT's "output" blocks."""

    def __init__(self, c: BertConfig, width_in: int):
        super().__init__()
        self.dense = nn.Linear(width_in, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)

    def forward(self, y: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.LayerNorm(self.dense(y) + residual)


class _Attention(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.self = _SelfAttention(c)
        self.output = _Dense(c, c.hidden_size)


class _Intermediate(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)


class _Layer(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.attention = _Attention(c)
        self.intermediate = _Intermediate(c)
        self.output = _Dense(c, c.intermediate_size)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        x = self.attention.output(self.attention.self(x, bias), x)
        return self.output(F.gelu(self.intermediate.dense(x)), x)


class _Encoder(nn.Module):
    def __init__(self, c: BertConfig):
        super().__init__()
        self.layer = nn.ModuleList(_Layer(c) for _ in range(c.num_hidden_layers))


class MiniLM(nn.Module):
    """BERT encoder + mean pooling + L2 norm. Parameter names follow the packaged ``model.safetensors``."""

    def __init__(self, config: BertConfig):
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(config)
        self.encoder = _Encoder(config)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` token ids and ``(B, T)`` attention mask (1 = token) -> ``(B, 384)`` unit vectors."""
        keep = mask.to(torch.float32)
        bias = ((1.0 - keep) * torch.finfo(torch.float32).min)[:, None, None, :]      # padding never attended
        x = self.embeddings(ids)
        for layer in self.encoder.layer:
            x = layer(x, bias)
        pooled = (x * keep[..., None]).sum(1) / keep.sum(1, keepdim=True).clamp(min=1e-9)
        return F.normalize(pooled, p=2, dim=1)


def load_minilm(model_dir: str | Path) -> MiniLM:
    """The packaged model folder (``config.json``, ``model.safetensors``) -> an eval-mode :class:`MiniLM`."""
    from safetensors.torch import load_file

    model_dir = Path(model_dir)
    model = MiniLM(BertConfig.from_json(model_dir / "config.json"))
    weights = load_file(str(model_dir / "model.safetensors"))
    wanted = model.state_dict().keys()
    missing = [k for k in wanted if k not in weights]
    if missing:
        raise ValueError(f"{model_dir}: weights missing {missing[:3]}")
    model.load_state_dict({k: weights[k] for k in wanted})
    return model.eval()
