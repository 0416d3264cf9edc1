"""A room under load: N learners at once on one classroom server, with every secret checked.

Starts a real room on 127.0.0.1 (``labkit classroom up``'s code, bubblewrap sandbox on, signature
checks on), makes N learners, then runs them all at the same moment, one thread each: two queues
(one standard, one FIFO), ``--messages`` messages per learner sent in batches of 10 (split over the
two queues), received (10 at a time) and deleted in batches. Each learner checks it lost no message,
saw no message that was not its own, and lists only its own queues; a learner's key with a wrong
secret is refused. Prints one table (calls, wall time, p50/p95/max latency per call) and stops the
room. Every loop is bounded (``--timeout``); only loopback is contacted.

    .venv/bin/python benchmarks/classroom.py --learners 40 --messages 400
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, like the other benchmarks

import botocore.exceptions

from labkit import classroom


def run_learner(room, learner, messages: int, deadline: float, latencies: list[float], result: dict) -> None:
    sqs = classroom.learner_session(room, learner)[1]("sqs")

    def call(fn, **kw):
        t0 = time.perf_counter()
        try:
            return fn(**kw)
        finally:
            latencies.append(time.perf_counter() - t0)

    tag = uuid.uuid4().hex[:6]
    queues = [
        call(sqs.create_queue, QueueName=f"bench-{tag}")["QueueUrl"],
        call(sqs.create_queue, QueueName=f"bench-{tag}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"],
    ]
    sent: set[str] = set()
    for number in range(0, messages, 10):
        url = queues[(number // 10) % 2]
        batch = []
        for i in range(number, min(number + 10, messages)):
            body = f"{learner.name}:{i}"
            sent.add(body)
            entry = {"Id": str(i), "MessageBody": body}
            if url.endswith(".fifo"):
                entry |= {"MessageGroupId": f"g{i % 4}", "MessageDeduplicationId": f"{tag}-{i}"}
            batch.append(entry)
        answer = call(sqs.send_message_batch, QueueUrl=url, Entries=batch)
        assert not answer.get("Failed"), answer["Failed"]
    got: set[str] = set()
    foreign = 0
    while got != sent and time.monotonic() < deadline:
        for url in queues:
            answer = call(sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            items = answer.get("Messages", [])
            for m in items:
                if not m["Body"].startswith(learner.name + ":"):
                    foreign += 1
                got.add(m["Body"])
            if items:
                entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(items)]
                call(sqs.delete_message_batch, QueueUrl=url, Entries=entries)
    listed = {u.rsplit("/", 1)[-1] for u in call(sqs.list_queues).get("QueueUrls", [])}
    own = {q.rsplit("/", 1)[-1] for q in queues}
    result.update(lost=len(sent - got), foreign=foreign, others_queues=len(listed - own))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=40)
    parser.add_argument("--messages", type=int, default=400, help="per learner, over its two queues")
    parser.add_argument("--timeout", type=float, default=300, help="seconds for the whole run")
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="labkit-bench-room-")
    os.environ["LABKIT_HOME"] = home
    t0 = time.perf_counter()
    room, _ = classroom.up("127.0.0.1", port=0, moto_port=0)
    startup = time.perf_counter() - t0
    try:
        roster, _ = classroom.ensure_roster(classroom.learner_names(args.learners))
        impostor = classroom.Learner("x", roster[0].access_key_id, "wrong-secret")
        try:
            classroom.learner_session(room, impostor)[1]("sqs").list_queues()
            refused = "NOT refused"
        except botocore.exceptions.ClientError as err:
            refused = err.response["Error"]["Code"]
        latencies: list[float] = []
        results: list[dict] = [{} for _ in roster]
        deadline = time.monotonic() + args.timeout
        threads = [
            threading.Thread(target=run_learner, args=(room, x, args.messages, deadline, latencies, results[i]))
            for i, x in enumerate(roster)
        ]
        t1 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        wall = time.perf_counter() - t1
        finished = [r for r in results if r]
        ordered = sorted(latencies)
        p95 = ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan")
        print(f"room started in {startup:.1f} s (sandbox probe, signature checks on); wrong secret: {refused}")
        print("| learners | messages each | calls | wall | p50 | p95 | max | lost | seen across accounts | finished |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        print(
            f"| {len(roster)} | {args.messages} | {len(ordered)} | {wall:.1f} s "
            f"| {statistics.median(ordered) * 1000:.0f} ms | {p95 * 1000:.0f} ms | {ordered[-1] * 1000:.0f} ms "
            f"| {sum(r['lost'] for r in finished)} | {sum(r['foreign'] + r['others_queues'] for r in finished)} "
            f"| {len(finished)}/{len(roster)} |"
        )
        ok = len(finished) == len(roster) and not any(r["lost"] or r["foreign"] or r["others_queues"] for r in finished)
        return 0 if ok and refused == "SignatureDoesNotMatch" else 1
    finally:
        classroom.down()


if __name__ == "__main__":
    raise SystemExit(main())
