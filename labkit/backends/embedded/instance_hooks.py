"""moto's EC2 model, hooked so its instances run (``instances.py``) and answer metadata (``imds.py``).

Loaded by path by the moto launcher (``moto_fixes.py``, the servers' Python; standard library, moto and
this directory's files only). ``apply(home, env, credentials)`` patches, in this process:

- ``InstanceBackend.run_instances``: refuses a launch that would make more than ``LIMIT`` (20) running
  instances, with EC2's ``InstanceLimitExceeded`` error shape; then each new instance boots (its user
  data, or its launch template's: moto hands Auto Scaling's launches the template's user data too);
- ``Instance.start / stop / reboot / terminate``: the process group starts, ends, restarts, ends and its
  files go, inside the call that changes the state (Auto Scaling's scale-in terminates through it too);
- ``EBSBackend.attach_volume / detach_volume / create_volume / delete_volume / create_snapshot /
  delete_snapshot``: a volume's directory appears at its device name in the root, goes on detach, is
  copied by a snapshot and into a volume made from it;
- ``GetConsoleOutput``: what the instance's boots printed (base64, latest 64 KB), instead of moto's
  fixed sample text;
- ``/moto-api/reset`` (``labkit reset``): every instance's processes end first;

and registers, for when moto exits (SIGTERM → ``sys.exit``), that every process group ends.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent


def _sibling(name: str) -> ModuleType:
    """A module of this directory: imported as labkit's where labkit is importable, else loaded by path."""
    if __package__:
        return importlib.import_module(f"{__package__}.{name}")
    key = f"labkit_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.spec_from_file_location(key, HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[key] = module
    spec.loader.exec_module(module)
    return module


def _metadata(runner: Any) -> Callable[[str], dict[str, Any] | None]:
    """What IMDS says of an instance, read from moto's model (None unless it runs)."""

    def describe(instance_id: str) -> dict[str, Any] | None:
        from moto.ec2.models import ec2_backends

        if instance_id not in runner.records:
            return None
        for account, regions in list(ec2_backends.items()):
            for region, backend in list(regions.items()):
                instance = backend.get_instance_by_id(instance_id) if hasattr(backend, "reservations") else None
                if instance is None or instance.state != "running":
                    continue
                profile = instance.iam_instance_profile or {}
                role = str(profile.get("Arn") or profile.get("Name") or "").rsplit("/", 1)[-1]
                options = getattr(instance, "metadata_options", None)
                return {
                    "id": instance.id,
                    "account": account,
                    "region": region,
                    "zone": instance.placement.zone,
                    "type": instance.instance_type,
                    "image": instance.image_id,
                    "ip": instance.private_ip,
                    "launched": instance.launch_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "role": role,
                    "user_data": instance.user_data.decode() if instance.user_data else "",
                    "tokens_required": getattr(options, "http_tokens", "optional") == "required",
                }
        return None

    return describe


def apply(home: Path, env: Mapping[str, str], credentials: Mapping[str, str], limit: int | None = None) -> Any:
    """Patch moto in this process; returns the Runner (tests look at it)."""
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.elastic_block_store import EBSBackend
    from moto.ec2.models.instances import Instance, InstanceBackend
    from moto.ec2.responses.general import General
    from moto.ec2.utils import Base64EncodedString
    from moto.moto_api._internal.models import MotoAPIBackend

    instances, imds = _sibling("instances"), _sibling("imds")
    instances.sweep(home)  # what a SIGKILLed moto left behind
    maximum = instances.LIMIT if limit is None else limit
    runner = instances.Runner(home, env)
    server = imds.serve(imds.Metadata(_metadata(runner), dict(credentials)))
    runner.imds_url = f"http://127.0.0.1:{server.server_address[1]}"

    original: dict[str, Any] = {
        "run": InstanceBackend.run_instances,
        "start": Instance.start,
        "stop": Instance.stop,
        "reboot": Instance.reboot,
        "terminate": Instance.terminate,
        "attach": EBSBackend.attach_volume,
        "detach": EBSBackend.detach_volume,
        "create_volume": EBSBackend.create_volume,
        "delete_volume": EBSBackend.delete_volume,
        "snapshot": EBSBackend.create_snapshot,
        "delete_snapshot": EBSBackend.delete_snapshot,
        "console": General.get_console_output,
        "reset": MotoAPIBackend.reset,
    }

    def refuse_beyond(count: int) -> None:
        if runner.running_count() + count > maximum:
            raise EC2ClientError(
                "InstanceLimitExceeded",
                f"You have requested more instances ({runner.running_count() + count}) than this labkit backend"
                f" runs at once ({maximum}): terminate some first (each one is a process group on this machine).",
            )

    def run_instances(self: Any, image_id: str, count: int, user_data: Any, *args: Any, **kwargs: Any) -> Any:
        refuse_beyond(count)
        reservation = original["run"](self, image_id, count, user_data, *args, **kwargs)
        for instance in reservation.instances:
            data = instance.user_data
            runner.launch(instance.id, base64_bytes(data))
        return reservation

    def base64_bytes(data: Any) -> bytes:
        if data is None:
            return b""
        import base64

        return base64.b64decode(data.as_bytes() if hasattr(data, "as_bytes") else data)

    def start(self: Any) -> Any:
        if self.id in runner.records and runner.records[self.id].state != "running":
            refuse_beyond(1)
        previous = original["start"](self)
        runner.start(self.id)
        return previous

    def stop(self: Any) -> Any:
        runner.stop(self.id)
        return original["stop"](self)

    def reboot(self: Any) -> Any:
        result = original["reboot"](self)
        runner.reboot(self.id)
        return result

    def terminate(self: Any) -> Any:
        runner.stop(self.id, "terminated")
        previous = original["terminate"](self)  # detaches (and deletes DeleteOnTermination volumes)
        runner.terminate(self.id)
        return previous

    def attach_volume(self: Any, volume_id: str, instance_id: str, device_path: str, *args: Any, **kw: Any) -> Any:
        attachment = original["attach"](self, volume_id, instance_id, device_path, *args, **kw)
        instance = self.get_instance(instance_id)
        if attachment is not None and device_path != instance.root_device_name and device_path != "/dev/sda1":
            runner.attach(instance_id, volume_id, device_path)
        return attachment

    def detach_volume(self: Any, volume_id: str, instance_id: str, device_path: str) -> Any:
        attachment = original["detach"](self, volume_id, instance_id, device_path)
        runner.detach(attachment.instance.id, attachment.device)
        return attachment

    def create_volume(self: Any, *args: Any, **kwargs: Any) -> Any:
        volume = original["create_volume"](self, *args, **kwargs)
        if volume.snapshot_id:
            runner.restore(volume.snapshot_id, volume.id)
        return volume

    def delete_volume(self: Any, volume_id: str) -> Any:
        volume = original["delete_volume"](self, volume_id)
        runner.delete_volume(volume_id)
        return volume

    def create_snapshot(self: Any, volume_id: str, *args: Any, **kwargs: Any) -> Any:
        snapshot = original["snapshot"](self, volume_id, *args, **kwargs)
        runner.take_snapshot(volume_id, snapshot.id)
        return snapshot

    def delete_snapshot(self: Any, snapshot_id: str) -> Any:
        snapshot = original["delete_snapshot"](self, snapshot_id)
        runner.delete_snapshot(snapshot_id)
        return snapshot

    def get_console_output(self: Any) -> Any:
        from moto.core.responses import ActionResult
        from moto.core.utils import utcnow

        instance = self.ec2_backend.get_instance(self._get_param("InstanceId"))
        text = runner.console(instance.id)
        if text is None:
            return original["console"](self)
        return ActionResult(
            {"InstanceId": instance.id, "Timestamp": utcnow(), "Output": Base64EncodedString.from_raw_string(text)}
        )

    def reset(self: Any) -> Any:
        runner.end_all()
        return original["reset"](self)

    patches: list[tuple[type, str, Callable[..., Any]]] = [
        (InstanceBackend, "run_instances", run_instances),
        (Instance, "start", start),
        (Instance, "stop", stop),
        (Instance, "reboot", reboot),
        (Instance, "terminate", terminate),
        (EBSBackend, "attach_volume", attach_volume),
        (EBSBackend, "detach_volume", detach_volume),
        (EBSBackend, "create_volume", create_volume),
        (EBSBackend, "delete_volume", delete_volume),
        (EBSBackend, "create_snapshot", create_snapshot),
        (EBSBackend, "delete_snapshot", delete_snapshot),
        (General, "get_console_output", get_console_output),
        (MotoAPIBackend, "reset", reset),
    ]
    for owner, name, method in patches:
        setattr(owner, name, method)
    atexit.register(runner.end_all)
    return runner


CLASSROOM_REFUSAL = (
    "labkit classroom: instances are records on the room's server; their user data does not run"
    " (it would run on the instructor's machine, as the instructor). Run lesson 01 on your own machine"
    " (`labkit up`, without joining the room) to see instances run."
)


def refuse(line: str = CLASSROOM_REFUSAL) -> None:
    """Where instances must not run (the classroom's moto): nothing is hooked but the console output,
    which says so in one line, where a learner looks for what the user data printed. Beanstalk bundles
    do not run there either (``beanstalk_hooks.refuse``: the API answers, an event says why)."""
    _sibling("beanstalk_hooks").refuse()
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.ec2.responses.general import General
    from moto.ec2.utils import Base64EncodedString

    def get_console_output(self: Any) -> Any:
        instance = self.ec2_backend.get_instance(self._get_param("InstanceId"))
        output = Base64EncodedString.from_raw_string(line + "\n")
        return ActionResult({"InstanceId": instance.id, "Timestamp": utcnow(), "Output": output})

    General.get_console_output = get_console_output  # type: ignore[method-assign]
