"""Passes outlive clean-up: a check that passes appends a record; nothing else can (labkit.course.records)."""

from __future__ import annotations

import os
import re
import uuid

import boto3

import labkit
from labkit import cli, session
from labkit.course import records
from labkit.course.checks import Result, Status, hint, passed
from labkit.course.progress import NOT_STARTED, PASS, run_all
from labkit.lessons.l00_start_here import checks as lesson00


def test_only_a_pass_is_recorded(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    assert records.record("00.1", "t", hint("not yet")) is None
    assert records.record("00.1", "t", Result(Status.NOT_STARTED, "nothing")) is None
    assert records.read() == []
    made = records.record("00.1", "t", passed("done"))
    assert made is not None and made.exercise == "00.1" and made.backend and made.learner == ""
    capsys.readouterr()
    assert records.read() == [made]


def test_a_registered_check_records_its_own_pass_and_nothing_for_a_hint(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    assert not lesson00.first_queue(None)  # "nothing to check yet": a hint
    assert records.read() == []


def test_a_broken_line_or_an_unwritable_home_is_not_fatal(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    records.path().write_text('{"exercise": "00.1"\nnot json\n')
    assert records.read() == []
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "file"))
    (tmp_path / "file").write_text("a file where the home should be")
    assert records.record("00.1", "t", passed("done")) is None  # no traceback out of a passing check


def test_a_pass_outlives_the_lessons_clean_up(embedded_lab, capsys):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"my-first-queue-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hello")
    (now,) = run_all("00")
    assert now.status == PASS and now.recorded  # the pass itself made the record
    sqs.delete_queue(QueueUrl=url)  # the lesson's Clean up cell
    (later,) = run_all("00")
    assert later.status == NOT_STARTED and later.recorded == now.recorded
    assert later.recorded.endswith("on embedded")
    assert cli.main(["progress", "--lesson", "00"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"00\.1 .*· not started\s+\d{4}-\d\d-\d\d \d\d:\d\d", out), out
    assert "1 recorded as passed" in out


def test_a_pass_on_real_aws_names_its_account_masked_never_in_full(moto_env, monkeypatch, tmp_path, capsys):
    """Two AWS accounts' passes stay apart in the records, and no full account id is written or shown."""
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    monkeypatch.delenv("LABKIT_MANAGED_ENV", raising=False)
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    saved = dict(os.environ)
    try:
        lab = labkit.connect("aws", allow_real_aws=True, show=False)  # moto's STS: account 123456789012
        made = records.record("00.1", "t", passed("done"))
        assert made is not None and made.account == lab.account == "••••••••9012"
        assert records.read() == [made] and "123456789012" not in records.path().read_text()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        session.forget()
    capsys.readouterr()
