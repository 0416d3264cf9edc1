"""Lesson 01's lifecycle helpers (watch, timeline, price table) and its checks, against in-process moto."""

from __future__ import annotations

import time

import boto3
import matplotlib
import pytest

from labkit.course.checks import CheckFailed
from labkit.lessons.l01_ec2_and_ebs import checks as ec2_ebs
from labkit.lessons.l01_ec2_and_ebs import lifecycle as compute
from labkit.lessons.l01_ec2_and_ebs.lifecycle import Lifecycle, Sample, Watch

matplotlib.use("Agg")


@pytest.fixture
def ec2(moto_env):
    yield boto3.client("ec2", region_name="us-east-1")


def _image(ec2) -> str:
    return ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]


def _instance(ec2) -> dict:
    return ec2.run_instances(ImageId=_image(ec2), InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]


def _lifecycle(*samples: tuple[float, str, tuple]) -> Lifecycle:
    lc = Lifecycle("i-1")
    lc.samples = [Sample(t, state, volumes) for t, state, volumes in samples]
    return lc


# ---------------------------------------------------------------- Lifecycle: plain data


def test_transitions_keep_only_changes():
    lc = _lifecycle((0.0, "pending", ()), (0.5, "pending", ()), (1.0, "running", ()), (2.0, "running", ()))
    assert lc.transitions() == [(0.0, "pending"), (1.0, "running")]


def test_spans_cover_the_observed_time_and_the_last_ends_at_the_last_sample():
    lc = _lifecycle((0.0, "pending", ()), (1.0, "running", ()), (3.0, "stopping", ()), (3.5, "stopped", ()))
    assert lc.spans() == [("pending", 0.0, 1.0), ("running", 1.0, 3.0), ("stopping", 3.0, 3.5), ("stopped", 3.5, 3.5)]
    assert Lifecycle("i-2").spans() == []


def test_volume_spans_start_when_the_volume_is_first_seen():
    lc = _lifecycle(
        (0.0, "running", ()),
        (1.0, "running", (("vol-1", "attached"),)),
        (2.0, "stopped", (("vol-1", "attached"),)),
        (4.0, "terminated", (("vol-1", "detached"),)),
    )
    assert lc.volume_ids() == ["vol-1"]
    assert lc.volume_spans("vol-1") == [("attached", 1.0, 4.0), ("detached", 4.0, 4.0)]


def test_summary_names_each_state_in_order():
    lc = _lifecycle((0.0, "pending", ()), (0.25, "running", ()))
    assert lc.summary() == "i-1: pending (0.00 s) → running (0.25 s); 2 observations"
    assert "nothing observed" in Lifecycle("i-9").summary()


# ---------------------------------------------------------------- Watch against moto


def test_watch_records_the_lifecycle_and_volume_attachment(ec2, capsys):
    instance = _instance(ec2)
    iid = instance["InstanceId"]
    watch = Watch(ec2, iid, interval=0)
    watch.note(instance["State"]["Name"], "run_instances")
    assert watch.until("running", progress=False).state == "running"
    zone = instance["Placement"]["AvailabilityZone"]
    vol = ec2.create_volume(AvailabilityZone=zone, Size=1, VolumeType="gp3")["VolumeId"]
    ec2.attach_volume(VolumeId=vol, InstanceId=iid, Device="/dev/sdf")
    watch.watch_volume(vol)
    watch.note(ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]["CurrentState"]["Name"], "stop_instances")
    watch.until("stopped", progress=False)
    assert watch.lifecycle.samples[-1].volumes == ((vol, "attached"),)  # the disk outlives the stop
    watch.note(ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"][0]["CurrentState"]["Name"], "x")
    watch.until("terminated")
    states = [s for _, s in watch.lifecycle.transitions()]
    assert states == ["pending", "running", "stopping", "stopped", "shutting-down", "terminated"]
    assert watch.lifecycle.samples[-1].volumes == ((vol, "detached"),)  # attached later: kept, detached
    assert watch.lifecycle.samples[0].source == "run_instances"
    assert f"{iid} terminated after" in capsys.readouterr().out


def test_volume_attached_to_another_instance_counts_as_detached(ec2):
    first, second = _instance(ec2), _instance(ec2)
    zone = first["Placement"]["AvailabilityZone"]
    vol = ec2.create_volume(AvailabilityZone=zone, Size=1)["VolumeId"]
    ec2.attach_volume(VolumeId=vol, InstanceId=second["InstanceId"], Device="/dev/sdf")
    assert compute.volume_attachments(ec2, [vol], first["InstanceId"]) == [(vol, "detached")]
    assert compute.volume_attachments(ec2, [vol], second["InstanceId"]) == [(vol, "attached")]
    assert compute.volume_attachments(ec2, [], first["InstanceId"]) == []


class _StuckEC2:
    """An EC2 client whose instance never leaves pending."""

    def __init__(self):
        self.calls = 0

    def describe_instances(self, InstanceIds):
        self.calls += 1
        return {"Reservations": [{"Instances": [{"InstanceId": InstanceIds[0], "State": {"Name": "pending"}}]}]}


def test_until_gives_up_after_the_timeout():
    fake = _StuckEC2()
    watch = Watch(fake, "i-stuck", interval=0)
    with pytest.raises(TimeoutError, match="still pending"):
        watch.until("running", timeout=0.01, progress=False, sleep=lambda _: time.sleep(0.001))
    assert fake.calls >= 1
    assert {s.state for s in watch.lifecycle.samples} == {"pending"}


def test_draw_lifecycle_has_a_lane_per_volume(ec2):
    lc = _lifecycle(
        (0.0, "pending", ()),
        (0.1, "running", (("vol-a", "attached"), ("vol-b", "attached"))),
        (0.4, "stopped", (("vol-a", "attached"), ("vol-b", "detached"))),
    )
    fig = compute.draw_lifecycle(lc)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["volume\nvol-b", "volume\nvol-a", "instance\ni-1"]
    annotations = [t.get_text() for t in fig.axes[0].texts]
    assert {"pending", "running", "stopped"} <= set(annotations)


# ---------------------------------------------------------------- prices


def test_price_rows_join_sizes_with_cited_prices(ec2):
    sizes = ec2.describe_instance_types(InstanceTypes=list(compute.ON_DEMAND_USD_PER_HOUR))["InstanceTypes"]
    assert {s["InstanceType"] for s in sizes} == set(compute.ON_DEMAND_USD_PER_HOUR)  # every priced type exists
    rows = compute.price_rows(sizes)
    assert [r["usd_per_hour"] for r in rows] == sorted(compute.ON_DEMAND_USD_PER_HOUR.values())
    micro = next(r for r in rows if r["type"] == "t3.micro")
    assert micro == {"type": "t3.micro", "vcpus": 2, "memory_gib": 1.0, "usd_per_hour": 0.0104, "usd_per_month": 7.59}
    table = compute.format_price_table(rows)
    assert "t3.micro" in table and "7.59" in table


def test_a_type_without_a_cited_price_shows_a_question_mark():
    rows = compute.price_rows(
        [{"InstanceType": "x9.huge", "VCpuInfo": {"DefaultVCpus": 96}, "MemoryInfo": {"SizeInMiB": 1024}}]
    )
    assert rows[0]["usd_per_hour"] is None and rows[0]["usd_per_month"] is None
    assert "?" in compute.format_price_table(rows)


# ---------------------------------------------------------------- checks for lesson 01


def test_volume_attached_hints_then_passes(ec2, monkeypatch, capsys):
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    instance = _instance(ec2)
    iid, zone = instance["InstanceId"], instance["Placement"]["AvailabilityZone"]
    assert not ec2_ebs.volume_attached(None, iid)
    other_zone = "us-east-1b" if zone != "us-east-1b" else "us-east-1c"
    elsewhere = ec2.create_volume(AvailabilityZone=other_zone, Size=1, VolumeType="gp3")["VolumeId"]
    assert not ec2_ebs.volume_attached(elsewhere, iid)
    assert "its own Availability Zone" in capsys.readouterr().out
    gp2 = ec2.create_volume(AvailabilityZone=zone, Size=1, VolumeType="gp2")["VolumeId"]
    assert not ec2_ebs.volume_attached(gp2, iid)
    vol = ec2.create_volume(AvailabilityZone=zone, Size=1, VolumeType="gp3")["VolumeId"]
    assert not ec2_ebs.volume_attached(vol, iid)
    assert "not attached" in capsys.readouterr().out
    ec2.attach_volume(VolumeId=vol, InstanceId=iid, Device="/dev/sdh")
    assert not ec2_ebs.volume_attached(vol, iid, device="/dev/sdg")
    assert "/dev/sdh" in capsys.readouterr().out
    assert ec2_ebs.volume_attached(vol, iid, device="/dev/sdh")


def _launch(ec2, keep_root: bool) -> tuple[str, str]:
    """(instance id, root volume id) of a running instance whose root volume is kept at termination or not."""
    image = ec2.describe_images(ImageIds=[_image(ec2)])["Images"][0]
    size = image["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"]
    mapping = {"DeviceName": image["RootDeviceName"], "Ebs": {"DeleteOnTermination": not keep_root, "VolumeSize": size}}
    iid = ec2.run_instances(
        ImageId=image["ImageId"], InstanceType="t3.micro", MinCount=1, MaxCount=1, BlockDeviceMappings=[mapping]
    )["Instances"][0]["InstanceId"]
    root = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["BlockDeviceMappings"][0]
    return iid, root["Ebs"]["VolumeId"]


def test_root_kept_wants_the_instance_gone_and_its_root_volume_there(ec2, monkeypatch, capsys):
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    iid, root = _launch(ec2, keep_root=True)
    assert not ec2_ebs.root_kept(None, iid)
    assert "nothing to check yet" in capsys.readouterr().out
    assert not ec2_ebs.root_kept(root, iid)
    assert "is running: terminate it" in capsys.readouterr().out
    other = ec2.create_volume(AvailabilityZone="us-east-1b", Size=1, VolumeType="gp3")["VolumeId"]
    ec2.terminate_instances(InstanceIds=[iid])
    assert not ec2_ebs.root_kept(other, iid)
    assert "was not made with" in capsys.readouterr().out
    assert ec2_ebs.root_kept(root, iid)
    assert "outlived it" in capsys.readouterr().out


def test_root_kept_says_the_default_deletes_the_root_volume(ec2, monkeypatch, capsys):
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    iid, root = _launch(ec2, keep_root=False)
    ec2.terminate_instances(InstanceIds=[iid])
    assert not ec2_ebs.root_kept(root, iid)
    out = capsys.readouterr().out
    assert "deleted with the instance" in out and "'DeleteOnTermination': False" in out


def test_a_failing_check_fails_the_suite(ec2, monkeypatch):
    monkeypatch.setenv("LABKIT_CHECKS_MUST_PASS", "1")
    with pytest.raises(CheckFailed):
        ec2_ebs.volume_attached("vol-0123456789abcdef0", _instance(ec2)["InstanceId"])
