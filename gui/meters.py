"""Level meters: one bar per channel in dBFS (-60..0), RMS as the bar, peak as a line that holds and then
falls, the loudest recent peak as a number. Ballistics live here so the monitor only reports raw levels."""
from __future__ import annotations

import math
import time

from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QLinearGradient, QPainter, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from . import theme

FLOOR_DB = -60.0
FALL_DB_PER_S = 24.0        # how fast the bar and peak line fall
HOLD_S = 1.0


def to_db(value: float) -> float:
    return 20 * math.log10(value) if value > 1e-9 else -math.inf


class LevelMeter(QWidget):
    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        self.title = title
        self.rms_db: list[float] = []
        self.peak_db: list[float] = []
        self.hold_db = -math.inf
        self._hold_until = 0.0
        self._last = time.monotonic()
        self.setMinimumSize(58, 180)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Expanding)

    def set_levels(self, peak: list[float], rms: list[float]) -> None:
        now = time.monotonic()
        fall = FALL_DB_PER_S * (now - self._last)
        self._last = now
        if len(self.rms_db) != len(rms):
            self.rms_db = [FLOOR_DB] * len(rms)
            self.peak_db = [FLOOR_DB] * len(peak)
        self.rms_db = [max(to_db(v), old - fall, FLOOR_DB) for v, old in zip(rms, self.rms_db)]
        self.peak_db = [max(to_db(v), old - fall, FLOOR_DB) for v, old in zip(peak, self.peak_db)]
        loudest = max((to_db(v) for v in peak), default=-math.inf)
        if loudest >= self.hold_db or now > self._hold_until:
            self.hold_db, self._hold_until = loudest, now + HOLD_S * 2
        self.update()

    def decay(self) -> None:
        """No new block arrived (the stream stopped): let the bars fall."""
        self.set_levels([0.0] * len(self.peak_db), [0.0] * len(self.rms_db))

    def _y(self, db: float, top: float, height: float) -> float:
        frac = (min(max(db, FLOOR_DB), 0.0) - FLOOR_DB) / -FLOOR_DB
        return top + height * (1 - frac)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        small = QFont(self.font())
        small.setPointSizeF(small.pointSizeF() * 0.85)
        p.setFont(small)
        top, bottom = 22.0, self.height() - 22.0
        height = bottom - top
        p.setPen(theme.DIM)
        p.drawText(QRectF(0, 0, self.width(), top - 4), Qt.AlignmentFlag.AlignCenter, self.title)
        hold = "-inf" if self.hold_db == -math.inf else f"{self.hold_db:.1f}"
        p.setPen(theme.ERROR if self.hold_db > -0.1 else theme.TEXT)
        p.drawText(QRectF(0, bottom + 4, self.width(), 18), Qt.AlignmentFlag.AlignCenter, f"{hold} dB")
        channels = len(self.rms_db) or 2
        scale_w = 20.0
        bar_w = (self.width() - scale_w - 6 - 3 * (channels - 1)) / channels
        grad = QLinearGradient(0, bottom, 0, top)
        grad.setColorAt(0.0, QColor("#2e7d32"))
        grad.setColorAt(0.7, QColor("#9ccc65"))
        grad.setColorAt(0.85, QColor("#ffee58"))
        grad.setColorAt(1.0, QColor("#ef5350"))
        for ch in range(channels):
            x = scale_w + 3 + ch * (bar_w + 3)
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(theme.PANEL.darker(120))
            p.drawRect(QRectF(x, top, bar_w, height))
            if ch < len(self.rms_db):
                y = self._y(self.rms_db[ch], top, height)
                p.setBrush(grad)
                p.drawRect(QRectF(x, y, bar_w, bottom - y))
                yp = self._y(self.peak_db[ch], top, height)
                if self.peak_db[ch] > FLOOR_DB:
                    p.setPen(QPen(theme.TEXT, 2))
                    p.drawLine(int(x), int(yp), int(x + bar_w), int(yp))
        p.setPen(theme.DIM)
        for db in (0, -6, -12, -24, -36, -48):
            y = self._y(db, top, height)
            p.drawText(QRectF(0, y - 7, scale_w, 14), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       str(abs(db)))
        p.end()
