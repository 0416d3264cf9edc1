"""``labkit classroom up | key | reset | status | down | progress | hub-users``: one backend for a whole room.

See labkit/classroom/ and docs/instructors.md. ``progress`` runs each learner's checks
(``labkit.course.progress.run_all``) inside ``classroom.as_learner``: the classroom itself knows no checks.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from labkit import classroom
from labkit.cli import values


def cmd_up(args: argparse.Namespace) -> int:
    bind = classroom.check_bind(args.bind)  # refuses without --bind, before anything starts
    names = classroom.learner_names(args.learners, args.names)
    if not names and not classroom.read_roster():
        raise classroom.ClassroomError("say who is in the room: pass --learners 30 (or --names ana,ben,...)")
    t0 = time.perf_counter()
    room, started = classroom.up(bind, args.advertise, args.port, args.moto_port, sandbox=not args.unsandboxed_lambda)
    roster, added = classroom.ensure_roster(names)
    verb = f"started in {time.perf_counter() - t0:.1f} s" if started else "already running"
    print(
        f"classroom {verb} on {room.bind}: MiniStack port {room.ministack.port}, moto port {room.moto.port}; "
        f"learners connect to {room.learner_url(room.ministack)}"
    )
    print(f"roster: {len(roster)} learners ({len(added)} new) in {classroom.roster_path()} (readable by you only)")
    print("hand out settings: labkit classroom key <learner> --out <learner>.env   (all: key --all --out <folder>)")
    if room.sandboxed:
        print("learners' Lambda handlers run in a bubblewrap sandbox; every request's secret is checked")
    else:
        print(
            "WARNING: --unsandboxed-lambda: learners' Lambda handlers run as you, unconfined; any learner can "
            "read the roster and take over the room (docs/instructors.md)"
        )
    if room.bind.startswith("127."):
        print("reachable from this machine only (a rehearsal): learners elsewhere cannot connect")
    else:
        where = "every network this machine is on" if room.bind == "0.0.0.0" else f"the network of {room.bind}"
        print(
            f"exposed: anyone on {where} can reach ports {room.ministack.port} and {room.moto.port}; "
            "allow only the room's network in your firewall, and stop it with: labkit classroom down"
        )
    return 0


def cmd_key(args: argparse.Namespace) -> int:
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


def cmd_reset(args: argparse.Namespace) -> int:
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


def cmd_status(args: argparse.Namespace) -> int:
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
    print(
        "  learners' Lambda code: "
        + ("in a bubblewrap sandbox" if room.sandboxed else "UNSANDBOXED (--unsandboxed-lambda)")
    )
    if args.detail and ok:
        for learner in roster:
            counts = classroom.summary(room, learner)
            print(f"    {learner.name:<14} " + "  ".join(f"{k} {v}" for k, v in counts.items()))
    if not ok:
        print("  unhealthy: `labkit classroom up --bind ...` restarts it (resources are kept in memory: they are lost)")
    return 0 if ok else 1


def cmd_down(args: argparse.Namespace) -> int:
    stopped = classroom.down()
    print(
        f"stopped the classroom's {' and '.join(stopped)}; the roster and its keys are kept"
        if stopped
        else "the classroom was not running"
    )
    return 0


def cmd_hub_users(args: argparse.Namespace) -> int:
    from labkit.classroom import hubusers

    roster = classroom.read_roster()
    if not roster:
        raise classroom.ClassroomError("the roster is empty: run `labkit classroom up --names ana,ben,...` first")
    if args.remove:
        removed = hubusers.remove_users(roster)
        print(
            f"removed {len(removed)} learners' OS users and their homes"
            + (f": {', '.join(removed)}" if removed else "")
        )
        return 0
    made, kept = hubusers.make_users(roster, Path(args.notebooks), Path(args.home_base))
    print(
        f"{len(made) + len(kept)} learners' OS users ({len(made)} new) for the hub, "
        f"e.g. {hubusers.os_user(roster[0].name)}: no password login, homes in {args.home_base} (mode 0700) "
        "with their own lessons"
    )
    print("start the hub as root: it runs each learner's JupyterLab as their user (docs/instructors.md)")
    return 0


def cmd_progress(args: argparse.Namespace) -> int:
    from labkit.course import progress, records

    room = classroom.require_room()
    roster = classroom.read_roster()
    records.add(classroom.reported_records(roster))  # what learners' kernels reported since: "reported" records
    if args.learner:
        roster = [classroom.find_learner(args.learner, roster)]
    marks = {progress.PASS: "✓", progress.NOT_YET: "✗", progress.NOT_STARTED: "·", progress.UNAVAILABLE: "–"}
    rows: list[tuple[str, list[Any]]] = []
    for learner in roster:
        with classroom.as_learner(room, learner):  # their settings and key, undone afterwards
            # a check that passes now is recorded in this machine's records under the learner's name
            rows.append((learner.name, progress.report(args.lesson or None).results))
    if args.csv:
        return _write_grades(args.csv, rows)
    width = max((len(name) for name, _ in rows), default=7)
    print(f"{'learner':<{width}}  pass  " + " ".join(r.key for r in rows[0][1]) if rows else "no learners")
    for name, results in rows:
        passed = sum(bool(r.recorded) for r in results)
        cells = " ".join(f"{marks[r.status]:^{len(r.key)}}" for r in results)
        print(f"{name:<{width}}  {passed:>2}/{len(results):<2} {cells}")
    print("✓ pass now  ✗ not yet  · not started (or cleaned up)  – cannot be checked here (`labkit progress --help`)")
    print("pass: exercises that have passed at least once (recorded when a check passed, here or in the room)")
    return 0


GRADE_COLUMNS = ("learner", "exercise", "title", "passed", "first_passed", "status_now", "checked_at", "seen_by")


def _write_grades(target: str, rows: list[tuple[str, list[Any]]]) -> int:
    """One CSV row per learner × exercise: passed (1/0) from the records, the status now, ISO times."""
    import csv
    import datetime
    import io

    from labkit.course import progress

    now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(GRADE_COLUMNS)
    for name, results in rows:
        for r in results:
            first = r.recorded.split(" on ")[0] if r.recorded else ""
            seen_by = (
                ("learner's kernel" if r.recorded.endswith(progress.REPORTED_MARK) else "room") if r.recorded else ""
            )
            writer.writerow([name, r.key, r.title, int(bool(r.recorded)), first, str(r.status), now, seen_by])
    if target == "-":
        print(out.getvalue(), end="")
    else:
        Path(target).write_text(out.getvalue(), encoding="utf-8")
        print(f"wrote {len(rows)} learners × {len(rows[0][1]) if rows else 0} exercises to {target}")
    return 0


def add_parser(sub: Any) -> None:
    text = "run one backend for a whole room, one account per learner (docs/instructors.md)"
    room = sub.add_parser("classroom", help=text, description=text)
    cmds = room.add_subparsers(dest="classroom_command", required=True)
    p = cmds.add_parser("up", help="start the room's server on an address you choose; write the roster")
    p.add_argument("--bind", help="the address to listen on (required: e.g. 192.168.1.20, or 0.0.0.0 for all)")
    p.add_argument("--advertise", help="the address learners use (default: --bind; with 0.0.0.0, a guess)")
    p.add_argument("--learners", type=values.count, help="how many learners: learner01, learner02, ...")
    p.add_argument("--names", help="the learners' names instead, comma-separated: ana,ben,...")
    p.add_argument("--port", type=values.port, default=classroom.DEFAULT_PORT, help="MiniStack's port (0: any free)")
    p.add_argument("--moto-port", type=values.port, default=classroom.DEFAULT_MOTO_PORT, help="moto's port (0: any)")
    p.add_argument(
        "--unsandboxed-lambda",
        action="store_true",
        help="run learners' Lambda handlers without bubblewrap, as you (only if you trust every learner)",
    )
    p.set_defaults(func=cmd_up)
    p = cmds.add_parser("key", help="print (or write) one learner's settings, to load before `make lab`")
    p.add_argument("learner", nargs="?", help="the learner's name on the roster")
    p.add_argument("--out", help="write a file (mode 0600) instead; with --all, a folder")
    p.add_argument("--all", action="store_true", help="one file per learner into --out")
    p.set_defaults(func=cmd_key)
    p = cmds.add_parser("reset", help="delete everything one learner made; nobody else is touched")
    p.add_argument("learner", help="the learner's name on the roster")
    p.set_defaults(func=cmd_reset)
    p = cmds.add_parser("status", help="the room's servers, memory and roster")
    p.add_argument("--detail", action="store_true", help="also count each learner's queues, buckets, instances...")
    p.set_defaults(func=cmd_status)
    p = cmds.add_parser("down", help="stop the room's servers (the roster is kept)")
    p.set_defaults(func=cmd_down)
    p = cmds.add_parser("progress", help="which exercises pass, one row per learner (runs the checks)")
    p.add_argument("learner", nargs="?", help="only this learner")
    p.add_argument("--lesson", action="append", help="only this lesson (repeatable), e.g. 04-sqs-standard-vs-fifo")
    p.add_argument("--csv", metavar="FILE", help="write a gradebook CSV (learner × exercise; '-' for the terminal)")
    p.set_defaults(func=cmd_progress)
    p = cmds.add_parser("hub-users", help="as root: one OS user per learner for JupyterHub (docs/instructors.md)")
    p.add_argument("--remove", action="store_true", help="delete the roster's learners' OS users and their homes")
    p.add_argument("--home-base", default="/home", help="the folder their homes go in (default: /home)")
    p.add_argument(
        "--notebooks",
        default=str(Path(__file__).resolve().parents[2] / "notebooks"),
        help="the lessons copied into each home (default: this checkout's notebooks/)",
    )
    p.set_defaults(func=cmd_hub_users)
