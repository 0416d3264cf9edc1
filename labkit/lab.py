"""``labkit.connect()``: point this kernel's boto3 at the chosen backend.

It uses only the SDK's own settings, so every ``boto3.client(...)`` created
afterwards, in a cell or in a helper, reaches the backend without arguments:
``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``, ``AWS_REGION`` and
``AWS_DEFAULT_REGION``, and for emulators dummy credentials (``test``/``test``); and
``NO_PROXY``/``no_proxy`` name this machine (kept with what they listed), so a learner behind a
proxy still reaches the local servers.
The names labkit set are remembered in ``LABKIT_MANAGED_ENV``, so switching
to real AWS in the same kernel removes them again. In classroom mode
(``LABKIT_CLASSROOM_URL`` set, see ``labkit.classroom``) the embedded backend is
the instructor's server and the credentials are the learner's own key.

On an emulator it fails closed: before it asks the backend anything, every service's endpoint is a
closed port on 127.0.0.1 and the credentials are dummies, so a cell run after a failed connect()
cannot reach AWS with the caller's keys; the caller's own per-service endpoints are dropped, and
the kernel reads no AWS config or credentials file (a profile there could turn the endpoints off).
It fails closed the same way when no backend could be chosen (an unknown name, a region AWS does
not have) and when real AWS was refused (no ``LABKIT_ALLOW_REAL_AWS``): the kernel is then left
with no usable keys until a connect() succeeds (keys from the environment come back only with a new kernel).
"""

from __future__ import annotations

import html
import os
import sys
from dataclasses import dataclass, field

import boto3
import botocore.exceptions

from labkit import backends, config, session
from labkit.backends import aws, proxies
from labkit.backends.base import DUMMY_CREDENTIALS, Route
from labkit.backends.services import moto_endpoint_envs
from labkit.course.checks import UNAVAILABLE_PREFIX

__all__ = ["DUMMY_CREDENTIALS", "MANAGED", "Lab", "Route", "connect"]

MANAGED = "LABKIT_MANAGED_ENV"
# Settings that would send an emulator session's requests or credentials elsewhere.
_CONFLICTING = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
# Where an emulator kernel's SDK goes until its backend answers: nothing listens on port 9 (discard)
# of this machine, so a call fails at once instead of reaching AWS with the caller's keys.
CLOSED_ENDPOINT = "http://127.0.0.1:9"
# An emulator kernel reads no AWS config or credentials file: a profile there could name real keys,
# a credential process, an SSO login, or ``ignore_configured_endpoint_urls = true``, which would send
# the lessons' calls to AWS although the endpoints point here.
_NO_FILES = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}


@dataclass
class Lab:
    """What ``connect()`` set up; shown as the banner."""

    backend: str
    region: str
    routes: list[Route]
    lesson: str | None = None
    account: str | None = None  # masked, real AWS only
    principal: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def is_emulator(self) -> bool:
        return backends.get(self.backend).emulator

    @property
    def tags(self) -> list[dict[str, str]]:
        """Tags for everything a lesson creates (the form most create calls take)."""
        return [{"Key": aws.TAG_KEY, "Value": self.lesson or "unnamed"}]

    @property
    def tag_dict(self) -> dict[str, str]:
        """The same tags as a plain mapping (for S3 buckets, Lambda, SQS and others that take one)."""
        return {t["Key"]: t["Value"] for t in self.tags}

    def unavailable(self, what: str, instead: str = "") -> None:
        """Say, in the one standard sentence, that this backend lacks something the lesson shows."""
        print(f"{UNAVAILABLE_PREFIX} {what}" + (f"; {instead}" if instead else ""))

    def add_tags(self, what: str, call, /, **kwargs) -> bool:
        """Tag with a call of its own, for resources whose create call takes no tags (Glacier vaults,
        CloudWatch dashboards), so ``labkit cleanup`` finds them on AWS. A backend that cannot tag
        them gets the standard sentence, and cleanup falls back to the lesson's name for them.
        """
        try:
            call(**kwargs)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
            self.unavailable(f"tags on {what}", "labkit cleanup finds them by their labkit-NN- name instead")
            return False
        return True

    def _lines(self) -> list[str]:
        head = f"labkit · backend {self.backend} · region {self.region}"
        if self.lesson:
            head += f" · lesson {self.lesson}"
        lines = [head]
        width = max(len(r.server) for r in self.routes)
        for r in self.routes:
            lines.append(f"  {r.server:<{width}}  {r.endpoint}  {', '.join(r.services)}")
        if self.account:
            lines.append(f"  account {self.account} as {self.principal}")
        lines += [f"  {note}" for note in self.notes]
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines())

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = "#b00020" if not self.is_emulator else "#1b5e20"
        rows = "".join(
            f"<tr><td>{html.escape(r.server)}</td><td><code>{html.escape(r.endpoint)}</code></td>"
            f"<td>{html.escape(', '.join(r.services))}</td></tr>"
            for r in self.routes
        )
        account = (
            f"<div>account <b>{html.escape(self.account)}</b> as {html.escape(self.principal or '')}</div>"
            if self.account
            else ""
        )
        notes = "".join(f"<div>{html.escape(n)}</div>" for n in self.notes)
        return (
            f'<div style="border-left:4px solid {colour};padding:4px 10px">'
            f"<b>labkit</b> · backend <b>{html.escape(self.backend)}</b> · region <b>{html.escape(self.region)}</b>"
            + (f" · lesson {html.escape(self.lesson)}" if self.lesson else "")
            + f"<table><tr><th>served by</th><th>endpoint</th><th>services</th></tr>{rows}</table>"
            f"{account}{notes}</div>"
        )


def _apply_env(values: dict[str, str], emulator: bool) -> None:
    """Set the SDK settings for this backend and forget the ones a previous connect() set."""
    for name in os.environ.get(MANAGED, "").split(","):
        if name and name not in values:
            os.environ.pop(name, None)
    if emulator:  # and no endpoint of the caller's own for one service (it would beat AWS_ENDPOINT_URL)
        for name in [*_CONFLICTING, *(n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_") and n not in values)]:
            os.environ.pop(name, None)
    os.environ.update(values)
    os.environ[MANAGED] = ",".join(sorted(values))
    # boto3's default session caches the credentials and region it first read; drop it, so the
    # next boto3.client(...) reads the settings just made (e.g. after switching backends).
    boto3.DEFAULT_SESSION = None


def _fail_closed(region: str) -> dict[str, str]:
    """The settings an emulator kernel has before its backend answers: every service at a closed port."""
    env = {"AWS_ENDPOINT_URL": CLOSED_ENDPOINT, **{name: CLOSED_ENDPOINT for name in moto_endpoint_envs()}}
    return {**env, **DUMMY_CREDENTIALS, **_NO_FILES, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}


def connect(
    backend: str | None = None,
    *,
    lesson: str | None = None,
    allow_real_aws: bool = False,
    show: bool = True,
) -> Lab:
    """Start or join the backend, point boto3 at it, and show a banner.

    ``backend``: ``embedded`` (default), ``localstack`` or ``aws``; see
    ``labkit.config`` for the full order of precedence. ``lesson`` names the
    ``labkit:lesson`` tag put on what the lesson creates. Real AWS needs
    ``allow_real_aws=True`` or ``LABKIT_ALLOW_REAL_AWS=1``.
    """
    try:
        chosen = backends.get(backend)
        region = config.region()
    except Exception:  # no backend chosen (an unknown name, a bad region): the next cell reaches no AWS either
        _apply_env(_fail_closed(config.DEFAULT_REGION), emulator=True)
        raise
    os.environ.update(proxies.no_proxy_env())  # calls to this machine never go through a proxy (backends/proxies.py)
    if chosen.emulator:  # fail closed: if anything below fails, this kernel's SDK still cannot reach AWS
        _apply_env(_fail_closed(region), emulator=True)
    try:
        joined = chosen.connect(allow_real_aws=allow_real_aws, lesson=lesson)
    except Exception:
        if not chosen.emulator:  # real AWS refused (the guard): the caller's keys stay out of this kernel's SDK
            _apply_env(_fail_closed(region), emulator=True)
        raise
    region = joined.region or region
    extra = _NO_FILES if chosen.emulator else {}
    _apply_env({**joined.env, **extra, "AWS_REGION": region, "AWS_DEFAULT_REGION": region}, emulator=chosen.emulator)
    who = chosen.identify(region)  # after the settings: it asks the backend just set
    # Which run of the backend this is, and this kernel's pid: so a later restart is named as such
    # (labkit.session), in the lesson's workers and in a cell's failed boto3 call, and `labkit down` warns.
    restarted = session.record(chosen.name, lesson, account=who.account if who else "")
    session.install_ipython_hook()
    lab = Lab(
        chosen.name,
        region,
        joined.routes,
        lesson=lesson,
        account=who.account if who else None,
        principal=who.principal if who else None,
        notes=[*joined.notes, *([restarted] if restarted else [])],
    )
    _show(lab, show)
    return lab


def _show(lab: Lab, show: bool) -> None:
    if not show:
        return
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython else None
    if shell is not None:
        from IPython.display import display

        display(lab)
    else:
        print(lab)
