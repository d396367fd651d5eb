"""PyQt6 control panel (arrives with the panel issue)."""
