"""The mail-tracking service's retries, signatures and dead-lettering; Background; the tally; the timeline; the quiz."""

from __future__ import annotations

import itertools
import json
import random
import threading
import time

import pytest
from standardwebhooks import Webhook

from labkit.lessons.l06_webhooks import (
    Background,
    DeliveryTally,
    MailTracker,
    RetryPolicy,
    WebhookServer,
    backoff_delay,
    new_secret,
    questions,
    retryable,
)
from labkit.lessons.l06_webhooks.deliveries import delivery_chart, delivery_rows, delivery_summary

FAST = RetryPolicy(base=0.01, cap=0.04, max_attempts=4, timeout=1.0)


# ------------------------------------------------------------------ the schedule


def test_envelope_doubles_then_stops_at_the_cap():
    policy = RetryPolicy(base=0.5, cap=4.0, max_attempts=8)
    assert [policy.envelope(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0, 4.0]
    assert policy.worst_case_total() == 0.5 + 1 + 2 + 4 + 4 + 4 + 4


def test_full_jitter_stays_inside_the_envelope_and_spreads_out():
    policy = RetryPolicy(base=0.5, cap=4.0)
    rng = random.Random(1)
    for attempt in range(1, 10):
        delays = [backoff_delay(policy, attempt, rng) for _ in range(500)]
        assert all(0 <= d <= policy.envelope(attempt) for d in delays)
        # jitter: the waits are spread over the whole envelope, not bunched at one value
        assert max(delays) - min(delays) > 0.8 * policy.envelope(attempt)


def test_the_schedule_is_repeatable_with_a_seed():
    policy = RetryPolicy()
    first = [backoff_delay(policy, n, random.Random(7)) for n in range(1, 6)]
    again = [backoff_delay(policy, n, random.Random(7)) for n in range(1, 6)]
    assert first == again


@pytest.mark.parametrize(
    "status, again", [(None, True), (408, True), (429, True), (500, True), (503, True), (400, False), (401, False)]
)
def test_what_is_worth_retrying(status, again):
    assert retryable(status) is again


# ------------------------------------------------------------------ the sender, with a fake network


class FakeNetwork:
    """Answers POSTs from a script of statuses (None = connection refused); records what was sent."""

    def __init__(self, script):
        self.script = list(script)
        self.sent: list[tuple[str, bytes, dict]] = []
        self.lock = threading.Lock()

    def __call__(self, url, body, headers, timeout):
        with self.lock:
            self.sent.append((url, body, headers))
            status = self.script.pop(0) if self.script else 200
        if status is None:
            raise ConnectionRefusedError("nobody listening")
        return status


def tracker_with(script, policy=FAST, **kwargs):
    net = FakeNetwork(script)
    letters: list[dict] = []
    tracker = MailTracker(policy, post=net, dead_letter=letters.append, seed=3, **kwargs)
    endpoint = tracker.register("acme", "http://127.0.0.1:9/hook")
    return tracker, net, letters, endpoint


def test_a_delivery_that_succeeds_is_sent_once():
    tracker, net, letters, _ = tracker_with([202])
    tracker.publish("email.opened", {"mail_id": "m-1"})
    assert tracker.wait(5)
    tracker.close()
    assert len(net.sent) == 1 and letters == []
    assert [a.outcome for a in tracker.log] == ["delivered"]


def test_failures_are_retried_with_the_same_id_and_fresh_valid_signatures():
    tracker, net, letters, endpoint = tracker_with([None, 503, 202])
    webhook_id = tracker.publish("email.clicked", {"mail_id": "m-1", "link": "https://example.com"})
    assert tracker.wait(5)
    tracker.close()
    assert [a.outcome for a in tracker.log] == ["retry", "retry", "delivered"]
    assert [a.number for a in tracker.log] == [1, 2, 3]
    assert all(h["webhook-id"] == webhook_id for _, _, h in net.sent)
    for _, body, headers in net.sent:
        payload = Webhook(endpoint.secret).verify(body, headers)
        assert payload["data"]["mail_id"] == "m-1" and payload["type"] == "email.clicked"
    # each retry waited at most its envelope
    delays = [a.next_delay for a in tracker.log[:2]]
    assert all(0 <= d <= FAST.envelope(n) for n, d in enumerate(delays, start=1))
    assert letters == []


def test_gives_up_after_max_attempts_into_the_dead_letter_queue():
    tracker, net, letters, _ = tracker_with([None] * 10)
    webhook_id = tracker.publish("email.opened", {"mail_id": "m-2"})
    assert tracker.wait(5)
    tracker.close()
    assert len(net.sent) == FAST.max_attempts
    assert [a.outcome for a in tracker.log] == ["retry"] * (FAST.max_attempts - 1) + ["dead-lettered"]
    assert len(letters) == 1
    letter = letters[0]
    assert letter["webhook_id"] == webhook_id and letter["attempts"] == FAST.max_attempts
    assert letter["payload"]["data"] == {"mail_id": "m-2"} and "ConnectionRefused" in letter["last_error"]
    assert tracker.outcomes() == {"dead-lettered": 1}


def test_a_permanent_client_error_is_dead_lettered_at_once():
    tracker, net, letters, _ = tracker_with([413])
    tracker.publish("email.opened", {"mail_id": "m-3"})
    assert tracker.wait(5)
    tracker.close()
    assert len(net.sent) == 1 and letters[0]["last_status"] == 413


def test_attempt_times_follow_the_backoff():
    policy = RetryPolicy(base=0.05, cap=0.2, max_attempts=5)
    tracker, _, _, _ = tracker_with([None] * 10, policy=policy)
    tracker.publish("email.opened", {"mail_id": "m-4"})
    assert tracker.wait(5)
    tracker.close()
    log = tracker.log
    for before, after in itertools.pairwise(log):
        gap = after.seconds - before.seconds
        assert gap >= before.next_delay - 0.005  # never early
        assert gap <= before.next_delay + 0.25  # and not much late


def test_publish_goes_only_to_the_named_endpoint():
    tracker, net, _, _ = tracker_with([200, 200])
    tracker.register("other", "http://127.0.0.1:9/other")
    tracker.publish("email.opened", {"mail_id": "m-5"}, to="other")
    assert tracker.wait(5)
    tracker.close()
    assert [url for url, _, _ in net.sent] == ["http://127.0.0.1:9/other"]
    with pytest.raises(ValueError):
        tracker.publish("email.opened", {"mail_id": "m-5"}, to="nobody")


def test_many_events_all_settle():
    tracker, net, letters, _ = tracker_with([None, 500, 200] * 20)
    ids = {tracker.publish("email.opened", {"mail_id": f"m-{i}"}) for i in range(20)}
    assert tracker.wait(10)
    tracker.close()
    settled = {a.webhook_id for a in tracker.log if a.outcome in ("delivered", "dead-lettered")}
    assert settled == ids
    given_up = {a.webhook_id for a in tracker.log if a.outcome == "dead-lettered"}
    assert {letter["webhook_id"] for letter in letters} == given_up
    assert len(net.sent) == len(tracker.log)


def test_real_sender_and_server_over_http():
    got: list[tuple[str, str]] = []

    def receive(headers, body):
        got.append((headers["webhook-id"], body))
        return 202, "queued"

    tracker = MailTracker(FAST, seed=1)
    endpoint = tracker.register("acme", "(later)")
    with WebhookServer({"/hook": receive}) as server:
        endpoint.url = server.url("/hook")
        webhook_id = tracker.publish("email.delivered", {"mail_id": "m-9"})
        assert tracker.wait(5)
    tracker.close()
    assert [a.status for a in tracker.log] == [202]
    assert got[0][0] == webhook_id and json.loads(got[0][1])["data"]["mail_id"] == "m-9"
    assert [(r.status, r.webhook_id) for r in server.log] == [(202, webhook_id)]


def test_a_dead_letter_is_handed_over_before_wait_returns():
    net = FakeNetwork([None] * 10)
    letters: list[dict] = []

    def slow_dead_letter(letter):
        time.sleep(0.2)  # a send_message to SQS takes a moment
        letters.append(letter)

    tracker = MailTracker(FAST, post=net, dead_letter=slow_dead_letter, seed=3)
    tracker.register("acme", "http://127.0.0.1:9/hook")
    tracker.publish("email.opened", {"mail_id": "m-1"})
    assert tracker.wait(5)
    assert len(letters) == 1  # wait() returned: the letter is already in the undeliverable queue
    tracker.close()


def test_a_failing_dead_letter_function_does_not_stop_the_service():
    def broken(letter):
        raise ConnectionError("queue unavailable")

    tracker = MailTracker(FAST, post=FakeNetwork([None] * FAST.max_attempts + [200]), dead_letter=broken, seed=3)
    tracker.register("acme", "http://127.0.0.1:9/hook")
    tracker.publish("email.opened", {"mail_id": "m-1"})
    assert tracker.wait(5)
    tracker.publish("email.opened", {"mail_id": "m-2"})  # the dispatcher still runs
    assert tracker.wait(5)
    tracker.close()
    assert "ConnectionError" in tracker.errors[0] and tracker.outcomes() == {"dead-lettered": 1, "delivered": 1}


# ------------------------------------------------------------------ Background


def test_background_runs_the_loop_until_stopped():
    ticks: list[int] = []

    def work(stop):
        while not stop.is_set():
            ticks.append(1)
            stop.wait(0.01)

    worker = Background(work).start()
    time.sleep(0.1)
    assert worker.running and ticks
    assert worker.stop(timeout=2) and not worker.running
    count = len(ticks)
    time.sleep(0.05)
    assert len(ticks) == count
    assert worker.start().running  # and it starts again
    worker.stop()


def test_background_restarts_a_failing_loop_then_says_why_it_stopped():
    def work(stop):
        raise RuntimeError("queue deleted")

    worker = Background(work, restart_after_s=0.01, max_restarts=2).start()
    deadline = time.monotonic() + 2
    while worker.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not worker.running and worker.error == "RuntimeError: queue deleted"
    assert worker.errors == ["RuntimeError: queue deleted"] * 3 and worker.restarts == 2
    assert worker.stopped == "stopped after 3 failures in a row; the last: RuntimeError: queue deleted"
    assert "queue deleted" in repr(worker) and "3 failures" in worker.summary()


# ------------------------------------------------------------------ the tally and the timeline

PUBLISHED = {"a": "opened m-1", "b": "clicked m-1", "c": "opened m-2", "d": "opened m-9 → old-crm"}
ANSWERS = [(202, "a"), (401, "x"), (200, "a"), (202, "b"), (202, "c"), (401, "y")]
LEFT = {"the events DLQ": {"c"}, "the undeliverable queue": {"d"}}


def test_the_tally_adds_up_when_nothing_is_lost():
    tally = DeliveryTally.of(PUBLISHED, ANSWERS, {"a", "b"}, LEFT)
    assert tally.ok and tally.lost == [] and tally.twice == []
    assert (tally.duplicates, tally.refused, tally.failed) == (1, 2, 0)
    lines = str(tally).splitlines()
    assert lines[0] == (
        "6 requests reached the receiver = 2 processed + 1 in the events DLQ + 1 duplicate dropped + 2 refused"
    )
    assert lines[1] == "4 events published = 3 queued by the receiver + 1 in the undeliverable queue"
    assert lines[2] == "lost: 0"


def test_the_tally_finds_an_event_queued_but_nowhere():
    tally = DeliveryTally.of(PUBLISHED, ANSWERS, {"a"}, LEFT)
    assert not tally.ok and tally.lost == ["clicked m-1"]
    assert "lost: 1 (clicked m-1)" in str(tally)


def test_the_tally_finds_an_event_never_queued_nor_given_up():
    tally = DeliveryTally.of(PUBLISHED, [a for a in ANSWERS if a[1] != "b"], {"a"}, LEFT)
    assert tally.lost == ["clicked m-1"]


def test_the_tally_finds_an_event_in_two_places_or_queued_twice():
    doubled = DeliveryTally.of(PUBLISHED, ANSWERS, {"a", "b", "c"}, LEFT)
    assert not doubled.ok and doubled.twice == ["opened m-2"]
    twice = DeliveryTally.of(PUBLISHED, [*ANSWERS, (202, "b")], {"a", "b"}, LEFT)
    assert twice.twice == ["clicked m-1"] and "twice: clicked m-1" in str(twice)


def test_the_tally_counts_failed_requests():
    tally = DeliveryTally.of(PUBLISHED, [*ANSWERS, (500, "b")], {"a", "b"}, LEFT)
    assert tally.ok and tally.failed == 1 and "1 failed (5xx)" in str(tally)


def test_timeline_rows_and_summary():
    tracker, _, _, _ = tracker_with([None, 202, None, None, None, None])
    tracker.publish("email.opened", {"mail_id": "m-1"})
    assert tracker.wait(5)
    tracker.publish("email.clicked", {"mail_id": "m-2"})
    assert tracker.wait(5)
    tracker.close()
    rows = delivery_rows(tracker.log)
    assert [r.label for r in rows] == ["opened m-1", "clicked m-2"]
    assert rows[0].outcomes == ("retry", "delivered") and rows[0].statuses == ("no answer", "202")
    assert rows[1].final == "dead-lettered" and len(rows[1].times) == FAST.max_attempts
    assert list(rows[0].times) == sorted(rows[0].times)
    summary = delivery_summary(tracker.log)
    assert summary.startswith("2 events, 6 attempts: 1 delivered (1 after retries), 1 dead-lettered")


def test_timeline_chart_draws_one_row_per_event():
    import matplotlib

    matplotlib.use("Agg")
    tracker, _, _, _ = tracker_with([None, 200, 200])
    tracker.publish("email.opened", {"mail_id": "m-1"})
    tracker.publish("email.opened", {"mail_id": "m-2"})
    assert tracker.wait(5)
    tracker.close()
    fig = delivery_chart(tracker.log, down=[(0.0, 0.01)])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["opened m-1", "opened m-2"]
    assert {"delivered", "failed, retried later", "given up → DLQ"} <= {
        t.get_text() for t in ax.get_legend().get_texts()
    }


def test_secrets_are_standard_webhooks_secrets():
    secret = new_secret()
    assert secret.startswith("whsec_") and secret != new_secret()
    Webhook(secret)  # parses


def test_the_questions_have_one_right_answer_each_and_say_why(capsys):
    assert 3 <= len(questions) <= 5
    right = "".join("abc"[q.answer] for q in questions.questions)
    assert questions.answer(*right).right == len(questions)
    wrong = "".join("abc"[(q.answer + 1) % len(q.options)] for q in questions.questions)
    assert questions.answer(*wrong).right == 0
    out = capsys.readouterr().out
    assert "well done" in out and "not yet" in out
