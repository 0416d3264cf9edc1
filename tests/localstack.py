"""Run the parity tests and every notebook against LocalStack 4.14, started on this host without Docker.

    .venv/bin/python tests/localstack.py [extra pytest arguments]

What it does (the recipe in ../shared/RECIPES.md):
1. finds a Python 3.13 (LocalStack 4.14 needs it): ``LABKIT_PYTHON313``, ``python3.13`` on PATH,
   or pyenv's 3.13; without one it says so and exits 0, as there is nothing it can test;
2. makes ``.venv-localstack`` with LocalStack's pinned packages (once);
3. starts LocalStack on 127.0.0.1 at a free port (the hypercorn gateway: the default twisted one
   ignores the host and listens on every interface), waits for ``/_localstack/health``;
4. runs ``pytest tests/parity notebooks`` with ``LABKIT_BACKEND=localstack``;
5. stops LocalStack by its process group: SIGTERM, then SIGKILL after 15 s (it can hang on
   SIGTERM once an event source mapping exists).
The exit code is pytest's.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv-localstack"
PINS = [
    "localstack-core[runtime]==4.14.0",
    "cbor2<5.7",
    "cryptography<44",
    "pyopenssl<24.3",
    "service_identity",
]


def python313() -> str | None:
    """A Python 3.13 that really runs (a pyenv shim on PATH may exist without the version behind it)."""
    pyenv_root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    candidates = [
        os.environ.get("LABKIT_PYTHON313"),
        *sorted(glob.glob(f"{pyenv_root}/versions/3.13*/bin/python3.13"), reverse=True),
        shutil.which("python3.13"),
    ]
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


def ensure_venv(python: str) -> Path:
    stamp = VENV / ".installed"
    wanted = "\n".join(PINS)
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([python, "-m", "venv", str(VENV)], check=True)
        pip = [str(VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *PINS], check=True)
        stamp.write_text(wanted)
    return VENV / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(python: Path, port: int, log: Path) -> subprocess.Popen:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABKIT_"))},
        "GATEWAY_SERVER": "hypercorn",
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        "LOCALSTACK_VOLUME_DIR": tempfile.mkdtemp(prefix="labkit-localstack-"),
    }
    return subprocess.Popen(
        [str(python), "-m", "localstack.runtime.main"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"LocalStack exited with code {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(url + "/_localstack/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise SystemExit(f"LocalStack did not answer at {url} within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def main(argv: list[str]) -> int:
    # A SIGTERM (a CI timeout, a `kill`) still runs the `finally` below, so LocalStack is not left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    python = python313()
    if python is None:
        print(
            "tests/localstack.py: skipped: LocalStack 4.14 on the host needs Python 3.13 (none found; "
            "set LABKIT_PYTHON313 or install it, e.g. `pyenv install 3.13`)"
        )
        return 0
    localstack_python = ensure_venv(python)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.gettempdir()) / f"labkit-localstack-{port}.log"
    t0 = time.monotonic()
    proc = start(localstack_python, port, log)
    tests = None
    try:
        wait_healthy(url, proc)
        print(f"LocalStack 4.14 answering at {url} after {time.monotonic() - t0:.1f} s (log: {log})", flush=True)
        env = {**os.environ, "LABKIT_BACKEND": "localstack", "LABKIT_LOCALSTACK_URL": url}
        paths = [str(ROOT / "tests" / "parity"), str(ROOT / "notebooks")]
        tests = subprocess.Popen([sys.executable, "-m", "pytest", *paths, *argv], env=env, cwd=ROOT)
        return tests.wait()
    finally:
        if tests is not None and tests.poll() is None:
            tests.terminate()
            tests.wait(30)
        stop(proc)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
