"""The ``labkit`` command: up | down | status | env | reset | doctor | cleanup | student | progress | classroom.

``labkit classroom up | key | reset | status | down | progress`` runs one backend for a whole room
(labkit/classroom.py, docs/instructors.md).

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

from labkit import classroom, config
from labkit.backends import aws, embedded, localstack
from labkit.backends.services import SERVICES
from labkit.errors import LabkitError
from labkit.lab import DUMMY_CREDENTIALS


def _cmd_up(args: argparse.Namespace) -> int:
    name = config.resolve_backend(args.backend)
    if name == "embedded" and (room := classroom.learner_env()) is not None:
        _, url, _, learner = room
        print(f"classroom: the room's server at {url} answers{' (learner ' + learner + ')' if learner else ''}")
        print("nothing to start on this machine: your lessons use the room's server with your own key")
    elif name == "embedded":
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
    if name == "embedded" and (room := classroom.learner_env()) is not None:
        env = room[0]
    elif name == "embedded":
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
    from labkit import ops

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
    report = ops.clean_up(args.lesson, dry_run=args.dry_run, session=boto3.session.Session(region_name=lab.region))
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


PROGRESS_HELP = """\
How it works: outside a notebook there are no notebook variables, so for each exercise labkit
looks on the backend for what the exercise makes, by the names the lessons use (e.g.
labkit-04-<suffix>-steps.fifo) or by the labkit:lesson tag (tags=lab.tag_dict), and runs the
lesson's own check on it. Nothing is read from a file or flag you could set.

  pass         the check passes on what is on the backend now
  not yet      found, but the check gives a hint (shown)
  not started  nothing found: not started, OR CLEANED UP. Each lesson ends with a Clean up
               cell that deletes what it created, so run progress before that cell; an
               embedded backend that was stopped or reset has forgotten everything too
  unavailable  it cannot be checked here: the backend is down or lacks the service, or the
               result lives only in the notebook's kernel (lesson 07's tuned rule, lesson 11's
               reader user): there its check cell is the record

In a notebook: labkit.exercises.show(). Exit code 1 only if the backend cannot be reached."""


def _cmd_progress(args: argparse.Namespace) -> int:
    from labkit import exercises

    progress = exercises.report(args.lesson, backend=args.backend, allow_real_aws=args.allow_real_aws)
    width = None if args.lesson else max(shutil.get_terminal_size((120, 24)).columns, 100)
    print(progress.table(width=width))
    return 0 if progress.reachable else 1


# --- labkit classroom -----------------------------------------------------------------


def _cmd_classroom_up(args: argparse.Namespace) -> int:
    bind = classroom.check_bind(args.bind)  # refuses without --bind, before anything starts
    names = classroom.learner_names(args.learners, args.names)
    if not names and not classroom.read_roster():
        raise classroom.ClassroomError("say who is in the room: pass --learners 30 (or --names ana,ben,...)")
    t0 = time.perf_counter()
    room, started = classroom.up(bind, args.advertise, args.port, args.moto_port)
    roster, added = classroom.ensure_roster(names)
    verb = f"started in {time.perf_counter() - t0:.1f} s" if started else "already running"
    print(
        f"classroom {verb} on {room.bind}: MiniStack port {room.ministack.port}, moto port {room.moto.port}; "
        f"learners connect to {room.learner_url(room.ministack)}"
    )
    print(f"roster: {len(roster)} learners ({len(added)} new) in {classroom.roster_path()} (readable by you only)")
    print("hand out settings: labkit classroom key <learner> --out <learner>.env   (all: key --all --out <folder>)")
    if room.bind.startswith("127."):
        print("reachable from this machine only (a rehearsal): learners elsewhere cannot connect")
    else:
        where = "every network this machine is on" if room.bind == "0.0.0.0" else f"the network of {room.bind}"
        print(
            f"exposed: anyone on {where} can reach ports {room.ministack.port} and {room.moto.port}; "
            "allow only the room's network in your firewall, and stop it with: labkit classroom down"
        )
    return 0


def _cmd_classroom_key(args: argparse.Namespace) -> int:
    from pathlib import Path

    room = classroom.require_room()
    roster = classroom.read_roster()
    if args.all:
        if not args.out:
            raise classroom.ClassroomError("--all writes one file per learner: pass --out <folder>")
        for learner in roster:
            classroom.write_env_file(room, learner, Path(args.out) / f"{learner.name}.env")
        print(f"wrote {len(roster)} files to {args.out} (each readable by you only): give each learner theirs")
        return 0
    if not args.learner:
        raise classroom.ClassroomError("name the learner, e.g. `labkit classroom key learner01` (or --all --out DIR)")
    learner = classroom.find_learner(args.learner, roster)
    if args.out:
        path = classroom.write_env_file(room, learner, Path(args.out))
        print(f"wrote {path} for {learner.name}: they run `source {path.name}` then `make lab`")
    else:
        print(classroom.env_file(room, learner), end="")
    return 0


def _cmd_classroom_reset(args: argparse.Namespace) -> int:
    room = classroom.require_room()
    learner = classroom.find_learner(args.learner)
    t0 = time.perf_counter()
    removed = classroom.reset_learner(room, learner)
    took = time.perf_counter() - t0
    left = classroom.summary(room, learner)
    print(
        f"reset {learner.name} in {took:.2f} s: {removed['ministack']} entries on MiniStack, "
        f"{removed['moto']} service backends on moto; every other learner untouched"
    )
    print(f"  {learner.name} now has: " + ", ".join(f"{k} {v}" for k, v in left.items()))
    return 0


def _cmd_classroom_status(args: argparse.Namespace) -> int:
    room = classroom.read_room()
    roster = classroom.read_roster()
    if room is None:
        print(f"classroom not running ({len(roster)} learners on the roster): labkit classroom up --bind <address>")
        return 1
    minutes = (time.time() - room.started_at) / 60
    print(f"classroom on {room.bind}, learners use {room.learner_url(room.ministack)} (up {minutes:.0f} min)")
    ok = True
    for server in room.servers:
        alive, answering = classroom.is_alive(server), classroom.answers(room, server)
        ok &= alive and answering
        mem = classroom.memory_mb(server)
        health = "answering" if answering else ("not answering" if alive else "stopped")
        print(
            f"  {server.name:<9} {server.version:<8} pid {server.pid:<7} port {server.port:<6} {health}"
            + (f", {mem:.0f} MB" if mem else "")
        )
    print(f"  roster: {len(roster)} learners in {classroom.roster_path()}")
    if args.detail and ok:
        for learner in roster:
            counts = classroom.summary(room, learner)
            print(f"    {learner.name:<14} " + "  ".join(f"{k} {v}" for k, v in counts.items()))
    if not ok:
        print("  unhealthy: `labkit classroom up --bind ...` restarts it (resources are kept in memory: they are lost)")
    return 0 if ok else 1


def _cmd_classroom_down(args: argparse.Namespace) -> int:
    stopped = classroom.down()
    print(
        f"stopped the classroom's {' and '.join(stopped)}; the roster and its keys are kept"
        if stopped
        else "the classroom was not running"
    )
    return 0


def _cmd_classroom_progress(args: argparse.Namespace) -> int:
    from labkit import exercises

    room = classroom.require_room()
    roster = classroom.read_roster()
    if args.learner:
        roster = [classroom.find_learner(args.learner, roster)]
    marks = {exercises.PASS: "✓", exercises.NOT_YET: "✗", exercises.NOT_STARTED: "·", exercises.UNAVAILABLE: "–"}
    rows = classroom.progress_rows(room, roster, args.lesson or None)
    width = max((len(name) for name, _ in rows), default=7)
    print(f"{'learner':<{width}}  pass  " + " ".join(r.key for r in rows[0][1]) if rows else "no learners")
    for name, results in rows:
        passed = sum(r.passed for r in results)
        cells = " ".join(f"{marks[r.status]:^{len(r.key)}}" for r in results)
        print(f"{name:<{width}}  {passed:>2}/{len(results):<2} {cells}")
    print("✓ pass  ✗ not yet  · not started (or cleaned up)  – cannot be checked here (see `labkit progress --help`)")
    return 0


def _add_classroom(sub) -> None:

    text = "run one backend for a whole room, one account per learner (docs/instructors.md)"
    room = sub.add_parser("classroom", help=text, description=text)
    cmds = room.add_subparsers(dest="classroom_command", required=True)
    p = cmds.add_parser("up", help="start the room's server on an address you choose; write the roster")
    p.add_argument("--bind", help="the address to listen on (required: e.g. 192.168.1.20, or 0.0.0.0 for all)")
    p.add_argument("--advertise", help="the address learners use (default: --bind; with 0.0.0.0, a guess)")
    p.add_argument("--learners", type=int, help="how many learners: learner01, learner02, ...")
    p.add_argument("--names", help="the learners' names instead, comma-separated: ana,ben,...")
    p.add_argument("--port", type=int, default=classroom.DEFAULT_PORT, help="MiniStack's port (0: any free)")
    p.add_argument("--moto-port", type=int, default=classroom.DEFAULT_MOTO_PORT, help="moto's port (0: any free)")
    p.set_defaults(func=_cmd_classroom_up)
    p = cmds.add_parser("key", help="print (or write) one learner's settings, to load before `make lab`")
    p.add_argument("learner", nargs="?", help="the learner's name on the roster")
    p.add_argument("--out", help="write a file (mode 0600) instead; with --all, a folder")
    p.add_argument("--all", action="store_true", help="one file per learner into --out")
    p.set_defaults(func=_cmd_classroom_key)
    p = cmds.add_parser("reset", help="delete everything one learner made; nobody else is touched")
    p.add_argument("learner", help="the learner's name on the roster")
    p.set_defaults(func=_cmd_classroom_reset)
    p = cmds.add_parser("status", help="the room's servers, memory and roster")
    p.add_argument("--detail", action="store_true", help="also count each learner's queues, buckets, instances...")
    p.set_defaults(func=_cmd_classroom_status)
    p = cmds.add_parser("down", help="stop the room's servers (the roster is kept)")
    p.set_defaults(func=_cmd_classroom_down)
    p = cmds.add_parser("progress", help="which exercises pass, one row per learner (runs the checks)")
    p.add_argument("learner", nargs="?", help="only this learner")
    p.add_argument("--lesson", action="append", help="only this lesson (repeatable), e.g. 04-sqs-standard-vs-fifo")
    p.set_defaults(func=_cmd_classroom_progress)


def _cmd_student(args: argparse.Namespace) -> int:
    from pathlib import Path

    from labkit.student import write_student_versions

    source, out = Path(args.source), Path(args.out)
    if not any(source.glob("[0-9][0-9]-*.ipynb")):
        raise LabkitError(f"no lessons in {source}/: run this from the course folder, or pass --from <folder>")
    done = write_student_versions(source, out, force=args.force)
    print(f"student versions in {out}/: {len(done.written)} written", end="")
    print(f", {len(done.kept)} kept as they were (your work; --force overwrites them)" if done.kept else "")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="labkit", description="The course's AWS backend, student versions, progress, and classrooms."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("up", _cmd_up, "start the backend (embedded) or check it answers"),
        ("down", _cmd_down, "stop everything labkit started"),
        ("status", _cmd_status, "each service's route and health"),
        ("env", _cmd_env, 'shell exports for this backend: eval "$(labkit env)"'),
        ("reset", _cmd_reset, "wipe every resource on the embedded backend"),
        ("doctor", _cmd_doctor, "check ports, versions, Docker and LocalStack; say how to fix each"),
        ("cleanup", _cmd_cleanup, "delete every resource tagged labkit:lesson (or list them with --dry-run)"),
        ("student", _cmd_student, "write the student versions of the lessons (exercises blanked)"),
        ("progress", _cmd_progress, "which exercises pass on this backend now (runs each lesson's checks)"),
    ):
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(func=func)
        if name in ("up", "status", "env", "reset", "cleanup", "progress"):
            p.add_argument("--backend", help="embedded, localstack or aws (default: $LABKIT_BACKEND or embedded)")
        if name in ("up", "status", "cleanup", "progress"):
            p.add_argument("--allow-real-aws", action="store_true", help="opt in to a real AWS account")
        if name == "progress":
            p.epilog, p.formatter_class = PROGRESS_HELP, argparse.RawDescriptionHelpFormatter
            p.add_argument(
                "--lesson", action="append", help="only this lesson (repeatable): 04, or 04-sqs-standard-vs-fifo"
            )
        if name == "cleanup":
            p.add_argument("--lesson", help="only this lesson's resources (its tag value, e.g. 03-lambda)")
            p.add_argument("--dry-run", action="store_true", help="list what would be deleted; delete nothing")
            p.add_argument("--region", help="the region to clean (default: $LABKIT_REGION, then the SDK's)")
        if name == "student":
            p.add_argument("--from", dest="source", default="notebooks", help="the solved lessons (default: notebooks)")
            p.add_argument("--out", default="notebooks/student", help="where to write (default: notebooks/student)")
            p.add_argument("--force", action="store_true", help="overwrite student notebooks that already exist")
    _add_classroom(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (LabkitError, ValueError) as err:
        print(f"labkit {args.command}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
