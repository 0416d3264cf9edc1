"""The instance metadata service the runner's instances reach, one path prefix per instance.

Loaded by path in the moto server's process (standard library only), next to ``instances.py``. EC2
answers at ``http://169.254.169.254/`` and knows the caller by its network interface; here every
instance shares 127.0.0.1, so each gets its own endpoint, ``http://127.0.0.1:<port>/<instance-id>/``,
through the SDKs' own setting ``AWS_EC2_METADATA_SERVICE_ENDPOINT`` (botocore joins the paths it asks
for, e.g. ``latest/api/token``, to that endpoint, so a path prefix works). MiniStack's own IMDS answers
for one made-up instance, so it does not fit.

What it answers, as https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
and .../instancedata-data-categories.html describe: IMDSv2 (``PUT latest/api/token`` with
``X-aws-ec2-metadata-token-ttl-seconds``, then the token in ``X-aws-ec2-metadata-token``) and IMDSv1
(no token; refused with 401 when the instance's ``HttpTokens`` is ``required``, as on EC2);
``meta-data/instance-id``, ``instance-type``, ``ami-id``, ``local-ipv4``,
``placement/availability-zone``, ``placement/region``, ``iam/security-credentials/<role>``,
``dynamic/instance-identity/document`` and ``user-data``. The credentials are the learner's own
dummy keys (the backend accepts any); on EC2 an instance has credentials only with an instance
profile, here every instance has them, so code inside needs no keys either way.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Describe = Callable[[str], "dict[str, Any] | None"]  # instance id → its metadata, None if not running
TTL_MAX = 21600


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


class Metadata:
    """The answers, apart from HTTP: ``answer(instance_id, method, path, headers) → (status, body)``."""

    def __init__(self, describe: Describe, credentials: dict[str, str]) -> None:
        self.describe = describe
        self.credentials = credentials
        self.tokens: dict[str, tuple[str, float]] = {}  # token → (instance id, expiry)
        self.lock = threading.Lock()

    def answer(self, instance_id: str, method: str, path: str, headers: dict[str, str]) -> tuple[int, str]:
        info = self.describe(instance_id)
        if info is None:
            return 404, "no running instance " + instance_id
        lower = {k.lower(): v for k, v in headers.items()}
        if method == "PUT":
            if path != "latest/api/token":
                return 405, "method not allowed"
            try:
                ttl = int(lower.get("x-aws-ec2-metadata-token-ttl-seconds", ""))
            except ValueError:
                return 400, "missing or invalid X-aws-ec2-metadata-token-ttl-seconds"
            if not 1 <= ttl <= TTL_MAX:
                return 400, "X-aws-ec2-metadata-token-ttl-seconds must be 1-21600"
            token = secrets.token_urlsafe(32)
            with self.lock:
                self.tokens[token] = (instance_id, time.monotonic() + ttl)
            return 200, token
        given = lower.get("x-aws-ec2-metadata-token")
        if given is not None:
            with self.lock:
                owner, expiry = self.tokens.get(given, ("", 0.0))
            if owner != instance_id or expiry < time.monotonic():
                return 401, "unauthorized"
        elif info.get("tokens_required"):
            return 401, "unauthorized"
        return self._get(info, path.rstrip("/"))

    def _get(self, info: dict[str, Any], path: str) -> tuple[int, str]:
        role = info.get("role") or "labkit-instance"
        now = datetime.now(timezone.utc)
        document = {
            "accountId": info["account"],
            "architecture": "x86_64",
            "availabilityZone": info["zone"],
            "imageId": info["image"],
            "instanceId": info["id"],
            "instanceType": info["type"],
            "pendingTime": info.get("launched") or _stamp(now),
            "privateIp": info.get("ip"),
            "region": info["region"],
            "version": "2017-09-30",
        }
        tree: dict[str, str] = {
            "latest/meta-data/instance-id": info["id"],
            "latest/meta-data/instance-type": info["type"],
            "latest/meta-data/ami-id": info["image"],
            "latest/meta-data/local-ipv4": info.get("ip") or "",
            "latest/meta-data/placement/availability-zone": info["zone"],
            "latest/meta-data/placement/region": info["region"],
            "latest/meta-data/iam/security-credentials": role,
            f"latest/meta-data/iam/security-credentials/{role}": json.dumps(
                {
                    "Code": "Success",
                    "LastUpdated": _stamp(now),
                    "Type": "AWS-HMAC",
                    "AccessKeyId": self.credentials["AWS_ACCESS_KEY_ID"],
                    "SecretAccessKey": self.credentials["AWS_SECRET_ACCESS_KEY"],
                    "Token": "labkit-instance-token",
                    "Expiration": _stamp(now + timedelta(hours=6)),
                }
            ),
            "latest/dynamic/instance-identity/document": json.dumps(document, indent=2),
        }
        if path in tree:
            return 200, tree[path]
        if path == "latest/user-data":
            data = info.get("user_data")
            return (200, data) if data else (404, "no user data")
        children = sorted(
            {
                p[len(path) + 1 :].split("/")[0] + ("/" if p[len(path) + 1 :].count("/") else "")
                for p in tree
                if p.startswith(path + "/")
            }
        )
        if children:
            return 200, "\n".join(children)
        return 404, "not found"


def serve(metadata: Metadata, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Start the service on ``host`` and a free port, in a daemon thread; returns the server."""

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            parts = self.path.split("?")[0].lstrip("/").split("/", 1)
            instance_id, rest = parts[0], (parts[1] if len(parts) > 1 else "")
            try:
                status, body = metadata.answer(instance_id, method, rest, dict(self.headers))
            except Exception as err:  # an answer that fails says why, instead of dropping the connection
                status, body = 500, f"labkit metadata service: {type(err).__name__}: {err}"
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # http.server's name
            self._reply("GET")

        def do_PUT(self) -> None:
            self._reply("PUT")

        def log_message(self, format: str, *args: Any) -> None:  # quiet: moto's log is for moto
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="labkit-imds", daemon=True).start()
    return server
