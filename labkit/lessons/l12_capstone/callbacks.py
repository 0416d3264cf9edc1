"""The mail-tracking service's side of lesson 12: order events, signed and POSTed to the receiver.

Each order goes through three events (``created`` → ``paid`` → ``shipped``, ``seq`` 1–3). The service
sends one customer's events in order, one after the other, and several customers at once (a thread
per customer), signed per the Standard Webhooks specification with lesson 06's ``signed_headers``.
A helper: it plays the third party; the pipeline's own calls are in the notebook and its files.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from labkit.lessons.l06_webhooks.sender import new_webhook_id, signed_headers

STATUSES = ("created", "paid", "shipped")


@dataclass(frozen=True)
class Callback:
    """One delivery: the webhook id (the same on a retry) and the signed body."""

    webhook_id: str
    customer: str
    body: str

    @property
    def event(self) -> dict:
        try:
            found = json.loads(self.body)
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}


def order_event(run: str, customer: int, order: int, seq: int) -> Callback:
    name = f"{run}-c{customer:03d}"
    event = {
        "order_id": f"{name}-o{order:02d}",
        "customer": name,
        "seq": seq,
        "status": STATUSES[seq - 1],
        "amount": round(5 + customer * 1.25 + order, 2),
    }
    return Callback(new_webhook_id(), name, json.dumps(event))


def order_callbacks(run: str, customers: int, orders_per_customer: int) -> list[Callback]:
    """Every customer's orders, each with its three events in order."""
    return [
        order_event(run, c, o, seq)
        for c in range(customers)
        for o in range(orders_per_customer)
        for seq in range(1, len(STATUSES) + 1)
    ]


def poison_callback(run: str) -> Callback:
    """A signed, well-formed delivery whose order event cannot be processed (``seq`` is not a number)."""
    body = json.dumps({"order_id": f"{run}-poison", "customer": f"{run}-poison", "seq": "one", "status": "created"})
    return Callback(new_webhook_id(), f"{run}-poison", body)


def post(url: str, secret: str, callback: Callback, timeout_s: float = 10.0) -> int:
    """POST one signed delivery; the HTTP status the receiver answered (0 when it could not be reached)."""
    headers = signed_headers(secret, callback.webhook_id, callback.body)
    request = urllib.request.Request(url, data=callback.body.encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except OSError:
        return 0


def post_all(url: str, secret: str, callbacks: list[Callback], threads: int = 8) -> Counter[int]:
    """Send every delivery, one customer's in order, customers in parallel; a count of the statuses."""
    by_customer: dict[str, list[Callback]] = {}
    for callback in callbacks:
        by_customer.setdefault(callback.customer, []).append(callback)

    def send(mine: list[Callback]) -> list[int]:
        return [post(url, secret, c) for c in mine]

    statuses: Counter[int] = Counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for answers in pool.map(send, by_customer.values()):
            statuses.update(answers)
    return statuses
