"""The classroom's roster: one learner per line, each with a random 12-digit key (their account).

The roster (``LABKIT_HOME/classroom/roster.csv``) and everything else in that folder is readable by
its owner only (0600 files in a 0700 folder): the keys are the learners' accounts on the room's server.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from labkit import config
from labkit.errors import ClassroomError

# Defaults the two servers use for a key that is not 12 digits: never hand these out.
_RESERVED = {"000000000000", "123456789012"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


# ----------------------------------------------------------------------------- files


def folder() -> Path:
    return config.home() / "classroom"


def roster_path() -> Path:
    return folder() / "roster.csv"


def private_folder() -> Path:
    path = folder()
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), whole or not at all: a temporary file in the same folder,
    synced, then renamed over the old one; on a failure (a full disk) the temporary file goes too."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)  # also if the file was already there with wider rights
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------- the roster


@dataclass(frozen=True)
class Learner:
    name: str
    access_key_id: str  # 12 digits: the learner's account on both servers
    secret_access_key: str  # both servers check each request's signature with it (signatures.py)


def new_key(taken: set[str]) -> str:
    """A random 12-digit access key id (from ``secrets``: not guessable from the others)."""
    while True:
        key = f"{secrets.randbelow(10**12):012d}"
        if key not in taken and key not in _RESERVED:
            return key


def read_roster() -> list[Learner]:
    try:
        with roster_path().open(newline="") as f:
            return [Learner(r["learner"], r["access_key_id"], r["secret_access_key"]) for r in csv.DictReader(f)]
    except FileNotFoundError:
        return []


def _write_roster(learners: list[Learner]) -> None:
    private_folder()
    lines = [["learner", "access_key_id", "secret_access_key"]]
    lines += [[x.name, x.access_key_id, x.secret_access_key] for x in learners]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    write_private(roster_path(), buffer.getvalue())


def learner_names(count: int | None = None, names: str | None = None) -> list[str]:
    """``--learners 30`` gives learner01..learner30; ``--names ana,ben`` gives those names."""
    if names:
        out = [n.strip() for n in names.split(",") if n.strip()]
        bad = [n for n in out if not _NAME.fullmatch(n)]
        if bad:
            raise ClassroomError(f"learner name {bad[0]!r} is not usable: use letters, digits, '.', '_' or '-'")
        if len({n.lower() for n in out}) != len(out):
            raise ClassroomError("--names lists a learner twice (names are compared ignoring case): give each one name")
        return out
    if count is None:
        return []
    if not 1 <= count <= 500:
        raise ClassroomError(f"--learners {count}: use 1 to 500")
    width = max(2, len(str(count)))
    return [f"learner{i:0{width}d}" for i in range(1, count + 1)]


def ensure_roster(names: list[str]) -> tuple[list[Learner], list[Learner]]:
    """Keep every learner already on the roster (their keys stay valid), add the missing ones.

    Returns (whole roster, the ones added now).
    """
    roster = read_roster()
    known = {x.name.lower() for x in roster}  # Ana and ana are one learner (JupyterHub lower-cases names)
    taken = {x.access_key_id for x in roster}
    added = []
    for name in names:
        if name.lower() in known:
            continue
        key = new_key(taken)
        taken.add(key)
        known.add(name.lower())
        added.append(Learner(name, key, secrets.token_urlsafe(30)))
    roster += added
    if added or not roster_path().exists():
        _write_roster(roster)
    return roster, added


def find_learner(name: str, roster: list[Learner] | None = None) -> Learner:
    roster = read_roster() if roster is None else roster
    for learner in roster:
        if learner.name.lower() == name.lower():  # as JupyterHub normalises a name: by case
            return learner
    if not roster:
        raise ClassroomError("there is no roster yet: start the room with `labkit classroom up --bind ...`")
    sample = ", ".join(x.name for x in roster[:3])
    raise ClassroomError(f"no learner {name!r} on the roster ({sample}, ...): see `labkit classroom status`")
