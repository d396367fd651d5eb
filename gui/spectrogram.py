"""The rendered file's spectrogram: computed with numpy off the UI thread (log-frequency rows, 80 dB of
range, a magma-like palette), painted with frequency and time marks."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QImage, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from engine.errors import EventSepError

from . import theme

RANGE_DB = 80.0
FMIN = 30.0
READ_ALL_SECONDS = 120       # longer files are read column by column (seek) so memory stays flat
_ANCHORS = [(0.0, (0, 0, 4)), (0.25, (60, 15, 110)), (0.5, (150, 40, 125)), (0.75, (245, 110, 90)),
            (1.0, (252, 250, 190))]


def palette() -> list[int]:
    pos = np.array([a[0] for a in _ANCHORS])
    t = np.linspace(0, 1, 256)
    rgb = np.stack([np.interp(t, pos, [a[1][c] for a in _ANCHORS]) for c in range(3)], axis=1).astype(int)
    return [QColor(int(r), int(g), int(b)).rgb() for r, g, b in rgb]


@dataclass(frozen=True)
class Spectrogram:
    image: np.ndarray           # (rows, columns) uint8, row 0 = highest frequency
    seconds: float
    sample_rate: int
    fmin: float
    fmax: float
    title: str = ""


def _frames_at(f, positions: np.ndarray, n_fft: int, frames: int, rate: float) -> np.ndarray:
    """Mono frames of ``n_fft`` samples starting at ``positions`` -> (columns, n_fft)."""
    if frames <= READ_ALL_SECONDS * rate:
        audio = np.asarray(f.read(frames), np.float32).mean(axis=0)
        audio = np.pad(audio, (0, max(0, n_fft - audio.shape[0]) + n_fft))
        return np.stack([audio[p:p + n_fft] for p in positions])
    out = np.zeros((len(positions), n_fft), np.float32)
    for i, p in enumerate(positions):
        f.seek(int(p))
        x = np.asarray(f.read(min(n_fft, frames - int(p))), np.float32).mean(axis=0)
        out[i, :x.shape[0]] = x
    return out


def compute(path: str | Path, columns: int = 640, rows: int = 200, n_fft: int = 4096) -> Spectrogram:
    from pedalboard.io import AudioFile

    path = Path(path)
    try:
        with AudioFile(str(path)) as f:
            rate, frames = float(f.samplerate), int(f.frames)
            if frames <= 0:
                raise EventSepError(f"{path}: the file holds no audio")
            columns = max(1, min(columns, frames // 256 or 1))
            positions = np.linspace(0, max(frames - n_fft, 0), columns).astype(int)
            chunk = _frames_at(f, positions, n_fft, frames, rate)
    except EventSepError:
        raise
    except Exception as e:
        raise EventSepError(f"{path}: cannot read it for the spectrogram ({e})") from None
    power = np.abs(np.fft.rfft(chunk * np.hanning(n_fft).astype(np.float32), axis=1)) ** 2
    db = 10 * np.log10(power + 1e-12)
    db -= db.max()
    bins = np.fft.rfftfreq(n_fft, 1.0 / rate)
    fmax = min(rate / 2, 20000.0)
    freqs = np.geomspace(FMIN, fmax, rows)[::-1]
    grid = np.stack([np.interp(freqs, bins, col) for col in db], axis=1)
    image = np.clip((grid + RANGE_DB) / RANGE_DB * 255, 0, 255).astype(np.uint8)
    return Spectrogram(np.ascontiguousarray(image), frames / rate, int(rate), FMIN, fmax, path.name)


class SpectrogramView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.spec: Spectrogram | None = None
        self._image: QImage | None = None
        self._palette = palette()
        self.hint = "Render a file to see its spectrogram here"
        self.setMinimumHeight(150)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_spectrogram(self, spec: Spectrogram | None) -> None:
        self.spec = spec
        if spec is None:
            self._image = None
        else:
            h, w = spec.image.shape
            img = QImage(spec.image.tobytes(), w, h, w, QImage.Format.Format_Indexed8)
            img.setColorTable(self._palette)
            self._image = img.copy()        # own the pixels: the bytes object above is temporary
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        left, bottom = 44.0, 18.0
        area = QRectF(left, 4, self.width() - left - 6, self.height() - bottom - 8)
        p.fillRect(area, theme.PANEL.darker(115))
        if self._image is None or self.spec is None:
            p.setPen(theme.DIM)
            p.drawText(area, Qt.AlignmentFlag.AlignCenter, self.hint)
            p.end()
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        p.drawImage(area, self._image)
        s = self.spec
        p.setPen(theme.DIM)
        span = np.log(s.fmax / s.fmin)
        for f, label in ((100, "100"), (1000, "1k"), (10000, "10k")):
            if s.fmin < f < s.fmax:
                y = area.bottom() - area.height() * np.log(f / s.fmin) / span
                p.drawText(QRectF(0, y - 8, left - 6, 16), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                           label)
                p.setPen(QPen(QColor(255, 255, 255, 40), 1, Qt.PenStyle.DotLine))
                p.drawLine(int(area.left()), int(y), int(area.right()), int(y))
                p.setPen(theme.DIM)
        under = QRectF(area.left(), area.bottom() + 2, area.width(), bottom)
        p.drawText(QRectF(0, area.bottom() + 2, left - 6, bottom), Qt.AlignmentFlag.AlignRight, "Hz")
        p.drawText(under, Qt.AlignmentFlag.AlignLeft, "0 s")
        p.drawText(under, Qt.AlignmentFlag.AlignRight, f"{s.seconds:.1f} s")
        p.drawText(under, Qt.AlignmentFlag.AlignHCenter, s.title)
        p.end()
