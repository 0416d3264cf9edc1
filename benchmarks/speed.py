"""Speed side by side, in one run: installers (pip vs uv) and the course (one lesson after another vs parallel).

Run with `make bench` (or `.venv/bin/python benchmarks/speed.py [--skip-installs]`). Prints one table:

- **fresh clone to a JupyterLab URL**, with empty installer caches: `make lab INSTALLER=pip` vs
  `make lab INSTALLER=uv` in two new clones of this checkout's HEAD (both environments installed,
  the embedded backend started, the student versions written, JupyterLab answering). The pip run
  reads this machine's own pip settings (its local wheel mirrors included); uv reads PyPI.
- **the whole course under nbval**: `pytest notebooks/` serially vs `pytest -n 4 --dist loadfile`
  (each worker its own embedded backend), each on private servers.

Everything listens on 127.0.0.1 on free ports, with a private LABKIT_HOME; every server is stopped.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
URL_TIMEOUT_S = 600.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _private_env(home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("LABKIT_", "AWS_"))}
    return {
        **keep,
        "LABKIT_HOME": str(home / "labkit"),
        "LABKIT_PORT": "0",
        "LABKIT_MOTO_PORT": "0",
        "LABKIT_DNS_PORT": "0",
    }


def fresh_lab(installer: str) -> float:
    """Seconds from `make lab` in a new clone, with empty caches, until JupyterLab prints its URL."""
    work = Path(tempfile.mkdtemp(prefix=f"labkit-bench-{installer}-"))
    clone = work / "labkit"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    port = _free_port()
    env = {
        **_private_env(work),
        "PIP_CACHE_DIR": str(work / "pip-cache"),
        "UV_CACHE_DIR": str(work / "uv-cache"),
        "XDG_CACHE_HOME": str(work / "cache"),
    }
    log = work / "make-lab.log"
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["make", "lab", f"INSTALLER={installer}", f"LAB_PORT={port}"],
            cwd=clone,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wanted = re.compile(rf"http://127\.0\.0\.1:{port}/lab/tree/student/00-start-here\.ipynb\?token=")
    try:
        while not wanted.search(log.read_text(errors="replace")):
            if proc.poll() is not None:
                raise RuntimeError(f"make lab ({installer}) exited with {proc.returncode}: see {log}")
            if time.perf_counter() - t0 > URL_TIMEOUT_S:
                raise RuntimeError(f"make lab ({installer}) printed no URL in {URL_TIMEOUT_S:.0f} s: see {log}")
            time.sleep(0.2)
        return time.perf_counter() - t0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        subprocess.run([str(clone / ".venv" / "bin" / "labkit"), "down"], env=env, capture_output=True, check=False)


def course(parallel: bool) -> float:
    """Wall seconds of `pytest notebooks/` on private servers (solved lessons, checks must pass)."""
    work = Path(tempfile.mkdtemp(prefix="labkit-bench-course-"))
    cmd = [str(ROOT / ".venv" / "bin" / "pytest"), "-q", "-p", "no:cacheprovider", "notebooks"]
    if parallel:
        cmd += ["-n", "4", "--dist", "loadfile"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=_private_env(work), capture_output=True, text=True, check=False)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"the course failed ({'parallel' if parallel else 'serial'}):\n{done.stdout[-2000:]}")
    return took


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--skip-installs", action="store_true", help="only the course rows")
    args = parser.parse_args(argv)
    load_before = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    rows: list[tuple[str, float, float]] = []
    if not args.skip_installs:
        print("  fresh clone → JupyterLab URL: pip, then uv (empty caches) ...", flush=True)
        pip_s, uv_s = fresh_lab("pip"), fresh_lab("uv")
        rows.append(("fresh clone → JupyterLab URL (make lab, empty caches)", pip_s, uv_s))
    print("  the whole course: one lesson after another, then 4 in parallel ...", flush=True)
    serial_s, parallel_s = course(parallel=False), course(parallel=True)
    rows.append(("whole course under nbval (12 lessons)", serial_s, parallel_s))
    load_after = Path("/proc/loadavg").read_text().split()[:3] if Path("/proc/loadavg").exists() else ["?"]
    print()
    before, after = " ".join(load_before), " ".join(load_after)
    print(f"Load average (1/5/15 min) before: {before}; after: {after}; {os.cpu_count()} CPUs")
    print()
    print("| measure | before (pip / serial) | after (uv / -n 4) | after ÷ before |")
    print("|---|---|---|---|")
    for name, before, after in rows:
        print(f"| {name} | {before:.1f} s | {after:.1f} s | {after / before:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
