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
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from labkit.backends.embedded import server_python
from labkit.errors import BackendFailedToStart

START_TIMEOUT = 20.0
HEALTH_PATH = "/_ministack/health"


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGTERM the server when the process that started it dies.

    So a kernel that is killed (not just shut down) leaves no enforcing server behind. Elsewhere it does nothing.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class EnforcingServer:
    """A MiniStack with ``AUTH=true`` (IAM policies enforced), bound to 127.0.0.1 only."""

    def __init__(self, port: int = 0) -> None:
        self.port = port
        self.process: subprocess.Popen | None = None
        self._workdir: Path | None = None
        self._log = None

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
        python = server_python()
        self.port = self.port or _free_port()
        self._workdir = Path(tempfile.mkdtemp(prefix="labkit-iam-"))
        log = self._workdir / "ministack.log"
        self._log = log.open("wb")
        env = {
            "GATEWAY_PORT": str(self.port),
            "BIND_HOST": "127.0.0.1",
            "AUTH": "true",
            "IOT_MTLS_ENABLED": "0",
            "SFTP_ENABLED": "0",
            "LOG_LEVEL": "WARNING",
        }
        # Like the shared server: no learner endpoints or credentials leak in (the root key stays `test`).
        base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABKIT_"))}
        self.process = subprocess.Popen(
            [str(python.parent / "ministack")],
            env={**base, **env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            cwd=self._workdir,
        )
        atexit.register(self.stop)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.healthy():
            if self.process.poll() is not None:
                detail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
                self.stop()
                raise BackendFailedToStart(f"the enforcing MiniStack exited while starting: {detail[0]}")
            if time.monotonic() > deadline:
                self.stop()
                raise BackendFailedToStart(f"the enforcing MiniStack did not answer within {START_TIMEOUT:.0f} s")
            time.sleep(0.05)
        return self

    def health(self, timeout: float = 1.0) -> dict | None:
        """MiniStack's health document (it says ``"auth": "enabled"`` here), or None if it does not answer."""
        import json

        try:
            with urllib.request.urlopen(self.url + HEALTH_PATH, timeout=timeout) as response:
                return json.loads(response.read() or b"{}")
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def healthy(self) -> bool:
        return self.running and self.health(timeout=0.5) is not None

    @property
    def enforcing(self) -> bool:
        """True when the server reports that IAM authorisation is on."""
        doc = self.health() or {}
        return doc.get("auth") == "enabled"

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the server and its process group. Returns True if it was running."""
        was_running = self.running
        proc = self.process
        if proc is not None:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=timeout)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)  # any worker left in the group
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)
        return was_running

    def __enter__(self) -> EnforcingServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "enforcing IAM" if self.running else "stopped"
        return f"<EnforcingServer 127.0.0.1:{self.port} {state}>"

    def __str__(self) -> str:
        if not self.running:
            return "enforcing MiniStack: stopped"
        return f"enforcing MiniStack on 127.0.0.1:{self.port} (AUTH=true: every call checked against IAM)"


def start_for(lab) -> EnforcingServer | None:
    """The enforcing server for this backend: a new one on an emulator, None on real AWS (AWS enforces itself)."""
    if not lab.is_emulator:
        return None
    return EnforcingServer().start()
