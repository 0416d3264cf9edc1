"""JupyterHub in tests: a free port, a hub run and stopped, a learner signed in, code run in their kernel."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Iterator
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_in_kernel(base: str, user: str, token: str, code: str, timeout: float = 60) -> str:
    """Start a kernel in the user's JupyterLab, run ``code`` over the websocket, return its stdout."""
    import requests
    import websocket

    headers = {"Authorization": f"token {token}"}
    kernel = requests.post(f"{base}/user/{user}/api/kernels", headers=headers, json={}, timeout=30)
    kernel.raise_for_status()
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{urllib.parse.urlsplit(base).port}/user/{user}/api/kernels/{kernel.json()['id']}/channels",
        header=[f"Authorization: token {token}"],
        timeout=timeout,
    )
    msg_id = uuid.uuid4().hex
    ws.send(
        json.dumps(
            {
                "header": {
                    "msg_id": msg_id,
                    "msg_type": "execute_request",
                    "session": uuid.uuid4().hex,
                    "username": user,
                    "version": "5.3",
                },
                "parent_header": {},
                "metadata": {},
                "content": {
                    "code": code,
                    "silent": False,
                    "store_history": False,
                    "user_expressions": {},
                    "allow_stdin": False,
                    "stop_on_error": True,
                },
                "channel": "shell",
                "buffers": [],
            }
        )
    )
    out, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = json.loads(ws.recv())
        if msg.get("parent_header", {}).get("msg_id") != msg_id:
            continue
        kind = msg["header"]["msg_type"]
        if kind == "stream":
            out.append(msg["content"]["text"])
        elif kind == "error":
            out.append("ERROR " + msg["content"]["ename"] + ": " + msg["content"]["evalue"])
        elif kind == "status" and msg["content"]["execution_state"] == "idle":
            break
    ws.close()
    return "".join(out)


@contextlib.contextmanager
def run_hub(
    config: Path, env: dict[str, str], folder: Path, users: set[int] = frozenset(), python: str = sys.executable
) -> Iterator[str]:
    """Start ``jupyterhub -f config`` (``python``'s, this one's by default) on 127.0.0.1 with ``env``; yield its base
    URL once it answers; stop it afterwards, and every process left of the OS users ``users`` (their servers)."""
    import psutil
    import requests

    port = free_port()
    env = {**env, "LABKIT_HUB_PORT": str(port), "LABKIT_HUB_INTERNAL_PORT": str(free_port())}
    env["LABKIT_HUB_PROXY_API_PORT"] = str(free_port())
    log = (folder / "hub.log").open("wb")
    hub = subprocess.Popen(
        [str(Path(python).parent / "jupyterhub"), "-f", str(config)],
        cwd=folder,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert hub.poll() is None, (folder / "hub.log").read_text()[-2000:]
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{base}/hub/health", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the hub did not answer"
            time.sleep(0.3)
        yield base
    finally:
        hub.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            hub.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(hub.pid, signal.SIGKILL)
        log.close()
        for proc in psutil.process_iter(["uids"]):
            if proc.info["uids"] and proc.info["uids"].real in users:
                with contextlib.suppress(psutil.Error):
                    proc.kill()


def sign_in_and_start(base: str, user: str, password: str, timeout: float = 60, typed: str | None = None) -> str:
    """Sign in through the login form (as ``typed``, default ``user``: the hub lower-cases it), start the user's
    server, wait until it is ready; return an API token."""
    import requests

    browser = requests.Session()
    browser.get(f"{base}/hub/login", timeout=10)
    signed_in = browser.post(
        f"{base}/hub/login",
        data={"username": typed or user, "password": password, "_xsrf": browser.cookies.get("_xsrf")},
        allow_redirects=False,
        timeout=30,
    )
    assert signed_in.status_code == 302, signed_in.text[:500]
    xsrf = browser.cookies.get("_xsrf", path="/hub/") or browser.cookies.get("_xsrf")
    made = browser.post(
        f"{base}/hub/api/users/{user}/tokens", headers={"X-XSRFToken": xsrf}, json={"expires_in": 600}, timeout=10
    )
    assert made.status_code == 201, made.text[:500]
    token = made.json()["token"]
    auth = {"Authorization": f"token {token}"}
    requests.post(f"{base}/hub/api/users/{user}/server", headers=auth, timeout=60)
    deadline = time.monotonic() + timeout
    while (
        not requests.get(f"{base}/hub/api/users/{user}", headers=auth, timeout=10)
        .json()["servers"]
        .get("", {})
        .get("ready")
    ):
        assert time.monotonic() < deadline, f"{user}'s server did not start"
        time.sleep(0.5)
    return token
