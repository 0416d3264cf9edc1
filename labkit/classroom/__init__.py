"""Classroom mode: one embedded backend for a whole room, each learner in an account of their own.

The instructor runs ``labkit classroom up --bind <address> --learners 30``. That starts MiniStack
and a moto server (the same pinned servers as the embedded backend, from ``.venv-server``) on the
chosen address, writes a roster with one random 12-digit access key id (and a secret) per learner,
and ``labkit classroom key <learner>`` prints the settings that learner loads before ``make lab``.

How learners are kept apart:

- MiniStack takes a 12-digit access key id as the account and scopes all its state by account
  (and region), so each learner's key is their own account there.
- moto 5.2.5 on its own maps every unknown access key to one default account (123456789012),
  so a plain moto server would be shared by the room. The classroom's moto runs behind a small WSGI
  wrapper that copies a 12-digit access key id into moto's ``x-moto-account-id`` request header,
  which moto honours as the account: EC2, VPC, EBS, Auto Scaling, Elastic Beanstalk and Glacier
  are per learner too (tests/unit/test_classroom.py checks both servers).

Both servers run through a short launcher (``server.py`` in this package, run by path with the
servers' own Python) that adds one admin call, ``POST
/_labkit/classroom/reset?account=<id>``: it drops that account's state from the server's per-account
stores (MiniStack's account-scoped dicts, moto's per-account backends) and leaves every other
account alone; ``labkit classroom reset <learner>`` calls it on both servers. Admin calls, and the
servers' own whole-server admin pages (``/_ministack/*`` except health, ``/moto-api/*``), need the
instructor's token (kept in the state file, mode 0600), so a learner cannot wipe the room.

Both servers check every request's signature against the roster's secret (``signatures.py``), so
the key id alone is no longer an identity; learners' Lambda handlers run in a bubblewrap sandbox
(``sandbox.py``) that sees neither the roster nor the token; the token reaches the servers through a
pipe. What that protects against and what not: docs/instructors.md.

A learner's kernel reaches the room through ``labkit.connect()``: when ``LABKIT_CLASSROOM_URL`` is
set, the embedded backend joins that server with the learner's key instead of starting local
servers (``labkit.backends.classroom_join``: the embedded backend object calls it).

The package: ``roster`` (learners, keys, the roster file), ``room`` (the servers' state, up/down,
one learner's reset, health), ``learner`` (a learner's settings and env file, acting as a learner),
``server`` (the launcher), and, loaded by path by the launcher in the servers' Python,
``signatures`` (the SigV4 check) and ``sandbox`` (bubblewrap around MiniStack's subprocesses).
Nothing here imports ``labkit.course.progress``: ``labkit classroom progress`` runs the checks
itself, inside ``as_learner``.
"""

from __future__ import annotations

from labkit.classroom.learner import (
    ENV_KEY,
    ENV_LEARNER,
    ENV_MOTO_URL,
    ENV_SECRET,
    ENV_URL,
    as_learner,
    env_file,
    learner_env,
    learner_session,
    local_settings,
    reported_records,
    settings,
    summary,
    write_env_file,
)
from labkit.classroom.room import (
    DEFAULT_MOTO_PORT,
    DEFAULT_PORT,
    MARKER,
    RESET_PATH,
    TOKEN_HEADER,
    Room,
    RoomServer,
    answers,
    check_bind,
    down,
    guess_lan_address,
    healthy,
    is_alive,
    memory_mb,
    read_room,
    require_room,
    reset_learner,
    up,
)
from labkit.classroom.roster import (
    Learner,
    ensure_roster,
    find_learner,
    folder,
    learner_names,
    new_key,
    read_roster,
    roster_path,
)
from labkit.errors import ClassroomError

__all__ = [
    "DEFAULT_MOTO_PORT",
    "DEFAULT_PORT",
    "ENV_KEY",
    "ENV_LEARNER",
    "ENV_MOTO_URL",
    "ENV_SECRET",
    "ENV_URL",
    "MARKER",
    "RESET_PATH",
    "TOKEN_HEADER",
    "ClassroomError",
    "Learner",
    "Room",
    "RoomServer",
    "answers",
    "as_learner",
    "check_bind",
    "down",
    "ensure_roster",
    "env_file",
    "find_learner",
    "folder",
    "guess_lan_address",
    "healthy",
    "is_alive",
    "learner_env",
    "learner_names",
    "learner_session",
    "local_settings",
    "memory_mb",
    "new_key",
    "read_room",
    "read_roster",
    "reported_records",
    "require_room",
    "reset_learner",
    "roster_path",
    "settings",
    "summary",
    "up",
    "write_env_file",
]
