"""Kill switch: cancels all of an instance's orders (and optionally flattens) on a kill_switch intent."""

from processors.kill_switch.core import KillSwitch, KillSwitchConfig

__all__ = ["KillSwitch", "KillSwitchConfig"]
