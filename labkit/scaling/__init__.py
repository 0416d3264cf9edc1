"""The live fleet for lesson 07: consumers per instance, the metric, the alarm bridge, a sampler."""

from labkit.scaling.bridge import AlarmBridge
from labkit.scaling.fleet import Fleet
from labkit.scaling.groups import ManagedGroup, SelfRunGroup
from labkit.scaling.history import PressureHistory
from labkit.scaling.live import LiveRun

__all__ = ["AlarmBridge", "Fleet", "LiveRun", "ManagedGroup", "PressureHistory", "SelfRunGroup"]
