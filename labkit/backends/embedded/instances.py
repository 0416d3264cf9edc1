"""The instance runner: an EC2 instance's user data and boot scripts as a local process group.

Loaded by path in the moto server's process (``moto_fixes.py`` → ``instance_hooks.py``, the servers'
Python, where labkit is not installed: this module imports only the standard library, and PyYAML for
``#cloud-config``), and imported by labkit itself (``lifecycle.py``, ``backend.py``) for what it reads of
the records: ``labkit status``'s list and the sweep that ``labkit down`` and ``labkit reset`` do.

Why in the moto process and not a watcher outside it: moto changes an instance's state inside a call
(``run_instances`` → running, ``stop_instances`` → stopped ...), and Auto Scaling creates and terminates
instances through the same EC2 model. Hooking those methods (``instance_hooks.py``) means a process
starts and ends in the very call that changes the state, so states and processes agree at once, and
nothing polls. A watcher would lag behind, and could not tell a reboot (state stays ``running``) at all.

Why labkit's own code: cloud-init is the real thing on EC2, but it configures a whole machine (network,
users, packages, mounts) as root; there is no library that runs "what cloud-init runs for user data"
unprivileged in a directory. What is done here is cloud-init's convention for the parts a course uses
(https://cloudinit.readthedocs.io/en/latest/explanation/boot.html, /reference/modules.html):

- first boot: ``#cloud-config`` ``write_files`` then ``runcmd`` (strings through ``sh -c``, lists as
  argv), or a script with a ``#!`` line, run once; ``bootcmd`` and the executable files in
  ``var/lib/cloud/scripts/per-boot/`` (in name order) run at **every** boot, before the user data;
- each boot is one process group (``setsid``) whose working directory is the instance's root
  (``$LABKIT_HOME/instances/<id>/root``); its output (stdout and stderr) is the console output;
- ``stop`` ends the group (SIGTERM, then SIGKILL after ``GRACE_S``), the root stays; ``start`` boots
  again (no user data); ``reboot`` = stop + start; ``terminate`` ends it and removes the instance's files;
- an attached EBS volume is a directory ``$LABKIT_HOME/ebs/volumes/<vol-id>``, seen in the root at its
  device name (``/dev/sdf`` → ``dev/sdf``, a symlink); a snapshot copies it, a volume from a snapshot
  starts as a copy of that; so data outlives stop/start, detach/attach and the instance.

Every group's pid is written to ``instances/<id>/instance.json``, and each process carries
``LABKIT_INSTANCE_DIR`` in its environment, so ``sweep()`` can end them even when moto was SIGKILLed,
without ever signalling a process that is not an instance's (a reused pid).

An instance here is a process group running as you, not a VM: no kernel, no network of its own (it
shares this machine's 127.0.0.1), no root user; paths outside its root are this machine's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LIMIT = 20  # running instances per backend (AWS: a vCPU quota per account, here a count)
GRACE_S = 1.0  # SIGTERM → SIGKILL
CONSOLE_MAX = 64 * 1024  # GetConsoleOutput returns the latest 64 KB
MARKER = "LABKIT_INSTANCE_DIR"
PER_BOOT = "var/lib/cloud/scripts/per-boot"


def instances_dir(home: Path) -> Path:  # <instance-id>/instance.json, console.log, root/
    return home / "instances"


def ebs_dir(home: Path) -> Path:  # volumes/<vol-id>, snapshots/<snap-id>
    return home / "ebs"


@dataclass
class Record:
    """What the runner knows of one instance, as written to ``instances/<id>/instance.json``."""

    instance_id: str
    state: str = "pending"
    pid: int | None = None  # the running boot's process group (None while stopped)
    boots: int = 0
    user_data_ran: bool = False
    devices: dict[str, str] = field(default_factory=dict)  # device name → volume id


def read_records(home: Path) -> list[Record]:
    """Every instance record under ``home`` (unreadable ones skipped)."""
    found = []
    for path in sorted(instances_dir(home).glob("*/instance.json")):
        with contextlib.suppress(OSError, ValueError, TypeError):
            found.append(Record(**json.loads(path.read_text())))
    return found


def group_alive(pid: int, instance_dir: Path) -> bool:
    """True if some process of group ``pid`` still runs and is this instance's (its environment says so)."""
    return bool(_members(pid, instance_dir))


def _members(pid: int, instance_dir: Path) -> list[int]:
    wanted = f"{MARKER}={instance_dir}".encode()
    members = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if os.getpgid(int(proc.name)) != pid:
                continue
            if wanted in (proc / "environ").read_bytes().split(b"\0"):
                members.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return members


def end_group(pid: int, instance_dir: Path, grace_s: float = GRACE_S) -> bool:
    """SIGTERM the instance's group, SIGKILL what is left after ``grace_s``. True if anything ran."""
    if not _members(pid, instance_dir):
        return False
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _members(pid, instance_dir):
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.02)
    if _members(pid, instance_dir):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)  # never block: the reaper thread of the runner collects it too
    return True


def sweep(home: Path, *, remove: bool = True) -> list[str]:
    """End every recorded instance's processes (``labkit down``/``reset``, a SIGKILLed moto's leftovers);
    with ``remove``, also delete the instances' and volumes' files. Returns the ids that had processes."""
    ended = []
    for record in read_records(home):
        if record.pid and end_group(record.pid, instances_dir(home) / record.instance_id, grace_s=0.5):
            ended.append(record.instance_id)
    if remove:
        shutil.rmtree(instances_dir(home), ignore_errors=True)
        shutil.rmtree(ebs_dir(home), ignore_errors=True)
    return ended


def leftovers(*roots: Path) -> list[int]:
    """Pids of processes ``spawn_group`` started (instances, Beanstalk apps) for an owner under any of ``roots``
    (the test session's check)."""
    prefixes = [f"{MARKER}={root}".encode() for root in roots]
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError):
            if any(v.startswith(p) for v in (proc / "environ").read_bytes().split(b"\0") for p in prefixes):
                found.append(int(proc.name))
    return found


def running(home: Path) -> list[Record]:
    """Records whose process group is alive now (for ``labkit status``)."""
    return [r for r in read_records(home) if r.pid and group_alive(r.pid, instances_dir(home) / r.instance_id)]


def _shell(command: Any) -> str:
    """A cloud-config command: a string is shell, a list is argv (cloud-init's rule)."""
    return " ".join(shlex.quote(str(part)) for part in command) if isinstance(command, list) else str(command)


def cloud_config(text: str) -> dict[str, Any]:
    """The ``#cloud-config`` document; a clear error if it is not YAML of a mapping."""
    import yaml  # type: ignore[import-untyped]  # PyYAML: in the servers' environment, no stubs in ours

    doc = yaml.safe_load(text) or {}
    if not isinstance(doc, dict):
        raise ValueError("#cloud-config user data must be a YAML mapping (e.g. runcmd: [...])")
    return doc


def under_root(root: Path, path: str) -> Path:
    """An instance path (``/etc/app.conf``) inside the instance root, never outside it."""
    target = (root / path.lstrip("/")).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ValueError(f"{path!r} points outside the instance")
    return target


class Runner:
    """The instances of one moto process: boots, stops and ends their process groups."""

    def __init__(self, home: Path, env: Mapping[str, str], imds_url: str = "") -> None:
        self.home = home
        self.env = dict(env)  # what every instance's processes get (SDK endpoints, region, PATH)
        self.imds_url = imds_url.rstrip("/")
        self.records: dict[str, Record] = {}
        self.folders: set[str] = set()  # ids with a folder (attached once); moto's ~1,300 image volumes have none
        self.lock = threading.RLock()

    # where things are
    def dir(self, instance_id: str) -> Path:
        return instances_dir(self.home) / instance_id

    def root(self, instance_id: str) -> Path:
        root = self.dir(instance_id) / "root"
        root.mkdir(parents=True, exist_ok=True)
        return root

    def console_path(self, instance_id: str) -> Path:  # the instance's console output (what its boots printed)
        return self.dir(instance_id) / "console.log"

    def volume(self, volume_id: str) -> Path:
        path = ebs_dir(self.home) / "volumes" / volume_id
        path.mkdir(parents=True, exist_ok=True)
        self.folders.add(volume_id)
        return path

    def snapshot(self, snapshot_id: str) -> Path:
        return ebs_dir(self.home) / "snapshots" / snapshot_id

    def running_count(self) -> int:
        return sum(r.state == "running" for r in self.records.values())

    def _save(self, record: Record) -> None:
        path = self.dir(record.instance_id) / "instance.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record)))
        tmp.replace(path)

    def record(self, instance_id: str) -> Record:
        with self.lock:
            return self.records.setdefault(instance_id, Record(instance_id))

    # lifecycle
    def launch(self, instance_id: str, user_data: bytes | None) -> None:
        """First boot: the user data runs once (after the per-boot scripts, as cloud-init orders them)."""
        with self.lock:
            record = self.record(instance_id)
            base = self.dir(instance_id) / "root" / "var/lib/cloud/instance"
            base.mkdir(parents=True, exist_ok=True)
            (base / "user-data.txt").write_bytes(user_data or b"")
            self._boot(record, first=True, user_data=user_data or b"")

    def start(self, instance_id: str) -> None:
        with self.lock:
            record = self.record(instance_id)
            if record.state != "running":
                self._boot(record, first=False, user_data=b"")

    def stop(self, instance_id: str, state: str = "stopped") -> None:
        with self.lock:
            record = self.records.get(instance_id)
            if record is None:
                return
            if record.pid and end_group(record.pid, self.dir(instance_id)):
                self._log(instance_id, f"[labkit] instance {state}: its processes ended")
            record.pid, record.state = None, state
            self._save(record)

    def reboot(self, instance_id: str) -> None:
        with self.lock:
            if instance_id in self.records:
                self.stop(instance_id)
                self.start(instance_id)

    def terminate(self, instance_id: str) -> None:
        with self.lock:
            self.stop(instance_id, "terminated")
            if self.records.pop(instance_id, None) is not None or self.dir(instance_id).exists():
                shutil.rmtree(self.dir(instance_id), ignore_errors=True)

    def end_all(self) -> None:
        """Every instance's processes end and every file goes (moto reset, moto exiting)."""
        with self.lock:
            for record in self.records.values():  # all at once first, so N instances take one grace period
                if record.pid and group_alive(record.pid, self.dir(record.instance_id)):
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(record.pid, signal.SIGTERM)
            for instance_id in list(self.records):
                self.terminate(instance_id)
            sweep(self.home)
            self.folders.clear()

    # EBS
    def attach(self, instance_id: str, volume_id: str, device: str) -> None:
        link = self.root(instance_id) / device.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink():
            link.unlink()
        if not link.exists():
            link.symlink_to(self.volume(volume_id), target_is_directory=True)
        self.record(instance_id).devices[device] = volume_id
        self._save(self.record(instance_id))

    def detach(self, instance_id: str, device: str) -> None:
        link = self.dir(instance_id) / "root" / device.lstrip("/")
        if link.is_symlink():
            link.unlink()
        record = self.records.get(instance_id)
        if record is not None:
            record.devices.pop(device, None)
            self._save(record)

    def take_snapshot(self, volume_id: str, snapshot_id: str) -> None:
        if volume_id in self.folders:
            shutil.copytree(self.volume(volume_id), self.snapshot(snapshot_id), symlinks=True, dirs_exist_ok=True)
            self.folders.add(snapshot_id)

    def restore(self, snapshot_id: str, volume_id: str) -> None:
        if snapshot_id in self.folders:
            shutil.copytree(self.snapshot(snapshot_id), self.volume(volume_id), symlinks=True, dirs_exist_ok=True)

    def delete_volume(self, volume_id: str) -> None:
        if volume_id in self.folders:
            self.folders.discard(volume_id)
            shutil.rmtree(ebs_dir(self.home) / "volumes" / volume_id, ignore_errors=True)

    def delete_snapshot(self, snapshot_id: str) -> None:
        if snapshot_id in self.folders:
            self.folders.discard(snapshot_id)
            shutil.rmtree(self.snapshot(snapshot_id), ignore_errors=True)

    # console
    def console(self, instance_id: str) -> str | None:
        """The latest 64 KB of what the boots printed, or None for an instance this runner never ran."""
        path = self.console_path(instance_id)
        return path.read_bytes()[-CONSOLE_MAX:].decode(errors="replace") if path.exists() else None

    def _log(self, instance_id: str, line: str) -> None:
        with contextlib.suppress(OSError), self.console_path(instance_id).open("a") as out:
            out.write(line + "\n")

    # one boot
    def _script(self, record: Record, root: Path, first: bool, user_data: bytes) -> str:
        lines = ["#!/bin/sh", f"echo '[labkit] boot {record.boots} of {record.instance_id}'"]
        text = user_data.decode(errors="replace")
        doc: dict[str, Any] = {}
        config_file = root / "var/lib/cloud/instance/cloud-config.txt"
        if first and text.startswith("#cloud-config"):
            doc = cloud_config(text)
            config_file.write_text(text)
        elif config_file.exists():
            doc = cloud_config(config_file.read_text())
        for command in doc.get("bootcmd") or []:
            lines.append(_shell(command))
        lines.append(
            f'for f in "{PER_BOOT}"/*; do [ -f "$f" ] && [ -x "$f" ] && echo "[labkit] per-boot $f" && "./$f"; done'
        )
        if first and doc:
            for item in doc.get("write_files") or []:
                target = under_root(root, str(item["path"]))
                target.parent.mkdir(parents=True, exist_ok=True)
                mode = "a" if item.get("append") else "w"
                with target.open(mode) as out:
                    out.write(str(item.get("content", "")))
                if item.get("permissions"):
                    target.chmod(int(str(item["permissions"]), 8))
            lines += [_shell(command) for command in doc.get("runcmd") or []]
        elif first and text.startswith("#!"):
            script = root / "var/lib/cloud/instance/scripts/part-001"
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_bytes(user_data)
            script.chmod(0o755)
            lines.append("./var/lib/cloud/instance/scripts/part-001")
        elif first and text.strip():
            lines.append("echo '[labkit] user data is neither a #! script nor #cloud-config: not run'")
        return "\n".join(lines) + "\n"

    def _boot(self, record: Record, *, first: bool, user_data: bytes) -> None:
        root = self.root(record.instance_id)
        (root / PER_BOOT).mkdir(parents=True, exist_ok=True)
        record.boots += 1
        try:
            script = self._script(record, root, first, user_data)
        except (ValueError, KeyError, TypeError, OSError) as err:  # bad cloud-config: say so, as cloud-init logs it
            self._log(record.instance_id, f"[labkit] user data not run: {err}")
            script = "#!/bin/sh\n"
        boot = self.dir(record.instance_id) / f"boot-{record.boots}.sh"
        boot.write_text(script)
        env = {**self.env, "AWS_EC2_METADATA_SERVICE_ENDPOINT": f"{self.imds_url}/{record.instance_id}/"}
        log = self.console_path(record.instance_id)
        process = spawn_group(
            ["/bin/sh", str(boot)], root, {**env, "HOME": str(root)}, log, self.dir(record.instance_id)
        )
        record.pid, record.state = process.pid, "running"
        record.user_data_ran = record.user_data_ran or first
        self._save(record)


def spawn_group(argv: list[str], cwd: Path, env: Mapping[str, str], log: Path, owner: Path) -> subprocess.Popen[bytes]:
    """A process group of its own (``setsid``), output appended to ``log``, ``MARKER=owner`` in its environment
    (so ``end_group``/``sweep``/``leftovers`` know it), reaped by a thread whenever it ends. The one place the
    runner starts processes (see the layout test): an instance's boot, and a Beanstalk environment's app
    (``beanstalk.py``)."""
    with log.open("ab") as out:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env={**env, MARKER: str(owner)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    threading.Thread(target=process.wait, daemon=True).start()
    return process
