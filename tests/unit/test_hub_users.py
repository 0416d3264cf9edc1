"""JupyterHub with one OS user per learner (docs/jupyterhub/jupyterhub_config.py as root; labkit classroom hub-users).

End to end, as root on Linux: the roster's two learners get OS users, the hub starts on 127.0.0.1, ana
signs in, and her kernel runs as her own OS user: the roster, the room's state, the hub's database and
ben's home raise PermissionError, her own lessons are there, and her key is hers. The users are removed
at the end (and also when a test fails). It makes OS users: skipped when not root; under CI as root it runs.
The folders it uses are open to every user (0755), so only labkit's own modes keep a learner out.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest
from hub_helpers import run_hub, run_in_kernel, sign_in_and_start

from labkit import classroom, cli
from labkit.classroom import hubusers

HUB_CONFIG = Path(__file__).resolve().parents[2] / "docs" / "jupyterhub" / "jupyterhub_config.py"
NAMES = ("ana", "ben")
PASSWORD = "room-password-for-os-users"


def _needed(reason: str) -> None:
    (pytest.fail if os.environ.get("CI") else pytest.skip)(reason)


def _root_or_skip() -> None:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("makes OS users: run as root on Linux (CI as root runs it)")
    for name in NAMES:
        with_user = hubusers.os_user(name)
        try:
            pwd.getpwnam(with_user)
        except KeyError:
            continue
        pytest.skip(f"OS user {with_user} already exists on this machine: this test does not touch it")


def _drop_users() -> None:
    """Whatever a test left: the test users, their processes and homes (by the OS, not by labkit)."""
    for name in NAMES:
        try:
            entry = pwd.getpwnam(hubusers.os_user(name))
        except KeyError:
            continue
        if entry.pw_gecos.startswith(hubusers.MARK):
            subprocess.run(["pkill", "-KILL", "-u", entry.pw_name], check=False)
            subprocess.run(["userdel", entry.pw_name], capture_output=True, check=False)
            shutil.rmtree(entry.pw_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def room():
    """A room on loopback with learners ana and ben, in folders every user may enter; no OS users yet."""
    _root_or_skip()
    top = Path(tempfile.mkdtemp(prefix="labkit-hubusers-test-"))
    top.chmod(0o755)
    homes = top / "homes"
    homes.mkdir(mode=0o755)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LABKIT_HOME", str(top / "instructor"))
        try:
            the_room, _ = classroom.up("127.0.0.1", port=0, moto_port=0)
            roster, _ = classroom.ensure_roster(list(NAMES))
            yield the_room, {x.name: x for x in roster}, homes
        finally:
            _drop_users()
            classroom.down()
            shutil.rmtree(top, ignore_errors=True)


def _make_users(homes: Path, capsys) -> str:
    assert cli.main(["classroom", "hub-users", "--home-base", str(homes)]) == 0
    return capsys.readouterr().out


HUB_COMMANDS = ("jupyterhub", "configurable-http-proxy", "jupyterhub-singleuser")


def _python_like_an_instructors(folder: Path) -> str:
    """A Python every user may run, with this environment's packages: the system's own of the same version,
    in a venv in ``folder`` whose ``.pth`` adds this environment's site-packages, and the hub's commands.

    As an instructor installs it (docs/instructors.md: the Python the .venv was made from must be readable by
    every user); needed where this machine's is not, e.g. pyenv's under /root (0700)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = next((p for p in (f"/usr/bin/{version}", f"/usr/local/bin/{version}") if os.access(p, os.X_OK)), None)
    if system is None:
        _needed(f"no system {version} for a Python the learners' users can run (this one is {sys.executable})")
    venv = folder / "python"
    if (venv / "bin" / "python").exists():  # made by an earlier test of this module
        return str(venv / "bin" / "python")
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    site = venv / "lib" / version / "site-packages"
    (site / "labkit-test-venv.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    for command in HUB_COMMANDS:
        script = (Path(sys.executable).parent / command).read_text().splitlines(keepends=True)
        (venv / "bin" / command).write_text("".join([f"#!{venv / 'bin' / 'python'}\n", *script[1:]]))
        (venv / "bin" / command).chmod(0o755)
    return str(venv / "bin" / "python")


def _python_runs_for_learners(folder: Path) -> str:
    """A Python the hub's own check (as learner ana) passes with: this one if a learner can run it, else one
    made as an instructor would (``_python_like_an_instructors``)."""
    private = [classroom.roster_path()]
    try:
        hubusers.check_hub(classroom.read_roster(), sys.executable, private)
        return sys.executable
    except classroom.ClassroomError as err:
        if "cannot run" not in str(err):
            raise
    checkout = Path(__file__).resolve().parents[2]
    closed = [str(d) for d in [checkout, *checkout.parents] if not d.stat().st_mode & stat.S_IXOTH]
    if closed:  # a fact of this machine's checkout, not of labkit: an instructor installs where learners can read
        pytest.skip(f"this checkout is inside {closed[0]}, which other users cannot enter: no learner could run labkit")
    python = _python_like_an_instructors(folder)
    try:
        hubusers.check_hub(classroom.read_roster(), python, private)
    except classroom.ClassroomError as err:
        _needed(f"the learners' users cannot run a Python here, so the hub would refuse: {err}")
    return python


def _locked(user: str) -> bool:
    for line in Path("/etc/shadow").read_text().splitlines():
        if line.split(":")[0] == user:
            return line.split(":")[1].startswith(("!", "*"))
    raise AssertionError(f"{user} is not in /etc/shadow")


def test_the_hub_refuses_without_users_or_when_a_learner_could_not_run_it_or_could_read_the_roster(room, capsys):
    _, _, homes = room
    private = [classroom.roster_path()]
    with pytest.raises(classroom.ClassroomError, match=r"no OS user .*labkit-ana.*run `labkit classroom hub-users`"):
        hubusers.check_hub(classroom.read_roster(), sys.executable, private)
    _make_users(homes, capsys)
    try:
        python = _python_runs_for_learners(homes.parent)
        hidden = Path(tempfile.mkdtemp(prefix="labkit-hubusers-python-"))  # 0700, like /root
        try:
            (hidden / "python").symlink_to(python)
            with pytest.raises(
                classroom.ClassroomError, match=r"labkit-ana cannot run .*not under /root.*permission denied"
            ):
                hubusers.check_hub(classroom.read_roster(), str(hidden / "python"), private)
        finally:
            shutil.rmtree(hidden)
        roster = classroom.roster_path()
        try:
            classroom.folder().chmod(0o755)
            roster.chmod(0o644)
            with pytest.raises(classroom.ClassroomError, match=f"labkit-ana can read {re.escape(str(roster))}"):
                hubusers.check_hub(classroom.read_roster(), python, private)
        finally:
            classroom.folder().chmod(0o700)
            roster.chmod(0o600)
        assert cli.main(["classroom", "hub-users", "--remove"]) == 0
    finally:
        _drop_users()


@pytest.mark.slow
def test_each_learners_jupyterlab_runs_as_their_own_os_user(room, tmp_path, capsys):
    the_room, learners, homes = room
    bindir = Path(sys.executable).parent
    missing = [command for command in ("jupyterhub", "configurable-http-proxy") if not (bindir / command).exists()]
    if missing:
        _needed(f"{' and '.join(missing)} missing next to this Python: pip install -r requirements-dev.txt")
    assert "(2 new)" in _make_users(homes, capsys)
    try:
        _each_learner_runs_as_their_own_os_user(the_room, learners, homes, tmp_path, capsys)
    finally:
        _drop_users()


def _each_learner_runs_as_their_own_os_user(the_room, learners, homes, tmp_path, capsys):
    assert "(0 new)" in _make_users(homes, capsys)  # again: the same users, nothing new
    python = _python_runs_for_learners(homes.parent)
    ana, ben = (pwd.getpwnam(hubusers.os_user(name)) for name in NAMES)
    for entry in (ana, ben):
        info = os.stat(entry.pw_dir)
        assert (stat.S_IMODE(info.st_mode), info.st_uid) == (0o700, entry.pw_uid)
        assert entry.pw_uid != 0 and entry.pw_gecos.startswith(hubusers.MARK) and _locked(entry.pw_name)
    assert stat.S_IMODE(classroom.folder().stat().st_mode) == 0o700
    classroom.learner_session(the_room, learners["ana"])[1]("sqs").create_queue(QueueName="labkit-hub-ana")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LABKIT_CLASSROOM", "LABKIT_HUB"))}
    env["LABKIT_HUB_PASSWORD"] = PASSWORD  # no LABKIT_HUB_USERS: as root, one OS user per learner
    private = {
        "roster": classroom.roster_path(),
        "state": classroom.folder() / "state.json",
        "hubdb": classroom.folder().parent / "hub" / "jupyterhub.sqlite",
        "ben-notebook": Path(ben.pw_dir) / "notebooks" / "00-start-here.ipynb",
    }
    code = (
        "import os, pwd, boto3, labkit\n"
        "print('user', pwd.getpwuid(os.getuid()).pw_name, os.getuid())\n"
        f"for label, path in {[(k, str(v)) for k, v in private.items()]!r} + [('ben-home', {ben.pw_dir!r})]:\n"
        "    try:\n"
        "        os.listdir(path) if label == 'ben-home' else open(path, 'rb').close()\n"
        "        print('READ', label)\n"
        "    except PermissionError:\n"
        "        print('denied', label)\n"
        "mine = os.path.expanduser('~/notebooks')\n"
        "lesson = '00-start-here.ipynb'\n"
        "print('mine', os.path.exists(f'{mine}/{lesson}'), os.path.exists(f'{mine}/student/{lesson}'))\n"
        "labkit.connect(show=False)\n"
        "print('account', boto3.client('sts').get_caller_identity()['Account'])\n"
        "print('queues', boto3.client('sqs').list_queues().get('QueueUrls'))\n"
    )
    with run_hub(HUB_CONFIG, env, tmp_path, users={ana.pw_uid, ben.pw_uid}, python=python) as base:
        token = sign_in_and_start(base, "ana", PASSWORD)
        out = run_in_kernel(base, "ana", token, code)
    assert f"user {ana.pw_name} {ana.pw_uid}\n" in out, out
    for label in [*private, "ben-home"]:
        assert f"denied {label}\n" in out, out
    assert "mine True True\n" in out, out
    assert f"account {learners['ana'].access_key_id}\n" in out and "labkit-hub-ana" in out, out
    assert cli.main(["classroom", "hub-users", "--remove"]) == 0
    assert "removed 2 learners' OS users" in capsys.readouterr().out
    for entry in (ana, ben):
        with pytest.raises(KeyError):
            pwd.getpwnam(entry.pw_name)
        assert not Path(entry.pw_dir).exists()


# ----------------------------------------------------------------------------- without root


def test_learner_names_map_to_os_users_that_cannot_be_real_accounts():
    assert hubusers.os_user("Ana") == hubusers.os_user("ana") == "labkit-ana"
    odd = [hubusers.os_user(name) for name in ("ben.x", "ben_x", "Ben.X", "a" * 40)]
    assert odd[0] == odd[2] != odd[1] == "labkit-ben_x"  # a dot is not a user name: hashed, apart from ben_x
    assert all(re.fullmatch(r"labkit-[a-z0-9][a-z0-9_-]*", user) and len(user) <= 32 for user in odd)


def test_hub_users_says_in_one_line_it_needs_root_or_useradd(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    classroom.ensure_roster(["ana"])
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    for argv in (["classroom", "hub-users"], ["classroom", "hub-users", "--remove"]):
        assert cli.main(argv) == 1
        assert capsys.readouterr().err == (
            "labkit classroom: hub-users makes and removes OS users: run it as root (sudo .venv/bin/labkit ...)\n"
        )
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda tool: None)
    assert cli.main(["classroom", "hub-users"]) == 1
    err = capsys.readouterr().err
    assert err == "labkit classroom: useradd and userdel not found: install the system's user tools (passwd)\n"


def _load_hub_config(monkeypatch, users: str | None):
    from traitlets.config import Config

    monkeypatch.setenv("LABKIT_HUB_PASSWORD", PASSWORD)
    if users is None:
        monkeypatch.delenv("LABKIT_HUB_USERS", raising=False)
    else:
        monkeypatch.setenv("LABKIT_HUB_USERS", users)
    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(HUB_CONFIG), "__name__": "hub_config"}
    exec(compile(HUB_CONFIG.read_text(), str(HUB_CONFIG), "exec"), namespace)
    return config


def test_the_hub_refuses_os_users_without_root_and_an_unknown_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    classroom.ensure_roster(["ana"])
    monkeypatch.setattr(os, "getuid", lambda: 1000)
    with pytest.raises(SystemExit, match="LABKIT_HUB_USERS=os starts each learner's server as their OS user: run"):
        _load_hub_config(monkeypatch, "os")
    with pytest.raises(SystemExit, match=r"LABKIT_HUB_USERS is 'separate': use os .* or shared"):
        _load_hub_config(monkeypatch, "separate")
    config = _load_hub_config(monkeypatch, None)  # not root: every learner as this OS user
    assert config.JupyterHub.spawner_class == "simple"
    assert stat.S_IMODE((tmp_path / "hub").stat().st_mode) == 0o700  # the hub's database: the instructor's only


def test_the_hub_as_root_refuses_to_start_before_the_learners_users_are_made(tmp_path, monkeypatch):
    _root_or_skip()
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    classroom.ensure_roster(list(NAMES))
    with pytest.raises(SystemExit, match=r"^labkit hub: no OS user for 2 learner\(s\) \(labkit-ana, labkit-ben\): run"):
        _load_hub_config(monkeypatch, None)
