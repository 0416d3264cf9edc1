"""The mail-tracking service's side: signed webhook deliveries with retries and a dead-letter queue.

``MailTracker`` plays the third-party service of lesson 06. Its customers register an
endpoint URL and get a signing secret; every event (``email.delivered``, ``email.opened``,
``email.clicked``, ``email.bounced``) is POSTed to each endpoint, signed per the Standard
Webhooks specification with the maintained ``standardwebhooks`` package (headers
``webhook-id``, ``webhook-timestamp``, ``webhook-signature``). The webhook id stays the same
on every retry, so it is the receiver's idempotency key; each attempt is signed afresh
with the current time.

A failed attempt (connection refused, timeout, 408, 429 or 5xx) is retried after an
exponentially growing, fully jittered delay (``backoff_delay``); after ``max_attempts`` the
delivery is given up and handed to ``dead_letter`` (the lesson's sends it to an SQS queue) before
``wait()`` counts it as settled. Other 4xx answers this service takes as "never": those are handed
over at once (the Standard Webhooks specification would retry them too). Every attempt is
written to ``log`` for the timeline chart.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
import random
import secrets
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone

from standardwebhooks import Webhook

EVENT_TYPES = ("email.delivered", "email.opened", "email.clicked", "email.bounced")


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def new_webhook_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def signed_headers(secret: str, webhook_id: str, body: str, *, at: datetime | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``, signed with ``secret`` at time ``at`` (default now)."""
    at = at or datetime.now(tz=timezone.utc)
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body),
        "content-type": "application/json",
    }


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter, shortened for the lesson.

    Attempt ``n`` (1-based) that fails is followed by a wait drawn uniformly from
    ``[0, min(cap, base * 2 ** (n - 1))]``; after ``max_attempts`` attempts the delivery is
    given up. AWS's Architecture Blog ("Exponential Backoff And Jitter") explains why the
    jitter matters: without it, every failed sender retries at the same instant.
    Real services wait minutes to hours (Standard Webhooks suggests a schedule up to days);
    here seconds.
    """

    base: float = 0.25
    cap: float = 4.0
    max_attempts: int = 5
    timeout: float = 2.0  # seconds to wait for the receiver's answer

    def envelope(self, attempt: int) -> float:
        """The longest wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.cap, self.base * 2 ** (attempt - 1))

    def worst_case_total(self) -> float:
        """The longest a delivery can spend waiting between its attempts."""
        return sum(self.envelope(n) for n in range(1, self.max_attempts))


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """The wait after failed attempt ``attempt``: uniform in [0, envelope] ("full jitter")."""
    return (rng or random).uniform(0, policy.envelope(attempt))


def retryable(status: int | None) -> bool:
    """``None`` (no answer: refused, reset, timed out), 408, 429 and 5xx are worth another try."""
    return status is None or status in (408, 429) or status >= 500


@dataclass(frozen=True)
class Attempt:
    """One POST of one delivery: when (seconds since the tracker started), and how it went."""

    webhook_id: str
    label: str
    endpoint: str
    number: int
    seconds: float
    status: int | None
    error: str
    elapsed_ms: float
    outcome: str  # "delivered", "retry", "dead-lettered"
    next_delay: float | None = None


@dataclass
class Delivery:
    webhook_id: str
    label: str
    endpoint: str
    secret: str
    body: str
    attempts: int = 0
    done: bool = False
    outcome: str = "pending"


@dataclass
class Endpoint:
    """A customer's registered webhook URL and the secret its deliveries are signed with."""

    name: str
    url: str
    secret: str = field(default_factory=new_secret, repr=False)


class MailTracker:
    """The mail-tracking service: sends each event to every registered endpoint, signed, with retries.

    ``publish()`` returns at once; a dispatcher thread makes the attempts when they are due.
    ``wait()`` blocks until nothing is pending. ``dead_letter`` is called with each given-up
    delivery (the lesson passes one that sends it to an SQS queue).
    """

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        *,
        dead_letter: Callable[[dict], None] | None = None,
        seed: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        post: Callable[[str, bytes, dict[str, str], float], int] | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.endpoints: list[Endpoint] = []
        self.log: list[Attempt] = []
        self.deliveries: dict[tuple[str, str], Delivery] = {}
        self.dead_letters: list[dict] = []
        self.errors: list[str] = []
        self._dead_letter = dead_letter
        self._rng = random.Random(seed)
        self._clock = clock
        self._t0 = clock()
        self._post = post or http_post
        self._due: list[tuple[float, int, Delivery]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None

    # -------------------------------------------------------------- customers and events

    def register(self, name: str, url: str, secret: str | None = None) -> Endpoint:
        """A customer registers a URL; the service answers with the secret it will sign with."""
        endpoint = Endpoint(name, url, secret or new_secret())
        self.endpoints.append(endpoint)
        return endpoint

    def publish(
        self,
        event_type: str,
        data: dict,
        *,
        to: str | None = None,
        label: str | None = None,
        webhook_id: str | None = None,
    ) -> str:
        """Queue one event for the endpoint named ``to`` (every endpoint if None); returns its webhook id.

        The webhook id is the same on every retry and for every endpoint: the receiver's idempotency key.
        """
        targets = [e for e in self.endpoints if to is None or e.name == to]
        if not targets:
            raise ValueError(f"no endpoint named {to!r}: register it first")
        webhook_id = webhook_id or new_webhook_id()
        payload = {"type": event_type, "timestamp": datetime.now(tz=timezone.utc).isoformat(), "data": data}
        body = json.dumps(payload, separators=(",", ":"))
        label = label or f"{event_type.split('.')[-1]} {data.get('mail_id', '?')}"
        with self._cond:
            for endpoint in targets:
                d = Delivery(webhook_id, label, endpoint.name, endpoint.secret, body)
                self.deliveries[(webhook_id, endpoint.name)] = d
                heapq.heappush(self._due, (self._clock(), next(self._seq), d))
            self._cond.notify_all()
        self._ensure_thread()
        return webhook_id

    # -------------------------------------------------------------- the dispatcher

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = threading.Thread(target=self._run, daemon=True, name="labkit-mail-tracker")
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stop and (not self._due or self._due[0][0] > self._clock()):
                    wait = self._due[0][0] - self._clock() if self._due else None
                    self._cond.wait(timeout=wait if wait is None else max(wait, 0.0))
                if self._stop:
                    return
                _, _, delivery = heapq.heappop(self._due)
            self.attempt(delivery)

    def attempt(self, delivery: Delivery) -> Attempt:
        """Make one attempt now: sign, POST, record, and schedule a retry or dead-letter it."""
        endpoint = next(e for e in self.endpoints if e.name == delivery.endpoint)
        delivery.attempts += 1
        headers = signed_headers(delivery.secret, delivery.webhook_id, delivery.body)
        started = self._clock()
        status, error = None, ""
        try:
            status = self._post(endpoint.url, delivery.body.encode(), headers, self.policy.timeout)
        except Exception as err:  # refused, reset, timed out: the receiver did not answer
            error = f"{type(err).__name__}: {getattr(err, 'reason', err)}"
        elapsed_ms = (self._clock() - started) * 1000
        if status is not None and 200 <= status < 300:
            outcome, next_delay = "delivered", None
        elif retryable(status) and delivery.attempts < self.policy.max_attempts:
            outcome = "retry"
            next_delay = backoff_delay(self.policy, delivery.attempts, self._rng)
        else:
            outcome, next_delay = "dead-lettered", None
        record = Attempt(
            delivery.webhook_id,
            delivery.label,
            delivery.endpoint,
            delivery.attempts,
            round(started - self._t0, 3),
            status,
            error,
            round(elapsed_ms, 1),
            outcome,
            next_delay,
        )
        if outcome == "dead-lettered":  # hand it over before it counts as settled, so wait() means "in the DLQ"
            letter = {
                "webhook_id": delivery.webhook_id,
                "endpoint": delivery.endpoint,
                "attempts": delivery.attempts,
                "last_status": status,
                "last_error": error,
                "payload": json.loads(delivery.body),
            }
            self.dead_letters.append(letter)
            if self._dead_letter is not None:
                try:
                    self._dead_letter(letter)
                except Exception as err:  # the notebook's function failed: keep the dispatcher alive, say why
                    self.errors.append(f"dead_letter({delivery.label!r}): {type(err).__name__}: {err}")
        with self._cond:
            self.log.append(record)
            if outcome == "retry" and next_delay is not None:
                heapq.heappush(self._due, (self._clock() + next_delay, next(self._seq), delivery))
            else:
                delivery.done, delivery.outcome = True, outcome
            self._cond.notify_all()
        return record

    def pending(self) -> int:
        with self._cond:
            return sum(1 for d in self.deliveries.values() if not d.done)

    def wait(self, timeout: float = 30.0, *, progress: bool = False) -> bool:
        """Block until every delivery is delivered or dead-lettered; True if that happened in time."""
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(self.deliveries), desc="deliveries settled", leave=False)
        deadline = self._clock() + timeout
        try:
            with self._cond:
                while True:
                    left = sum(1 for d in self.deliveries.values() if not d.done)
                    if bar is not None:
                        bar.n = len(self.deliveries) - left
                        bar.refresh()
                    if not left:
                        return True
                    remaining = deadline - self._clock()
                    if remaining <= 0:
                        return False
                    self._cond.wait(timeout=min(remaining, 0.25))
        finally:
            if bar is not None:
                bar.close()

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(5)

    def now(self) -> float:
        """Seconds since the tracker started (the time axis of ``log``)."""
        return round(self._clock() - self._t0, 3)

    def outcomes(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for d in self.deliveries.values():
            counts[d.outcome] = counts.get(d.outcome, 0) + 1
        return counts


# No proxies: the lesson's receivers live on 127.0.0.1, and a proxy setting must not send them elsewhere.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST and return the HTTP status (an error status is an answer too, not an exception)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as err:
        err.read()
        return err.code
