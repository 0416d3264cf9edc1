"""Lesson 00's service tour records answers and errors, and names what the backend lacks."""

import botocore.exceptions

from labkit.course.checks import UNAVAILABLE_PREFIX
from labkit.lessons.l00_start_here.tour import ServiceTour


def test_answers_errors_and_the_summary(capsys):
    tour = ServiceTour()
    with tour.call("S3") as row:
        row.answer = "wrote 9 bytes"
    with tour.call("Glacier"):
        raise botocore.exceptions.ClientError({"Error": {"Code": "InternalFailure", "Message": "no"}}, "CreateVault")
    assert [(r.service, r.ok) for r in tour.rows] == [("S3", True), ("Glacier", False)]
    assert tour.rows[1].answer.startswith("InternalFailure")
    assert tour.summary().splitlines() == ["1 of 2 services answered", f"{UNAVAILABLE_PREFIX} Glacier; InternalFailure"]
    assert "✗ Storage" in capsys.readouterr().out
    assert "❌" in tour._repr_html_()
