"""What a live scaling run looked like, sampled twice a second (a plain state object, no widgets).

The queue and group numbers are CloudWatch's (the AWS/SQS and AWS/AutoScaling metrics, read with
``get_metric_data``); ``working`` and ``booting`` are the group's instances InService and Pending as
``describe_auto_scaling_groups`` lists them (each one a consumer: it runs the launch template's user data);
``processed`` is what the consumers recorded, or None when the run does not count it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

SERIES = ("t", "visible", "in_flight", "desired", "in_service", "working", "booting", "processed")


@dataclass
class PressureHistory:
    """Time series of the queue as a pressure gauge: depth, fleet size, consumers at work."""

    t: list[float] = field(default_factory=list)
    visible: list[float] = field(default_factory=list)  # AWS/SQS ApproximateNumberOfMessagesVisible
    in_flight: list[float] = field(default_factory=list)  # AWS/SQS ApproximateNumberOfMessagesNotVisible
    desired: list[float] = field(default_factory=list)  # AWS/AutoScaling GroupDesiredCapacity
    in_service: list[float] = field(default_factory=list)  # AWS/AutoScaling GroupInServiceInstances
    working: list[int] = field(default_factory=list)  # instances InService: each runs the consumer
    booting: list[int] = field(default_factory=list)  # instances Pending
    processed: list[int | None] = field(default_factory=list)

    def add(self, t, visible, in_flight, desired, in_service, working, booting, processed) -> None:
        for name, value in zip(
            SERIES, (t, visible, in_flight, desired, in_service, working, booting, processed), strict=True
        ):
            getattr(self, name).append(value)

    def __len__(self) -> int:
        return len(self.t)

    def snapshot(self) -> PressureHistory:
        """A copy with every series the same length: the samples ``add`` has finished, even while a
        sampler thread is between its appends (it appends ``t`` first, ``processed`` last)."""
        n = min(len(getattr(self, name)) for name in SERIES)
        return PressureHistory(**{name: list(getattr(self, name)[:n]) for name in SERIES})

    def above(self, threshold: float) -> list[bool]:
        return [v > threshold for v in self.visible]

    def below(self, threshold: float) -> list[bool]:
        return [v < threshold for v in self.visible]

    def summary(self) -> str:
        if not self.t:
            return "no samples yet"
        return (
            f"t={self.t[-1]:.0f}s: {self.visible[-1]:,.0f} visible, {self.in_flight[-1]:,.0f} in flight, "
            f"desired {self.desired[-1]:.0f}, {self.working[-1]} instances in service (+{self.booting[-1]} pending), "
            f"peak {max(self.visible):,.0f} visible"
            + (f", {self.processed[-1]:,} processed" if self.processed[-1] is not None else "")
        )
