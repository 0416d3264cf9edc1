"""What every backend object answers: ``labkit.connect()`` and the ``labkit`` command ask it, never its name.

One object per backend (``labkit.backends.BACKENDS``): ``connect`` starts or joins it and says what
the banner shows, ``identify`` says who the caller is (real AWS only), and the CLI's commands get
their lines from ``up``, ``env_values``, ``status``, ``reset``, ``down`` and ``doctor``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from labkit import config
from labkit.backends.services import SERVICES

DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}

# A line of ``labkit doctor``: (ok, text); ok None means a note, not a problem.
Check = tuple[bool | None, str]


@dataclass(frozen=True)
class Route:
    server: str  # e.g. "MiniStack 1.5.33"
    endpoint: str  # URL, or "AWS" on the real backend
    services: tuple[str, ...]


@dataclass
class Connection:
    """What ``connect()`` applies and shows for a backend that answers."""

    env: dict[str, str]  # the SDK settings, region aside
    routes: list[Route]
    notes: list[str] = field(default_factory=list)
    region: str | None = None  # the backend's own choice of region (real AWS: the SDK's), else config.region()


@dataclass(frozen=True)
class Identity:
    account: str  # masked
    principal: str


@dataclass(frozen=True)
class Run:
    """Which run of a backend answers: ``servers`` changes when it is restarted ("" when it is stopped),
    ``wipes`` counts the ``labkit reset`` calls since it started. Compared by ``labkit.session``."""

    servers: str
    wipes: int = 0


@dataclass
class StatusReport:
    lines: list[str]
    ok: bool = True


def service_names(moto: bool) -> tuple[str, ...]:
    """The course's services one embedded server answers (moto's, or MiniStack's)."""
    return tuple(s.name for s in SERVICES if s.moto == moto)


class Backend(ABC):
    name: ClassVar[str]
    emulator: ClassVar[bool] = True  # dummy credentials; nothing a lesson makes costs money
    # Said after "Lambda function ... is in state Failed" when this backend is the likely reason.
    lambda_failed_hint: ClassVar[str] = ""

    @abstractmethod
    def connect(self, *, allow_real_aws: bool = False, lesson: str | None = None) -> Connection:
        """Start or join the backend; raise a LabkitError that says what to do if that cannot be done."""

    def identify(self, region: str) -> Identity | None:
        """Who the caller is, asked once the settings are applied (None on an emulator)."""
        return None

    @abstractmethod
    def up(self, *, allow_real_aws: bool = False) -> list[str]:
        """``labkit up``: start it (or check it answers); the lines to print."""

    @abstractmethod
    def env_values(self) -> dict[str, str]:
        """``labkit env``: the variables a shell exports to use this backend."""

    @abstractmethod
    def status(self, *, allow_real_aws: bool = False) -> StatusReport:
        """``labkit status``: each server's (or service's) health and route."""

    def reset(self) -> float | None:
        """Wipe every resource; the seconds it took, or None where labkit cannot (not an emulator it runs)."""
        return None

    def down(self) -> list[str]:
        """``labkit down``: stop what labkit started of this backend; the lines to print."""
        return []

    def doctor(self) -> list[Check]:
        """``labkit doctor``: what this backend needs, each line saying how to fix it."""
        return []

    def not_running(self) -> str | None:
        """Why there is nothing to look at without starting the backend (``labkit progress``), else None."""
        return None

    def run(self) -> Run | None:
        """Which run of the backend answers now, without starting it; None where labkit cannot tell."""
        return None


class Emulator(Backend):
    """A backend reached with dummy credentials at one or more endpoints."""

    @abstractmethod
    def sdk_env(self) -> dict[str, str]:
        """The endpoint settings and credentials of the running backend (an error if it is not)."""

    def env_values(self) -> dict[str, str]:
        region = config.region()
        return {**self.sdk_env(), "AWS_REGION": region, "AWS_DEFAULT_REGION": region, "LABKIT_BACKEND": self.name}
