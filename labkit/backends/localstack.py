"""The LocalStack backend: a container started with ``docker compose up -d``.

labkit never starts LocalStack itself; it checks that it answers at
``LABKIT_LOCALSTACK_URL`` (default http://127.0.0.1:4566) and, when it does
not, looks at the container to say why: not started, or exited with code 55,
which is how LocalStack images newer than 4.14 refuse to start without
``LOCALSTACK_AUTH_TOKEN``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
from typing import Any

from labkit import config
from labkit.backends import proxies
from labkit.backends.base import DUMMY_CREDENTIALS, Check, Connection, Emulator, Route, Run, StatusReport
from labkit.backends.services import SERVICES
from labkit.errors import BackendNotRunning, LocalStackAuthRequired

CONTAINER = "labkit-localstack"
AUTH_EXIT_CODE = 55


def _document(path: str, url: str | None, timeout: float) -> dict[str, Any] | None:
    url = url or config.localstack_url()
    try:
        with proxies.urlopen(url + path, timeout=timeout) as response:
            doc: dict[str, Any] = json.loads(response.read())
            return doc
    except (urllib.error.URLError, OSError, ValueError):
        return None


def health(url: str | None = None, timeout: float = 2.0) -> dict[str, Any] | None:
    """LocalStack's /_localstack/health document, or None if nothing answers."""
    return _document("/_localstack/health", url, timeout)


def info(url: str | None = None, timeout: float = 2.0) -> dict[str, Any] | None:
    """LocalStack's /_localstack/info document (version, ``session_id`` of this start, uptime), or None."""
    return _document("/_localstack/info", url, timeout)


def container_exit_code() -> int | None:
    """Exit code of the stopped labkit-localstack container, if Docker can tell."""
    if shutil.which("docker") is None:
        return None
    try:
        out = subprocess.run(
            ["docker", "inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", CONTAINER],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    running, _, code = out.stdout.strip().partition(" ")
    if out.returncode != 0 or running != "false" or not code.isdigit():
        return None
    return int(code)


def require_running() -> dict[str, Any]:
    """LocalStack's health document, or an error that says how to start it."""
    url = config.localstack_url()
    doc = health(url)
    if doc is not None:
        return doc
    if container_exit_code() == AUTH_EXIT_CODE:
        raise LocalStackAuthRequired(
            "LocalStack exited asking for an auth token (images newer than 4.14 need one): "
            "set LOCALSTACK_AUTH_TOKEN, or use LOCALSTACK_IMAGE=localstack/localstack:4.14, "
            "then `docker compose up -d`"
        )
    raise BackendNotRunning(
        f"LocalStack is not answering at {url}: start it with `docker compose up -d` "
        "(needs a Docker engine), or use the default backend: LABKIT_BACKEND=embedded"
    )


def endpoints(url: str | None = None) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": url or config.localstack_url()}


class LocalStack(Emulator):
    """LocalStack in Docker; labkit checks it answers and never starts or stops it."""

    name = "localstack"
    lambda_failed_hint = (
        "LocalStack runs Lambda handlers in Docker containers: start it with docker compose (which mounts "
        "/var/run/docker.sock), or use the embedded backend (LABKIT_BACKEND=embedded), which runs them without Docker"
    )

    def connect(self, *, allow_real_aws: bool = False, lesson: str | None = None) -> Connection:
        doc = require_running()
        return Connection(
            {**endpoints(), **DUMMY_CREDENTIALS},
            [Route(f"LocalStack {doc.get('version', '?')}", config.localstack_url(), ("every service",))],
            ["dummy credentials; LocalStack's community edition lacks some services (labkit status lists them)"],
        )

    def up(self, *, allow_real_aws: bool = False) -> list[str]:
        doc = require_running()
        return [f"LocalStack {doc.get('version', '?')} is answering at {config.localstack_url()}"]

    def sdk_env(self) -> dict[str, str]:
        require_running()
        return {**endpoints(), **DUMMY_CREDENTIALS}

    def status(self, *, allow_real_aws: bool = False) -> StatusReport:
        doc = require_running()
        lines = [f"  LocalStack {doc.get('version', '?')} at {config.localstack_url()}"]
        services = doc.get("services", {})
        lines += [f"    {s.name:<18} {services.get(s.client, 'not in this edition')}" for s in SERVICES]
        return StatusReport(lines)

    def run(self) -> Run | None:
        """This start of LocalStack: its ``session_id`` (new at every start of the container), "" when it does not
        answer; None when it answers without one (labkit cannot tell a restart then)."""
        doc = info()
        if doc is None:
            return Run("")
        session = doc.get("session_id")
        return Run(str(session)) if session else None

    def down(self) -> list[str]:
        if config.resolve_backend(None) == self.name or health(timeout=0.3) is not None:
            return ["LocalStack is yours to stop: docker compose down"]
        return []

    def doctor(self) -> list[Check]:
        checks: list[Check] = []
        if shutil.which("docker") is None:
            checks.append((None, "no docker command: the localstack backend needs Docker (the embedded one does not)"))
        else:
            engine = subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
            checks.append(
                (
                    None,
                    "Docker engine running"
                    if engine
                    else "docker CLI found but no engine: LocalStack cannot start here",
                )
            )
        image = os.environ.get("LOCALSTACK_IMAGE", "localstack/localstack:4.14")
        token = bool(os.environ.get("LOCALSTACK_AUTH_TOKEN"))
        if image.endswith(":4.14") or token:
            checks.append(
                (None, f"LocalStack image {image}" + (", auth token set" if token else ", no auth token needed"))
            )
        else:
            checks.append(
                (False, f"LocalStack image {image} needs LOCALSTACK_AUTH_TOKEN: set it, or unset LOCALSTACK_IMAGE")
            )
        answering = health(timeout=0.5) is not None
        checks.append(
            (
                None,
                f"LocalStack answering at {config.localstack_url()}"
                if answering
                else "LocalStack not running (fine unless you chose it)",
            )
        )
        return checks
