"""Helpers for lesson 01 (EC2 and EBS): watch an instance change state, draw the timeline, price instance types.

The AWS calls the lesson teaches (``run_instances``, ``stop_instances``, ``attach_volume``...) stay in the
notebook; this module only *watches* what they did, by polling ``describe_instances`` and
``describe_volumes`` like a waiter does, and records each sample with the time it was seen, so the
lesson can draw a measured lifecycle timeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# The instance states EC2 reports, in lifecycle order
# (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-lifecycle.html).
STATES = ("pending", "running", "stopping", "stopped", "shutting-down", "terminated")
STATE_COLOURS = {
    "pending": "#f9a825",
    "running": "#2e7d32",
    "stopping": "#ef6c00",
    "stopped": "#757575",
    "shutting-down": "#c62828",
    "terminated": "#212121",
}

# On-Demand list prices, USD per hour, Linux, US East (N. Virginia), as published on
# https://aws.amazon.com/ec2/pricing/on-demand/ in 2025. Prices vary by region and change over time:
# the page is the authority.
PRICE_SOURCE = "https://aws.amazon.com/ec2/pricing/on-demand/"
PRICE_NOTE = "On-Demand list price, Linux, us-east-1, as published in 2025; varies by region and date"
ON_DEMAND_USD_PER_HOUR = {
    "t3.micro": 0.0104,
    "t3.small": 0.0208,
    "t3.medium": 0.0416,
    "t3.large": 0.0832,
    "m5.large": 0.096,
    "c5.xlarge": 0.17,
}
HOURS_PER_MONTH = 730  # the hours-in-a-month figure AWS's pricing examples use (24 × 365 / 12)


@dataclass(frozen=True)
class Sample:
    """One observation: seconds since the watch started, the instance state, and each watched volume's attachment."""

    t: float
    state: str
    volumes: tuple[tuple[str, str], ...] = ()  # (volume id, "attached" / "detached" / ...)
    source: str = "describe_instances"


@dataclass
class Lifecycle:
    """Everything a watch saw, in order. Plain data: no AWS, no drawing."""

    instance_id: str
    samples: list[Sample] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def add(self, state: str, volumes: Iterable[tuple[str, str]] = (), source: str = "describe_instances") -> Sample:
        sample = Sample(time.monotonic() - self.started, state, tuple(volumes), source)
        self.samples.append(sample)
        return sample

    def transitions(self) -> list[tuple[float, str]]:
        """(time, state) each time the state changed, starting with the first sample."""
        out: list[tuple[float, str]] = []
        for s in self.samples:
            if not out or out[-1][1] != s.state:
                out.append((s.t, s.state))
        return out

    def spans(self) -> list[tuple[str, float, float]]:
        """(state, start, end) for each stretch of time in one state; the last one ends at the last sample."""
        changes = self.transitions()
        if not changes:
            return []
        end = self.samples[-1].t
        return [
            (state, start, changes[i + 1][0] if i + 1 < len(changes) else end)
            for i, (start, state) in enumerate(changes)
        ]

    def volume_spans(self, volume_id: str) -> list[tuple[str, float, float]]:
        """(attachment state, start, end) for one volume, from the samples that looked at it."""
        seen = [(s.t, dict(s.volumes)[volume_id]) for s in self.samples if volume_id in dict(s.volumes)]
        starts = [(t, state) for i, (t, state) in enumerate(seen) if i == 0 or seen[i - 1][1] != state]
        return [
            (state, start, starts[i + 1][0] if i + 1 < len(starts) else seen[-1][0])
            for i, (start, state) in enumerate(starts)
        ]

    def volume_ids(self) -> list[str]:
        ids: list[str] = []
        for s in self.samples:
            for vid, _ in s.volumes:
                if vid not in ids:
                    ids.append(vid)
        return ids

    def summary(self) -> str:
        changes = self.transitions()
        if not changes:
            return f"{self.instance_id}: nothing observed yet"
        path = " → ".join(f"{state} ({t:.2f} s)" for t, state in changes)
        return f"{self.instance_id}: {path}; {len(self.samples)} observations"


def volume_attachments(ec2, volume_ids: Iterable[str], instance_id: str) -> list[tuple[str, str]]:
    """Each volume's attachment state *to this instance* ("detached" when it is attached nowhere, or elsewhere)."""
    ids = list(volume_ids)
    if not ids:
        return []
    found = {v["VolumeId"]: v for v in ec2.describe_volumes(VolumeIds=ids)["Volumes"]}
    out = []
    for vid in ids:
        attached = [a for a in found.get(vid, {}).get("Attachments", []) if a.get("InstanceId") == instance_id]
        out.append((vid, attached[0]["State"] if attached else "detached"))
    return out


class Watch:
    """Poll one instance (and some volumes) until it reaches a state, recording every sample.

    ``watch.until("running")`` is what a boto3 waiter does, plus a progress bar and a record of
    what it saw. ``watch.note(state)`` records the state an API call itself returned (for
    example ``run_instances`` answers ``pending``), at the moment it returned.
    """

    def __init__(self, ec2, instance_id: str, volume_ids: Iterable[str] = (), interval: float = 0.1):
        self.ec2 = ec2
        self.lifecycle = Lifecycle(instance_id)
        self.volume_ids = list(volume_ids)
        self.interval = interval

    @property
    def instance_id(self) -> str:
        return self.lifecycle.instance_id

    def watch_volume(self, volume_id: str) -> Sample:
        """Follow this volume's attachment from now on (and take a sample, so the timeline starts here)."""
        if volume_id not in self.volume_ids:
            self.volume_ids.append(volume_id)
        return self.sample()

    def note(self, state: str, source: str) -> Sample:
        return self.lifecycle.add(state, self._volumes(), source=source)

    def sample(self) -> Sample:
        reservations = self.ec2.describe_instances(InstanceIds=[self.instance_id])["Reservations"]
        state = reservations[0]["Instances"][0]["State"]["Name"]
        return self.lifecycle.add(state, self._volumes())

    def _volumes(self) -> list[tuple[str, str]]:
        return volume_attachments(self.ec2, self.volume_ids, self.instance_id)

    def until(
        self, state: str, timeout: float = 600, progress: bool = True, sleep: Callable[[float], None] = time.sleep
    ) -> Sample:
        """Sample until the instance is in ``state``; raise TimeoutError after ``timeout`` seconds.

        With ``progress`` a tqdm bar shows the polls, and a line says how long it took (for readers without widgets).
        """
        from tqdm.auto import tqdm

        start = time.monotonic()
        bar = tqdm(total=None, desc=f"waiting for {state}", unit=" polls", disable=not progress, leave=True)
        polls = 0
        try:
            while True:
                seen = self.sample()
                polls += 1
                bar.update(1)
                bar.set_postfix_str(f"{seen.state} after {time.monotonic() - start:.1f} s")
                if seen.state == state:
                    if progress:
                        took = time.monotonic() - start
                        print(f"{self.instance_id} {state} after {took:.2f} s ({polls} poll{'s' * (polls != 1)})")
                    return seen
                if time.monotonic() - start > timeout:
                    raise TimeoutError(f"{self.instance_id} still {seen.state} after {timeout:g} s (wanted {state})")
                sleep(self.interval)
        finally:
            bar.close()


def draw_lifecycle(lifecycle: Lifecycle, ax=None, title: str | None = None):
    """A timeline: one bar lane for the instance's state, one per watched volume's attachment."""
    import matplotlib.pyplot as plt

    volumes = lifecycle.volume_ids()
    lanes = 1 + len(volumes)
    if ax is None:
        _, ax = plt.subplots(figsize=(9, 1.2 + 0.7 * lanes))
    end = lifecycle.samples[-1].t if lifecycle.samples else 1.0
    minimum = max(end / 150, 1e-3)  # keep a very short state visible as a sliver
    y = lanes - 1
    for state, start, stop in lifecycle.spans():
        ax.barh(y, max(stop - start, minimum), left=start, color=STATE_COLOURS.get(state, "#90a4ae"), height=0.6)
    for t, state in lifecycle.transitions():
        ax.annotate(state, (t, y + 0.34), fontsize=7, rotation=35, ha="left", va="bottom")
    labels = [f"instance\n{lifecycle.instance_id}"]
    for i, vid in enumerate(volumes):
        y = lanes - 2 - i
        for state, start, stop in lifecycle.volume_spans(vid):
            colour = "#1565c0" if state == "attached" else "#cfd8dc"
            ax.barh(y, max(stop - start, minimum), left=start, color=colour, height=0.6)
            ax.text(start, y, f" {state}", va="center", fontsize=7, color="white" if state == "attached" else "black")
        labels.append(f"volume\n{vid}")
    ax.set_yticks(range(lanes))
    ax.set_yticklabels(list(reversed(labels)), fontsize=8)
    ax.set_ylim(-0.6, lanes - 0.1 + 0.5)
    ax.set_xlim(0, end * 1.02 if end else 1)
    ax.set_xlabel("seconds since the watch started (measured)")
    ax.set_title(title or "Instance lifecycle and volume attachment, as observed")
    ax.figure.tight_layout()
    return ax.figure


def price_rows(instance_types: list[dict]) -> list[dict]:
    """describe_instance_types entries joined with the cited list price (None where the table has no price)."""
    rows = []
    for it in sorted(instance_types, key=lambda i: ON_DEMAND_USD_PER_HOUR.get(i["InstanceType"], float("inf"))):
        name = it["InstanceType"]
        hourly = ON_DEMAND_USD_PER_HOUR.get(name)
        rows.append(
            {
                "type": name,
                "vcpus": it["VCpuInfo"]["DefaultVCpus"],
                "memory_gib": it["MemoryInfo"]["SizeInMiB"] / 1024,
                "usd_per_hour": hourly,
                "usd_per_month": None if hourly is None else round(hourly * HOURS_PER_MONTH, 2),
            }
        )
    return rows


def format_price_table(rows: list[dict]) -> str:
    lines = [f"{'type':<11}{'vCPUs':>6}{'memory':>10}{'$/hour':>9}{'$/month (730 h)':>17}"]
    for r in rows:
        hourly = "?" if r["usd_per_hour"] is None else f"{r['usd_per_hour']:.4f}"
        monthly = "?" if r["usd_per_month"] is None else f"{r['usd_per_month']:.2f}"
        lines.append(f"{r['type']:<11}{r['vcpus']:>6}{r['memory_gib']:>7.1f} GiB{hourly:>9}{monthly:>17}")
    return "\n".join(lines)
