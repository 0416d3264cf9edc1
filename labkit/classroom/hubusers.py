"""One OS user per learner for the room's JupyterHub (Linux, as root): ``labkit classroom hub-users``.

The hub (docs/jupyterhub/jupyterhub_config.py), run as root, starts each learner's JupyterLab as
that learner's own OS user with JupyterHub's ``LocalProcessSpawner``; this module makes and removes
those users from the roster, and checks before the hub starts that they can run the server.

- Hub name ``ana`` (JupyterHub lower-cases it) is OS user ``labkit-ana`` (``os_user``), so it cannot
  be a real account's name; a name that is not a plain user name gets a short hash instead.
- Each user is a regular user with a locked password (no password login), a group of their own and
  a home folder of mode 0700 holding their copy of ``notebooks/`` (with its student versions) and
  their kernel's ``LABKIT_HOME`` (``.labkit``). The comment field says ``labkit learner <name>``:
  only users with it are ever reused or removed, never an account someone else made.
- The instructor's files (``LABKIT_HOME/classroom``: roster, state and token) stay 0700 / 0600,
  so a learner's kernel or terminal cannot read them, nor another learner's home.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from labkit.classroom.roster import Learner
from labkit.errors import ClassroomError

PREFIX = "labkit-"
MARK = "labkit learner"  # the comment (GECOS) field of every user made here
DEFAULT_BASE = Path("/home")
SHELL = "/bin/bash"  # JupyterLab's terminals
_PLAIN = re.compile(r"[a-z0-9][a-z0-9_-]{0,24}")  # with the prefix, within Linux's 32 characters

# Run as a learner's OS user before the hub starts: can they start the single-user server, and are
# the instructor's files closed to them? argv: the files that must stay unreadable.
_PROBE = """
import sys
import jupyterhub.singleuser, jupyterlab, labkit
for path in sys.argv[1:]:
    try:
        open(path, "rb").close()
    except PermissionError:
        continue
    except FileNotFoundError:
        continue
    print("READABLE " + path)
    sys.exit(3)
"""


def os_user(name: str) -> str:
    """The OS user of learner ``name`` (a roster or hub name, case ignored): ``labkit-ana``."""
    low = name.lower()
    if _PLAIN.fullmatch(low):
        return PREFIX + low
    safe = re.sub(r"[^a-z0-9_-]", "_", low)[:16]
    return f"{PREFIX}{safe}-{hashlib.sha256(low.encode()).hexdigest()[:8]}"


def account(name: str) -> pwd.struct_passwd | None:
    """Learner ``name``'s OS user if labkit made it; None if there is none; refused if it is someone else's."""
    user = os_user(name)
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    if not entry.pw_gecos.startswith(MARK):
        raise ClassroomError(
            f"OS user {user} exists and was not made by labkit: rename learner {name} on the roster "
            "(labkit never changes an account it did not make)"
        )
    return entry


def require_root() -> None:
    if not sys.platform.startswith("linux"):
        raise ClassroomError("hub-users makes Linux users: run it on the Linux machine that runs the hub")
    if os.geteuid() != 0:
        raise ClassroomError("hub-users makes and removes OS users: run it as root (sudo .venv/bin/labkit ...)")
    missing = [tool for tool in ("useradd", "userdel") if shutil.which(tool) is None]
    if missing:
        raise ClassroomError(f"{' and '.join(missing)} not found: install the system's user tools (passwd)")


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip().splitlines()
        raise ClassroomError(f"{' '.join(cmd[:1] + cmd[-1:])} failed: {why[-1] if why else done.returncode}")


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.chown(root, uid, gid)
    for folder, dirs, files in os.walk(root):
        for item in dirs + files:
            os.chown(os.path.join(folder, item), uid, gid, follow_symlinks=False)


def _check_unique(roster: Iterable[Learner]) -> None:
    seen: dict[str, str] = {}
    for learner in roster:
        user = os_user(learner.name)
        if user in seen:
            raise ClassroomError(f"learners {seen[user]} and {learner.name} would both be OS user {user}: rename one")
        seen[user] = learner.name


def make_users(roster: list[Learner], notebooks: Path, base: Path = DEFAULT_BASE) -> tuple[list[str], list[str]]:
    """Make each learner's OS user and home (0700, their lessons in it); keep those already made. Idempotent.

    Returns (made, kept) OS user names. A learner's copy of the lessons is written once: their edits stay.
    """
    from labkit.course.student import write_student_versions

    require_root()
    _check_unique(roster)
    if not (notebooks / "00-start-here.ipynb").exists():
        raise ClassroomError(f"no lessons in {notebooks}: pass --notebooks <the labkit checkout>/notebooks")
    if not base.is_dir() or not base.stat().st_mode & 0o001:
        raise ClassroomError(f"{base} must be a folder every user can enter (mode 0755, like /home): pass --home-base")
    made, kept = [], []
    for learner in roster:
        user = os_user(learner.name)
        entry = account(learner.name)
        if entry is None:
            home = base / user
            comment = f"{MARK} {learner.name}"  # no --password: the account is locked, no password login
            _run(["useradd", "--comment", comment, "--home-dir", str(home), "--no-create-home", "--shell", SHELL,
                  "--user-group", user])  # fmt: skip
            entry = pwd.getpwnam(user)
            made.append(user)
        else:
            kept.append(user)
        home = Path(entry.pw_dir)
        home.mkdir(mode=0o700, exist_ok=True)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        home.chmod(0o700)  # also if it was there with wider rights
        (home / ".labkit").mkdir(mode=0o700, exist_ok=True)
        if not (home / "notebooks").exists():
            skip = shutil.ignore_patterns(".ipynb_checkpoints", "student")
            shutil.copytree(notebooks, home / "notebooks", ignore=skip)
            write_student_versions(notebooks, home / "notebooks" / "student")
        _chown_tree(home, entry.pw_uid, entry.pw_gid)
    return made, kept


def remove_users(roster: list[Learner]) -> list[str]:
    """Delete the roster's learners' OS users that labkit made, and their homes. Returns their names."""
    require_root()
    removed = []
    for learner in roster:
        entry = account(learner.name)
        if entry is None:
            continue
        try:
            _run(["userdel", entry.pw_name])
        except ClassroomError as err:
            raise ClassroomError(f"{err}; stop the hub (and {entry.pw_name}'s servers) first") from None
        home = Path(entry.pw_dir)
        if home.name == entry.pw_name and home.is_dir():  # only the home made for it
            shutil.rmtree(home)
        removed.append(entry.pw_name)
    return removed


def check_hub(roster: list[Learner], python: str, private: list[Path]) -> None:
    """Before the hub starts: every learner has their OS user, and one of them can run ``python`` with
    the single-user server but cannot read ``private`` (the roster, the room's state). One line if not."""
    if not roster:
        raise ClassroomError("the roster is empty: run `labkit classroom up --names ...` first")
    _check_unique(roster)
    missing = [os_user(learner.name) for learner in roster if account(learner.name) is None]
    if missing:
        raise ClassroomError(
            f"no OS user for {len(missing)} learner(s) ({', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''}):"
            " run `labkit classroom hub-users` as root first"
        )
    entries = [account(learner.name) for learner in roster]
    for home in entries:
        if home is not None and not (Path(home.pw_dir) / "notebooks").is_dir():
            raise ClassroomError(f"{home.pw_dir} has no notebooks: run `labkit classroom hub-users` as root again")
    entry = entries[0]
    assert entry is not None
    env = {"HOME": entry.pw_dir, "PATH": os.defpath, "LANG": "C.UTF-8"}
    cannot = (
        f"learner OS user {entry.pw_name} cannot run {python}: the labkit checkout, its .venv and the Python "
        "it was made from must be readable by every user (not under /root or another private home; "
        "docs/instructors.md)"
    )
    try:
        done = subprocess.run(
            [python, "-c", _PROBE, *map(str, private)],
            user=entry.pw_uid,
            group=entry.pw_gid,
            extra_groups=[],
            cwd=entry.pw_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except PermissionError:
        raise ClassroomError(cannot + " (permission denied)") from None
    if done.returncode == 3:
        raise ClassroomError(
            f"learner OS user {entry.pw_name} can read {done.stdout.split(' ', 1)[1].strip()}: "
            "keep LABKIT_HOME's classroom folder 0700 (labkit classroom up makes it so)"
        )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise ClassroomError(f"{cannot} ({last})")
