"""Lesson 00's map of services: one real call each, recorded in a table.

The notebook makes each call itself, inside ``with tour.call("S3") as row:``;
the block sets ``row.answer`` to what AWS (or the emulator) said. A call that
fails is recorded with its error code instead of stopping the notebook, so the
table shows honestly what this backend answered.
"""

from __future__ import annotations

import contextlib
import html
import os
import time
from dataclasses import dataclass

import botocore.exceptions

from labkit.backends.services import SERVICES
from labkit.course.checks import UNAVAILABLE_PREFIX

_BY_NAME = {s.name: s for s in SERVICES}


@dataclass
class Row:
    service: str
    category: str
    endpoint: str
    ok: bool | None = None
    answer: str = ""
    ms: float = 0.0

    def __str__(self) -> str:
        mark = "✓" if self.ok else "✗"
        return f"{mark} {self.category:<22} {self.service:<18} {self.answer}"


def _endpoint(service: str) -> str:
    """Where this kernel's boto3 sends the service's calls: the SDK's own settings, read back."""
    spec = _BY_NAME[service]
    url = os.environ.get(spec.endpoint_env) or os.environ.get("AWS_ENDPOINT_URL")
    return url.removeprefix("http://") if url else "AWS"


class ServiceTour:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    @contextlib.contextmanager
    def call(self, service: str):
        """Time the block, record its answer or its error code, print one line."""
        spec = _BY_NAME[service]
        row = Row(service, spec.category, _endpoint(service))
        t0 = time.perf_counter()
        try:
            yield row
            row.ok = True
        except botocore.exceptions.ClientError as err:
            row.ok = False
            error = err.response.get("Error", {})
            row.answer = f"{error.get('Code', 'error')}: {error.get('Message', '')}"[:90]
        except botocore.exceptions.BotoCoreError as err:
            row.ok = False
            row.answer = f"{type(err).__name__}: {err}"[:90]
        row.ms = (time.perf_counter() - t0) * 1000
        self.rows = [r for r in self.rows if r.service != service] + [row]
        print(row)

    @property
    def answered(self) -> int:
        return sum(1 for r in self.rows if r.ok)

    def summary(self) -> str:
        """How many answered, and one standard line per service this backend lacks."""
        missing = [f"{UNAVAILABLE_PREFIX} {r.service}; {r.answer.split(':')[0]}" for r in self.rows if not r.ok]
        return "\n".join([f"{self.answered} of {len(self.rows)} services answered", *missing])

    def __str__(self) -> str:
        return "\n".join([*map(str, self.rows), self.summary()])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        body = "".join(
            f"<tr><td>{'✅' if r.ok else '❌'}</td><td>{html.escape(r.category)}</td>"
            f"<td><b>{html.escape(r.service)}</b></td><td><code>{html.escape(r.endpoint)}</code></td>"
            f"<td>{html.escape(r.answer)}</td><td>{r.ms:.0f} ms</td></tr>"
            for r in self.rows
        )
        return (
            "<table><tr><th></th><th>category</th><th>service</th><th>answered by</th><th>what it said</th>"
            f"<th>time</th></tr>{body}</table><p>{html.escape(self.summary())}</p>"
        )

    def plot(self):
        """Bar chart of each call's time, coloured by which server answered it."""
        import matplotlib.pyplot as plt

        endpoints = sorted({r.endpoint for r in self.rows})
        colours = dict(zip(endpoints, plt.get_cmap("tab10").colors, strict=False))
        fig, ax = plt.subplots(figsize=(7, 0.3 * len(self.rows) + 1))
        ax.barh(
            [r.service for r in self.rows],
            [r.ms for r in self.rows],
            color=[colours[r.endpoint] if r.ok else "lightgrey" for r in self.rows],
        )
        ax.invert_yaxis()
        ax.set_xlabel("milliseconds for one call")
        for endpoint in endpoints:
            ax.bar(0, 0, color=colours[endpoint], label=endpoint)
        ax.legend(title="answered by", fontsize="small", loc="lower right")
        ax.set_title("One real call per service")
        fig.tight_layout()
        return fig
