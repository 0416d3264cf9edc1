"""moto's Elastic Beanstalk, completed so that an environment serves its application version (``beanstalk.py``).

Loaded by path by the moto launcher (``moto_fixes.py``, the servers' Python; standard library, moto and this
directory's files). moto 5.2.5 records applications and environments only (status ``Ready``, health ``Grey``,
no id, no address) and has no application versions, updates, terminations or events. ``apply()`` adds, in this
process, what lesson 01 uses, as the API reference describes it
(https://docs.aws.amazon.com/elasticbeanstalk/latest/api/API_Operations.html):

- ``CreateApplicationVersion`` / ``DescribeApplicationVersions`` / ``DeleteApplicationVersion`` (with
  ``DeleteSourceBundle``, which deletes the bundle from S3 through the backend): a version names a source bundle
  (``SourceBundle``: ``S3Bucket``, ``S3Key``), recorded as ``UNPROCESSED`` (``Process`` is not done);
- ``CreateEnvironment(VersionLabel=...)``: an ``e-`` id, status ``Launching``, then the version is deployed in
  the background and the environment becomes ``Ready`` with health ``Green`` (it answers) or ``Red`` (it does
  not, and an ``ERROR`` event says why); ``CNAME`` and ``EndpointURL`` are ``127.0.0.1:<port>``, the address
  that reaches it here (AWS: ``<prefix>.<region>.elasticbeanstalk.com``, which does not resolve offline);
- ``UpdateEnvironment(VersionLabel=...)``: ``Updating``, the new version replaces the process, same address;
  refused unless the environment is ``Ready``, as AWS refuses it;
- ``TerminateEnvironment``: ``Terminating``, the process ends, then ``Terminated`` (still listed, as AWS lists a
  terminated environment for a while); ``DeleteApplication`` ends its environments' processes too;
- ``DescribeEnvironments`` honours ``ApplicationName``, ``EnvironmentNames``, ``EnvironmentIds``,
  ``IncludeDeleted`` (moto 5.2.5 lists every environment whatever is asked);
- ``DescribeEvents``: what the deployments did, newest first, filtered by application, environment, version
  and minimum ``Severity``;
- ``/moto-api/reset`` ends every environment's process first, and so does moto exiting.

In the classroom's moto (``refuse()``) the same API answers but nothing is served: the bundle would run on the
instructor's machine, so the environment stays health ``Grey`` and a ``WARN`` event says so.
"""

from __future__ import annotations

import atexit
import secrets
import string
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

SEVERITIES = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


def _state(backend: Any) -> dict[str, Any]:
    """labkit's records on one moto EB backend (they go with it on reset): versions and events."""
    state: dict[str, Any] = backend.__dict__.setdefault("labkit", {"versions": {}, "events": []})
    return state


CLASSROOM_REFUSAL = (
    "labkit classroom: environments are records on the room's server; your bundle does not run (it would run"
    " on the instructor's machine, as the instructor). Run lesson 01 on your own machine to see it served."
)


class Refusal:
    """Where bundles must not run (the classroom's moto): the API answers, nothing serves, an event says why."""

    class Failed(Exception):
        pass

    def __init__(self, line: str) -> None:
        self.line = line

    def deploy(self, env_id: str, bucket: str, key: str) -> str:
        raise self.Failed(self.line)

    def port(self, env_id: str) -> None:
        return None

    def terminate(self, env_id: str) -> None:
        pass

    def end_all(self) -> None:
        pass

    def delete_bundle(self, bucket: str, key: str) -> None:
        pass  # the room's moto holds no learner's credentials for S3: the bundle stays


def apply(home: Path, env: Mapping[str, str], credentials: Mapping[str, str], load: Callable[[str], ModuleType]) -> Any:
    """Patch moto in this process so environments serve; returns what undoes the patches (for tests)."""
    serving = load("beanstalk")
    serving.sweep(home)  # what a SIGKILLed moto left behind
    return _patch(serving.Apps(home, env, credentials, sys.executable), serving.DeployFailed)


def refuse(line: str = CLASSROOM_REFUSAL) -> Any:
    """The same API, for the classroom's moto, where nothing is served: health stays Grey, a WARN event says why."""
    refusal = Refusal(line)
    return _patch(refusal, refusal.Failed)


def _patch(apps: Any, failed: type[Exception]) -> Callable[[], None]:
    from moto.core.responses import ActionResult, EmptyResult
    from moto.core.utils import utcnow
    from moto.elasticbeanstalk.exceptions import InvalidParameterValueError
    from moto.elasticbeanstalk.responses import EBResponse
    from moto.elasticbeanstalk.utils import make_arn
    from moto.moto_api._internal.models import MotoAPIBackend

    lock = threading.RLock()
    original = {name: getattr(EBResponse, name) for name in ("create_environment", "delete_application")}
    original_reset = MotoAPIBackend.reset

    def event(backend: Any, environment: Any, message: str, severity: str = "INFO", label: Any = None) -> None:
        _state(backend)["events"].append(
            {
                "EventDate": utcnow(),
                "Message": message,
                "ApplicationName": environment.application_name,
                "EnvironmentName": environment.environment_name,
                "VersionLabel": label if label is not None else environment.version_label,
                "Severity": severity,
                "labkit_environment_id": environment.environment_id,
            }
        )

    def version(backend: Any, app_name: str, label: str) -> dict[str, Any]:
        found = _state(backend)["versions"].get((app_name, label))
        if found is None:
            raise InvalidParameterValueError(f"No Application Version named '{label}' found.")
        return dict(found)

    def find(self: Any) -> Any:
        name, env_id = self._get_param("EnvironmentName"), self._get_param("EnvironmentId")
        for environment in self.elasticbeanstalk_backend.describe_environments():
            if environment.status != "Terminated" and (
                environment.environment_name == name or (env_id and environment.environment_id == env_id)
            ):
                return environment
        raise InvalidParameterValueError(f"No Environment found for EnvironmentName = '{name or env_id}'.")

    def deploy(backend: Any, environment: Any, found: dict[str, Any], verb: str) -> None:
        """Serve ``found`` in the background; the environment says how it went (status, health, events)."""
        label, bundle = found["VersionLabel"], found["SourceBundle"]

        def work() -> None:
            try:
                said = apps.deploy(environment.environment_id, bundle["S3Bucket"], bundle["S3Key"])
            except Refusal.Failed as err:
                with lock:
                    event(backend, environment, str(err), "WARN", label)
            except Exception as err:  # DeployFailed, or anything unforeseen: said, never a stuck "Launching"
                reason = str(err) if isinstance(err, failed) else f"{type(err).__name__}: {err}"
                with lock:
                    environment.health, environment.health_status = "Red", "Severe"
                    event(backend, environment, f"Version {label} failed to deploy: {reason}", "ERROR", label)
                    event(backend, environment, f"{verb} operation is complete, but with errors.", "ERROR", label)
            else:
                with lock:
                    environment.health, environment.health_status = "Green", "Ok"
                    event(backend, environment, f"Version {label}: {said}.", "INFO", label)
                    event(backend, environment, f"{verb} completed successfully.", "INFO", label)
            finally:
                with lock:
                    environment.status, environment.date_updated = "Ready", utcnow()

        threading.Thread(target=work, name=f"labkit-eb-{environment.environment_id}", daemon=True).start()

    def create_application_version(self: Any) -> Any:
        backend, app_name = self.elasticbeanstalk_backend, self._get_param("ApplicationName")
        label, bundle = self._get_param("VersionLabel"), self._get_param("SourceBundle") or {}
        if app_name not in backend.applications:
            raise InvalidParameterValueError(f"No Application named '{app_name}' found.")
        if (app_name, label) in _state(backend)["versions"]:
            raise InvalidParameterValueError(f"Application Version {label} already exists.")
        if not bundle.get("S3Bucket") or not bundle.get("S3Key"):
            raise InvalidParameterValueError("SourceBundle needs both S3Bucket and S3Key.")
        now = utcnow()
        record = {
            "ApplicationVersionArn": make_arn(
                backend.region_name, backend.account_id, "applicationversion", f"{app_name}/{label}"
            ),
            "ApplicationName": app_name,
            "VersionLabel": label,
            "Description": self._get_param("Description") or "",
            "SourceBundle": {"S3Bucket": bundle["S3Bucket"], "S3Key": bundle["S3Key"]},
            "DateCreated": now,
            "DateUpdated": now,
            "Status": "UNPROCESSED",
        }
        _state(backend)["versions"][(app_name, label)] = record
        return ActionResult({"ApplicationVersion": record})

    def describe_application_versions(self: Any) -> Any:
        app_name, labels = self._get_param("ApplicationName"), set(self._get_param("VersionLabels") or [])
        found = [
            v
            for (app, label), v in _state(self.elasticbeanstalk_backend)["versions"].items()
            if (not app_name or app == app_name) and (not labels or label in labels)
        ]
        found.sort(key=lambda v: v["DateCreated"], reverse=True)
        return ActionResult({"ApplicationVersions": found})

    def delete_application_version(self: Any) -> Any:
        backend, app_name, label = (
            self.elasticbeanstalk_backend,
            self._get_param("ApplicationName"),
            self._get_param("VersionLabel"),
        )
        found = version(backend, app_name, label)
        in_use = [
            e.environment_name
            for e in backend.describe_environments()
            if e.application_name == app_name and e.version_label == label and e.status != "Terminated"
        ]
        if in_use:
            raise InvalidParameterValueError(
                f"Unable to delete application version {label}: environment {in_use[0]} runs it."
            )
        del _state(backend)["versions"][(app_name, label)]
        if str(self._get_param("DeleteSourceBundle")).lower() == "true":
            apps.delete_bundle(found["SourceBundle"]["S3Bucket"], found["SourceBundle"]["S3Key"])
        return EmptyResult()

    def create_environment(self: Any) -> Any:
        backend, app_name = self.elasticbeanstalk_backend, self._get_param("ApplicationName")
        label = self._get_param("VersionLabel")
        found = version(backend, app_name, label) if label else None
        app = backend.applications.get(app_name)
        name = self._get_param("EnvironmentName")
        if app is not None and getattr(app.environments.get(name), "status", "") == "Terminated":
            del app.environments[name]  # a terminated environment's name can be used again
        result = original["create_environment"](self)
        environment = app.environments[name]
        environment.environment_id = "e-" + "".join(
            secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10)
        )
        environment.solution_stack_name = self._get_param("SolutionStackName") or "None"
        environment.version_label = label
        port = apps.port(environment.environment_id)
        environment.cname = environment.endpoint_url = f"127.0.0.1:{port}" if port else ""
        event(backend, environment, "createEnvironment is starting.")
        if found is None:
            event(
                backend,
                environment,
                "No VersionLabel: nothing to serve (AWS would deploy its sample application).",
                "WARN",
            )
        else:
            environment.status = "Launching"
            deploy(backend, environment, found, "Create environment")
        return result

    def update_environment(self: Any) -> Any:
        backend = self.elasticbeanstalk_backend
        environment = find(self)
        label = self._get_param("VersionLabel")
        with lock:
            if environment.status != "Ready":
                raise InvalidParameterValueError(
                    f"Environment named {environment.environment_name} is in an invalid state for this operation."
                    " Must be Ready."
                )
            if label:
                found = version(backend, environment.application_name, label)
                environment.status, environment.version_label = "Updating", label
                event(backend, environment, "Environment update is starting.", label=label)
                deploy(backend, environment, found, "Environment update")
        return ActionResult(environment)

    def end(backend: Any, environment: Any) -> None:
        environment.status = "Terminating"
        event(backend, environment, "terminateEnvironment is starting.")

        def work() -> None:
            apps.terminate(environment.environment_id)
            with lock:
                environment.status, environment.health, environment.health_status = "Terminated", "Grey", None
                event(backend, environment, "terminateEnvironment completed successfully.")

        threading.Thread(target=work, daemon=True).start()

    def terminate_environment(self: Any) -> Any:
        environment = find(self)
        end(self.elasticbeanstalk_backend, environment)
        return ActionResult(environment)

    def describe_environments(self: Any) -> Any:
        app_name = self._get_param("ApplicationName")
        names, ids = set(self._get_param("EnvironmentNames") or []), set(self._get_param("EnvironmentIds") or [])
        deleted = str(self._get_param("IncludeDeleted", True)).lower() != "false"
        found = [
            e
            for e in self.elasticbeanstalk_backend.describe_environments()
            if (not app_name or e.application_name == app_name)
            and (not names or e.environment_name in names)
            and (not ids or e.environment_id in ids)
            and (deleted or e.status != "Terminated")
        ]
        return ActionResult({"Environments": found})

    def describe_events(self: Any) -> Any:
        wanted = {k: self._get_param(k) for k in ("ApplicationName", "EnvironmentName", "VersionLabel")}
        env_id, severity = self._get_param("EnvironmentId"), self._get_param("Severity") or "TRACE"
        floor = SEVERITIES.index(severity) if severity in SEVERITIES else 0
        found = [
            {k: v for k, v in e.items() if not k.startswith("labkit_")}
            for e in reversed(_state(self.elasticbeanstalk_backend)["events"])
            if all(not value or e[key] == value for key, value in wanted.items())
            and (not env_id or e["labkit_environment_id"] == env_id)
            and SEVERITIES.index(e["Severity"]) >= floor
        ]
        return ActionResult({"Events": found[: int(self._get_param("MaxRecords") or 1000)]})

    def delete_application(self: Any) -> Any:
        backend, app_name = self.elasticbeanstalk_backend, self._get_param("ApplicationName")
        for environment in list(getattr(backend.applications.get(app_name), "environments", {}).values()):
            apps.terminate(environment.environment_id)
        for key in [k for k in _state(backend)["versions"] if k[0] == app_name]:
            del _state(backend)["versions"][key]
        return original["delete_application"](self)

    def reset(self: Any) -> Any:
        apps.end_all()
        return original_reset(self)

    patches = {
        "create_application_version": create_application_version,
        "describe_application_versions": describe_application_versions,
        "delete_application_version": delete_application_version,
        "create_environment": create_environment,
        "update_environment": update_environment,
        "terminate_environment": terminate_environment,
        "describe_environments": describe_environments,
        "describe_events": describe_events,
        "delete_application": delete_application,
    }
    originals = {name: getattr(EBResponse, name, None) for name in patches}
    for name, method in patches.items():
        setattr(EBResponse, name, method)
    MotoAPIBackend.reset = reset  # type: ignore[method-assign]
    atexit.register(apps.end_all)

    def undo() -> None:
        for name, method in originals.items():
            if method is None:
                delattr(EBResponse, name)
            else:
                setattr(EBResponse, name, method)
        MotoAPIBackend.reset = original_reset  # type: ignore[method-assign]
        apps.end_all()

    return undo
