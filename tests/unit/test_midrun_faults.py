"""Faults in the middle of a lesson: the backend stopped, restarted or wiped under a notebook; a delete that fails.

Each scenario is injected for real and its outcome asserted: the one line a notebook shows (never a
traceback of the endpoint error), the failure in the worker's record, every message accounted for
(processed, or still in its queue), and `labkit down` naming the kernels it cuts off. The workers
are the lessons' own loops, read from the notebooks' cells (``ast``), not copies; a failing delete is
a wrapper around a real client (in-process moto, or the embedded servers where a restart is the
point), so nothing here waits on a long timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import boto3
import botocore.config
import botocore.exceptions
import pytest
from notebook_code import lesson_definitions

import labkit
from labkit import session
from labkit.aws.tally import Tally
from labkit.backends import embedded
from labkit.backends.embedded.backend import Embedded
from labkit.cli import backend as cli_backend
from labkit.errors import BackendRestarted, WorkerFailed
from labkit.lessons.l04_sqs_standard_vs_fifo.consumers import run_consumers
from labkit.lessons.l06_webhooks import Background, DeliveryTally

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
ONE_TRY = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=5)


class FailingDeletes:
    """A real SQS client whose delete calls number ``fail`` (1-based, counted across threads) raise."""

    def __init__(self, client, fail: set[int]) -> None:
        self.client, self.fail, self.calls = client, fail, 0

    def __getattr__(self, name: str):
        return getattr(self.client, name)

    def _maybe_fail(self, operation: str) -> None:
        self.calls += 1
        if self.calls in self.fail:
            error = {"Error": {"Code": "InternalError", "Message": "injected: the delete did not happen"}}
            raise botocore.exceptions.ClientError(error, operation)  # type: ignore[arg-type]

    def delete_message(self, **kwargs):
        self._maybe_fail("DeleteMessage")
        return self.client.delete_message(**kwargs)

    def delete_message_batch(self, **kwargs):
        self._maybe_fail("DeleteMessageBatch")
        return self.client.delete_message_batch(**kwargs)


def _wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _send(sqs, url: str, tally: Tally, n: int) -> None:
    for i in range(1, n + 1):
        tally.sent(sqs.send_message(QueueUrl=url, MessageBody=f"job-{i}"), f"job-{i}")


# ------------------------------------------------------------------ a worker whose delete fails (moto)


@pytest.fixture
def sqs(moto_env):
    return boto3.client("sqs", region_name="us-east-1")


def test_lesson_04_a_consumer_whose_delete_fails_stops_the_run_with_one_line_and_nothing_is_lost(sqs):
    url = sqs.create_queue(QueueName="jobs", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    tally = Tally()
    _send(sqs, url, tally, 8)
    flaky = FailingDeletes(sqs, fail={3})
    consumer = lesson_definitions("04-sqs-standard-vs-fifo.ipynb", "consumer", work_time=lambda body: 0.01)["consumer"]
    t0 = time.monotonic()
    with pytest.raises(WorkerFailed) as failed:
        run_consumers(consumer, flaky, url, consumers=2, expected=8, tally=tally, timeout=30)
    assert time.monotonic() - t0 < 5, "the run should stop at the failure, not at its 30 s deadline"
    message = str(failed.value)
    assert "raised ClientError" in message and "InternalError" in message and "of 8 messages were recorded" in message
    assert "\n" not in message
    report = tally.reconcile(sqs, {"jobs": url})
    assert report.missing == [] and report.accounted == 8  # processed, or back in the queue


def test_lesson_06_worker_whose_delete_fails_is_restarted_reports_it_and_every_event_is_processed_once(sqs):
    url = sqs.create_queue(QueueName="events", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    for i in range(5):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"type": "email.opened", "data": {"mail_id": f"m-{i}"}}),
            MessageAttributes={"webhook-id": {"DataType": "String", "StringValue": f"msg_{i}"}},
        )
    processed: dict[str, str] = {}
    counts: Counter = Counter()
    scope = lesson_definitions(
        "06-webhooks.ipynb",
        "handle",
        "work",
        sqs=FailingDeletes(sqs, fail={2}),
        events_url=url,
        processed=processed,
        counts=counts,
        handled=[],
    )
    worker = Background(scope["work"], restart_after_s=0.1).start()
    try:
        drained = _wait_for(lambda: sum(int(v) for v in _depth(sqs, url)) == 0 and len(processed) == 5)
        assert drained, f"the worker did not drain the queue: {worker.summary()}"
        assert worker.running, "a failed delete must not end the worker"
    finally:
        assert worker.stop(timeout=5)
    assert len(worker.errors) == 1 and "InternalError" in worker.errors[0] and worker.restarts == 1
    assert sorted(processed) == [f"msg_{i}" for i in range(5)]
    assert sorted(counts.values()) == [1] * 5  # each counted once: the one that came back was skipped
    tally = DeliveryTally.of({}, [], processed, worker=worker)
    assert "1 failure, restarted 1 time" in str(tally) and tally.ok


def _depth(sqs, url: str) -> tuple[int, int]:
    attrs = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


# ------------------------------------------------------------------ the backend stopped, restarted, wiped


@pytest.fixture(scope="module")
def _shared_servers(tmp_path_factory):
    """One embedded backend for the tests that only wipe it (each starts from a fresh connect)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("AWS_") or name in ("LABKIT_BACKEND", "LABKIT_MANAGED_ENV"):
                mp.delenv(name)
        mp.setenv("LABKIT_HOME", str(tmp_path_factory.mktemp("home")))
        mp.setenv("LABKIT_PORT", "0")
        mp.setenv("LABKIT_MOTO_PORT", "0")
        embedded.ensure_running()
        yield mp
        embedded.stop()


@pytest.fixture
def wiping_lab(_shared_servers):
    session.forget()
    return labkit.connect(show=False)


def _missing_queue(sqs) -> BaseException:
    with pytest.raises(botocore.exceptions.ClientError) as err:
        sqs.get_queue_url(QueueName="labkit-faults-orders")
    return err.value


def test_a_wiped_backend_is_said_in_one_line(wiping_lab):
    sqs = boto3.client("sqs")
    sqs.create_queue(QueueName="labkit-faults-orders")
    assert session.backend_changed() is None
    Embedded().reset()  # what `labkit reset` does
    explained = session.explain(_missing_queue(sqs))
    assert isinstance(explained, BackendRestarted)
    assert (
        str(explained)
        == "the backend was wiped (`labkit reset`) since this notebook connected: run the lesson from the top"
    )


def test_a_stopped_then_restarted_backend_is_said_in_one_line_and_after_reconnecting_too(embedded_lab):
    sqs = boto3.client("sqs", config=ONE_TRY)
    url = sqs.create_queue(QueueName="labkit-faults-orders")["QueueUrl"]
    embedded.stop()  # `labkit down`
    with pytest.raises(botocore.exceptions.EndpointConnectionError) as err:
        sqs.send_message(QueueUrl=url, MessageBody="x")
    stopped = session.explain(err.value)
    assert isinstance(stopped, BackendRestarted) and "stopped since this notebook connected (`labkit down`)" in str(
        stopped
    )
    embedded.ensure_running()  # `labkit up` (new servers, new ports)
    assert "restarted since this notebook connected: run the lesson from the top" in str(session.explain(err.value))
    lab = labkit.connect(show=False)  # the learner runs the connect cell again, then a later cell
    assert any("restarted since this kernel first connected" in note for note in lab.notes)
    again = session.explain(_missing_queue(boto3.client("sqs")))
    assert isinstance(again, BackendRestarted) and "run the lesson from the top" in str(again)


def test_an_error_the_backend_does_not_explain_is_left_alone(wiping_lab):
    err = _missing_queue(boto3.client("sqs"))  # never made: not a restart's doing
    assert session.explain(err) is err and session.backend_changed() is None


def test_in_ipython_a_cell_that_meets_a_wiped_backend_shows_the_one_line_not_a_traceback(wiping_lab, capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert session.install_ipython_hook()
        shell.user_ns["boto3"] = boto3
        shell.run_cell('sqs = boto3.client("sqs"); sqs.create_queue(QueueName="labkit-faults-orders")')
        capsys.readouterr()
        untouched = shell.run_cell('sqs.get_queue_url(QueueName="labkit-faults-never-made")')
        normal = capsys.readouterr().out
        Embedded().reset()
        result = shell.run_cell('sqs.get_queue_url(QueueName="labkit-faults-orders")')
        shown = capsys.readouterr().out
    finally:
        InteractiveShell.clear_instance()
    assert not untouched.success and "Traceback" in normal and "QueueDoesNotExist" in normal
    assert not result.success  # the cell still failed: nbval and "run all" stop there
    assert "BackendRestarted" in shown and "wiped (`labkit reset`)" in shown
    assert "Traceback" not in shown and len(shown.strip().splitlines()) == 1


def test_lesson_06_worker_stops_with_the_reason_when_the_backend_is_stopped(embedded_lab):
    sqs = boto3.client("sqs", config=ONE_TRY)
    url = sqs.create_queue(QueueName="labkit-faults-events")["QueueUrl"]
    scope = lesson_definitions(
        "06-webhooks.ipynb", "handle", "work", sqs=sqs, events_url=url, processed={}, counts=Counter(), handled=[]
    )
    worker = Background(scope["work"], restart_after_s=0.5).start()  # 0.5, 1, 2 s: longer than a stop takes
    time.sleep(0.3)
    embedded.stop()
    assert _wait_for(lambda: not worker.running, timeout=15), worker.summary()
    assert worker.stopped.startswith("stopped: BackendRestarted: the backend was stopped since this notebook connected")
    assert worker.errors[-1].startswith("BackendRestarted: the backend was stopped")  # found at the latest restart
    tally = DeliveryTally.of({}, [], {}, worker=worker)
    assert not tally.ok and "run the lesson from the top" in str(tally).splitlines()[-1]


def test_lesson_04_consumers_meet_labkit_down_mid_run_with_one_line(embedded_lab):
    """Lesson 04's own consumer in run_consumers' threads; `labkit down` (embedded.stop) lands 1 s into the run."""
    sqs = boto3.client("sqs", config=ONE_TRY)
    url = sqs.create_queue(QueueName="labkit-faults-jobs")["QueueUrl"]
    tally = Tally()
    _send(sqs, url, tally, 30)
    consumer = lesson_definitions("04-sqs-standard-vs-fifo.ipynb", "consumer", work_time=lambda body: 0.2)["consumer"]
    stopper = threading.Timer(1.0, embedded.stop)
    stopper.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(BackendRestarted) as failed:
            run_consumers(consumer, sqs, url, consumers=2, expected=30, tally=tally, timeout=30)
    finally:
        stopper.join()
    assert time.monotonic() - t0 < 15, "the run should stop at the failure, not at its 30 s deadline"
    message = str(failed.value)
    assert message.startswith("the backend was stopped since this notebook connected") and "\n" not in message
    assert "EndpointConnectionError" not in message and "NonExistentQueue" not in message


# ------------------------------------------------------------------ labkit down and the kernels still connected


def test_labkit_down_names_the_kernels_still_connected_and_forgets_those_that_exited(embedded_lab, capsys):
    # The child records itself as connect() does (labkit.session.record), without connect()'s own health check,
    # which on a loaded machine may judge the servers dead and replace them.
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time; from labkit import session; session.record('embedded', '04-sqs-standard-vs-fifo'); "
            "print('connected', flush=True); time.sleep(60)",
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        text=True,
    )
    ours = Embedded()
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "connected"
        assert [k.pid for k in session.connected_kernels("embedded")] == [child.pid]
        warning = cli_backend.connected_warning(ours)
        assert f"1 notebook kernel is still connected to the embedded backend: pid {child.pid}" in warning[0]
        assert "(lesson 04-sqs-standard-vs-fifo)" in warning[0] and "run those lessons from the top" in warning[1]
        wiped = cli_backend.connected_warning(ours, wiped=True)
        assert wiped[0] == warning[0] and "is gone: run those lessons from the top" in wiped[1]
        cli_backend.cmd_down(SimpleNamespace())
        out = capsys.readouterr().out
        assert out.index("warning: 1 notebook kernel") < out.index("stopped")
    finally:
        child.kill()
        child.wait(10)
    assert session.connected_kernels() == []  # the dead child's record is dropped
    assert not (Path(os.environ["LABKIT_HOME"]) / "kernels" / f"{child.pid}.json").exists()
    embedded.ensure_running()
    assert cli_backend.connected_warning(ours) == []
