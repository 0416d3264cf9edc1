"""One table of backend objects, one servers module, and a classroom launcher that stands alone."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from labkit import backends, config
from labkit.backends import servers
from labkit.classroom import server as launcher
from labkit.errors import BackendFailedToStart, UnknownBackend

ROOT = Path(__file__).resolve().parents[2]


def test_one_backend_object_per_name_in_the_precedence_rule(monkeypatch):
    assert tuple(backends.BACKENDS) == config.BACKENDS
    assert all(b.name == name for name, b in backends.BACKENDS.items())
    assert [b.emulator for b in backends.BACKENDS.values()] == [True, True, False]
    monkeypatch.setenv("LABKIT_BACKEND", "LocalStack")
    assert backends.get() is backends.BACKENDS["localstack"]
    assert backends.get("aws") is backends.BACKENDS["aws"]
    with pytest.raises(UnknownBackend):
        backends.get("moto")


def test_the_launcher_imports_only_the_standard_library_ministack_and_moto():
    tree = ast.parse(Path(launcher.__file__).read_text())
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    outside = roots - set(sys.stdlib_module_names) - {"ministack", "moto", "werkzeug"}
    assert outside == set(), outside


def test_the_launcher_helpers():
    assert launcher.account_of("account=123456789012") == "123456789012"
    assert launcher.account_of("account=12345") is None
    assert launcher.allowed("s3cret", b"s3cret") and not launcher.allowed("", b"s3cret")
    assert not launcher.allowed(b"wrong", b"s3cret")
    signed = {"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256 Credential=111122223333/20260101/us-east-1/ec2/aws4_request"}
    assert launcher.key_of(signed) == "111122223333"
    assert launcher.key_of({"QUERY_STRING": "X-Amz-Credential=444455556666/20260101/us-east-1/s3/aws4_request"}) == (
        "444455556666"
    )


def test_classroom_does_not_import_the_exercises():
    code = "import sys, labkit.classroom, labkit.cli; assert 'labkit.course.progress' not in sys.modules, 'imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr


def test_a_server_that_exits_while_starting_is_reported_with_its_last_line(tmp_path):
    log = tmp_path / "x.log"
    proc = servers.spawn(
        [sys.executable, "-c", "print('first'); print('  last words  '); raise SystemExit(3)"], {}, log, tmp_path
    )
    stopped = []
    with pytest.raises(BackendFailedToStart, match=r"x exited: last words$"):
        servers.wait_until_answering(
            [servers.Starting("x", proc, log, lambda _timeout: False)],
            10,
            exited=lambda s: f"{s.name} exited: {servers.last_line(s.log)}",
            late=lambda names: "late",
            stop=lambda: stopped.append(True),
        )
    assert stopped == [True]


def test_spawn_scrubs_the_learners_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "do-not-leak")
    monkeypatch.setenv("LABKIT_CLASSROOM_KEY", "do-not-leak")
    log = tmp_path / "env.log"
    code = "import os; print(sorted(k for k in os.environ if k.startswith(('AWS_', 'LABKIT_', 'X_'))))"
    proc = servers.spawn([sys.executable, "-c", code], {"X_KEPT": "1"}, log, tmp_path)
    proc.wait(timeout=10)
    # the learner's settings are gone; labkit's own marks of the process (its folder and name) are there
    assert log.read_text().strip() == "['LABKIT_OWNER', 'LABKIT_PROCESS', 'X_KEPT']"
    assert servers.terminate([servers.Server("x", proc.pid, 0, "")], lambda _s: proc.poll() is None) == []
