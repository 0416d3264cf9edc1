"""Learner code in a room runs in a bubblewrap sandbox. Loaded by path by ``server.py`` (servers' Python).

MiniStack runs each learner's Lambda handler as a subprocess of the room's MiniStack, on the
instructor's machine, as the instructor's OS user: unconfined, a handler could read the room's
state (its working directory), the roster with every learner's key, the server's
``/proc/<pid>/environ`` and memory, and other learners' code in the temp folder. In a room,
``install()`` makes every process MiniStack starts (its Lambda workers of every runtime, one-shot
invocations, Glue scripts: anything that goes through ``subprocess.Popen``) start inside
``bwrap`` (bubblewrap, the sandbox Flatpak uses; unprivileged user namespaces):

- its own user, PID, IPC and UTS namespaces: it sees no process of the host (not MiniStack's
  ``/proc``), runs as ``nobody`` (uid 65534) with no capabilities, and dies with MiniStack;
- a file system of its own: ``/usr`` (and ``/bin``, ``/lib``), the Python it runs on (the servers'
  environment, with boto3), a few files of ``/etc``, read-only; a fresh ``/tmp`` and ``/dev``; and
  read-only, only its own function's folder (code, layers). Not the home folder, not the room's
  state or roster, not another function's folder;
- an environment made for it: the function's variables and the Lambda runtime's, without the
  server's own settings (``HOME=/tmp``).

It keeps the network (it must call the room's MiniStack, as a handler calls AWS): it can reach
any port on the instructor's machine, as the learner's laptop can. The room's servers check each
request's signature and the admin calls need the instructor's token, which is not in any file or
environment the sandbox sees (``server.py`` reads it from a pipe). What it does not protect
against is said in docs/instructors.md.

Why bubblewrap, not our own code: a dedicated OS user needs root to create and a setuid helper to
switch to; a scrubbed environment and a private folder alone leave the same user's files and
``/proc`` readable; per-learner backends are the Kubernetes route (docs/jupyterhub/). This module
does not start a process itself: it rewrites the command MiniStack starts (``subprocess.Popen``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

NOBODY = 65534
KEEP = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")
ETC = (
    "hosts",
    "resolv.conf",
    "nsswitch.conf",
    "ssl",
    "ca-certificates",
    "localtime",
    "passwd",
    "group",
    "alternatives",
)
MISSING = "bubblewrap (bwrap) is not installed or cannot make a sandbox here"

_server_env: dict[str, str] = {}
_original_popen = subprocess.Popen


def bwrap() -> str | None:
    return shutil.which("bwrap")


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "sbin", "lib32", "libx32"):
        path = "/" + name
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for name in ETC:
        args += ["--ro-bind-try", "/etc/" + name, "/etc/" + name]
    # The Python the workers run on: the servers' environment and the interpreter it was made from.
    for prefix in dict.fromkeys((sys.prefix, sys.base_prefix, sys.exec_prefix)):
        if not prefix.startswith("/usr/"):
            args += ["--ro-bind", os.path.realpath(prefix), prefix]
    return args


def _own_folders(args: Sequence[str], cwd: str | None) -> list[str]:
    """The top-level folders of the temp directory that this command names (its function's folder)."""
    tmp = os.path.realpath(tempfile.gettempdir())
    found: list[str] = []
    for path in [cwd or "", *args]:
        if not isinstance(path, str) or not os.path.isabs(path):
            continue
        real = os.path.realpath(path)
        if real.startswith(tmp + os.sep):
            top = os.path.join(tmp, os.path.relpath(real, tmp).split(os.sep)[0])
            if top not in found:
                found.append(top)
    return found


def command(args: Sequence[str], cwd: str | None) -> list[str]:
    """``args`` as a bwrap command line (see the module docstring for what it sees)."""
    tool = bwrap()
    if tool is None:
        raise OSError(f"the room runs no learner code without its sandbox: {MISSING}")
    line = [tool, "--unshare-all", "--share-net", "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]
    line += ["--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    line += _system_binds()
    for folder in _own_folders(args, cwd):
        line += ["--ro-bind", folder, folder]
    if cwd:
        line += ["--chdir", cwd]
    return [*line, "--", *args]


def environment(env: Mapping[str, str] | None) -> dict[str, str]:
    """What the sandboxed process gets: what was set for it, not what the server itself runs with."""
    given = dict(os.environ if env is None else env)
    made = {k: v for k, v in given.items() if k in KEEP or _server_env.get(k) != v}
    made["HOME"] = "/tmp"
    return made


class SandboxedPopen(_original_popen):  # type: ignore[type-arg]
    """``subprocess.Popen`` for MiniStack's children: the same call, inside the sandbox."""

    def __init__(self, args: Any, *rest: Any, **kw: Any) -> None:
        if rest or kw.get("executable") or kw.get("pass_fds") or kw.get("preexec_fn"):
            raise OSError("the room's sandbox does not start this kind of process (positional or executable args)")
        if isinstance(args, (str, bytes)) or kw.pop("shell", False):
            args = ["/bin/sh", "-c", args if isinstance(args, str) else args.decode()]
        args = [os.fspath(a) for a in args]
        kw["env"] = environment(kw.get("env"))
        cwd = os.fspath(kw["cwd"]) if kw.get("cwd") is not None else None
        super().__init__(command(args, cwd), **kw)


def probe() -> str | None:
    """None if a sandbox starts here, else why not (one line)."""
    if bwrap() is None:
        return MISSING + " (Debian/Ubuntu: sudo apt-get install bubblewrap)"
    try:
        done = _original_popen(
            command([sys.executable, "-c", "import os; print(os.getuid())"], None),
            env=environment({}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = done.communicate(timeout=20)
    except (OSError, subprocess.TimeoutExpired) as failure:
        return f"{MISSING}: {failure}"
    if done.returncode != 0 or out.strip() != str(NOBODY).encode():
        reason = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        return f"{MISSING}: {reason[0]} (are unprivileged user namespaces allowed? see docs/instructors.md)"
    return None


def install() -> None:
    """From now on, every process this server starts runs in the sandbox."""
    _server_env.clear()
    _server_env.update(os.environ)
    subprocess.Popen = SandboxedPopen  # type: ignore[misc]
