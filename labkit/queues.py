"""SQS helpers for the queue lessons: what is *not* the lesson.

The lessons make the SQS calls they teach themselves (``create_queue`` with a
``RedrivePolicy``, ``send_message``, ``receive_message``...). This module holds
the rest: wiring a queue to its dead-letter queue in one call, consumer threads
that record what they did, a tally that accounts for every message a demo sent,
the receive → send → delete move used where ``start_message_move_task`` is
missing, throughput measurement, and publishing a queue's depth to CloudWatch
where the backend does not do it itself.

Everything takes a boto3 SQS (or CloudWatch) client, so it works the same on
every backend and in unit tests with moto.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import botocore.exceptions

from labkit.progress import wait_for_status

# ---------------------------------------------------------------- queues


def queue_arn(sqs, queue_url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def queue_name(queue_url: str) -> str:
    """The name at the end of a queue URL (print this rather than the URL, which carries the account id)."""
    return queue_url.rstrip("/").rsplit("/", 1)[-1]


def depth(sqs, queue_url: str) -> tuple[int, int]:
    """(visible, in flight) as SQS reports them: ApproximateNumberOfMessages and ...NotVisible."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


@dataclass(frozen=True)
class QueuePair:
    """A source queue and the dead-letter queue its RedrivePolicy points at."""

    name: str
    url: str
    arn: str
    dlq_name: str
    dlq_url: str
    dlq_arn: str
    max_receive_count: int

    def __str__(self) -> str:
        return f"{self.name} → after {self.max_receive_count} receives → {self.dlq_name}"


def create_queue_with_dlq(
    sqs,
    name: str,
    *,
    max_receive_count: int = 3,
    fifo: bool = False,
    attributes: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    dlq_name: str | None = None,
) -> QueuePair:
    """Create ``<name>-dlq`` and ``<name>`` with a RedrivePolicy to it: the two calls lesson 05 shows.

    A FIFO queue's DLQ must be FIFO too, so both get the ``.fifo`` suffix when ``fifo`` is set.
    """
    base = name[: -len(".fifo")] if name.endswith(".fifo") else name
    suffix = ".fifo" if fifo else ""
    dlq_name = dlq_name or f"{base}-dlq{suffix}"
    fifo_attrs = {"FifoQueue": "true"} if fifo else {}
    dlq_url = sqs.create_queue(QueueName=dlq_name, Attributes=fifo_attrs, tags=tags or {})["QueueUrl"]
    dlq_arn = queue_arn(sqs, dlq_url)
    redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
    attrs = {**fifo_attrs, **(attributes or {}), "RedrivePolicy": json.dumps(redrive)}
    url = sqs.create_queue(QueueName=f"{base}{suffix}", Attributes=attrs, tags=tags or {})["QueueUrl"]
    return QueuePair(f"{base}{suffix}", url, queue_arn(sqs, url), dlq_name, dlq_url, dlq_arn, max_receive_count)


def peek_all(sqs, queue_url: str, *, hold: int = 5, limit: int = 1000) -> list[dict]:
    """Every message now visible in the queue, left in the queue.

    Receives until the queue answers empty (each message hidden for ``hold`` seconds so none is
    seen twice), then makes them all visible again at once. Use it to look, not to consume.
    In-flight messages are not seen; in a FIFO queue, a group shows at most the 10 messages one
    receive returns (the rest of the group stays locked until those are released).
    """
    seen: list[dict] = []
    try:
        while len(seen) < limit:
            batch = sqs.receive_message(
                QueueUrl=queue_url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=hold,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not batch:
                break
            seen.extend(batch)
    finally:
        release(sqs, queue_url, seen)
    return seen


def release(sqs, queue_url: str, messages: Iterable[dict]) -> None:
    """Make received messages visible again now (visibility timeout 0), in batches of 10."""
    messages = list(messages)
    for i in range(0, len(messages), 10):
        entries = [
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for n, m in enumerate(messages[i : i + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)


# ---------------------------------------------------------------- the tally


@dataclass
class TallyReport:
    """Where every message a demo sent ended up."""

    send_calls: int
    distinct: int
    deduplicated: int
    processed: int
    processed_twice: int
    in_queues: dict[str, int]
    missing: list[str]

    @property
    def ok(self) -> bool:
        return not self.missing

    @property
    def accounted(self) -> int:
        return self.processed + sum(self.in_queues.values())

    def __str__(self) -> str:
        where = ", ".join(f"{n} in {q}" for q, n in self.in_queues.items()) or "none left in queues"
        lines = [
            f"{self.send_calls} sends → {self.distinct} distinct messages"
            + (f" ({self.deduplicated} dropped by FIFO deduplication)" if self.deduplicated else ""),
            f"  processed {self.processed}"
            + (f" (of which {self.processed_twice} more than once)" if self.processed_twice else "")
            + f"; still queued: {where}",
            f"  accounted for {self.accounted} of {self.distinct}; lost {len(self.missing)}"
            + (f": {', '.join(self.missing[:5])}" if self.missing else ""),
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


class Tally:
    """Counts every message a demo sends and where it went: processed, still in a queue, or in a DLQ.

    Keyed by the MessageId SQS returns. A FIFO queue that drops a duplicate returns the
    original's MessageId, so the tally sees it as the same message. A message moved by the
    receive → send → delete fallback gets a new MessageId; ``moved`` links the two, and a message
    that comes back under an unknown MessageId is matched by its body.
    Thread-safe: consumer threads record into one tally.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.send_calls = 0
        self.bodies: dict[str, str] = {}  # MessageId -> body
        self.processed: dict[str, int] = {}  # MessageId -> times processed
        self._alias: dict[str, str] = {}  # new MessageId -> original

    def _key(self, message_id: str) -> str:
        while message_id in self._alias:
            message_id = self._alias[message_id]
        return message_id

    def sent(self, response: dict, body: str | None = None) -> dict:
        """Record a ``send_message`` or ``send_message_batch`` response; returns it unchanged."""
        with self._lock:
            if "Successful" in response or "Failed" in response:
                for entry in response.get("Successful", []):
                    self.send_calls += 1
                    self.bodies.setdefault(self._key(entry["MessageId"]), body or "")
            else:
                self.send_calls += 1
                self.bodies.setdefault(self._key(response["MessageId"]), body or "")
        return response

    def _resolve(self, message: dict) -> str:
        """The tally key of a received message: its MessageId, or for a message that came back under a new
        MessageId (moved by a redrive), the unprocessed message sent with the same body."""
        key = self._key(message["MessageId"])
        if key not in self.bodies:
            for candidate, body in self.bodies.items():
                if body and body == message.get("Body") and candidate not in self.processed:
                    self._alias[message["MessageId"]] = candidate
                    return candidate
        return key

    def done(self, message: dict) -> None:
        """Record that a received message was processed (call it when the handler succeeded)."""
        with self._lock:
            key = self._resolve(message)
            self.processed[key] = self.processed.get(key, 0) + 1

    def moved(self, old_id: str, new_id: str) -> None:
        with self._lock:
            if old_id != new_id:
                self._alias[new_id] = old_id

    def reconcile(self, sqs, queues: dict[str, str], *, settle: float = 5.0) -> TallyReport:
        """Look in each queue (``{label: url}``) without consuming, and account for every message sent.

        Messages in flight cannot be looked at: each queue is given up to ``settle`` seconds for
        them to become visible again (the demos use short visibility timeouts).
        """
        where: dict[str, str] = {}
        for label, url in queues.items():
            deadline = time.monotonic() + settle
            while depth(sqs, url)[1] and time.monotonic() < deadline:
                time.sleep(0.25)
            for m in peek_all(sqs, url):
                with self._lock:
                    key = self._resolve(m)
                if key in self.bodies:
                    where.setdefault(key, label)
        with self._lock:
            done = {k for k in self.processed if k in self.bodies}
            # A message both processed and still queued (a duplicate delivery) counts once, as processed.
            in_queues: dict[str, int] = {}
            for key, label in where.items():
                if key not in done:
                    in_queues[label] = in_queues.get(label, 0) + 1
            missing = [self.bodies[k] or k for k in self.bodies if k not in done and k not in where]
            return TallyReport(
                send_calls=self.send_calls,
                distinct=len(self.bodies),
                deduplicated=self.send_calls - len(self.bodies),
                processed=len(done),
                processed_twice=sum(1 for k in done if self.processed[k] > 1),
                in_queues=in_queues,
                missing=missing,
            )


# ---------------------------------------------------------------- consumers


_SEQ = re.compile(r"(\d+)$")


@dataclass(frozen=True)
class Event:
    """One message handled by one consumer: who, what, and when (seconds since the run began)."""

    consumer: int
    body: str
    group: str
    seq: int
    start: float
    end: float
    receive_count: int = 1
    message_id: str = ""


def seq_of(body: str) -> int:
    """The number at the end of a body like ``A-3`` or ``order-12`` (-1 if none)."""
    m = _SEQ.search(body)
    return int(m.group(1)) if m else -1


def run_consumers(
    sqs,
    queue_url: str,
    *,
    consumers: int,
    expected: int,
    work: Callable[[str], float] = lambda body: 0.05,
    tally: Tally | None = None,
    visibility_timeout: int = 20,
    timeout: float = 30.0,
) -> list[Event]:
    """Start ``consumers`` threads that receive one message at a time, "work" on it, and delete it.

    Each consumer: ``receive_message(MaxNumberOfMessages=1)`` → sleep ``work(body)`` seconds →
    ``delete_message``. They stop once ``expected`` messages were handled (or after ``timeout``).
    Returns the events in the order they finished.
    """
    events: list[Event] = []
    lock = threading.Lock()
    t0 = time.monotonic()
    deadline = t0 + timeout
    errors: list[BaseException] = []

    def consumer(number: int) -> None:
        try:
            while time.monotonic() < deadline:
                with lock:
                    if len(events) >= expected:
                        return
                got = sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=1,
                    VisibilityTimeout=visibility_timeout,
                    MessageSystemAttributeNames=["MessageGroupId", "ApproximateReceiveCount"],
                ).get("Messages", [])
                if not got:
                    time.sleep(0.02)
                    continue
                m = got[0]
                start = time.monotonic() - t0
                time.sleep(work(m["Body"]))
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
                attrs = m.get("Attributes", {})
                event = Event(
                    consumer=number,
                    body=m["Body"],
                    group=attrs.get("MessageGroupId", "queue"),
                    seq=seq_of(m["Body"]),
                    start=start,
                    end=time.monotonic() - t0,
                    receive_count=int(attrs.get("ApproximateReceiveCount", 1)),
                    message_id=m["MessageId"],
                )
                if tally is not None:
                    tally.done(m)
                with lock:
                    events.append(event)
        except BaseException as err:  # surfaced below, in the caller's thread
            errors.append(err)

    threads = [threading.Thread(target=consumer, args=(n,), daemon=True) for n in range(1, consumers + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 5)
    if errors:
        raise errors[0]
    return sorted(events, key=lambda e: e.end)


def out_of_order(events: Iterable[Event]) -> list[Event]:
    """Events that finished after a later-sent message of the same group had already finished."""
    late: list[Event] = []
    highest: dict[str, int] = {}
    for e in sorted(events, key=lambda e: e.end):
        if e.seq < highest.get(e.group, -1):
            late.append(e)
        highest[e.group] = max(highest.get(e.group, -1), e.seq)
    return late


# ---------------------------------------------------------------- moving messages (redrive fallback)


def move_messages(
    sqs, source_url: str, destination_url: str, *, tally: Tally | None = None, limit: int = 10_000
) -> int:
    """Move every visible message from one queue to another: receive → send → delete.

    This is what labkit does where ``start_message_move_task`` is missing. Body and message
    attributes are copied; for a FIFO destination the group is kept and the old MessageId is
    used as the deduplication id. The moved message gets a new MessageId (recorded in
    ``tally`` if given). Returns how many were moved.
    """
    fifo = destination_url.endswith(".fifo")
    moved = 0
    while moved < limit:
        batch = sqs.receive_message(
            QueueUrl=source_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=30,
            MessageSystemAttributeNames=["MessageGroupId"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return moved
        for m in batch:
            kwargs: dict = {"QueueUrl": destination_url, "MessageBody": m["Body"]}
            if m.get("MessageAttributes"):
                kwargs["MessageAttributes"] = m["MessageAttributes"]
            if fifo:
                kwargs["MessageGroupId"] = m.get("Attributes", {}).get("MessageGroupId", "redrive")
                kwargs["MessageDeduplicationId"] = m["MessageId"]
            new_id = sqs.send_message(**kwargs)["MessageId"]
            if tally is not None:
                tally.moved(m["MessageId"], new_id)
            sqs.delete_message(QueueUrl=source_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
    return moved


def wait_for_move_task(sqs, source_arn: str, *, timeout: float = 120.0) -> dict:
    """Poll ``list_message_move_tasks`` until the newest task leaves RUNNING; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=source_arn, MaxResults=1).get("Results", [])
        if tasks and tasks[0].get("Status") != "RUNNING":
            return tasks[0]
        if time.monotonic() > deadline:
            return tasks[0] if tasks else {}
        time.sleep(1)


# ---------------------------------------------------------------- throughput


@dataclass(frozen=True)
class Throughput:
    """Messages per second for each action, measured with single calls or batches of 10."""

    queue: str  # "standard" or "FIFO"
    mode: str  # "single" or "batch of 10"
    messages: int
    seconds: dict[str, float]  # action -> seconds spent

    def rate(self, action: str) -> float:
        return self.messages / self.seconds[action] if self.seconds[action] else float("inf")

    @property
    def calls(self) -> dict[str, int]:
        per = 1 if self.mode == "single" else 10
        return {a: -(-self.messages // per) for a in self.seconds}


ACTIONS = ("send", "receive", "delete")


def measure_throughput(
    sqs, queue_url: str, messages: int, *, batch: bool, tally: Tally | None = None, progress=None
) -> Throughput:
    """Send ``messages`` messages, then receive and delete them all, timing each action.

    Single calls: one ``send_message`` / ``receive_message`` / ``delete_message`` per message.
    Batches: ``send_message_batch`` and ``delete_message_batch`` with 10 entries and
    ``receive_message(MaxNumberOfMessages=10)``. On a FIFO queue each message gets its own
    deduplication id and one of 10 message groups. ``progress`` is called with a message count.
    """
    fifo = queue_url.endswith(".fifo")
    run = f"{time.time_ns():x}"
    spent = dict.fromkeys(ACTIONS, 0.0)

    def extra(i: int) -> dict:
        return {"MessageGroupId": f"g{i % 10}", "MessageDeduplicationId": f"{run}-{i}"} if fifo else {}

    step = 10 if batch else 1
    for i in range(0, messages, step):
        t = time.perf_counter()
        if batch:
            entries = [{"Id": str(j), "MessageBody": f"m-{j}", **extra(j)} for j in range(i, min(i + 10, messages))]
            resp = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            if resp.get("Failed"):
                raise RuntimeError(f"send_message_batch failed: {resp['Failed'][0]}")
        else:
            resp = sqs.send_message(QueueUrl=queue_url, MessageBody=f"m-{i}", **extra(i))
        spent["send"] += time.perf_counter() - t
        if tally is not None:
            tally.sent(resp)
        if progress:
            progress(min(step, messages - i) / 2)
    received = 0
    empty = 0
    while received < messages and empty < 50:
        t = time.perf_counter()
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10 if batch else 1, VisibilityTimeout=30).get(
            "Messages", []
        )
        spent["receive"] += time.perf_counter() - t
        if not got:
            empty += 1
            continue
        t = time.perf_counter()
        if batch:
            entries = [{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(got)]
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
        else:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=got[0]["ReceiptHandle"])
        spent["delete"] += time.perf_counter() - t
        received += len(got)
        if tally is not None:
            for m in got:
                tally.done(m)
        if progress:
            progress(len(got) / 2)
    return Throughput("FIFO" if fifo else "standard", "batch of 10" if batch else "single", messages, spent)


def throughput_table(results: list[Throughput]) -> str:
    """A plain-text table: messages per second per action, and batch ÷ single per queue type."""
    lines = [f"{'queue':<9} {'calls':<12}" + "".join(f"{a + ' msg/s':>15}" for a in ACTIONS)]
    for r in results:
        lines.append(f"{r.queue:<9} {r.mode:<12}" + "".join(f"{r.rate(a):>15,.0f}" for a in ACTIONS))
    for queue in dict.fromkeys(r.queue for r in results):
        single = next((r for r in results if r.queue == queue and r.mode == "single"), None)
        batch = next((r for r in results if r.queue == queue and r.mode != "single"), None)
        if single and batch:
            ratios = "".join(f"{batch.rate(a) / single.rate(a):>14.1f}×" for a in ACTIONS)
            lines.append(f"{queue:<9} {'batch/single':<12}" + ratios)
    return "\n".join(lines)


def throughput_chart(results: list[Throughput], *, aws_fifo_quotas: bool = True):
    """Grouped bars: messages per second for each action, single calls vs batches, per queue type.

    With ``aws_fifo_quotas`` the FIFO panel also marks AWS's FIFO quotas (300 and 3,000 messages per second per action).
    """
    import matplotlib.pyplot as plt

    queues = list(dict.fromkeys(r.queue for r in results))
    fig, axes = plt.subplots(1, len(queues), figsize=(4.2 * len(queues), 3.4), sharey=True, squeeze=False)
    for ax, queue in zip(axes[0], queues, strict=True):
        rows = [r for r in results if r.queue == queue]
        width = 0.8 / len(rows)
        for i, r in enumerate(rows):
            xs = [n + i * width for n in range(len(ACTIONS))]
            bars = ax.bar(xs, [r.rate(a) for a in ACTIONS], width, label=r.mode)
            ax.bar_label(bars, fmt="{:,.0f}", fontsize=7)
        single = next((r for r in rows if r.mode == "single"), None)
        batch = next((r for r in rows if r.mode != "single"), None)
        ax.set_xticks([n + 0.4 - width / 2 for n in range(len(ACTIONS))], ACTIONS)
        title = f"{queue} queue"
        if single and batch:
            ratio = sum(batch.rate(a) for a in ACTIONS) / sum(single.rate(a) for a in ACTIONS)
            title += f": batches ≈ {ratio:.0f}× faster"
        ax.set_title(title, fontsize="medium")
        if queue == "FIFO" and aws_fifo_quotas:
            # AWS's documented FIFO quotas per API action, for comparison (not enforced by emulators).
            ax.axhline(300, color="grey", linestyle=":", linewidth=1)
            ax.axhline(3000, color="grey", linestyle="--", linewidth=1)
            box = {"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1}
            for y, label in ((300, "AWS FIFO quota: 300/s"), (3000, "AWS FIFO quota with batches: 3,000/s")):
                ax.text(2.95, y, label, fontsize=7, ha="right", va="bottom", color="dimgrey", bbox=box)
        ax.legend(fontsize="small", loc="upper left")
    top = max(max(r.rate(a) for a in ACTIONS) for r in results)
    axes[0][0].set_ylim(0, max(top, 3000) * 1.35)  # room for the legend and bar labels
    axes[0][0].set_ylabel("messages per second (this machine)")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- CloudWatch: queue depth and alarms


def publish_queue_depth(cloudwatch, sqs, queue_url: str, *, namespace: str, metric_name: str, dimensions=None) -> int:
    """Read ApproximateNumberOfMessagesVisible from SQS and put it as a CloudWatch data point; returns it.

    On AWS, SQS publishes ``AWS/SQS ApproximateNumberOfMessagesVisible`` every minute by itself;
    emulators do not, so labkit does this there (and only there).
    """
    visible, _ = depth(sqs, queue_url)
    cloudwatch.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": metric_name, "Dimensions": dimensions or [], "Value": float(visible), "Unit": "Count"}
        ],
    )
    return visible


class DepthPublisher:
    """A background thread that publishes a queue's depth every ``interval`` seconds (emulators only).

    ``with DepthPublisher(...) as pub:`` starts and stops it; ``pub.published`` lists what it sent.
    """

    def __init__(
        self,
        cloudwatch,
        sqs,
        queue_url: str,
        *,
        namespace: str,
        metric_name: str,
        dimensions=None,
        interval: float = 0.5,
    ):
        self.args = (cloudwatch, sqs, queue_url)
        self.kwargs = {"namespace": namespace, "metric_name": metric_name, "dimensions": dimensions}
        self.interval = interval
        self.published: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        t0 = time.monotonic()
        while not self._stop.is_set():
            try:
                value = publish_queue_depth(*self.args, **self.kwargs)
                self.published.append((round(time.monotonic() - t0, 2), value))
            except botocore.exceptions.ClientError:
                pass  # queue deleted under us: nothing left to publish
            self._stop.wait(self.interval)

    def start(self) -> DepthPublisher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True, name="labkit-depth-publisher")
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> DepthPublisher:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def wait_for_alarm(
    cloudwatch, alarm_name: str, state: str = "ALARM", *, timeout: float = 30.0, progress: bool = True
) -> dict:
    """Poll ``describe_alarms`` until the alarm reaches ``state`` (or ``timeout``); returns the alarm."""

    def describe() -> dict:
        return cloudwatch.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"][0]

    wait_for_status(
        lambda: describe()["StateValue"],
        state,
        f"alarm {alarm_name}",
        timeout_s=timeout,
        every_s=0.5,
        progress=progress,
    )
    return describe()


# ---------------------------------------------------------------- retries, seen from the consumer


@dataclass(frozen=True)
class Attempt:
    """One receive of one message by a consumer: when, which receive it was, and how the handler did."""

    seconds: float
    body: str
    receive_count: int
    ok: bool
    note: str = ""


def retry_chart(
    series: dict[str, list[Attempt]], *, max_receive_count: int | None = None, without_dlq: Iterable[str] = ()
):
    """ApproximateReceiveCount over time, one panel per series (e.g. "with a DLQ", "without a DLQ").

    Green dots are successful receives, red crosses failed ones. Panels not named in ``without_dlq``
    get a dashed line at ``max_receive_count`` and "→ DLQ" after a message whose last receive failed there.
    """
    import matplotlib.pyplot as plt

    without = set(without_dlq)
    fig, axes = plt.subplots(1, len(series), figsize=(4.6 * len(series), 3.2), sharey=True, squeeze=False)
    top = max((a.receive_count for attempts in series.values() for a in attempts), default=1)
    for ax, (label, attempts) in zip(axes[0], series.items(), strict=True):
        bodies = list(dict.fromkeys(a.body for a in attempts))
        failing = [b for b in bodies if any(not a.ok for a in attempts if a.body == b)]
        for n, body in enumerate(failing):
            mine = [a for a in attempts if a.body == body]
            ax.plot([a.seconds for a in mine], [a.receive_count for a in mine], color=f"C{n}", alpha=0.6)
            short = body if len(body) <= 22 else body[:20] + "…"
            last = mine[-1]
            note = short
            if max_receive_count and label not in without and not last.ok and last.receive_count >= max_receive_count:
                note += "  → DLQ"
            ax.annotate(
                note,
                (last.seconds, last.receive_count),
                fontsize=7,
                xytext=(-4, 6 + 10 * n),
                textcoords="offset points",
            )
        for a in attempts:
            ax.plot(a.seconds, a.receive_count, "o" if a.ok else "x", color="green" if a.ok else "red", markersize=7)
        good = sum(1 for b in bodies if b not in failing)
        if good:
            ax.annotate(
                f"{good} handled on the first receive", (0, 1), fontsize=7, xytext=(6, -12), textcoords="offset points"
            )
        if max_receive_count and label not in without:
            ax.axhline(max_receive_count, color="grey", linestyle="--", linewidth=1)
            ax.text(0, max_receive_count + 0.1, f"maxReceiveCount = {max_receive_count}", fontsize=7, color="dimgrey")
        ax.set_title(label, fontsize="medium")
        ax.set_xlabel("seconds since the consumer started")
        ax.set_ylim(0, top + 1.5)
        ax.margins(x=0.25)
        ax.set_xlim(left=-0.2)
    axes[0][0].set_ylabel("ApproximateReceiveCount")
    axes[0][0].plot([], [], "o", color="green", label="handled, deleted")
    axes[0][0].plot([], [], "x", color="red", label="handler failed")
    axes[0][0].legend(fontsize="small", loc="upper left")
    fig.tight_layout()
    return fig
