"""Pure models, no AWS: the queue-pressure and autoscaling simulator behind lesson 07."""

from labkit.sim.model import SimConfig, SimResult, StepRule, TargetTrackingRule, arrivals, simulate

__all__ = ["SimConfig", "SimResult", "StepRule", "TargetTrackingRule", "arrivals", "simulate"]
