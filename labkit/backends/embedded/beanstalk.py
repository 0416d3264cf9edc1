"""Elastic Beanstalk environments that serve: each one runs its application version as a local process.

Loaded by path in the moto server's process (``beanstalk_hooks.py`` uses it; standard library, boto3 and
waitress from the servers' Python), and imported by labkit (``lifecycle.py``) for ``sweep()``.

On AWS a web-server environment on the Python platform downloads the version's source bundle (a ZIP in S3)
to its EC2 instances and runs the WSGI callable ``application`` of the module ``application.py`` with
Gunicorn behind nginx (https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/create-deploy-python-container.html,
.../python-configuration-procfile.html). Here one environment is one process group, started by the instance
runner's own ``spawn_group`` (``instances.py``, so ``labkit down``/``reset`` and the test session's check know
it by its marker):

- the bundle is read from S3 through the backend (boto3, the endpoints an instance gets), unzipped into
  ``$LABKIT_HOME/beanstalk/<env-id>/version-<n>/`` and must hold ``application.py`` at its top level (a bundle
  must not have a parent folder: https://docs.aws.amazon.com/elasticbeanstalk/latest/dg/applications-sourcebundle.html);
- ``waitress`` serves ``application:application`` on 127.0.0.1 at the environment's port, which stays the same
  for the environment's life, so a new version answers at the same address (the old process ends first, as in
  an "all at once" deployment, briefly out of service);
- the deployment succeeds once the port answers; it fails, with the reason, if the bundle cannot be read or has
  no ``application.py`` (what served before goes on serving), or the new process exits (an app that raises
  on import: waitress prints the traceback to ``app.log`` and exits), or nothing answers within ``START_S``.

Why waitress and not Gunicorn (AWS's default): both are well kept; waitress is pure Python with no
dependencies, binds one given host and port, and its command line exits with the import error, which is what
the environment's events report. Gunicorn's master/worker model adds nothing for one local process.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import shutil
import socket
import sys
import threading
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

START_S = 20.0  # a version that does not answer by then has failed
HOST = "127.0.0.1"


def _instances() -> ModuleType:
    """``instances.py``: labkit's module where labkit is importable, else the copy ``instance_hooks`` loaded."""
    if __package__:
        return importlib.import_module(f"{__package__}.instances")
    return sys.modules["labkit_instances"]


def beanstalk_dir(home: Path) -> Path:  # <env-id>/environment.json, app.log, version-<n>/
    return home / "beanstalk"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=0.2):
        return True
    return False


class DeployFailed(Exception):
    """Why a version does not serve: one line for the environment's events."""


def unpack(bundle: bytes, into: Path) -> None:
    """The source bundle, unzipped into ``into``; ``DeployFailed`` if it is not a ZIP or has no application.py."""
    try:
        with zipfile.ZipFile(io.BytesIO(bundle)) as archive:
            archive.extractall(into)  # zipfile drops absolute paths and ".." parts
    except zipfile.BadZipFile:
        raise DeployFailed("the source bundle is not a ZIP file") from None
    if (into / "application.py").is_file():
        return
    inner = [p for p in into.iterdir() if p.is_dir() and (p / "application.py").is_file()]
    if inner:
        raise DeployFailed(
            f"application.py is inside the folder {inner[0].name}/: zip the files themselves, not their folder"
        )
    raise DeployFailed("the source bundle has no application.py at its top level (the Python platform runs it)")


class Apps:
    """The serving environments of one moto process: deploy a version, stop, end all."""

    def __init__(self, home: Path, env: Mapping[str, str], credentials: Mapping[str, str], python: str) -> None:
        self.home = home
        self.env = dict(env)  # the SDK settings an instance gets: the app can call the backend too
        self.credentials = dict(credentials)
        self.python = python
        self.pids: dict[str, int] = {}
        self.ports: dict[str, int] = {}
        self.deploys: dict[str, int] = {}
        self.lock = threading.RLock()

    def dir(self, env_id: str) -> Path:
        return beanstalk_dir(self.home) / env_id

    def port(self, env_id: str) -> int:
        with self.lock:
            return self.ports.setdefault(env_id, free_port())

    def _s3(self) -> Any:
        """An S3 client of the backend (boto3 of the servers' Python), as an instance would make one."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.env.get("AWS_ENDPOINT_URL_S3") or self.env.get("AWS_ENDPOINT_URL"),
            region_name=self.env.get("AWS_DEFAULT_REGION", "us-east-1"),
            aws_access_key_id=self.credentials.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=self.credentials.get("AWS_SECRET_ACCESS_KEY"),
        )

    def delete_bundle(self, bucket: str, key: str) -> None:
        """``DeleteApplicationVersion(DeleteSourceBundle=True)``: the bundle goes from S3 (a missing one is fine)."""
        import botocore.exceptions

        with contextlib.suppress(botocore.exceptions.ClientError):
            self._s3().delete_object(Bucket=bucket, Key=key)

    def fetch(self, bucket: str, key: str) -> bytes:
        import botocore.exceptions

        try:
            return bytes(self._s3().get_object(Bucket=bucket, Key=key)["Body"].read())
        except botocore.exceptions.ClientError as err:
            raise DeployFailed(
                f"cannot read the source bundle s3://{bucket}/{key}: {err.response['Error']['Code']}"
            ) from None
        except botocore.exceptions.BotoCoreError as err:
            raise DeployFailed(f"cannot read the source bundle s3://{bucket}/{key}: {err}") from None

    def deploy(self, env_id: str, bucket: str, key: str) -> str:
        """Serve the bundle at ``s3://bucket/key`` (blocking until it answers); returns what serves it, or raises
        ``DeployFailed``. A bundle that cannot be read or unpacked leaves what served before as it was;
        otherwise that ends first, and an app that then fails to start leaves nothing serving."""
        with self.lock:
            bundle = self.fetch(bucket, key)
            self.deploys[env_id] = number = self.deploys.get(env_id, 0) + 1
            folder = self.dir(env_id) / f"version-{number}"
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            try:
                unpack(bundle, folder)
            except DeployFailed:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            self.stop(env_id)
            for old in self.dir(env_id).glob("version-*"):
                if old != folder:
                    shutil.rmtree(old, ignore_errors=True)
            port = self.port(env_id)
            log = self.dir(env_id) / "app.log"
            start = log.stat().st_size if log.exists() else 0
            argv = [self.python, "-m", "waitress", f"--host={HOST}", f"--port={port}", "application:application"]
            env = {**self.env, "PYTHONPATH": str(folder), "HOME": str(folder), "PORT": str(port)}
            process = _instances().spawn_group(argv, folder, env, log, self.dir(env_id))
            self.pids[env_id] = process.pid
            self._save(env_id)
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if answers(port):
                return f"a process (pid {process.pid}) serves it at http://{HOST}:{port}/"
            if process.poll() is not None:
                with self.lock:
                    self.pids.pop(env_id, None)
                    self._save(env_id)
                raise DeployFailed(f"the application did not start: {_last_error(log, start)}")
            time.sleep(0.05)
        self.stop(env_id)
        raise DeployFailed(f"the application did not answer on port {port} within {START_S:.0f} s")

    def stop(self, env_id: str) -> bool:
        """End what serves the environment (its folder stays). True if something ran."""
        with self.lock:
            pid = self.pids.pop(env_id, None)
            ended = bool(pid) and _instances().end_group(pid, self.dir(env_id))
            if self.dir(env_id).exists():
                self._save(env_id)
            return ended

    def terminate(self, env_id: str) -> None:
        with self.lock:
            self.stop(env_id)
            self.ports.pop(env_id, None)
            shutil.rmtree(self.dir(env_id), ignore_errors=True)

    def end_all(self) -> None:
        with self.lock:
            for env_id in list(self.pids):
                self.terminate(env_id)
            sweep(self.home)
            self.ports.clear()

    def _save(self, env_id: str) -> None:
        path = self.dir(env_id) / "environment.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"environment_id": env_id, "pid": self.pids.get(env_id), "port": self.ports.get(env_id)}
        path.write_text(json.dumps(record))


def _last_error(log: Path, start: int) -> str:
    """The last line of what this start printed (the exception, for an app that raises on import)."""
    with contextlib.suppress(OSError):
        lines = [line.strip() for line in log.read_bytes()[start:].decode(errors="replace").splitlines()]
        lines = [line for line in lines if line]
        if lines:
            return lines[-1][:300] + f" (see {log.name})"
    return "it exited without a word"


def sweep(home: Path, *, remove: bool = True) -> list[str]:
    """End every recorded environment's process (``labkit down``/``reset``, a SIGKILLed moto's leftovers);
    with ``remove``, delete their folders too. Returns the environment ids that had a process."""
    ended = []
    for path in sorted(beanstalk_dir(home).glob("*/environment.json")):
        with contextlib.suppress(OSError, ValueError, TypeError):
            pid = json.loads(path.read_text()).get("pid")
            if pid and _instances().end_group(int(pid), path.parent, grace_s=0.5):
                ended.append(path.parent.name)
    if remove:
        shutil.rmtree(beanstalk_dir(home), ignore_errors=True)
    return ended


def serving(home: Path) -> list[dict[str, object]]:
    """The environments whose process is alive now (for ``labkit status``)."""
    found = []
    for path in sorted(beanstalk_dir(home).glob("*/environment.json")):
        with contextlib.suppress(OSError, ValueError, TypeError):
            record = json.loads(path.read_text())
            if record.get("pid") and _instances().group_alive(int(record["pid"]), path.parent):
                found.append(record)
    return found
