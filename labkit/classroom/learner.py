"""A learner's side of the classroom: their settings file, and the instructor acting as them.

``settings`` is what a learner loads before ``make lab`` (``labkit classroom key``); the embedded
backend reads it back on their machine (``labkit.backends.classroom_join``, re-exported here).
``as_learner`` is the instructor's kernel acting as one learner for a while (``labkit classroom
progress`` runs each learner's checks inside it).
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.config

from labkit import config
from labkit.backends.classroom_join import (
    ENV_KEY,
    ENV_LEARNER,
    ENV_MOTO_URL,
    ENV_ROOM_CHECK,
    ENV_SECRET,
    ENV_URL,
    Joined,
    learner_env,
)
from labkit.backends.services import MOTO_CLIENTS, moto_endpoint_envs
from labkit.classroom import reports
from labkit.classroom.room import Room
from labkit.classroom.roster import Learner, folder, write_private
from labkit.course import records

__all__ = [
    "ENV_KEY",
    "ENV_LEARNER",
    "ENV_MOTO_URL",
    "ENV_SECRET",
    "ENV_URL",
    "Joined",
    "as_learner",
    "env_file",
    "learner_env",
    "learner_session",
    "local_settings",
    "reported_records",
    "settings",
    "summary",
    "write_env_file",
]


def settings(room: Room, learner: Learner, region: str | None = None) -> dict[str, str]:
    """Every variable a learner sets: what labkit.connect() reads, and the same for the AWS CLI and boto3."""
    region = region or config.region()
    ministack, moto = room.learner_url(room.ministack), room.learner_url(room.moto)
    values = {
        "LABKIT_BACKEND": "embedded",
        ENV_URL: ministack,
        ENV_MOTO_URL: moto,
        ENV_KEY: learner.access_key_id,
        ENV_SECRET: learner.secret_access_key,
        ENV_LEARNER: learner.name,
        "AWS_ACCESS_KEY_ID": learner.access_key_id,
        "AWS_SECRET_ACCESS_KEY": learner.secret_access_key,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ENDPOINT_URL": ministack,
    }
    values.update({name: moto for name in moto_endpoint_envs()})
    return values


def local_settings(room: Room, learner: Learner, region: str | None = None) -> dict[str, str]:
    """``settings`` for a kernel on the instructor's own machine (JupyterHub, ``classroom progress``)."""
    values = settings(room, learner, region)
    ministack, moto = room.local_url(room.ministack), room.local_url(room.moto)
    values.update({ENV_URL: ministack, "AWS_ENDPOINT_URL": ministack, ENV_MOTO_URL: moto})
    values.update({name: moto for name in moto_endpoint_envs()})
    return values


def env_file(room: Room, learner: Learner) -> str:
    """The small file a learner gets: ``source <file>`` in the terminal they run ``make lab`` from."""
    lines = [
        f"# labkit classroom · learner {learner.name} · server {room.advertise}",
        "# In the labkit folder, in a terminal:  source <this file>  then  make lab",
        "# Keep it to yourself: the key is your own account on the room's server.",
        "unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN",
    ]
    lines += [f"export {k}={shlex.quote(v)}" for k, v in settings(room, learner).items()]
    return "\n".join(lines) + "\n"


def write_env_file(room: Room, learner: Learner, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private(path, env_file(room, learner))
    return path


def learner_session(
    room: Room, learner: Learner, region: str | None = None
) -> tuple[boto3.session.Session, Callable[[str], Any]]:
    """A boto3 session acting as this learner (the instructor's view of their account), and a
    ``client(name)`` of it that reaches the server answering that service."""

    session = boto3.session.Session(
        aws_access_key_id=learner.access_key_id,
        aws_secret_access_key=learner.secret_access_key,
        region_name=region or config.region(),
    )
    cfg = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=3, read_timeout=30)

    def client(name: str) -> Any:
        server = room.moto if name in MOTO_CLIENTS else room.ministack
        return session.client(name, endpoint_url=room.local_url(server), config=cfg)

    return session, client


def summary(room: Room, learner: Learner) -> dict[str, int | str]:
    """A few counts of what the learner has now (queues, buckets, tables, functions, instances)."""
    _, client = learner_session(room, learner)
    counts: dict[str, int | str] = {}
    calls: dict[str, Callable[[], int]] = {
        "queues": lambda: len(client("sqs").list_queues().get("QueueUrls", [])),
        "buckets": lambda: len(client("s3").list_buckets().get("Buckets", [])),
        "tables": lambda: len(client("dynamodb").list_tables().get("TableNames", [])),
        "functions": lambda: len(client("lambda").list_functions().get("Functions", [])),
        "instances": lambda: sum(
            len(r["Instances"])
            for r in client("ec2").describe_instances(
                Filters=[{"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]}]
            )["Reservations"]
        ),
    }
    for name, call in calls.items():
        try:
            counts[name] = call()
        except Exception as err:  # one service down must not hide the others
            counts[name] = f"? ({type(err).__name__})"
    return counts


@contextmanager
def as_learner(room: Room, learner: Learner) -> Iterator[None]:
    """This process acts as ``learner`` inside the block (their settings, their key as the default
    credentials); everything in the environment is as it was afterwards."""
    saved = dict(os.environ)
    try:
        os.environ.update(local_settings(room, learner))
        os.environ[ENV_ROOM_CHECK] = "1"  # a pass seen here is the room's own record, not a learner's report
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(name, None)
        boto3.DEFAULT_SESSION = None
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        boto3.DEFAULT_SESSION = None


def reported_records(roster: list[Learner]) -> list[records.Record]:
    """The passes learners' kernels reported to the room (``reports.py``), as ``reported`` records by name."""
    names = {learner.access_key_id: learner.name for learner in roster}
    found = []
    for doc in reports.read(str(folder())):
        name = names.get(str(doc["account"]))
        if name is not None:
            exercise, title, passed_at = str(doc["exercise"]), str(doc["title"]), float(doc["passed_at"])
            found.append(records.Record(exercise, title, passed_at, "embedded", config.region(), name, reported=True))
    return found
