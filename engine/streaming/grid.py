"""The STFT at the host rate, laid out on the model's time-frequency grid.

The model was trained on a 22.05 kHz STFT (1024-sample Hann window, hop 256). At host rate ``sr`` the
runtime uses a Hann window of the same *duration* (``L = round(1024 sr / 22050)`` samples) and hop
(``H = round(256 sr / 22050)``), zero-padded to a fast FFT size ``N``. The magnitudes the separator sees
are read off that window's spectrum at the model's 513 bin frequencies (0..11025 Hz), and the separator's
mask is interpolated back onto the host's bins. So the model sees what it was trained on without any
time-domain resampling, and the output keeps the full band of the host rate:

- at 22.05 kHz this *is* the model's STFT (exact bins, no interpolation);
- at 44.1 kHz (and 88.2, 176.4) the model's bins coincide with host bins (again exact);
- at other rates (48 kHz...) the model's bins fall between host bins: the model's magnitudes are then
  interpolated from a 4x zero-padded FFT of the (mono) frame, which keeps them within about 1 % of the
  22.05 kHz STFT's on music (linear interpolation from the 1x spectrum was 10 % off at peaks);
- above the model's Nyquist (11025 Hz) the mask is extended: each frame's mask there is the
  magnitude-weighted mean of the mask over the model's top octave (5.5-11 kHz), faded in over the last 5 %
  below 11025 Hz. The wanted source's air and cymbals then follow what the model decided for its upper
  band: a bass or a pad (mask ~0 up there) brings no hiss along, hi-hats and bright strings keep theirs.

Synthesis is weighted overlap-add, normalised by the sum over one hop of the analysis window times the
synthesis window, so a mask of ones gives the input back exactly (to float rounding), for any ``L`` and
``H``. The synthesis window is the analysis window itself (``"full"``), or (``"short"``, the stateful
runtime's default) its last three hops only, zero before: each output hop then waits for one frame less,
one hop (11.6 ms) less latency, for -0.013 / -0.004 dB SI-SDRi on the valid look-alike sets (the first hop
of a Hann window carries little weight; ``benchmarks/short_synthesis.py``). A synthesised frame is the
``synthesis_length`` samples from ``synthesis_start`` on.
Shapes: host spectra ``(channels, nb_bins)``; model magnitudes and masks ``(B, 513[, frames])``.
"""
from __future__ import annotations

import math

import numpy as np

from .bundle import BundleInfo
from .dsp import hann, next_fast_len, synthesis_start

EXTENSION_FADE = 0.05     # fraction of the model's band below its Nyquist where the extension fades in


class HostGrid:
    """STFT geometry at one host rate and the maps between host bins and model bins."""

    def __init__(self, sample_rate: int, info: BundleInfo, synthesis: str = "full"):
        self.sample_rate = int(sample_rate)
        self.model_rate = info.sample_rate
        ratio = sample_rate / info.sample_rate
        self.window_length = L = max(4, int(round(info.n_fft * ratio)))
        self.hop = H = max(1, int(round(info.hop_length * ratio)))
        self.fft_size = N = next_fast_len(L)
        self.nb_bins = N // 2 + 1
        self.model_bins = info.nb_bins
        self.window = hann(L)
        # sum of a periodic Hann window is exactly half its length: match the model's magnitude scale
        self.magnitude_scale = info.n_fft / L

        # the synthesis window: the analysis window from synthesis_start on (all of it for "full")
        self.synthesis = synthesis
        self.synthesis_start = synthesis_start(L, H, synthesis)
        self.synthesis_length = L - self.synthesis_start
        self.synthesis_window = self.window[self.synthesis_start:]
        # weighted overlap-add normalisation of one finished hop: sum over frames of analysis x synthesis
        # window (the segment starts on a hop, so the sums line up with the hops)
        product = self.window[self.synthesis_start:] * self.synthesis_window
        norm = np.zeros(H)
        for k in range(math.ceil(self.synthesis_length / H)):
            seg = product[k * H:(k + 1) * H]
            norm[:len(seg)] += seg
        self.inv_norm = 1.0 / np.maximum(norm, 1e-12)

        # model bin k (k * model_rate / n_fft Hz) read from an FFT of size M by linear interpolation;
        # M = N when the model's bins land on host bins, else a 4x zero-padded FFT of the frame
        exact = (info.sample_rate * N) % (info.n_fft * sample_rate) == 0
        self.model_fft_size = M = N if exact else next_fast_len(4 * L)
        k = np.arange(self.model_bins)
        pos = k * (info.sample_rate * M) / (info.n_fft * sample_rate)
        self._m_valid = pos <= M // 2 - 1
        self._m_all_valid = bool(self._m_valid.all())
        i0 = np.floor(pos).astype(np.int64)
        i0 = np.where(self._m_valid, i0, 0)
        # both neighbours of every model bin in one index array (low ones, then high ones): one take, one
        # abs over 2 x 513 values instead of the abs of the whole spectrum
        self._m_pairs = np.concatenate([i0, i0 + 1])
        frac = np.where(self._m_valid, pos - np.floor(pos), 0.0)
        self._m_weights = np.concatenate([1.0 - frac, frac]) * self.magnitude_scale

        # host bin b read from the model's mask; above the model's Nyquist, the extension takes over
        b = np.arange(self.nb_bins)
        q = b * (sample_rate * info.n_fft) / (N * info.sample_rate)         # position in model bins
        q = np.minimum(q, self.model_bins - 1)
        j0 = np.minimum(np.floor(q).astype(np.int64), self.model_bins - 2)
        nyquist = info.sample_rate / 2
        self.extends = sample_rate / 2 > nyquist
        f_host = b * sample_rate / N
        self._ext_weight = (np.clip((f_host - (1 - EXTENSION_FADE) * nyquist) / (EXTENSION_FADE * nyquist), 0, 1)
                            if self.extends else np.zeros(self.nb_bins))
        # interpolation weights of the two model bins around each host bin, the extension's share taken out
        # (both neighbours in one index array, low ones then high ones: one take per call)
        self._h_pairs = np.concatenate([j0, j0 + 1])
        self._h_weights = np.concatenate([(1.0 - (q - j0)) * (1.0 - self._ext_weight),
                                          (q - j0) * (1.0 - self._ext_weight)])
        f_model = k * info.sample_rate / info.n_fft
        self._top_octave = slice(int(np.flatnonzero(f_model >= nyquist / 2)[0]), None)

    def analyse(self, frames: np.ndarray) -> np.ndarray:
        """``(..., L)`` time frames -> ``(..., nb_bins)`` complex spectra."""
        return np.fft.rfft(frames * self.window, self.fft_size, axis=-1)

    def synthesise(self, spectra: np.ndarray) -> np.ndarray:
        """``(..., nb_bins)`` complex spectra -> ``(..., synthesis_length)`` windowed frames for overlap-add:
        the samples from ``synthesis_start`` to the frame's end."""
        frames = np.fft.irfft(spectra, self.fft_size, axis=-1)
        return frames[..., self.synthesis_start:self.window_length] * self.synthesis_window

    @property
    def magnitude_from_spectra(self) -> bool:
        """Whether :meth:`model_magnitude` reads the host spectra (else it transforms the frames again)."""
        return self.model_fft_size == self.fft_size

    def model_magnitude(self, frames: np.ndarray, spectra: np.ndarray | None) -> np.ndarray:
        """``(..., L)`` time frames and their ``(..., nb_bins)`` spectra (from :meth:`analyse`; None when
        not :attr:`magnitude_from_spectra`) -> ``(..., 513)`` float32 magnitudes on the model's grid and
        scale."""
        if not self.magnitude_from_spectra:
            spectra = np.fft.rfft(frames * self.window, self.model_fft_size, axis=-1)
        pairs = np.abs(np.take(spectra, self._m_pairs, axis=-1)) * self._m_weights
        k = self.model_bins
        out = pairs[..., :k] + pairs[..., k:]
        if not self._m_all_valid:
            out[..., ~self._m_valid] = 0.0          # above the host's Nyquist (host rates below 22.05 kHz)
        return out.astype(np.float32)

    def host_mask(self, mask: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
        """``(B, 513, F)`` model mask and the magnitudes it masked -> ``(B, F, nb_bins)`` host mask
        (frame-major, to multiply ``(C, F, nb_bins)`` spectra)."""
        m = np.ascontiguousarray(mask.transpose(0, 2, 1), dtype=np.float64)         # (B, F, 513)
        # np.take, not fancy indexing: several times faster on these small arrays (the audio thread's time)
        pairs = np.take(m, self._h_pairs, axis=-1) * self._h_weights
        out = pairs[..., :self.nb_bins] + pairs[..., self.nb_bins:]
        if self.extends:
            top_m = m[..., self._top_octave]
            top_w = magnitude.transpose(0, 2, 1)[..., self._top_octave].astype(np.float64)
            total = top_w.sum(axis=-1)
            ext = (top_m * top_w).sum(axis=-1) / np.maximum(total, 1e-12)               # (B, F)
            if not (total > 1e-9).all():        # silent frames: the plain mean of the top octave
                ext = np.where(total > 1e-9, ext, top_m.mean(axis=-1))
            out += ext[..., None] * self._ext_weight
        return out
