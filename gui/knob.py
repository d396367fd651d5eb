"""A painted knob on top of ``QDial`` (mouse drag, wheel, arrow keys, Page Up/Down, Home/End all come from
QDial): an arc from the left label to the right one, its value in the middle. Values are 0..1; the dial
counts in thousandths so a drag feels continuous."""
from __future__ import annotations

import math

from PyQt6.QtCore import QPointF, QRectF, QSize, Qt
from PyQt6.QtGui import QColor, QFont, QPainter, QPen
from PyQt6.QtWidgets import QDial, QSizePolicy

from . import theme

STEPS = 1000
START_DEG, SPAN_DEG = 225.0, -270.0         # Qt angles: 0 deg = 3 o'clock, counter-clockwise positive


class Knob(QDial):
    def __init__(self, left: str, right: str, left_color: QColor, right_color: QColor, diameter: int = 160,
                 fmt=lambda v: f"{v:.2f}", parent=None):
        super().__init__(parent)
        self.left, self.right = left, right
        self.left_color, self.right_color = left_color, right_color
        self.fmt = fmt
        self.caption = ""
        self.setRange(0, STEPS)
        self.setSingleStep(10)               # arrow keys and wheel: 0.01
        self.setPageStep(100)                # Page Up/Down: 0.1
        self.setNotchesVisible(False)
        self.setWrapping(False)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(diameter, diameter + 22)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self._diameter = diameter

    def sizeHint(self) -> QSize:
        return QSize(self._diameter + 40, self._diameter + 30)

    def value01(self) -> float:
        return self.value() / STEPS

    def set_value01(self, value: float, quiet: bool = True) -> None:
        """Move the knob; ``quiet`` moves it without emitting valueChanged (a sync, not a user turn)."""
        was = self.blockSignals(quiet)
        self.setValue(round(min(max(value, 0.0), 1.0) * STEPS))
        self.blockSignals(was)

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        label_h = 20
        side = min(self.width(), self.height() - label_h) - 12
        r = QRectF((self.width() - side) / 2, 6, side, side)
        v = self.value01()
        color = theme.mix(self.left_color, self.right_color, v)
        track = max(6.0, side * 0.07)
        inset = track / 2 + 2
        arc = r.adjusted(inset, inset, -inset, -inset)
        p.setPen(QPen(theme.PANEL_LIGHT, track, cap=Qt.PenCapStyle.RoundCap))
        p.drawArc(arc, int(START_DEG * 16), int(SPAN_DEG * 16))
        if v > 0:
            p.setPen(QPen(color, track, cap=Qt.PenCapStyle.RoundCap))
            p.drawArc(arc, int(START_DEG * 16), int(SPAN_DEG * v * 16))
        body = arc.adjusted(track * 1.4, track * 1.4, -track * 1.4, -track * 1.4)
        p.setPen(QPen(theme.BACKGROUND, 2))
        p.setBrush(theme.PANEL_LIGHT if self.isEnabled() else theme.PANEL)
        p.drawEllipse(body)
        angle = math.radians(START_DEG + SPAN_DEG * v)
        c = body.center()
        rad = body.width() / 2
        tip = QPointF(c.x() + math.cos(angle) * rad * 0.85, c.y() - math.sin(angle) * rad * 0.85)
        base = QPointF(c.x() + math.cos(angle) * rad * 0.45, c.y() - math.sin(angle) * rad * 0.45)
        p.setPen(QPen(color, max(3.0, side * 0.03), cap=Qt.PenCapStyle.RoundCap))
        p.drawLine(base, tip)
        f = QFont(self.font())
        f.setPointSizeF(f.pointSizeF() * (1.5 if side > 120 else 1.0))
        f.setBold(True)
        p.setFont(f)
        p.setPen(theme.TEXT)
        p.drawText(body, Qt.AlignmentFlag.AlignCenter, self.fmt(v))
        p.setFont(self.font())
        # the end labels sit just under the two ends of the arc
        ac, ar = arc.center(), arc.width() / 2
        dx, dy = ar * math.cos(math.radians(45)), ar * math.sin(math.radians(45))
        for text, color, x in ((self.left, self.left_color, ac.x() - dx), (self.right, self.right_color, ac.x() + dx)):
            p.setPen(color)
            p.drawText(QRectF(x - 30, ac.y() + dy + track / 2 + 1, 60, label_h), Qt.AlignmentFlag.AlignCenter, text)
        if self.hasFocus():
            p.setPen(QPen(theme.DIM, 1, Qt.PenStyle.DotLine))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawEllipse(r.adjusted(1, 1, -1, -1))
        p.end()
