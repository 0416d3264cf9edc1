"""labkit progress: each exercise is found on the backend and judged by its own check, never by a flag.

Against real embedded servers (the ``embedded_lab`` fixture): for a representative set of lessons
the exercise's solution, done with plain boto3, makes progress report ``pass``; a wrong attempt
reports ``not yet`` with the check's hint; nothing at all reports ``not started``. And every exercise
cell in the notebooks has a registry entry, so a new exercise cannot be forgotten.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import uuid
from pathlib import Path

import boto3
import pytest

from labkit import cli
from labkit.course import progress as exercises
from labkit.course.exercises import all_exercises
from labkit.course.progress import NOT_STARTED, NOT_YET, PASS, UNAVAILABLE
from labkit.course.registry import BY_NUMBER, lessons
from labkit.lessons.l02_s3_and_glacier.checks import NOTES_ORIGINAL

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _notebook_exercises() -> list[tuple[str, int, str, str]]:
    """(lesson, number, check, notebook path) for every exercise cell, from the check cell that follows it."""
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        number = 0
        for i, cell in enumerate(cells):
            if "exercise" in cell.get("metadata", {}).get("tags", []):
                number += 1
                check = re.search(r"^checks\.(\w+)\(", "".join(cells[i + 1]["source"]), re.M)
                assert check, f"{path.name}: the cell after exercise {number} calls no checks.<name>(...) function"
                found.append((path.name[:2], number, check.group(1), path.name))
    return found


def _tags(lesson: str) -> dict[str, str]:
    """The tags a lesson's cells put on what they create (lab.tag_dict)."""
    return {"labkit:lesson": BY_NUMBER[lesson].tag}


def _status(lesson: str, number: int = 1) -> exercises.ExerciseResult:
    (result,) = [r for r in exercises.run_all(lesson) if r.number == number]
    assert result.status in exercises.STATUSES and "\n" not in result.detail
    return result


# ----------------------------------------------------------------------------- the registry


def test_every_exercise_cell_has_a_registry_entry_and_no_more():
    in_notebooks = [(lesson, number, check) for lesson, number, check, _ in _notebook_exercises()]
    registered = [(e.lesson.number, e.number, e.check_name) for e in all_exercises()]
    assert len(in_notebooks) >= 20
    assert registered == in_notebooks
    for exercise in all_exercises():
        assert callable(exercise.check), exercise.check_name
        assert (exercise.find is None) == bool(exercise.notebook_only), exercise.key


def test_registry_matches_each_lessons_tag_title_and_names():
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown").lower()
        lesson = path.name[:2]
        assert f'labkit.connect(lesson="{BY_NUMBER[lesson].tag}")' in code, path.name
        for exercise in all_exercises(lesson):
            assert exercise.title.lower() in text, f"{exercise.key} {exercise.title!r} is not the lesson's title for it"
        demo_queues = getattr(importlib.import_module(f"{BY_NUMBER[lesson].module}.checks"), "DEMO_QUEUES", None)
        if demo_queues:  # every queue the demos make is known, so it is never taken for an attempt
            names = set(re.findall(r"\{prefix\}-([a-z0-9.-]+)", code))
            exercise_names = {"steps.fifo", "jobs", "my-queue", "my-dlq"}
            queues = {n for n in names if f'QueueName=f"{{prefix}}-{n}"' in code or f'{{prefix}}-{n}", max' in code}
            assert queues - exercise_names <= set(demo_queues), path.name
    lesson_02 = "\n".join(
        "".join(c["source"]) for c in json.loads((NOTEBOOKS / "02-s3-and-glacier.ipynb").read_text())["cells"]
    )
    assert f'original = b"{NOTES_ORIGINAL.decode()}"' in lesson_02 and 'notes_key = "notes.txt"' in lesson_02


def test_a_lesson_that_does_not_exist_is_refused():
    with pytest.raises(ValueError, match="no lesson '99'"):
        exercises.run_all("99")
    assert [x.number for x in lessons(["4", "04-sqs-standard-vs-fifo", 0])] == ["04", "04", "00"]


# ----------------------------------------------------------------------------- no backend


def test_a_backend_that_is_down_is_one_line_and_never_an_exception(monkeypatch, tmp_path, capsys):
    for name in ("LABKIT_BACKEND", "LABKIT_CLASSROOM_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path / "nothing-running"))
    results = exercises.run_all()
    assert len(results) == len(all_exercises())
    assert {r.status for r in results} == {UNAVAILABLE}
    assert all("not running" in r.detail for r in results)
    assert cli.main(["progress"]) == 1
    out = capsys.readouterr().out
    assert out.strip().count("\n") == 0 and "embedded backend is not running" in out

    monkeypatch.setenv("LABKIT_BACKEND", "localstack")
    monkeypatch.setenv("LABKIT_LOCALSTACK_URL", "http://127.0.0.1:9")  # nothing listens on the discard port
    progress = exercises.report("04")
    assert not progress.reachable and progress.table() == progress.backend
    assert "cannot reach the backend" in progress.backend
    assert [r.status for r in progress.results] == [UNAVAILABLE, UNAVAILABLE]


# ----------------------------------------------------------------------------- lessons, on the embedded backend


def test_lesson_00_first_queue(embedded_lab, monkeypatch, capsys):
    sqs = boto3.client("sqs")
    suffix = uuid.uuid4().hex[:8]
    assert _status("00").status == NOT_STARTED
    assert "or cleaned up" in _status("00").detail
    # The lesson's own tour queue (labkit-00-<suffix>) is not an attempt at the exercise.
    sqs.create_queue(QueueName=f"labkit-00-{suffix}", tags=_tags("00"))
    assert _status("00").status == NOT_STARTED

    url = sqs.create_queue(QueueName=f"my-first-queue-{suffix}")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="hi there")
    for must_pass in ("1", None):  # a hint is a row either way, even where the test suite makes hints raise
        if must_pass:
            monkeypatch.setenv("LABKIT_CHECKS_MUST_PASS", must_pass)
        else:
            monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
        wrong = _status("00")
        assert wrong.status == NOT_YET and "no message with body 'hello'" in wrong.detail

    sqs.send_message(QueueUrl=url, MessageBody="hello")
    right = _status("00")
    assert right.status == PASS and f"my-first-queue-{suffix}" in right.detail
    assert capsys.readouterr().out == ""  # the checks' lines were captured, not printed

    # A queue with a name of the learner's choice is found by the lesson's tag; one passing attempt is enough.
    tagged = sqs.create_queue(QueueName=f"greetings-{suffix}", tags=_tags("00"))["QueueUrl"]
    assert _status("00").status == PASS
    sqs.delete_queue(QueueUrl=url)
    empty = _status("00")
    assert empty.status == NOT_YET and empty.detail.startswith(f"greetings-{suffix} is empty")
    sqs.create_queue(QueueName=f"my-first-queue-{suffix}-2", tags=_tags("00"))
    two = _status("00")
    assert two.status == NOT_YET and "(and 1 other attempt(s) found, none passing)" in two.detail
    sqs.send_message(QueueUrl=tagged, MessageBody="hello")
    assert _status("00").status == PASS

    assert cli.main(["progress", "--lesson", "00"]) == 0
    out = capsys.readouterr().out
    assert "backend embedded" in out and "✓ pass" in out and "total: 1 of 1 pass" in out


def test_lesson_04_fifo_steps_and_the_notebook_only_consumer(embedded_lab):
    sqs = boto3.client("sqs")
    prefix = f"labkit-04-{uuid.uuid4().hex[:8]}"
    tags = _tags("04")
    # The demos' queues and exercise 2's order queues exist; they are not attempts at exercise 1.
    sqs.create_queue(QueueName=f"{prefix}-orders.fifo", Attributes={"FifoQueue": "true"}, tags=tags)
    sqs.create_queue(QueueName=f"{prefix}-orders-1a2b.fifo", Attributes={"FifoQueue": "true"}, tags=tags)
    sqs.create_queue(QueueName=f"{prefix}-standard", tags=tags)
    steps, consumer = exercises.run_all("04")
    assert steps.status == NOT_STARTED
    assert consumer.status == UNAVAILABLE and consumer.detail.startswith("checked in the notebook only")

    steps = sqs.create_queue(QueueName=f"{prefix}-steps.fifo", Attributes={"FifoQueue": "true"}, tags=tags)
    assert _status("04").status == NOT_YET and "content-based deduplication" in _status("04").detail

    sqs.delete_queue(QueueUrl=steps["QueueUrl"])
    steps_url = sqs.create_queue(
        QueueName=f"{prefix}-steps.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        tags=tags,
    )["QueueUrl"]
    for body in ("step-1", "step-2", "step-2", "step-3"):
        sqs.send_message(QueueUrl=steps_url, MessageBody=body, MessageGroupId="ex")
    assert _status("04").status == PASS
    # Looking did not consume anything: the check looks the same the second time.
    assert _status("04").status == PASS


def test_lesson_05_dead_letter_queue(embedded_lab):
    sqs = boto3.client("sqs")
    prefix = f"labkit-05-{uuid.uuid4().hex[:8]}"
    fifo = {"FifoQueue": "true"}
    assert [r.status for r in exercises.run_all("05")] == [NOT_STARTED, NOT_STARTED]

    dlq_url = sqs.create_queue(QueueName=f"{prefix}-my-dlq.fifo", Attributes=fifo, tags=_tags("05"))["QueueUrl"]
    first, second = exercises.run_all("05")
    assert first.status == NOT_YET and f"no queue named '{prefix}-my-queue.fifo'" in first.detail
    assert second.status == NOT_YET

    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})
    url = sqs.create_queue(
        QueueName=f"{prefix}-my-queue.fifo", Attributes={**fifo, "VisibilityTimeout": "1", "RedrivePolicy": redrive}
    )["QueueUrl"]
    assert "maxReceiveCount is 5" in _status("05", 1).detail

    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": redrive})
    first, second = exercises.run_all("05")
    assert first.status == PASS
    assert second.status == NOT_YET and "neither queue holds a 'poison' message" in second.detail

    sqs.send_message(QueueUrl=url, MessageBody="poison", MessageGroupId="orders", MessageDeduplicationId="poison")
    assert "still in the queue" in _status("05", 2).detail
    for _ in range(6):  # receive without deleting until the message has moved
        if not sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages"):
            break
    assert [r.status for r in exercises.run_all("05")] == [PASS, PASS]


def test_lesson_01_second_disk_and_kept_root(embedded_lab):
    ec2 = boto3.client("ec2")
    suffix = uuid.uuid4().hex[:8]
    tags = [{"Key": k, "Value": v} for k, v in _tags("01").items()]
    assert [r.status for r in exercises.run_all("01")] == [NOT_STARTED, NOT_STARTED]

    vpc_id = ec2.create_vpc(
        CidrBlock="10.42.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [*tags, {"Key": "Name", "Value": f"labkit-01-{suffix}"}]}],
    )["Vpc"]["VpcId"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.42.1.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]

    image = ec2.describe_images(Owners=["amazon"])["Images"][0]
    image_id, image_size = image["ImageId"], image["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"]
    # The lesson's own web server (named labkit-01-web-...) is not the learner's instance.
    web = ec2.run_instances(
        ImageId=image_id,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet_id,
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [*tags, {"Key": "Name", "Value": f"labkit-01-web-{suffix}"}]}
        ],
    )["Instances"][0]["InstanceId"]
    assert _status("01", 1).status == NOT_STARTED

    instance_id = ec2.run_instances(
        ImageId=image_id, InstanceType="t3.micro", MinCount=1, MaxCount=1, SubnetId=subnet_id
    )["Instances"][0]["InstanceId"]
    disk = _status("01", 1)
    assert disk.status == NOT_YET and "no volume of yours is attached" in disk.detail

    volume_id = ec2.create_volume(
        AvailabilityZone=zone, Size=1, VolumeType="gp3", TagSpecifications=[{"ResourceType": "volume", "Tags": tags}]
    )["VolumeId"]
    disk = _status("01", 1)
    assert disk.status == NOT_YET and "not attached" in disk.detail
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdh")
    disk = _status("01", 1)
    assert disk.status == NOT_YET and "attached at /dev/sdh" in disk.detail
    ec2.detach_volume(VolumeId=volume_id, InstanceId=instance_id)
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdg")
    disk = _status("01", 1)
    assert disk.status == PASS and volume_id in disk.detail

    # Exercise 2: the web server's root volume went with it (the default), so nothing is kept yet.
    ec2.terminate_instances(InstanceIds=[web])
    assert _status("01", 2).status == NOT_STARTED
    root = {"DeviceName": image["RootDeviceName"], "Ebs": {"DeleteOnTermination": False, "VolumeSize": image_size}}
    kept = ec2.run_instances(
        ImageId=image_id,
        InstanceType="t3.micro",
        MinCount=1,
        MaxCount=1,
        SubnetId=subnet_id,
        BlockDeviceMappings=[root],
    )["Instances"][0]["InstanceId"]
    assert _status("01", 2).status == NOT_STARTED  # running: nothing has outlived anything yet
    kept_volume = ec2.describe_instances(InstanceIds=[kept])["Reservations"][0]["Instances"][0]
    kept_volume_id = kept_volume["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    ec2.terminate_instances(InstanceIds=[kept])
    root_kept = _status("01", 2)
    assert root_kept.status == PASS and kept_volume_id in root_kept.detail

    ec2.terminate_instances(InstanceIds=[instance_id])  # what the Clean up cell does
    for volume in (volume_id, kept_volume_id):
        ec2.delete_volume(VolumeId=volume)
    assert [r.status for r in exercises.run_all("01")] == [NOT_STARTED, NOT_STARTED]


def test_lesson_11_is_checked_in_the_notebook_only(embedded_lab):
    """Its exercises need the reader's secret key or a response that lives in the kernel: progress says so."""
    results = exercises.run_all("11")
    assert [r.status for r in results] == [UNAVAILABLE, UNAVAILABLE, UNAVAILABLE]
    assert all(r.detail.startswith("checked in the notebook only") for r in results), [r.detail for r in results]
    assert _status("07", 1).status == UNAVAILABLE  # lesson 07's tuned rule lives in the kernel too


def test_each_learner_is_checked_with_the_credentials_in_the_environment(embedded_lab):
    """A classroom checks one learner after another by changing AWS_ACCESS_KEY_ID (a 12-digit key is an account)."""
    learner = boto3.client("sqs", aws_access_key_id="111111111111", aws_secret_access_key="secret")
    url = learner.create_queue(QueueName=f"my-first-queue-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    learner.send_message(QueueUrl=url, MessageBody="hello")

    assert _status("00").status == NOT_STARTED  # as the default account (connect's dummy key)
    # Set directly, not with monkeypatch: embedded_lab removes what connect() added, and monkeypatch's
    # undo would run after it and put connect()'s key back without its secret.
    os.environ["AWS_ACCESS_KEY_ID"] = "111111111111"
    assert _status("00").status == PASS
    os.environ["AWS_ACCESS_KEY_ID"] = "222222222222"
    assert _status("00").status == NOT_STARTED
