"""The embedded backend's Backend object: what ``labkit.connect()`` and the ``labkit`` command ask of it.

Its lifecycle (starting, joining, stopping, resetting the servers) is ``lifecycle.py``'s; on a classroom
learner's machine it answers with the room's servers instead (``labkit.backends.classroom_join``).
"""

from __future__ import annotations

import time

from labkit import config
from labkit.backends import classroom_join
from labkit.backends.base import DUMMY_CREDENTIALS, Check, Connection, Emulator, Route, Run, StatusReport, service_names
from labkit.backends.embedded import beanstalk, fillers_config, instances, rds_engine, rules
from labkit.backends.embedded.lifecycle import (
    State,
    answers,
    endpoints,
    ensure_running,
    healthy,
    is_alive,
    memory_mb,
    rds_dir,
    read_state,
    require_running,
    reset,
    stop,
)
from labkit.backends.servers import installed_versions, port_is_free, server_python, udp_port_is_free
from labkit.backends.services import SERVICES
from labkit.errors import LabkitError

__all__ = ["DNS_RESOLVER", "Embedded", "dns_env"]

DNS_RESOLVER = "LABKIT_DNS_RESOLVER"


def dns_env(state: State) -> dict[str, str]:
    """``LABKIT_DNS_RESOLVER=127.0.0.1:<port>``: where Route 53's zones are answered over DNS."""
    return {DNS_RESOLVER: state.dns_resolver} if state.dns_resolver else {}


WIPES_FILE = "embedded.wipes"  # one line per `labkit reset` of the running servers (``Embedded.run``)


def instance_lines() -> list[str]:
    """``labkit status``'s lines about the instances that run (backends/embedded/instances.py)."""
    alive = instances.running(config.home())
    lines = [
        f"  instances running as process groups: {len(alive)} of at most {instances.LIMIT}"
        f" (logs: {instances.instances_dir(config.home())}/<id>/console.log)"
    ]
    lines += [f"    {r.instance_id:<20} pid {r.pid:<7} boot {r.boots}" for r in alive]
    serving = beanstalk.serving(config.home())
    if serving:
        lines.append(f"  Elastic Beanstalk environments serving: {len(serving)} (backends/embedded/beanstalk.py)")
        lines += [f"    {e['environment_id']:<20} pid {e['pid']:<7} http://127.0.0.1:{e['port']}/" for e in serving]
    return lines


class Embedded(Emulator):
    """MiniStack + moto on this machine; on a classroom learner's machine, the room's servers instead."""

    name = "embedded"

    def connect(self, *, allow_real_aws: bool = False, lesson: str | None = None) -> Connection:
        room = classroom_join.learner_env()
        if room is not None:
            # Classroom mode (labkit.classroom): the instructor's servers, with this learner's own key.
            who = f" · learner {room.learner}" if room.learner else ""
            return Connection(
                room.env,
                [
                    Route("classroom MiniStack", room.url, service_names(moto=False)),
                    Route("classroom moto", room.moto_url, service_names(moto=True)),
                ],
                [f"classroom{who}: your own account on the room's server"],
            )
        state, started = ensure_running()
        return Connection(
            {**endpoints(state), **DUMMY_CREDENTIALS, **dns_env(state)},
            [
                Route(f"MiniStack {state.ministack.version}", state.ministack.url, service_names(moto=False)),
                Route(f"moto {state.moto.version}", state.moto.url, service_names(moto=True)),
            ],
            [
                ("started the local servers" if started else "joined the running local servers")
                + "; dummy credentials; nothing leaves this machine"
            ],
        )

    def up(self, *, allow_real_aws: bool = False) -> list[str]:
        room = classroom_join.learner_env()
        if room is not None:
            who = f" (learner {room.learner})" if room.learner else ""
            return [
                f"classroom: the room's server at {room.url} answers{who}",
                "nothing to start on this machine: your lessons use the room's server with your own key",
            ]
        t0 = time.perf_counter()
        state, started = ensure_running()
        verb = f"started in {time.perf_counter() - t0:.2f} s" if started else "already running"
        return [
            f"embedded backend {verb}: MiniStack {state.ministack.url}, moto {state.moto.url}",
            'use it from a terminal with: eval "$(labkit env)"   stop it with: labkit down',
        ]

    def sdk_env(self) -> dict[str, str]:
        room = classroom_join.learner_env()
        if room is not None:
            return room.env
        state = require_running()
        return {**endpoints(state), **DUMMY_CREDENTIALS, **dns_env(state)}

    def status(self, *, allow_real_aws: bool = False) -> StatusReport:
        state = read_state()
        if state is None:
            return StatusReport(["  not running: start it with `labkit up`"], ok=False)
        lines, ok = [], True
        for server in state.servers:
            alive, answering = is_alive(server), answers(server)
            ok &= alive and answering
            mem = memory_mb(server)
            health = "answering" if answering else ("not answering" if alive else "stopped")
            lines.append(
                f"  {server.name:<9} {server.version:<8} pid {server.pid:<7} {server.url:<24} {health}"
                + (f", {mem:.0f} MB" if mem else "")
            )
        if state.dns_resolver:
            lines.append(
                f"  dns       Route 53 zones  {state.dns_resolver:<24} (UDP and TCP, in MiniStack's process; "
                f"dig @127.0.0.1 -p {state.dns_port} <name>)"
            )
        lines.append("  routes:")
        for service in SERVICES:
            server = state.moto if service.moto else state.ministack
            setting = service.endpoint_env if service.moto else "AWS_ENDPOINT_URL"
            lines.append(f"    {service.name:<18} {server.name:<9} {server.url}  ({setting})")
        running = state.fillers if state.fillers and is_alive(state.fillers) else None
        lines += fillers_config.status_lines(running.pid if running else None, config.home())
        lines.append(f"  filled in by labkit where the emulator lacks it: {fillers_config.FILLED}")
        engines = rds_engine.recorded(rds_dir())
        lines.append(f"  RDS engines (a PostgreSQL per postgres instance, 127.0.0.1 only): {len(engines) or 'none'}")
        lines += [f"    {e.get('db', '?'):<30} pid {e['pid']:<7} 127.0.0.1:{e['port']}" for e in engines]
        lines += instance_lines()
        count = len(rules.RULES)
        lines.append(
            f"  validation: MiniStack refuses what AWS refuses, as AWS does ({count} rules, backends/embedded/rules.py)"
        )
        if not ok:
            lines.append("  unhealthy: `labkit up` replaces the stopped server")
        return StatusReport(lines, ok)

    def reset(self) -> float | None:
        took = reset()
        with (config.home() / WIPES_FILE).open("a") as wipes:  # so a connected notebook can tell it was wiped
            wipes.write(f"{time.time():.3f}\n")
        return took

    def run(self) -> Run | None:
        if classroom_join.in_classroom():  # the room's servers are the instructor's: the room names its start
            room = classroom_join.room_run()
            return None if room is None else Run(room)
        state = read_state()
        if state is None or not all(is_alive(s) for s in state.servers):
            return Run("")
        try:
            lines = (config.home() / WIPES_FILE).read_text().splitlines()
        except OSError:
            lines = []
        wipes = sum(1 for line in lines if _after(line, state.started_at))
        return Run(f"{state.ministack.pid}:{state.moto.pid}:{state.started_at}", wipes)

    def down(self) -> list[str]:
        stopped = stop()
        return [f"stopped {' and '.join(stopped)}" if stopped else "the embedded backend was not running"]

    def doctor(self) -> list[Check]:
        checks: list[Check] = []
        try:
            versions = installed_versions(server_python())
            checks.append(
                (True, "embedded servers installed: " + ", ".join(f"{k} {v}" for k, v in sorted(versions.items())))
            )
        except LabkitError as err:
            checks.append((False, str(err)))
        state = read_state()
        ours = {s.port for s in state.servers if is_alive(s)} if state else set()
        if state is not None and is_alive(state.ministack) and state.dns_port:
            ours.add(state.dns_port)
        ports = (
            ("LABKIT_PORT", config.ministack_port()),
            ("LABKIT_MOTO_PORT", config.moto_port()),
            ("LABKIT_DNS_PORT", config.dns_port()),
        )
        for variable, port in ports:
            if port == 0 or port in ours:
                checks.append(
                    (True, f"port {port or 'any'} ({variable}) " + ("is labkit's" if port else "chosen at start"))
                )
            elif port_is_free(port) and (variable != "LABKIT_DNS_PORT" or udp_port_is_free(port)):
                checks.append((True, f"port {port} ({variable}) is free"))
            else:
                checks.append((False, f"port {port} is taken by another program: stop it or `export {variable}=0`"))
        if state is None:
            checks.append((None, "embedded backend not running (connect() or `labkit up` starts it)"))
        else:
            ok = healthy(state)
            checks.append((ok, "embedded backend answering" if ok else "embedded backend is down: run `labkit up`"))
        return checks

    def not_running(self) -> str | None:
        if classroom_join.in_classroom():  # a classroom's room is checked by connect()
            return None
        state = read_state()
        if state is None or not healthy(state):  # do not start an empty backend just to look at it
            return "the embedded backend is not running: nothing to check (`labkit up` or a lesson starts it)"
        return None


def _after(line: str, started_at: float) -> bool:
    try:
        return float(line) >= started_at
    except ValueError:
        return False
