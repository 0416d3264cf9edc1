"""A second MiniStack that enforces IAM, for lesson 11 (who may do what).

On AWS every API call is signed and checked against IAM. The shared embedded
MiniStack accepts any well-formed credentials (so lessons can use dummy ones);
it checks policies only when started with ``AUTH=true``. This module starts a
dedicated MiniStack with ``AUTH=true`` on a free port of 127.0.0.1, for one
lesson, and stops it afterwards::

    with EnforcingServer() as server:
        iam = boto3.client("iam", endpoint_url=server.url)   # the root ("test") credentials: admin
        ...

or ``server = EnforcingServer().start()`` ... ``server.stop()`` (idempotent).
Nothing is left running: the server runs in its own process group, stopped with
SIGTERM (then SIGKILL), an ``atexit`` hook stops it if the kernel exits first, and on Linux
the server is also told to stop when the process that started it dies (a killed kernel).

On the enforcing server the dummy root key ``test`` (or a 12-digit account id) is
the account root, allowed everything; an IAM user's keys are checked: the
request's SigV4 signature against the user's secret, then the user's policies.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from labkit.backends import servers

START_TIMEOUT = 20.0
HEALTH_PATH = "/_ministack/health"


class EnforcingServer:
    """A MiniStack with ``AUTH=true`` (IAM policies enforced), bound to 127.0.0.1 only."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    # --- lifecycle ------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> EnforcingServer:
        if self.running:
            return self
        python = servers.server_python()
        self.port = self.port or servers.free_port()
        self._workdir = Path(tempfile.mkdtemp(prefix="labkit-iam-"))
        log = self._workdir / "ministack.log"
        # Like the shared server: no learner endpoints or credentials leak in (the root key stays `test`);
        # and it dies with the process that started it (a killed kernel).
        self.process = servers.spawn(
            [str(python.parent / "ministack")],
            servers.ministack_env(servers.LOOPBACK, self.port, AUTH="true"),
            log,
            self._workdir,
            with_parent=True,
        )
        atexit.register(self.stop)
        servers.wait_until_answering(
            [servers.Starting("ministack", self.process, log, lambda t: self.health(timeout=t) is not None)],
            START_TIMEOUT,
            exited=lambda s: (
                f"the enforcing MiniStack exited while starting: {servers.last_line(s.log) or 'no output'}"
            ),
            late=lambda _: f"the enforcing MiniStack did not answer within {START_TIMEOUT:.0f} s",
            stop=self.stop,
            interval=0.05,
        )
        return self

    def health(self, timeout: float = 1.0) -> dict[str, Any] | None:
        """MiniStack's health document (it says ``"auth": "enabled"`` here), or None if it does not answer."""
        return servers.health_document(self.url + HEALTH_PATH, timeout)

    def healthy(self) -> bool:
        return self.running and self.health(timeout=0.5) is not None

    @property
    def enforcing(self) -> bool:
        """True when the server reports that IAM authorisation is on."""
        doc = self.health() or {}
        return doc.get("auth") == "enabled"

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the server and its process group (workers too). Returns True if it was running."""
        was_running = self.running
        proc = self.process
        if proc is not None:
            record = servers.Server("enforcing MiniStack", proc.pid, self.port, "")
            servers.terminate([record], lambda _: proc.poll() is None, timeout, sweep=True, sweep_exited=True)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        return was_running

    def __enter__(self) -> EnforcingServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "enforcing IAM" if self.running else "stopped"
        return f"<EnforcingServer 127.0.0.1:{self.port} {state}>"

    def __str__(self) -> str:
        if not self.running:
            return "enforcing MiniStack: stopped"
        return f"enforcing MiniStack on 127.0.0.1:{self.port} (AUTH=true: every call checked against IAM)"


def start_for(lab: Any) -> EnforcingServer | None:
    """The enforcing server for this backend: a new one on an emulator, None on real AWS (AWS enforces itself)."""
    if not lab.is_emulator:
        return None
    return EnforcingServer().start()
