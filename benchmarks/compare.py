"""Embedded backend vs LocalStack on this host, side by side, in one run: prints one table.

    .venv/bin/python benchmarks/compare.py            # everything (~9 min on 2 cores)
    .venv/bin/python benchmarks/compare.py --quick    # without the two course runs (~1 min)

For each backend, one after the other:
1. cold start to first answer: from starting the server processes to the first successful SQS call
   (ListQueues), median of ``--starts`` cold starts; the embedded backend is started by labkit
   (``embedded.ensure_running()``: MiniStack and moto), LocalStack 4.14 by ``tests/localstack.py``;
2. memory idle: RSS summed over each server's process tree (psutil), 2 s after the last start;
3. SQS throughput from one boto3 client: ``--messages`` single SendMessage calls, the same number in
   SendMessageBatch calls of 10, then all of them received (10 per call) and deleted (DeleteMessageBatch);
4. the whole course under nbval (``pytest notebooks``, as ``make test`` runs it), wall time; on
   LocalStack the lessons whose probes say it lacks a service are skipped, and the table says how many ran;
5. memory after the course, as in 2.

Everything listens on 127.0.0.1 at free ports, with a private LABKIT_HOME; every server this
script starts is stopped by its pid, also on errors and Ctrl-C. Without Python 3.13 the LocalStack
column says so and the embedded column is still measured.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import psutil
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from rss import tree_rss_mb

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}  # dummy: emulators only
START_TIMEOUT = 120.0
# What this script sets for the runs it starts; a learner's own values must not leak into them.
OWN_ENV = (
    "LABKIT_BACKEND",
    "LABKIT_HOME",
    "LABKIT_PORT",
    "LABKIT_MOTO_PORT",
    "LABKIT_DNS_PORT",
    "LABKIT_LOCALSTACK_URL",
)


def _load_localstack_helpers():
    """tests/localstack.py (python313, ensure_venv, free_port, start, stop): the CI's own way to run LocalStack."""
    spec = importlib.util.spec_from_file_location("labkit_tests_localstack", ROOT / "tests" / "localstack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ls = _load_localstack_helpers()


@dataclass
class Result:
    name: str
    cold: list[float] = field(default_factory=list)
    idle_mb: dict[str, float | None] = field(default_factory=dict)
    rates: dict[str, str] = field(default_factory=dict)
    course: str = "not run (--quick)"
    skipped: dict[str, str] = field(default_factory=dict)
    partial: dict[str, list[str]] = field(default_factory=dict)  # lesson -> services it ran without
    lesson_s: dict[str, float] = field(default_factory=dict)  # lesson -> seconds in its cells (junit)
    after_mb: dict[str, float | None] = field(default_factory=dict)
    unavailable: str = ""  # why this backend was not measured at all


def sqs_client(url: str, probing: bool = False):
    # While probing, one attempt per call and a short connect timeout, so the first answer is seen at once.
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=10) if probing else None
    client = boto3.client("sqs", endpoint_url=url, region_name=REGION, config=config, **CREDENTIALS)
    if probing:  # one call while nothing listens yet: the client's own first-call setup is not timed
        with contextlib.suppress(BotoCoreError, ClientError):
            client.list_queues()
    return client


def first_answer(client, alive) -> None:
    """Poll ListQueues until it succeeds; ``alive()`` raises if the server died meanwhile."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            client.list_queues()
            return
        except (BotoCoreError, ClientError):
            alive()
            if time.monotonic() > deadline:
                raise SystemExit(f"no SQS answer within {START_TIMEOUT:.0f} s") from None
            time.sleep(0.02)


def throughput(url: str, messages: int) -> dict[str, str]:
    """Messages per second: single sends, batches of 10, then receive + delete in tens."""
    sqs = sqs_client(url)
    queue = sqs.create_queue(QueueName=f"labkit-bench-{os.getpid()}-{time.monotonic_ns()}")["QueueUrl"]
    try:
        for i in range(10):  # warm the connection and the code paths; received below with the rest
            sqs.send_message(QueueUrl=queue, MessageBody=f"warm-{i}")
        t0 = time.perf_counter()
        for i in range(messages):
            sqs.send_message(QueueUrl=queue, MessageBody=f"single-{i}")
        single = messages / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for start in range(0, messages, 10):
            entries = [{"Id": str(i), "MessageBody": f"batch-{start + i}"} for i in range(10)]
            response = sqs.send_message_batch(QueueUrl=queue, Entries=entries)
            if response.get("Failed"):
                raise SystemExit(f"SendMessageBatch failed: {response['Failed'][0]}")
        batched = messages / (time.perf_counter() - t0)
        expected, received = 10 + 2 * messages, 0
        deadline = time.monotonic() + 120
        t0 = time.perf_counter()
        while received < expected and time.monotonic() < deadline:
            got = sqs.receive_message(
                QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=300
            ).get("Messages", [])
            if got:
                sqs.delete_message_batch(
                    QueueUrl=queue,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
                )
                received += len(got)
        drained = received / (time.perf_counter() - t0)
    finally:
        sqs.delete_queue(QueueUrl=queue)
    short = "" if received >= expected else f" (only {received:,} of {expected:,} came back)"
    return {
        "single": f"{single:,.0f} msg/s",
        "batch": f"{batched:,.0f} msg/s",
        "drain": f"{drained:,.0f} msg/s{short}",
    }


def lesson_paths(args) -> list[Path]:
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    return [p for p in paths if not args.lessons or p.name[:2] in args.lessons]


def run_course(args, env: dict[str, str], label: str, result: Result) -> None:
    """The whole course under nbval, as `make test` runs it; records wall time and lessons run/skipped/failed."""
    tmp = Path(tempfile.mkdtemp(prefix="labkit-bench-course-"))
    matrix, log, junit = tmp / "matrix.json", tmp / "pytest.log", tmp / "junit.xml"
    env = {**env, "LABKIT_MATRIX_OUT": str(matrix)}
    paths = lesson_paths(args)
    cmd = [sys.executable, "-m", "pytest", *map(str, paths), "-q", "-p", "no:cacheprovider", f"--junitxml={junit}"]
    if label == "embedded":
        env["LABKIT_BENCH_MEMORY_OUT"] = str(tmp / "memory.json")
        cmd += ["-p", "benchmarks.rss"]  # `python -m` puts the checkout (cwd) on sys.path
    print(f"  {label}: the whole course under nbval (log: {log}) ...", flush=True)
    t0 = time.perf_counter()
    with log.open("wb") as out:
        tests = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        try:
            code = tests.wait()
        finally:
            _stop_tests(tests, tmp / "home")
    wall = time.perf_counter() - t0
    lessons = json.loads(matrix.read_text())["notebooks"] if matrix.exists() else {}
    total = len(paths)
    result.skipped = {name: entry["skipped"] for name, entry in sorted(lessons.items()) if "skipped" in entry}
    result.partial = {name: entry["unavailable"] for name, entry in sorted(lessons.items()) if entry["unavailable"]}
    if junit.exists():
        for case in ET.parse(junit).iter("testcase"):
            lesson = case.get("classname", "").removeprefix("notebooks.").removesuffix(".ipynb")
            if lesson in lessons and lesson not in result.skipped:
                result.lesson_s[lesson] = result.lesson_s.get(lesson, 0.0) + float(case.get("time", 0))
    failed = sorted(name[:2] for name, entry in lessons.items() if not entry["passed"])
    ran = len(lessons) - len(result.skipped)
    text = f"{wall:.0f} s, {ran} of {total} lessons"
    if result.skipped:
        text += f" ({', '.join(name[:2] for name in result.skipped)} skipped by probes)"
    if failed:
        text += f", FAILED: {', '.join(failed)}"
    elif code != 0:
        text += f", pytest exit code {code}"
    result.course = text
    if label == "embedded" and (tmp / "memory.json").exists():
        result.after_mb = json.loads((tmp / "memory.json").read_text())


def _stop_tests(tests: subprocess.Popen, home: Path) -> None:
    """On an error or Ctrl-C here: interrupt pytest, so its conftest stops its servers; failing that, stop them."""
    if tests.poll() is None:
        tests.send_signal(signal.SIGINT)  # pytest's KeyboardInterrupt: sessionfinish still runs
        try:
            tests.wait(15)
        except subprocess.TimeoutExpired:
            tests.kill()
            tests.wait()
    if home.exists():  # the embedded run's servers, by the pids in their state file (nothing if already stopped)
        from labkit.backends import embedded

        saved = os.environ.get("LABKIT_HOME")
        os.environ["LABKIT_HOME"] = home.read_text()
        try:
            embedded.stop()
        finally:
            if saved is None:
                os.environ.pop("LABKIT_HOME", None)
            else:
                os.environ["LABKIT_HOME"] = saved


def measure_embedded(args, base_env: dict[str, str]) -> Result:
    result = Result("embedded")
    os.environ["LABKIT_HOME"] = tempfile.mkdtemp(prefix="labkit-bench-")
    from labkit.backends import embedded

    try:
        for _ in range(args.starts):
            embedded.stop()
            os.environ["LABKIT_PORT"], os.environ["LABKIT_MOTO_PORT"] = str(ls.free_port()), str(ls.free_port())
            client = sqs_client(f"http://127.0.0.1:{os.environ['LABKIT_PORT']}", probing=True)
            t0 = time.perf_counter()
            state, _ = embedded.ensure_running()
            first_answer(client, alive=lambda: None)  # ensure_running raises if a server dies
            result.cold.append(time.perf_counter() - t0)
        time.sleep(2)
        result.idle_mb = {server.name: tree_rss_mb(server.pid) for server in state.servers}
        print(f"  embedded: SQS throughput, {args.messages:,} messages each way ...", flush=True)
        result.rates = throughput(state.ministack.url, args.messages)
    finally:
        embedded.stop()
    if not args.quick:  # the conftest starts servers of its own for the run, in its own LABKIT_HOME
        run_course(args, base_env, "embedded", result)
    return result


def measure_localstack(args, base_env: dict[str, str]) -> Result:
    result = Result("LocalStack")
    python = ls.python313()
    if python is None:
        result.unavailable = "not measured: LocalStack 4.14 on the host needs Python 3.13 (set LABKIT_PYTHON313)"
        return result
    localstack_python = ls.ensure_venv(python)
    logs = Path(tempfile.mkdtemp(prefix="labkit-bench-localstack-"))
    proc = None
    try:
        for run in range(args.starts):
            if proc is not None:
                ls.stop(proc)
            port = ls.free_port()
            url = f"http://127.0.0.1:{port}"
            client = sqs_client(url, probing=True)
            t0 = time.perf_counter()
            proc = ls.start(localstack_python, port, logs / f"localstack-{run}.log")

            def alive(proc=proc, run=run):
                if proc.poll() is not None:
                    raise SystemExit(f"LocalStack exited with code {proc.returncode}; see {logs}/localstack-{run}.log")

            first_answer(client, alive)
            result.cold.append(time.perf_counter() - t0)
        result.name = f"LocalStack {(_health(url) or {}).get('version', '?')}"
        time.sleep(2)
        result.idle_mb = {"localstack": tree_rss_mb(proc.pid)}
        print(f"  LocalStack: SQS throughput, {args.messages:,} messages each way ...", flush=True)
        result.rates = throughput(url, args.messages)
        if not args.quick:
            run_course(
                args, {**base_env, "LABKIT_BACKEND": "localstack", "LABKIT_LOCALSTACK_URL": url}, "localstack", result
            )
            result.after_mb = {"localstack": tree_rss_mb(proc.pid)}
    finally:
        if proc is not None:
            ls.stop(proc)
    return result


def _health(url: str) -> dict | None:
    from labkit.backends import localstack

    return localstack.health(url)


# --- the report ------------------------------------------------------------------------


def machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor() or "?",
    )
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        fields = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
        os_name = fields.get("PRETTY_NAME", os_name).strip('"')
    from labkit.backends import embedded

    versions = {}
    with contextlib.suppress(Exception):  # not installed: the embedded column says why
        versions = embedded.installed_versions(embedded.server_python())
    return (
        f"{os.cpu_count()} cores ({cpu}), {psutil.virtual_memory().total / 2**30:.0f} GiB RAM, {os_name}, "
        f"Python {platform.python_version()}, boto3 {boto3.__version__}; "
        f"MiniStack {versions.get('ministack', '?')}, moto {versions.get('moto', '?')}"
    )


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def _cold(r: Result, runs: int) -> str:
    if not r.cold:
        return "–"
    if len(r.cold) == 1:
        return f"{r.cold[0]:.2f} s (1 start)"
    return f"{statistics.median(r.cold):.2f} s (median of {runs}, {min(r.cold):.2f}–{max(r.cold):.2f})"


def _memory(values: dict[str, float | None]) -> str:
    if not values:
        return "–"
    if any(v is None for v in values.values()):
        return "? (process gone)"
    total = sum(values.values())
    if len(values) == 1:
        return f"{total:.0f} MB"
    return f"{total:.0f} MB (" + " + ".join(f"{name} {mb:.0f}" for name, mb in values.items()) + ")"


def _same_lessons(results: list[Result]) -> tuple[str, list[str]]:
    """The lessons every backend ran: their cells' summed time on each, for a like-for-like comparison."""
    common = sorted(set.intersection(*(set(r.lesson_s) for r in results)))
    if not common:
        return ("the same lessons on both, time in their cells", ["–" for _ in results])
    cells = [f"{sum(r.lesson_s[name] for name in common):.0f} s" for r in results]
    return (f"only the {len(common)} lessons both ran ({', '.join(n[:2] for n in common)})", cells)


def table(results: list[Result], args) -> str:
    n = f"{args.messages:,}"
    rows = [
        ("cold start → first SQS answer", [_cold(r, args.starts) for r in results]),
        (f"SQS SendMessage, 1 per call ({n} msgs)", [r.rates.get("single", "–") for r in results]),
        (f"SQS SendMessageBatch, 10 per call ({n} msgs)", [r.rates.get("batch", "–") for r in results]),
        ("SQS receive + DeleteMessageBatch, 10 per call", [r.rates.get("drain", "–") for r in results]),
        ("whole course under nbval, wall time", [r.course if not r.unavailable else "–" for r in results]),
        _same_lessons(results),
        ("memory idle (RSS, process tree)", [_memory(r.idle_mb) for r in results]),
        ("memory after the course", [_memory(r.after_mb) if r.after_mb else "–" for r in results]),
    ]
    header = ["measure", *(r.name for r in results)]
    widths = [max(len(header[i]), *(len(row[0]) if i == 0 else len(row[1][i - 1]) for row in rows)) for i in range(3)]
    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join("-" * (w + 2) for w in widths) + "|",
    ]
    for name, cells in rows:
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip([name, *cells], widths, strict=True)) + " |")
    notes = [f"{r.name}: {r.unavailable}" for r in results if r.unavailable]
    for r in results:
        for lesson, reason in r.skipped.items():
            notes.append(f"{r.name} skipped {lesson}: {reason.split(':')[0].removesuffix(' here')}")
        for lesson, what in r.partial.items():  # each item is "<what>; <why>", as tests/backend_matrix.py reads it
            missing = sorted({item.split(";")[0].strip() for item in what})
            notes.append(f"{r.name} ran {lesson} without {', '.join(missing)}")
    return "\n".join(lines + [""] + [f"- {note}" for note in notes])


def _measured(measure, name: str, args, base_env: dict[str, str]) -> Result:
    """One backend's figures; if measuring it fails, the table says why and the other backend is still measured."""
    try:
        return measure(args, base_env)
    except (
        Exception,
        SystemExit,
    ) as err:  # SystemExit: a server that did not start (first_answer, tests/localstack.py)
        if isinstance(err, SystemExit) and err.code == 143:
            raise  # SIGTERM: stop here
        print(f"  {name}: failed: {err}", flush=True)
        return Result(name, unavailable=f"failed: {err}")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the two whole-course runs")
    parser.add_argument("--messages", type=int, default=1000, help="messages per SQS measure (default 1000)")
    parser.add_argument("--lessons", nargs="+", metavar="NN", help="run only these lessons (default: all)")
    parser.add_argument("--starts", type=int, default=3, help="cold starts per backend (default 3)")
    args = parser.parse_args(argv)
    args.messages = max(10, args.messages - args.messages % 10)
    args.starts = max(1, args.starts)
    # A SIGTERM (a CI timeout, a `kill`) still runs the `finally` blocks, so no server is left behind.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base_env = {k: v for k, v in os.environ.items() if k not in OWN_ENV and not k.startswith("AWS_")}
    for name in OWN_ENV:
        os.environ.pop(name, None)

    started, load_before = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), load()
    t0 = time.perf_counter()
    print(f"benchmarks/compare.py{' --quick' if args.quick else ''}: embedded, then LocalStack", flush=True)
    results = [_measured(measure_embedded, "embedded", args, base_env)]
    results.append(_measured(measure_localstack, "LocalStack", args, base_env))
    took = time.perf_counter() - t0
    print()
    print(f"Measured {started} on {machine()}.")
    print(f"Load average (1/5/15 min) before: {load_before}; after: {load()}. The whole run took {took:.0f} s.")
    print()
    print(table(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
