"""Pedalboard host: SeparatorEffect, chains and the OSC bridge (arrive with the Pedalboard/OSC issue)."""
