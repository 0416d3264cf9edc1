"""Each emulator names the run that answers, so a restart under a notebook is said in one line (labkit.session).

The embedded backend: its servers' pids and start time; LocalStack: the ``session_id`` of
``/_localstack/info``, new at every start of the container. On real AWS there is no run to name.
"""

from __future__ import annotations

from labkit import backends


def test_the_backend_names_the_run_that_answers(lab):
    run = backends.get(lab.backend).run()
    if not lab.is_emulator:
        assert run is None
        return
    assert run is not None and run.servers, f"{lab.backend} did not say which run answers: a restart would go unseen"
    assert backends.get(lab.backend).run() == run  # the same run, asked again
