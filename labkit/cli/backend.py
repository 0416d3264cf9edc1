"""``labkit up | down | status | env | reset | doctor``: what each backend object says, printed."""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from labkit import backends, config, session
from labkit.backends import Check, proxies
from labkit.errors import LabkitError


def cmd_up(args: argparse.Namespace) -> int:
    for line in backends.get(args.backend).up(allow_real_aws=args.allow_real_aws):
        print(line)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    """Stop everything labkit started, whichever backend is chosen; first say which notebooks lose it."""
    for backend in backends.BACKENDS.values():
        for line in connected_warning(backend):
            print(line)
    for backend in backends.BACKENDS.values():
        for line in backend.down():
            print(line)
    return 0


def connected_warning(backend: backends.Backend, *, wiped: bool = False) -> list[str]:
    """What `labkit down` (or, ``wiped``, `labkit reset`) tells about the notebook kernels connected to ``backend``."""
    run = backend.run()
    if run is None or not run.servers:  # not one labkit runs, or nothing of it runs: nothing for them to lose
        return []
    kernels = session.connected_kernels(backend.name)
    if not kernels:
        return []
    count = f"{len(kernels)} notebook kernel{'s are' if len(kernels) != 1 else ' is'}"
    lost = (
        "what their lessons made is gone: run those lessons from the top"
        if wiped
        else "what their lessons made goes with it, and their running workers stop at their next call; "
        "after `labkit up`, run those lessons from the top"
    )
    where = f"the {backend.name} backend"
    return [f"warning: {count} still connected to {where}: {', '.join(map(str, kernels))}", f"  {lost}"]


def cmd_env(args: argparse.Namespace) -> int:
    backend = backends.get(args.backend)
    values = backend.env_values()
    print(f'# labkit backend {backend.name}: eval "$(labkit env)" points boto3 and the AWS CLI v2 here')
    if backend.emulator:
        print("unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN")
    # calls to this machine never through a proxy (labkit.backends.proxies), as connect() sets for a kernel
    for key, value in sorted({**values, **proxies.no_proxy_env()}.items()):
        print(f"export {key}={shlex.quote(value)}")
    if "AWS_ENDPOINT_URL" in values:
        print('# the AWS CLI v1 ignores these: pass --endpoint-url "$AWS_ENDPOINT_URL" (ec2: $AWS_ENDPOINT_URL_EC2)')
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    backend = backends.get(args.backend)
    print(f"backend: {backend.name} (region {config.region()})")
    status = backend.status(allow_real_aws=args.allow_real_aws)
    for line in status.lines:
        print(line)
    code = 0 if status.ok else 1
    if args.resources:  # the account view: everything on the backend by lesson tag, with live state
        from labkit.course.account import terminal_view

        found, text = terminal_view(args.backend, args.allow_real_aws)
        print(text)
        code = max(code, found)
    return code


def cmd_reset(args: argparse.Namespace) -> int:
    backend = backends.get(args.backend)
    warning = connected_warning(backend, wiped=True)
    took = backend.reset()
    for line in warning if took is not None else []:
        print(line)
    if took is None:
        print(f"reset wipes emulator state; for {backend.name}, delete resources with each lesson's clean-up cell")
        return 1
    print(f"wiped every resource on the {backend.name} backend in {took:.2f} s")
    return 0


def doctor_checks() -> list[Check]:
    """(ok, line) pairs; ok None means a note, not a problem."""
    import boto3

    checks: list[Check] = []
    py = sys.version_info
    checks.append((py >= (3, 10), f"Python {py.major}.{py.minor}" + ("" if py >= (3, 10) else ": labkit needs 3.10+")))
    checks.append((None, f"boto3 {boto3.__version__} in this environment"))
    try:
        backend = config.resolve_backend(None)
        checks.append((True, f"backend {backend} (LABKIT_BACKEND={os.environ.get('LABKIT_BACKEND', '')!r})"))
    except LabkitError as err:
        checks.append((False, str(err)))
    for setting in (config.region, config.writable_home, config.ministack_port, config.moto_port):
        try:
            setting()
        except LabkitError as err:
            checks.append((False, str(err)))
    checks.append((None, proxies.describe()))
    for each in backends.BACKENDS.values():
        try:
            checks += each.doctor()
        except LabkitError as err:  # a setting it reads is refused: that is the check that failed
            checks.append((False, f"{each.name}: {err}"))
    return checks


def cmd_doctor(args: argparse.Namespace) -> int:
    """Print every check; exit 1 if any failed (a ✗ line), 0 if all passed or are notes."""
    checks = doctor_checks()
    for ok, line in checks:
        print(f"{'·' if ok is None else '✓' if ok else '✗'} {line}")
    return 1 if any(ok is False for ok, _ in checks) else 0
