"""OSC control of a running SeparatorEffect: the address space, DAW mappings and the UDP bridge."""
from .address import ADDRESSES, Rejected
from .bridge import OscBridge, OscConfig
from .mapping import DawMapping

__all__ = ["ADDRESSES", "Rejected", "OscBridge", "OscConfig", "DawMapping"]
