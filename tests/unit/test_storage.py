"""Lesson 02's costs (prices, cost arithmetic, chart) and its checks, with in-process moto."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import botocore.session
import matplotlib
import pytest

from labkit.lessons.l02_s3_and_glacier import checks as s3_glacier
from labkit.lessons.l02_s3_and_glacier import costs as storage

matplotlib.use("Agg")

BUCKET = "labkit-unit-storage"


# ---------------------------------------------------------------- the price table


def test_storage_class_names_are_the_s3_api_values():
    model = botocore.session.get_session().get_service_model("s3")
    allowed = set(model.shape_for("StorageClass").enum)
    assert {c.api for c in storage.STORAGE_CLASSES} <= allowed
    assert [c.api for c in storage.STORAGE_CLASSES] == [
        "STANDARD",
        "STANDARD_IA",
        "ONEZONE_IA",
        "GLACIER_IR",
        "GLACIER",
        "DEEP_ARCHIVE",
    ]


def test_colder_classes_store_for_less_and_keep_you_longer():
    classes = storage.STORAGE_CLASSES
    prices = [c.usd_per_gb_month for c in classes]
    assert prices == sorted(prices, reverse=True) and len(set(prices)) == len(prices)
    # https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-class-intro.html: durations and billable sizes
    assert [c.min_days for c in classes] == [0, 30, 30, 90, 90, 180]
    assert [c.min_billable_kb for c in classes] == [0, 128, 128, 128, 40, 40]
    assert classes[0].retrieval_usd_per_gb == 0 < min(c.retrieval_usd_per_gb for c in classes[1:])
    instant = storage.BY_API["GLACIER_IR"]
    assert (
        instant.retrieval_usd_per_gb > storage.BY_API["STANDARD_IA"].retrieval_usd_per_gb
    )  # cheaper to keep, not to read
    assert [c.first_byte == "milliseconds" for c in classes] == [True] * 4 + [False] * 2


def test_the_lessons_table_says_what_the_price_table_holds():
    """Lesson 02's storage-class table (markdown) and STORAGE_CLASSES (the chart's numbers) agree on every class."""
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / "02-s3-and-glacier.ipynb"
    text = "".join("".join(cell["source"]) for cell in json.loads(notebook.read_text())["cells"])
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| S3 [^|]+\| `([A-Z_]+)` \|.*$", text, re.M)}
    assert set(rows) == {c.api for c in storage.STORAGE_CLASSES} | {"INTELLIGENT_TIERING"}
    for c in storage.STORAGE_CLASSES:
        cells = [cell.strip() for cell in rows[c.api].strip("|").split("|")]
        assert cells[0] == c.name
        assert cells[4] == (f"{c.min_days} days" if c.min_days else "none"), c.api
        assert cells[5].startswith(f"{c.min_billable_kb} KB" if c.min_billable_kb else "none"), c.api
        assert (cells[3] == "milliseconds") == (c.first_byte == "milliseconds"), c.api


# ---------------------------------------------------------------- arithmetic, checked by hand


def test_monthly_costs_accumulate():
    # 100 GB × $0.023 = $2.30 a month
    assert storage.monthly_costs(100, 3, "STANDARD") == pytest.approx([2.3, 4.6, 6.9])


def test_minimum_duration_is_billed_when_data_leaves_early():
    # Deep Archive: 180 days = 6 months minimum; 100 GB × $0.00099 × 6 = $0.594 even after one month
    assert storage.monthly_costs(100, 1, "DEEP_ARCHIVE") == pytest.approx([0.594])
    # Standard-IA: 30 days = 1 month, so one month costs one month
    assert storage.monthly_costs(100, 1, "STANDARD_IA") == pytest.approx([1.25])
    # a year is longer than any minimum: nothing extra
    assert storage.monthly_costs(100, 12, "GLACIER")[-1] == pytest.approx(100 * 0.0036 * 12)


def test_year_costs_for_500_gb():
    by_api = {c.storage_class.api: c for c in storage.year_costs(500, retrievals=1)}
    assert by_api["STANDARD"].storage_usd == pytest.approx(138.0)  # 500 × 0.023 × 12
    assert by_api["STANDARD"].retrieval_usd == 0
    assert by_api["STANDARD_IA"].total_usd == pytest.approx(75.0 + 5.0)  # 500 × 0.0125 × 12, + 500 × 0.01
    assert by_api["ONEZONE_IA"].total_usd == pytest.approx(60.0 + 5.0)  # 500 × 0.01 × 12, + 500 × 0.01
    assert by_api["GLACIER_IR"].total_usd == pytest.approx(24.0 + 15.0)  # 500 × 0.004 × 12, + 500 × 0.03
    assert by_api["GLACIER"].total_usd == pytest.approx(21.6 + 5.0)  # 500 × 0.0036 × 12, + 500 × 0.01
    assert by_api["DEEP_ARCHIVE"].total_usd == pytest.approx(5.94 + 10.0)  # 500 × 0.00099 × 12, + 500 × 0.02
    twice = {c.storage_class.api: c for c in storage.year_costs(500, retrievals=2)}
    assert twice["DEEP_ARCHIVE"].retrieval_usd == pytest.approx(20.0)


def test_cost_table_and_chart_carry_the_source_and_every_class():
    costs = storage.year_costs(500)
    table = storage.format_cost_table(costs, 500)
    assert storage.PRICE_NOTE in table
    for c in storage.STORAGE_CLASSES:
        assert c.name in table
    fig = storage.draw_year_costs(costs, 500)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.texts] == ["$138.00", "$80.00", "$65.00", "$39.00", "$26.60", "$15.94"]
    assert any(storage.PRICE_SOURCE in t.get_text() for t in fig.texts)


# ---------------------------------------------------------------- checks for lesson 02


@pytest.fixture
def s3(moto_env, monkeypatch):
    monkeypatch.delenv("LABKIT_CHECKS_MUST_PASS", raising=False)
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    yield client


def test_restored_version(s3, capsys):
    s3.put_object(Bucket=BUCKET, Key="n.txt", Body=b"good")
    assert not s3_glacier.restored_version(BUCKET, "n.txt", b"good")
    assert "versioning is not enabled" in capsys.readouterr().out
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=BUCKET, Key="n.txt", Body=b"good")["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="n.txt", Body=b"bad")
    assert not s3_glacier.restored_version(BUCKET, "n.txt", b"good")
    assert "copy the old version" in capsys.readouterr().out
    s3.copy_object(Bucket=BUCKET, Key="n.txt", CopySource={"Bucket": BUCKET, "Key": "n.txt", "VersionId": first})
    assert s3_glacier.restored_version(BUCKET, "n.txt", b"good")


def test_restored_version_wants_the_old_versions_kept(s3, capsys):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key="n.txt", Body=b"good")
    assert not s3_glacier.restored_version(BUCKET, "n.txt", b"good")  # never overwritten, nothing restored
    assert "1 versions" in capsys.readouterr().out


def test_archive_rule(s3, capsys):
    assert not s3_glacier.archive_rule(BUCKET)
    assert "no lifecycle configuration" in capsys.readouterr().out
    rule = {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "archive/"}}
    wrong = {**rule, "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": [wrong]})
    assert not s3_glacier.archive_rule(BUCKET)
    assert "expected [(90, 'GLACIER'), (180, 'DEEP_ARCHIVE')]" in capsys.readouterr().out
    steps = [{"Days": 90, "StorageClass": "GLACIER"}, {"Days": 180, "StorageClass": "DEEP_ARCHIVE"}]
    disabled = {**rule, "Status": "Disabled", "Transitions": steps}
    s3.put_bucket_lifecycle_configuration(Bucket=BUCKET, LifecycleConfiguration={"Rules": [disabled]})
    assert not s3_glacier.archive_rule(BUCKET)
    other = {**rule, "ID": "o", "Filter": {"Prefix": "logs/"}, "Transitions": steps}
    s3.put_bucket_lifecycle_configuration(
        Bucket=BUCKET, LifecycleConfiguration={"Rules": [other, {**rule, "Transitions": steps}]}
    )
    assert s3_glacier.archive_rule(BUCKET)
