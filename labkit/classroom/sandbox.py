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

- a network of its own with nothing in it but the room's MiniStack: inside, a small relay
  (``RELAY``) listens on ``127.0.0.1:<the room's port>`` (where the handler's ``AWS_ENDPOINT_URL``
  points) and passes each connection through a Unix socket mounted into the sandbox to the
  gateway thread ``install`` starts in MiniStack, which connects to the room's MiniStack. So a
  handler reaches MiniStack (whose every request is signature-checked, and whose admin calls need
  the token it cannot read) and nothing else: not the instructor's other local services, not the
  room's network, not the internet (none of the lessons' handlers needs them).

What it does not protect against is said in docs/instructors.md.

Why bubblewrap, not our own code: a dedicated OS user needs root to create and a setuid helper to
switch to; a scrubbed environment and a private folder alone leave the same user's files and
``/proc`` readable; per-learner backends are the Kubernetes route (docs/jupyterhub/). This module
does not choose what to start: it rewrites the command MiniStack starts (``subprocess.Popen``) and
starts it from one long-lived thread (see ``_spawner``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
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
_gateway: dict[str, str] = {}  # "socket": the Unix socket's path outside, "port": the room's port
INSIDE_SOCKET = "/run/labkit/gateway.sock"

# Runs first inside the sandbox: listens where the handler's SDK calls go, relays to the socket,
# then runs the real command (its stdin/stdout stay the worker's pipes) and exits with its code.
RELAY = r"""
import socket, subprocess, sys, threading
port, path, command = int(sys.argv[1]), sys.argv[2], sys.argv[4:]
listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", port))
listener.listen(128)
def pump(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    try:
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass
def serve():
    while True:
        client, _ = listener.accept()
        upstream = socket.socket(socket.AF_UNIX)
        try:
            upstream.connect(path)
        except OSError:
            client.close()
            continue
        threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
threading.Thread(target=serve, daemon=True).start()
sys.exit(subprocess.call(command))
"""


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
    line = [tool, "--unshare-all", "--unshare-user", "--uid", str(NOBODY), "--gid", str(NOBODY)]  # all: net too
    line += ["--die-with-parent", "--new-session", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    line += _system_binds()
    for folder in _own_folders(args, cwd):
        line += ["--ro-bind", folder, folder]
    if cwd:
        line += ["--chdir", cwd]
    if _gateway:
        line += ["--bind", _gateway["socket"], INSIDE_SOCKET]
        args = [sys.executable, "-c", RELAY, _gateway["port"], INSIDE_SOCKET, "--", *args]
    return [*line, "--", *args]


def environment(env: Mapping[str, str] | None) -> dict[str, str]:
    """What the sandboxed process gets: what was set for it, not what the server itself runs with."""
    given = dict(os.environ if env is None else env)
    made = {k: v for k, v in given.items() if k in KEEP or _server_env.get(k) != v}
    made["HOME"] = "/tmp"
    return made


def _spawner() -> None:
    # bwrap's --die-with-parent (PR_SET_PDEATHSIG) fires when the *thread* that started it ends, and
    # MiniStack starts workers from short-lived threads: so every sandbox is started from this one
    # thread, which lives as long as the server (and dies with it, taking every sandbox along).
    while True:
        args, kw, done = _requests.get()
        try:
            done.append(_original_popen(args, **kw))
        except BaseException as err:  # handed back to the caller, raised there
            done.append(err)
        finally:
            _ready[id(done)].set()


_requests: queue.Queue[tuple[list[str], dict[str, Any], list[Any]]] = queue.Queue()
_ready: dict[int, threading.Event] = {}


def sandboxed_popen(args: Any, *rest: Any, **kw: Any) -> subprocess.Popen[Any]:
    """``subprocess.Popen`` for MiniStack's children: the same call, inside the sandbox."""
    if rest or kw.get("executable") or kw.get("pass_fds") or kw.get("preexec_fn"):
        raise OSError("the room's sandbox does not start this kind of process (positional or executable args)")
    if isinstance(args, (str, bytes)) or kw.pop("shell", False):
        args = ["/bin/sh", "-c", args if isinstance(args, str) else args.decode()]
    args = [os.fspath(a) for a in args]
    kw["env"] = environment(kw.get("env"))
    cwd = os.fspath(kw["cwd"]) if kw.get("cwd") is not None else None
    done: list[Any] = []
    _ready[id(done)] = threading.Event()
    _requests.put((command(args, cwd), kw, done))
    _ready[id(done)].wait()
    del _ready[id(done)]
    if isinstance(done[0], BaseException):
        raise done[0]
    proc: subprocess.Popen[Any] = done[0]
    return proc


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


def _pump(a: socket.socket, b: socket.socket) -> None:
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        b.shutdown(socket.SHUT_WR)


def _serve_gateway(listener: socket.socket, host: str, port: int) -> None:
    while True:
        inside, _ = listener.accept()
        try:
            upstream = socket.create_connection((host, port), timeout=10)
            upstream.settimeout(None)
        except OSError:
            inside.close()
            continue
        threading.Thread(target=_pump, args=(inside, upstream), daemon=True).start()
        threading.Thread(target=_pump, args=(upstream, inside), daemon=True).start()


def start_gateway(host: str, port: int) -> str:
    """The Unix socket (in a 0700 folder) that sandboxes reach MiniStack at ``host:port`` through."""
    folder = tempfile.mkdtemp(prefix="labkit-room-gateway-")
    os.chmod(folder, 0o700)
    path = os.path.join(folder, "gateway.sock")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(128)
    threading.Thread(target=_serve_gateway, args=(listener, host, port), daemon=True, name="labkit-gateway").start()
    return path


def install(host: str, port: int) -> None:
    """From now on, every process this server starts runs in the sandbox, reaching only ``host:port``."""
    _server_env.clear()
    _server_env.update(os.environ)
    _gateway.update(socket=start_gateway("127.0.0.1" if host == "0.0.0.0" else host, port), port=str(port))
    threading.Thread(target=_spawner, daemon=True, name="labkit-sandbox-spawner").start()
    subprocess.Popen = sandboxed_popen  # type: ignore[misc,assignment]
