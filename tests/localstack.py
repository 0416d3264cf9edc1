"""Run the parity tests and every notebook against LocalStack 4.14, started on this host without Docker.

    .venv/bin/python tests/localstack.py [extra pytest arguments]      (what `make test-localstack` runs)

What it does:
1. finds a Python 3.13 (LocalStack 4.14 needs it): ``LABKIT_PYTHON313``, pyenv's 3.13, or ``python3.13``
   on PATH. Without one it says so and exits 0 on a laptop, but fails (exit 1) under CI (``CI=true``);
2. makes ``.venv-localstack`` with LocalStack's pinned packages (once);
3. starts LocalStack on 127.0.0.1 at a free port of its own (the hypercorn gateway: the default twisted
   one ignores the host and listens on every interface) and waits for ``/_localstack/health``; a
   LocalStack that does not come up fails the run, with the end of its log;
4. runs ``pytest tests/parity`` and ``pytest notebooks`` side by side with ``LABKIT_BACKEND=localstack``
   (extra arguments go to both; the parity report is printed after the lessons');
5. stops LocalStack by its process group, also after a failure, Ctrl-C or SIGTERM/SIGHUP: SIGTERM,
   then SIGKILL after 15 s (it can hang on SIGTERM once an event source mapping exists), and checks
   that nothing of it is left and its port is closed.
The exit code is pytest's: the first failing run's, else 0.

LocalStack settings, and why (https://docs.localstack.cloud/references/configuration/):
- ``LOCALSTACK_HOST=127.0.0.1:<port>``: URLs LocalStack hands out (SNS SubscribeURL, SQS queue URLs)
  name this host and port; the default ``localhost.localstack.cloud`` needs public DNS;
- ``S3_SKIP_SIGNATURE_VALIDATION=0``: check presigned URLs' signature and expiry, as S3 does;
- ``DISABLE_BOTO_RETRIES=1``: LocalStack's own internal clients do not retry. Without Docker or network
  its DynamoDB (DynamoDB Local, a Java download) never starts, and every DynamoDB call would otherwise
  spend ~25 s retrying it before answering InternalError.

Other scripts (benchmarks/) reuse :func:`python313`, :func:`ensure_venv`, :func:`free_port`,
:func:`start`, :func:`wait_healthy` and :func:`stop`.
"""

from __future__ import annotations

import contextlib
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


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


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
    """``.venv-localstack`` with the pinned LocalStack installed (once); returns its python."""
    stamp = VENV / ".installed"
    wanted = "\n".join(PINS)
    if not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([python, "-m", "venv", str(VENV)], check=True)
        uv = ROOT / ".venv-tools" / "bin" / "uv"  # what `make setup` installs with, when it could get uv
        if uv.exists():
            install = [str(uv), "pip", "install", "--quiet", "--python", str(VENV / "bin" / "python")]
        else:
            install = [str(VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*install, *PINS], check=True)
        stamp.write_text(wanted)
    return VENV / "bin" / "python"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(python: Path, port: int, log: Path) -> subprocess.Popen:
    """Start LocalStack on 127.0.0.1:``port`` in a process group of its own, output to ``log``."""
    volume = tempfile.mkdtemp(prefix="labkit-localstack-")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABKIT_"))},
        "GATEWAY_SERVER": "hypercorn",
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "LOCALSTACK_HOST": f"127.0.0.1:{port}",
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        "DISABLE_BOTO_RETRIES": "1",
        "S3_SKIP_SIGNATURE_VALIDATION": "0",
        "LOCALSTACK_VOLUME_DIR": volume,
        # LocalStack keeps its state (CloudWatch's metrics database among it) under $TMPDIR/localstack and
        # FILESYSTEM_ROOT (by default one folder inside .venv-localstack), and clears or deletes them when it starts
        # or stops: folders of its own keep a second LocalStack on this machine from wiping this one's.
        "TMPDIR": volume,
        "FILESYSTEM_ROOT": os.path.join(volume, "filesystem"),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(python), "-m", "localstack.runtime.main"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    proc.volume_dir = volume  # removed by stop()
    return proc


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 90) -> None:
    """Return once ``url`` answers ``/_localstack/health``; SystemExit (code 1) if LocalStack exits or stays silent."""
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


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def stop(proc: subprocess.Popen, port: int | None = None, grace: float = 15) -> None:
    """Stop LocalStack and everything in its process group: SIGTERM, then SIGKILL after ``grace`` seconds.

    Safe to call twice or on a LocalStack that already exited. With ``port``, also waits until nothing
    answers there any more, and raises RuntimeError if something still does.
    """
    pgid = proc.pid  # start_new_session: LocalStack leads its own group
    if _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and (proc.poll() is None or _group_alive(pgid)):
            time.sleep(0.2)
        if _group_alive(pgid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    if getattr(proc, "volume_dir", None):
        shutil.rmtree(proc.volume_dir, ignore_errors=True)
    if port is not None:
        deadline = time.monotonic() + 10
        while _port_open(port):
            if time.monotonic() > deadline:
                raise RuntimeError(f"something still listens on 127.0.0.1:{port} after LocalStack was stopped")
            time.sleep(0.2)


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _interrupted(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    # SIGTERM (a CI timeout, `kill`) and SIGHUP (a closed terminal) still run the `finally` below,
    # so LocalStack is not left behind; Ctrl-C does too (KeyboardInterrupt).
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGHUP, _interrupted)
    began = time.monotonic()
    python = python313()
    if python is None:
        why = (
            "LocalStack 4.14 on the host needs Python 3.13 and none was found "
            "(set LABKIT_PYTHON313 or install it, e.g. `pyenv install 3.13`)"
        )
        if on_ci():
            print(f"tests/localstack.py: FAILED: {why}", file=sys.stderr)
            return 1
        print(f"tests/localstack.py: skipped: {why}")
        return 0
    localstack_python = ensure_venv(python)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.gettempdir()) / f"labkit-localstack-{port}.log"
    t0 = time.monotonic()
    proc = start(localstack_python, port, log)
    runs: list[subprocess.Popen] = []
    answered = False  # only then is the port known to be LocalStack's, to check that it is closed afterwards
    parity_out = Path(tempfile.gettempdir()) / f"labkit-localstack-parity-{port}.txt"
    try:
        try:
            wait_healthy(url, proc)
        except SystemExit as failed:
            print(f"tests/localstack.py: FAILED: {failed}; the end of {log}:\n{_log_tail(log)}", file=sys.stderr)
            return 1
        answered = True
        print(f"LocalStack 4.14 answering at {url} after {time.monotonic() - t0:.1f} s (log: {log})", flush=True)
        env = {**os.environ, "LABKIT_BACKEND": "localstack", "LABKIT_LOCALSTACK_URL": url}
        pytest = [sys.executable, "-m", "pytest"]
        # Side by side: both mostly wait on LocalStack (alarm periods, visibility timeouts), not on the CPU.
        # The parity run's report follows the lessons'; only the lessons write LABKIT_MATRIX_OUT.
        parity_env = {k: v for k, v in env.items() if k != "LABKIT_MATRIX_OUT"}
        with parity_out.open("wb") as out:
            runs.append(
                subprocess.Popen(
                    [*pytest, "tests/parity", *argv], env=parity_env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
                )
            )
        runs.append(subprocess.Popen([*pytest, "notebooks", *argv], env=env, cwd=ROOT))
        lessons_code = runs[1].wait()
        parity_code = runs[0].wait()
        return _combined(parity_code, lessons_code)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):  # a second Ctrl-C must not cut the clean-up short
            signal.signal(signum, signal.SIG_IGN)
        for run in runs:
            if run.poll() is None:
                run.terminate()
                try:
                    run.wait(30)
                except subprocess.TimeoutExpired:
                    run.kill()
                    run.wait(5)
        if runs:
            print(f"\n---- tests/parity on LocalStack ({parity_out}) ----\n{parity_out.read_text(errors='replace')}")
        stop(proc, port if answered else None)
        print(f"LocalStack stopped; tests/localstack.py took {time.monotonic() - began:.0f} s", flush=True)


def _combined(*codes: int) -> int:
    """One exit code for several pytest runs: the first failure; 'no tests collected' (5) only if all were empty."""
    failed = [code for code in codes if code not in (0, 5)]
    if failed:
        return failed[0]
    return 5 if all(code == 5 for code in codes) else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
