"""Colours and the dark palette: one place, so slots, knob and meters agree (A is cyan, B is amber)."""
from __future__ import annotations

from PyQt6.QtGui import QColor, QPalette

BACKGROUND = QColor("#1d2025")
PANEL = QColor("#262a31")
PANEL_LIGHT = QColor("#323741")
TEXT = QColor("#e6e8eb")
DIM = QColor("#9aa1ab")
SLOT_COLORS = {"A": QColor("#4fc3f7"), "B": QColor("#ffb74d")}
OK = QColor("#66bb6a")
BUSY = QColor("#ffca28")
ERROR = QColor("#ef5350")


def mix(a: QColor, b: QColor, t: float) -> QColor:
    t = min(max(t, 0.0), 1.0)
    return QColor(round(a.red() + (b.red() - a.red()) * t), round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


def apply(app) -> None:
    """Fusion with a dark palette: the same look on every platform and offscreen."""
    app.setStyle("Fusion")
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: BACKGROUND, QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: PANEL, QPalette.ColorRole.AlternateBase: PANEL_LIGHT,
        QPalette.ColorRole.Text: TEXT, QPalette.ColorRole.Button: PANEL_LIGHT,
        QPalette.ColorRole.ButtonText: TEXT, QPalette.ColorRole.Highlight: SLOT_COLORS["A"].darker(130),
        QPalette.ColorRole.HighlightedText: QColor("#ffffff"), QPalette.ColorRole.ToolTipBase: PANEL_LIGHT,
        QPalette.ColorRole.ToolTipText: TEXT, QPalette.ColorRole.PlaceholderText: DIM,
    }
    for role, color in roles.items():
        p.setColor(role, color)
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, DIM.darker(130))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, DIM.darker(130))
    p.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, DIM.darker(130))
    app.setPalette(p)
