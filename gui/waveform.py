"""The picture inside a slot: the clip's outline, or the class name when the slot holds a class."""
from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QPainter, QPainterPath, QPen
from PyQt6.QtWidgets import QSizePolicy, QWidget

from . import theme


class WaveformView(QWidget):
    def __init__(self, color: QColor, parent=None):
        super().__init__(parent)
        self.color = color
        self.outline: np.ndarray | None = None
        self.title = ""             # shown instead of a waveform (class name, "latent")
        self.subtitle = ""
        self.hint = "Drop an audio file here"
        self.highlight = False      # a drag is hovering
        self.setMinimumSize(220, 96)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def show_outline(self, outline: np.ndarray | None) -> None:
        self.outline, self.title, self.subtitle = outline, "", ""
        self.update()

    def show_title(self, title: str, subtitle: str = "") -> None:
        self.outline, self.title, self.subtitle = None, title, subtitle
        self.update()

    def clear(self) -> None:
        self.show_outline(None)

    def set_highlight(self, on: bool) -> None:
        self.highlight = on
        self.update()

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        p.setPen(QPen(self.color if self.highlight else theme.PANEL_LIGHT, 2 if self.highlight else 1,
                      Qt.PenStyle.DashLine if self.outline is None and not self.title else Qt.PenStyle.SolidLine))
        p.setBrush(theme.PANEL.darker(115))
        p.drawRoundedRect(r, 6, 6)
        if self.outline is not None and self.outline.shape[-1]:
            self._paint_outline(p, r.adjusted(6, 8, -6, -8))
        elif self.title:
            f = QFont(self.font())
            f.setPointSizeF(f.pointSizeF() * 1.6)
            f.setBold(True)
            p.setFont(f)
            p.setPen(self.color)
            top = r.adjusted(8, 0, -8, -r.height() * 0.25 if self.subtitle else 0)
            p.drawText(top, Qt.AlignmentFlag.AlignCenter, self.title)
            if self.subtitle:
                p.setFont(self.font())
                p.setPen(theme.DIM)
                p.drawText(r.adjusted(8, r.height() * 0.5, -8, -6), Qt.AlignmentFlag.AlignHCenter |
                           Qt.AlignmentFlag.AlignTop, self.subtitle)
        else:
            p.setPen(theme.DIM)
            p.drawText(r, Qt.AlignmentFlag.AlignCenter, self.hint)
        p.end()

    def _paint_outline(self, p: QPainter, r: QRectF) -> None:
        lo, hi = self.outline
        peak = max(float(np.max(np.abs(self.outline))), 1e-6)
        scale = min(1.0 / peak, 4.0)        # quiet clips are drawn larger, but not noise blown up to full height
        mid, half = r.center().y(), r.height() / 2
        n = lo.shape[-1]
        xs = r.left() + (np.arange(n) + 0.5) * r.width() / n
        path = QPainterPath(QPointF(xs[0], mid - hi[0] * scale * half))
        for x, v in zip(xs[1:], hi[1:]):
            path.lineTo(QPointF(x, mid - v * scale * half))
        for x, v in zip(xs[::-1], lo[::-1]):
            path.lineTo(QPointF(x, mid - v * scale * half))
        path.closeSubpath()
        fill = QColor(self.color)
        fill.setAlpha(150)
        p.setPen(QPen(self.color, 1))
        p.setBrush(fill)
        p.drawPath(path)
        p.setPen(QPen(theme.PANEL_LIGHT, 1))
        p.drawLine(QPointF(r.left(), mid), QPointF(r.right(), mid))
