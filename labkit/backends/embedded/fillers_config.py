"""The fillers process's settings, what it says about itself, and how it is started: what
``labkit.backends.embedded`` needs of ``labkit.backends.embedded.fillers`` without importing boto3.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.backends import servers
from labkit.errors import InvalidSetting

MODULE = "labkit.backends.embedded.fillers"  # run with labkit's own Python (``python -m MODULE``)
STATUS_FILE = "fillers.json"
FILLED = (
    "AWS/SQS metrics, alarm → Auto Scaling, target tracking, scaling activities, alarms on their own dimensions, "
    "metric math, ListDeadLetterSourceQueues, DNS answers for Route 53 zones, CloudFront's cache, "
    "instances that run (user data, metadata service, EBS data); "
    "DLQ redrive in lesson 05 (see each lesson's 'emulator vs AWS' box)"
)
# The settings a learner may give (``labkit.backends.embedded`` passes them on), and the field each sets.
ENVIRONMENT = {
    "LABKIT_METRICS_SECONDS": "metrics_s",
    "LABKIT_ALARM_REPEAT_SECONDS": "repeat_s",
    "LABKIT_TARGET_PERIOD_SECONDS": "tt_period_s",
    "LABKIT_TARGET_SCALE_IN_AFTER": "tt_scale_in_after",
}


@dataclass(frozen=True)
class Settings:
    """How often the process acts; the lessons state these (``labkit status`` prints them)."""

    metrics_s: float = 1.0  # AWS: once a minute
    repeat_s: float = 5.0  # an alarm in ALARM re-runs its scaling action; AWS: once a minute
    tt_period_s: int = 10  # the period target tracking reads its metric over; AWS: 60
    tt_scale_in_after: int = 5  # evaluations below the target before target tracking scales in

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Settings:
        """The defaults, with any of ``ENVIRONMENT`` the environment sets."""
        given = {f: type(getattr(cls(), f))(float(env[v])) for v, f in ENVIRONMENT.items() if env.get(v)}
        return cls(**given)

    def describe(self) -> str:
        return (
            f"publishes AWS/SQS metrics for every queue (and enabled Auto Scaling group metrics) every "
            f"{self.metrics_s:g} s; runs the scaling policy an alarm names, again every {self.repeat_s:g} s while "
            f"in ALARM; evaluates target tracking every {self.metrics_s:g} s over {self.tt_period_s} s periods"
        )


@dataclass
class Status:
    settings: dict[str, float]
    metrics_published: int = 0
    actions: list[str] = field(default_factory=list)  # the latest scaling actions, newest last


def read_status(home: Path) -> dict[str, Any] | None:
    """What the running process wrote about itself, or None."""
    try:
        status: dict[str, Any] = json.loads((home / STATUS_FILE).read_text())
        return status
    except (OSError, ValueError):
        return None


def local_only(env: dict[str, str]) -> bool:
    """True if every endpoint setting points at this machine (so this never runs against AWS)."""
    endpoints = [v for k, v in env.items() if k == "AWS_ENDPOINT_URL" or k.startswith("AWS_ENDPOINT_URL_")]
    return bool(endpoints) and all(urllib.parse.urlsplit(v).hostname == "127.0.0.1" for v in endpoints)


def command() -> list[str]:
    """How the embedded backend starts the process."""
    return [sys.executable, "-m", MODULE]


def start(env: dict[str, str], home: Path) -> subprocess.Popen[bytes]:
    """Spawn the process (``labkit.backends.servers``) in ``home``; the caller records it (pid, start time, owner)."""
    return servers.spawn(command(), env, home / "fillers.log", home)


def check_settings(given: Mapping[str, str]) -> None:
    """Refuse, in one line, a setting of ``ENVIRONMENT`` that is not a positive number (before anything starts)."""
    for variable, field_name in ENVIRONMENT.items():
        raw = given.get(variable)
        if not raw:
            continue
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        whole = isinstance(getattr(Settings(), field_name), int)
        if not value > 0 or (whole and value < 1) or value == float("inf"):
            kind = "a whole number of 1 or more" if whole else "a number of seconds above 0"
            raise InvalidSetting(f"{variable}={raw!r} is not usable: use {kind}, or unset it for the default")


def process_env(
    endpoints: dict[str, str], credentials: dict[str, str], region: str, home: Path, given: Mapping[str, str]
) -> dict[str, str]:
    """The process's whole environment: the servers' endpoints, dummy credentials, the region, ``LABKIT_HOME``,
    labkit's checkout on ``PYTHONPATH``, and whichever ``ENVIRONMENT`` settings ``given`` (the learner's) has,
    each checked first (``check_settings``)."""
    check_settings(given)
    return {
        **endpoints,
        **credentials,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "LABKIT_HOME": str(home),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        **{k: v for k, v in given.items() if k in ENVIRONMENT},
    }


def status_lines(pid: int | None, home: Path) -> list[str]:
    """What ``labkit status`` says about the process: running or not, what it does, what it did."""
    if pid is None:
        return ["  fillers   not running: `labkit up` starts them"]
    status = read_status(home) or {}
    settings = Settings(**status.get("settings", {}))
    actions = status.get("actions", [])
    return [
        f"  fillers   labkit   pid {pid:<7} {settings.describe()}",
        f"            {status.get('metrics_published', 0):,} data points published, {len(actions)} scaling actions"
        + (f"; last: {actions[-1]}" if actions else ""),
    ]
