"""What a live scaling run looked like, sampled twice a second (a plain state object, no widgets)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PressureHistory:
    """Time series of the queue as a pressure gauge: depth, fleet size and alarm states."""

    t: list[float] = field(default_factory=list)
    visible: list[int] = field(default_factory=list)
    in_flight: list[int] = field(default_factory=list)
    working: list[int] = field(default_factory=list)  # instances with a consumer running
    booting: list[int] = field(default_factory=list)
    desired: list[int] = field(default_factory=list)
    alarms: list[dict[str, str]] = field(default_factory=list)  # alarm name → state, per sample
    processed: list[int] = field(default_factory=list)

    def add(self, t, visible, in_flight, working, booting, desired, alarms, processed) -> None:
        self.t.append(t)
        self.visible.append(visible)
        self.in_flight.append(in_flight)
        self.working.append(working)
        self.booting.append(booting)
        self.desired.append(desired)
        self.alarms.append(dict(alarms))
        self.processed.append(processed)

    def __len__(self) -> int:
        return len(self.t)

    def snapshot(self) -> PressureHistory:
        """A copy with every series the same length: the samples ``add`` has finished, even while a
        sampler thread is between its appends (it appends ``t`` first, ``processed`` last)."""
        series = ("t", "visible", "in_flight", "working", "booting", "desired", "alarms", "processed")
        n = min(len(getattr(self, name)) for name in series)
        return PressureHistory(**{name: list(getattr(self, name)[:n]) for name in series})

    def in_alarm(self, alarm: str) -> list[bool]:
        return [states.get(alarm) == "ALARM" for states in self.alarms]

    def summary(self) -> str:
        if not self.t:
            return "no samples yet"
        alarms = ", ".join(f"{name} {state}" for name, state in sorted(self.alarms[-1].items()))
        return (
            f"t={self.t[-1]:.0f}s: {self.visible[-1]:,} visible, {self.in_flight[-1]:,} in flight, "
            f"{self.working[-1]} instances working (+{self.booting[-1]} booting), peak {max(self.visible):,} visible, "
            f"{self.processed[-1]:,} processed; {alarms}"
        )
