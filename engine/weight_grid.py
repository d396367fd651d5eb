"""Weights on a low-bit grid (issue 17): every weight matrix of the streamable separator stored as small
integers times one scale per block, so a live step reads a quarter of the bytes.

A streamed call computes one frame: it multiplies a vector by every weight matrix once, and on a shared
2-core VM that read (7.5 MB of float32), not the arithmetic, is most of its time. At 4 bits the same
matrices are 1 MB and onnxruntime's ``MatMulNBits`` (com.microsoft) reads them directly.

The grid is a property of the *checkpoint*, not of the export: :func:`snap` replaces each matrix by its
nearest point on the grid (symmetric, one float scale per ``block`` consecutive input rows of each output
column, zero point ``2^(bits-1)``), and the snapped float weights are what the checkpoint stores. So
PyTorch (``eventsep separate``, training, the parity check), the ONNX step graph and the VST3's C++ port
all compute with the same numbers, in float, and the stream still equals the offline output.

Arrays here are in the matmul layout of the step graph: ``(K, N)``, input rows by output columns (a
Linear's ``weight.T``; a Conv1d's taps stacked tap-major, see ``StreamSeparator._taps``). numpy only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BITS = (4,)            # what onnxruntime's MatMulNBits runs fast on the CPU (8 bits: a slow path, measured)
MIN_BLOCK = 16
CLIP_SEARCH = tuple(np.linspace(0.6, 1.0, 21))   # block scales tried, as fractions of the plain maximum


@dataclass(frozen=True)
class WeightGrid:
    bits: int = 4
    block: int = 32

    def __post_init__(self):
        if self.bits not in BITS:
            raise ValueError(f"weight bits must be one of {BITS}, not {self.bits}")
        if self.block < MIN_BLOCK or self.block & (self.block - 1):
            raise ValueError(f"block must be a power of two >= {MIN_BLOCK}, not {self.block}")

    @property
    def zero_point(self) -> int:
        return 2 ** (self.bits - 1)

    @property
    def levels(self) -> tuple[int, int]:
        """The signed codes: ``-2^(bits-1) .. 2^(bits-1) - 1`` (-8 .. 7 at 4 bits)."""
        return -self.zero_point, self.zero_point - 1

    def _blocks(self, w: np.ndarray) -> np.ndarray:
        """``(K, N)`` -> ``(N, K_blocks, block)`` float64, zero-padded along K."""
        k, n = w.shape
        kb = -(-k // self.block)
        padded = np.zeros((kb * self.block, n))
        padded[:k] = w
        return padded.T.reshape(n, kb, self.block)

    def _codes(self, blocks: np.ndarray, scales: np.ndarray) -> np.ndarray:
        lo, hi = self.levels
        return np.clip(np.round(blocks / scales[..., None].astype(np.float64)), lo, hi)

    def quantize(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(K, N)`` float weights -> the nearest grid point as codes ``(N, K_blocks, block)`` in
        ``0 .. 2^bits - 1`` (uint8, unpacked, zero point added) and scales ``(N, K_blocks)`` float32.
        Each block's scale is the one of ``CLIP_SEARCH`` (fractions of max |w| / ``2^(bits-1) - 1``)
        with the least squared error: clipping the largest weights a little buys finer steps for the
        rest (11 % less error than the plain maximum on the shipped model). Weights already on the grid
        keep their codes and scales (so snapping twice changes nothing)."""
        found = self.recover(w)
        if found is not None:
            return found
        blocks = self._blocks(np.asarray(w, np.float64))
        top = np.abs(blocks).max(axis=2)
        top[top == 0] = 1.0
        best_scales, best_err = None, None
        for fraction in CLIP_SEARCH:
            scales = (top * fraction / self.levels[1]).astype(np.float32)
            err = ((self._codes(blocks, scales) * scales[..., None] - blocks) ** 2).sum(axis=2)
            if best_scales is None:
                best_scales, best_err = scales, err
            else:
                better = err < best_err
                best_scales, best_err = np.where(better, scales, best_scales), np.minimum(err, best_err)
        return (self._codes(blocks, best_scales) + self.zero_point).astype(np.uint8), best_scales

    def dequantize(self, codes: np.ndarray, scales: np.ndarray, k: int) -> np.ndarray:
        """Codes and scales -> the ``(K, N)`` float32 weights they stand for (as MatMulNBits computes them:
        ``(code - zero_point) * scale`` in float32)."""
        deq = (codes.astype(np.float32) - np.float32(self.zero_point)) * scales[..., None]
        n = codes.shape[0]
        return np.ascontiguousarray(deq.reshape(n, -1).T[:k])

    def snap(self, w: np.ndarray) -> np.ndarray:
        """The nearest grid point of ``(K, N)`` weights, float32."""
        codes, scales = self.quantize(w)
        return self.dequantize(codes, scales, w.shape[0])

    def recover(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Codes and scales of weights already on the grid (a snapped checkpoint's), or None when ``w`` is
        not a grid point. A block's largest weight sits on the top code (or the bottom one, -8 at 4 bits):
        its scale is max |w| over one of the two, whichever makes every weight of the block a whole code."""
        w = np.asarray(w, np.float32)
        if w.ndim != 2 or not np.all(np.isfinite(w)):
            return None
        blocks = self._blocks(w)
        top = np.abs(blocks).max(axis=2)
        top[top == 0] = 1.0
        lo, hi = self.levels
        scales = np.zeros(top.shape, np.float32)
        found = np.zeros(top.shape, bool)
        for level in (hi, -lo):
            candidate = (top / level).astype(np.float32)
            ratio = blocks / candidate[..., None].astype(np.float64)
            whole = (np.abs(ratio - np.round(ratio)) <= 1e-3).all(axis=2) \
                & (np.round(ratio) >= lo).all(axis=2) & (np.round(ratio) <= hi).all(axis=2)
            take = whole & ~found
            scales[take] = candidate[take]
            found |= take
        if not found.all():
            return None
        codes = (self._codes(blocks, scales) + self.zero_point).astype(np.uint8)
        if np.abs(self.dequantize(codes, scales, w.shape[0]) - w).max() > 1e-5 * np.abs(w).max():
            return None
        return codes, scales

    def on_grid(self, w: np.ndarray) -> bool:
        """Whether ``w`` is (to float32 rounding) a point of this grid."""
        return self.recover(w) is not None

    def pack(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """On-grid ``(K, N)`` weights -> MatMulNBits' ``B`` input (``(N, K_blocks, block * bits / 8)``
        uint8, two 4-bit codes per byte, the lower row in the low nibble) and its ``scales``
        (``N * K_blocks`` float32). Raises ValueError for weights off the grid."""
        found = self.recover(w)
        if found is None:
            raise ValueError("weights are not on the grid (snap them first)")
        return self.packed(*found)

    @staticmethod
    def packed(codes: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Codes and scales (:meth:`recover`'s) in MatMulNBits' layout, as :meth:`pack` gives them."""
        return (codes[..., 0::2] | (codes[..., 1::2] << 4)).astype(np.uint8), scales.reshape(-1)
