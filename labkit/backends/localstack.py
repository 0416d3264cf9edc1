"""The LocalStack backend: a container started with ``docker compose up -d``.

labkit never starts LocalStack itself; it checks that it answers at
``LABKIT_LOCALSTACK_URL`` (default http://127.0.0.1:4566) and, when it does
not, looks at the container to say why: not started, or exited with code 55,
which is how LocalStack images newer than 4.14 refuse to start without
``LOCALSTACK_AUTH_TOKEN``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request

from labkit import config
from labkit.errors import BackendNotRunning, LocalStackAuthRequired

CONTAINER = "labkit-localstack"
AUTH_EXIT_CODE = 55


def health(url: str | None = None, timeout: float = 2.0) -> dict | None:
    """LocalStack's /_localstack/health document, or None if nothing answers."""
    url = url or config.localstack_url()
    try:
        with urllib.request.urlopen(url + "/_localstack/health", timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


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


def require_running() -> dict:
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
