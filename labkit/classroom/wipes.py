"""Drop one learner's account from the room's servers, keeping every other (``labkit classroom reset <learner>``).

Run inside the servers by ``server.py``, which loads this file by path (the servers' Python: standard library,
ministack and moto only). MiniStack keeps every resource in account-scoped dictionaries; moto keeps one
backend per account.
"""

from __future__ import annotations

import gc
from typing import Any


def wipe_ministack(account: str) -> int:
    from ministack.core.responses import AccountRegionScopedDict, AccountScopedDict

    removed = 0
    for obj in gc.get_objects():
        if isinstance(obj, (AccountScopedDict, AccountRegionScopedDict)):
            for key in list(obj._data):
                if isinstance(key, tuple) and key and key[0] == account:
                    obj._data.pop(key, None)
                    removed += 1
    # Warm Lambda workers are keyed "<account>:<region>:<function>:..."; stop this account's.
    try:
        from ministack.core import lambda_runtime

        with lambda_runtime._lock:
            doomed = [
                w
                for k in list(lambda_runtime._workers)
                if k.split(":")[0] == account
                for w in lambda_runtime._workers.pop(k, [])
            ]
        lambda_runtime.kill_workers(doomed)
    except Exception as err:
        print(f"classroom reset: Lambda workers not stopped: {err!r}", flush=True)
    try:
        from ministack.services import sts

        for key, session in list(sts._sessions.items()):
            if f"::{account}:" in str(session.get("Arn", "")):
                sts._sessions.pop(key, None)
    except Exception as err:
        print(f"classroom reset: STS sessions not cleared: {err!r}", flush=True)
    return removed


def wipe_moto(account: str) -> int:
    from moto.core.base_backend import BackendDict, backend_lock

    removed = 0
    with backend_lock:
        backends: Any
        for backends in list(BackendDict._instances):  # type: ignore[misc]  # (a generic's class attribute)
            if dict.__contains__(backends, account):
                dict.pop(backends, account, None)
                removed += 1
    return removed
