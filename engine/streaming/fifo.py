"""A multichannel sample FIFO (``(channels, n)`` float64 in, the same out), amortised O(1) per sample."""
from __future__ import annotations

import numpy as np


class SampleFifo:
    def __init__(self, channels: int, capacity: int = 4096):
        self._buf = np.zeros((channels, max(1, capacity)))
        self._read = 0
        self._write = 0

    def __len__(self) -> int:
        return self._write - self._read

    def push(self, samples: np.ndarray) -> None:
        n = samples.shape[-1]
        if self._write + n > self._buf.shape[1]:
            size = len(self)
            if size + n > self._buf.shape[1]:          # grow (only for blocks larger than ever seen)
                grown = np.zeros((self._buf.shape[0], max(2 * self._buf.shape[1], size + n)))
                grown[:, :size] = self._buf[:, self._read:self._write]
                self._buf = grown
            else:                                       # compact to the front
                self._buf[:, :size] = self._buf[:, self._read:self._write]
            self._read, self._write = 0, size
        self._buf[:, self._write:self._write + n] = samples
        self._write += n

    def pop(self, n: int) -> np.ndarray:
        return self.pop_view(n).copy()

    def pop_view(self, n: int) -> np.ndarray:
        """The oldest ``n`` samples as a view of the buffer: valid (and safe to modify) until the next
        :meth:`push`; what the audio thread uses when it copies the samples anyway."""
        if n > len(self):
            raise RuntimeError(f"FIFO underrun: {n} samples wanted, {len(self)} held")
        out = self._buf[:, self._read:self._read + n]
        self._read += n
        return out
