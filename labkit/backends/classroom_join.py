"""The embedded backend on a classroom learner's machine: join the room's servers with the learner's key.

When ``LABKIT_CLASSROOM_URL`` is set (by the settings file ``labkit classroom key`` writes, see
``labkit.classroom``), the embedded backend starts no local servers: ``labkit.connect()``,
``labkit up`` and ``labkit env`` use the instructor's MiniStack and moto, with the learner's own
12-digit access key id as their account there. This module reads those settings; the classroom
package writes them (and imports the names from here, so the two never disagree).
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

from labkit.backends import proxies
from labkit.backends.services import moto_endpoint_envs
from labkit.errors import BackendNotRunning, ClassroomError

# What a learner's settings file sets, read by labkit.connect() (see learner_env).
ENV_URL = "LABKIT_CLASSROOM_URL"
ENV_MOTO_URL = "LABKIT_CLASSROOM_MOTO_URL"
ENV_KEY = "LABKIT_CLASSROOM_KEY"
ENV_SECRET = "LABKIT_CLASSROOM_SECRET"
ENV_LEARNER = "LABKIT_CLASSROOM_LEARNER"
RUN_PATH = "/_labkit/classroom/run"  # the room's server names its start there (labkit/classroom/server.py)
PROGRESS_PATH = "/_labkit/classroom/progress"  # and takes a learner's reported passes there
# Set while the instructor's `labkit classroom progress` runs a learner's checks: those passes are the room's own.
ENV_ROOM_CHECK = "LABKIT_CLASSROOM_ROOM_CHECK"


@dataclass(frozen=True)
class Joined:
    """This machine is a classroom learner's: the SDK settings that reach the room as them."""

    env: dict[str, str]
    url: str  # the room's MiniStack
    moto_url: str
    learner: str  # "" if the file does not say


def _room_url() -> str:
    """The room's MiniStack, as the learner's settings name it ("" outside a room)."""
    return os.environ.get(ENV_URL, "").strip().rstrip("/")


def in_classroom() -> bool:
    """True when this machine's settings point at a classroom (nothing is checked yet)."""
    return bool(_room_url())


def learner_env() -> Joined | None:
    """For ``labkit.connect()``: the room's settings when this machine is a learner's in a classroom
    (``LABKIT_CLASSROOM_URL`` set), else None.

    Raises BackendNotRunning with what to do if the room's server does not answer.
    """
    url = _room_url()
    if not url:
        return None
    moto = os.environ.get(ENV_MOTO_URL, "").strip().rstrip("/")
    key = os.environ.get(ENV_KEY, "").strip()
    secret = os.environ.get(ENV_SECRET, "").strip()
    missing = [n for n, v in ((ENV_MOTO_URL, moto), (ENV_KEY, key), (ENV_SECRET, secret)) if not v]
    if missing:
        raise ClassroomError(f"{ENV_URL} is set but {', '.join(missing)} is not: load your whole classroom file")
    if not re.fullmatch(r"\d{12}", key):
        raise ClassroomError(f"{ENV_KEY} must be the 12-digit key from your classroom file")
    for what, base, path in (("MiniStack", url, "/_ministack/health"), ("moto", moto, "/moto-api/")):
        try:
            # moto's page needs the instructor's token: any HTTP answer means the server is there.
            proxies.urlopen(base + path, timeout=3).close()
        except urllib.error.HTTPError:
            pass
        except (urllib.error.URLError, OSError, ValueError):
            raise BackendNotRunning(
                f"the classroom server ({what}) at {base} does not answer: check you are on the room's network, "
                "or ask the instructor"
            ) from None
    env = {"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_ENDPOINT_URL": url}
    env.update({name: moto for name in moto_endpoint_envs()})
    return Joined(env, url, moto, os.environ.get(ENV_LEARNER, "").strip())


def room_run() -> str | None:
    """Which start of the room answers (an id, new at each `labkit classroom up`); "" when its server does not
    answer; None when it names none (a room older than this page)."""
    url = _room_url()
    try:
        with proxies.urlopen(url + RUN_PATH, timeout=3) as response:
            doc = json.loads(response.read())
    except urllib.error.HTTPError:
        return None
    except (urllib.error.URLError, OSError, ValueError):
        return ""
    run = doc.get("run") if isinstance(doc, dict) else None
    return str(run) if run else None


def report_pass(exercise: str, title: str, passed_at: float) -> bool:
    """Tell the room that a check passed in this learner's kernel, signed with the learner's key (SigV4), so the
    instructor's gradebook has it even if the lesson's clean-up runs before the room checks again. False when
    not in a room, when the instructor's own check made the pass, or when the room does not take it (never raises)."""
    if os.environ.get(ENV_ROOM_CHECK):
        return False
    return post_report({"exercise": exercise, "title": title, "passed_at": passed_at}) == 200


def post_report(doc: dict[str, object]) -> int:
    """POST ``doc`` to the room's progress page, signed with this learner's key: the HTTP status, 0 if none."""
    url = _room_url()
    key, secret = os.environ.get(ENV_KEY, "").strip(), os.environ.get(ENV_SECRET, "").strip()
    if not (url and key and secret):
        return 0
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps(doc).encode()
    request = AWSRequest("POST", url + PROGRESS_PATH, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key, secret), "labkit", os.environ.get("AWS_REGION") or "us-east-1").add_auth(request)
    signed = urllib.request.Request(request.url, data=body, headers=dict(request.headers.items()), method="POST")
    try:
        with proxies.urlopen(signed, timeout=3) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except (urllib.error.URLError, OSError, ValueError):
        return 0
