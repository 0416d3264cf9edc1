"""The ``labkit`` command: up | down | status | env | reset | doctor | cleanup.

Every problem is reported as one line that says what to do, with exit code 1.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

from labkit import config
from labkit.backends import aws, embedded, localstack
from labkit.errors import LabkitError
from labkit.lab import DUMMY_CREDENTIALS
from labkit.services import SERVICES


def _cmd_up(args: argparse.Namespace) -> int:
    name = config.resolve_backend(args.backend)
    if name == "embedded":
        t0 = time.perf_counter()
        state, started = embedded.ensure_running()
        verb = f"started in {time.perf_counter() - t0:.2f} s" if started else "already running"
        print(f"embedded backend {verb}: MiniStack {state.ministack.url}, moto {state.moto.url}")
        print('use it from a terminal with: eval "$(labkit env)"   stop it with: labkit down')
    elif name == "localstack":
        doc = localstack.require_running()
        print(f"LocalStack {doc.get('version', '?')} is answering at {config.localstack_url()}")
    else:
        aws.guard(args.allow_real_aws)
        print("real AWS needs nothing started; connect() checks credentials before anything is created")
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    stopped = embedded.stop()
    print(f"stopped {' and '.join(stopped)}" if stopped else "the embedded backend was not running")
    if config.resolve_backend(None) == "localstack" or localstack.health(timeout=0.3) is not None:
        print("LocalStack is yours to stop: docker compose down")
    return 0


def _env_values(name: str) -> dict[str, str]:
    region = config.region()
    if name == "embedded":
        env = {**embedded.endpoints(embedded.require_running()), **DUMMY_CREDENTIALS}
    elif name == "localstack":
        localstack.require_running()
        env = {**localstack.endpoints(), **DUMMY_CREDENTIALS}
    else:
        aws.guard(False)
        return {"LABKIT_BACKEND": "aws", "LABKIT_ALLOW_REAL_AWS": "1"}
    return {**env, "AWS_REGION": region, "AWS_DEFAULT_REGION": region, "LABKIT_BACKEND": name}


def _cmd_env(args: argparse.Namespace) -> int:
    name = config.resolve_backend(args.backend)
    values = _env_values(name)
    print(f'# labkit backend {name}: eval "$(labkit env)" points boto3 and the AWS CLI v2 here')
    if name != "aws":
        print("unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN")
    for key, value in sorted(values.items()):
        print(f"export {key}={shlex.quote(value)}")
    if "AWS_ENDPOINT_URL" in values:
        print('# the AWS CLI v1 ignores these: pass --endpoint-url "$AWS_ENDPOINT_URL" (ec2: $AWS_ENDPOINT_URL_EC2)')
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    name = config.resolve_backend(args.backend)
    print(f"backend: {name} (region {config.region()})")
    if name == "embedded":
        state = embedded.read_state()
        if state is None:
            print("  not running: start it with `labkit up`")
            return 1
        ok = True
        for server in state.servers:
            alive, answering = embedded.is_alive(server), embedded.answers(server)
            ok &= alive and answering
            mem = embedded.memory_mb(server)
            health = "answering" if answering else ("not answering" if alive else "stopped")
            print(
                f"  {server.name:<9} {server.version:<8} pid {server.pid:<7} {server.url:<24} {health}"
                + (f", {mem:.0f} MB" if mem else "")
            )
        print("  routes:")
        for service in SERVICES:
            server = state.moto if service.moto else state.ministack
            setting = service.endpoint_env if service.moto else "AWS_ENDPOINT_URL"
            print(f"    {service.name:<18} {server.name:<9} {server.url}  ({setting})")
        print(
            "  filled in by labkit where the emulator lacks it: AWS/SQS metrics, alarm → Auto Scaling, "
            "DLQ redrive (see each lesson's 'emulator vs AWS' box)"
        )
        if not ok:
            print("  unhealthy: `labkit up` replaces the stopped server")
        return 0 if ok else 1
    if name == "localstack":
        doc = localstack.require_running()
        print(f"  LocalStack {doc.get('version', '?')} at {config.localstack_url()}")
        services = doc.get("services", {})
        for service in SERVICES:
            print(f"    {service.name:<18} {services.get(service.client, 'not in this edition')}")
        return 0
    aws.guard(args.allow_real_aws)
    print(f"  real AWS, region {aws.sdk_region() or config.region()}; `labkit.connect()` shows the account")
    return 0


def _cmd_reset(args: argparse.Namespace) -> int:
    name = config.resolve_backend(args.backend)
    if name != "embedded":
        print(f"reset wipes emulator state; for {name}, delete resources with each lesson's clean-up cell")
        return 1
    print(f"wiped every resource on the embedded backend in {embedded.reset():.2f} s")
    return 0


def _cmd_cleanup(args: argparse.Namespace) -> int:
    import boto3

    import labkit
    from labkit import aws_cleanup

    if args.lesson is not None and not re.fullmatch(r"\d\d-[a-z0-9-]+", args.lesson):
        raise ValueError(f"--lesson {args.lesson!r} is not a lesson name: use its tag value, e.g. 03-lambda")
    name = config.resolve_backend(args.backend)
    if args.region:
        os.environ["LABKIT_REGION"] = args.region
    if name == "aws":
        aws.guard(args.allow_real_aws)
    lab = labkit.connect(backend=name, allow_real_aws=args.allow_real_aws, show=False)
    where = f"real AWS account {lab.account}" if lab.account else f"the {lab.backend} backend"
    verb = "listing (dry run)" if args.dry_run else "deleting"
    print(f"{verb} everything tagged {aws.TAG_KEY}={args.lesson or '*'} on {where}, region {lab.region}")
    report = aws_cleanup.clean_up(
        args.lesson, dry_run=args.dry_run, session=boto3.session.Session(region_name=lab.region)
    )
    print(report)
    # On an emulator a service it lacks cannot be listed; on AWS that means something may be left.
    return 1 if report.failed or (report.not_listed and not lab.is_emulator) else 0


def _doctor_checks() -> list[tuple[bool | None, str]]:
    """(ok, line) pairs; ok None means a note, not a problem."""
    import boto3

    checks: list[tuple[bool | None, str]] = []
    py = sys.version_info
    checks.append((py >= (3, 10), f"Python {py.major}.{py.minor}" + ("" if py >= (3, 10) else ": labkit needs 3.10+")))
    checks.append((None, f"boto3 {boto3.__version__} in this environment"))
    try:
        backend = config.resolve_backend(None)
        checks.append((True, f"backend {backend} (LABKIT_BACKEND={os.environ.get('LABKIT_BACKEND', '')!r})"))
    except LabkitError as err:
        checks.append((False, str(err)))
    try:
        python = embedded.server_python()
        versions = embedded.installed_versions(python)
        checks.append(
            (True, "embedded servers installed: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
        )
    except LabkitError as err:
        checks.append((False, str(err)))
    state = embedded.read_state()
    ours = {s.port for s in state.servers if embedded.is_alive(s)} if state else set()
    for variable, port in (("LABKIT_PORT", config.ministack_port()), ("LABKIT_MOTO_PORT", config.moto_port())):
        if port == 0 or port in ours:
            checks.append(
                (True, f"port {port or 'any'} ({variable}) " + ("is labkit's" if port else "chosen at start"))
            )
        elif embedded.port_is_free(port):
            checks.append((True, f"port {port} ({variable}) is free"))
        else:
            checks.append((False, f"port {port} is taken by another program: stop it or `export {variable}=0`"))
    if state is None:
        checks.append((None, "embedded backend not running (connect() or `labkit up` starts it)"))
    else:
        ok = embedded.healthy(state)
        checks.append((ok, "embedded backend answering" if ok else "embedded backend is down: run `labkit up`"))
    if shutil.which("docker") is None:
        checks.append((None, "no docker command: the localstack backend needs Docker (the embedded one does not)"))
    else:
        engine = subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
        checks.append(
            (
                None,
                "Docker engine running" if engine else "docker CLI found but no engine: LocalStack cannot start here",
            )
        )
    image = os.environ.get("LOCALSTACK_IMAGE", "localstack/localstack:4.14")
    token = bool(os.environ.get("LOCALSTACK_AUTH_TOKEN"))
    if image.endswith(":4.14") or token:
        checks.append((None, f"LocalStack image {image}" + (", auth token set" if token else ", no auth token needed")))
    else:
        checks.append(
            (False, f"LocalStack image {image} needs LOCALSTACK_AUTH_TOKEN: set it, or unset LOCALSTACK_IMAGE")
        )
    doc = localstack.health(timeout=0.5)
    checks.append(
        (
            None,
            f"LocalStack answering at {config.localstack_url()}"
            if doc
            else "LocalStack not running (fine unless you chose it)",
        )
    )
    allowed = config.real_aws_allowed()
    checks.append(
        (None, "real AWS allowed (LABKIT_ALLOW_REAL_AWS=1)" if allowed else "real AWS not allowed (the default)")
    )
    return checks


def _cmd_doctor(args: argparse.Namespace) -> int:
    checks = _doctor_checks()
    for ok, line in checks:
        print(f"{'·' if ok is None else '✓' if ok else '✗'} {line}")
    return 1 if any(ok is False for ok in checks) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labkit", description="Run the course's AWS backend.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("up", _cmd_up, "start the backend (embedded) or check it answers"),
        ("down", _cmd_down, "stop everything labkit started"),
        ("status", _cmd_status, "each service's route and health"),
        ("env", _cmd_env, 'shell exports for this backend: eval "$(labkit env)"'),
        ("reset", _cmd_reset, "wipe every resource on the embedded backend"),
        ("doctor", _cmd_doctor, "check ports, versions, Docker and LocalStack; say how to fix each"),
        ("cleanup", _cmd_cleanup, "delete every resource tagged labkit:lesson (or list them with --dry-run)"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(func=func)
        if name in ("up", "status", "env", "reset", "cleanup"):
            p.add_argument("--backend", help="embedded, localstack or aws (default: $LABKIT_BACKEND or embedded)")
        if name in ("up", "status", "cleanup"):
            p.add_argument("--allow-real-aws", action="store_true", help="opt in to a real AWS account")
        if name == "cleanup":
            p.add_argument("--lesson", help="only this lesson's resources (its tag value, e.g. 03-lambda)")
            p.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
            p.add_argument("--region", help="the region to clean (default: $LABKIT_REGION, then the SDK's)")
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (LabkitError, ValueError) as err:
        print(f"labkit {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
