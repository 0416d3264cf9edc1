"""The embedded backend: MiniStack and a moto server on 127.0.0.1, with what labkit adds to them.

Run by labkit's Python (the learner's environment):

- ``lifecycle.py``: start, join, stop and reset the servers and labkit's processes, under one lock and
  one state file in ``LABKIT_HOME``;
- ``backend.py``: the ``Embedded`` Backend object (connect, up, status, doctor, down);
- ``fillers.py`` (settings in ``fillers_config.py``, policy arithmetic in ``scaling_rules.py``): what
  AWS does and the emulators do not: ``AWS/SQS`` metrics, alarm → Auto Scaling, target tracking.

Run by the servers' Python (``.venv-server``; labkit is not installed there, so these are loaded by path):

- ``ministack_fixes.py`` / ``moto_fixes.py``: the launchers, with the fixes each server needs;
- ``dns_server.py`` (Route 53's zones over DNS, with dnslib, on 127.0.0.1) and ``cdn_cache.py`` (CloudFront's
  cache: Miss/Hit, TTL, invalidation): data planes MiniStack lacks, added in its process by its launcher, as is
  ``sqs_move_tasks.py`` (DLQ redrive: ``StartMessageMoveTask``, ``ListMessageMoveTasks``, ``CancelMessageMoveTask``);
- ``rds_actions.py`` + ``rds_engine.py``: a real PostgreSQL behind each RDS ``postgres`` instance (``rds_engine``'s
  records are also read by labkit's Python: ``labkit status`` lists the engines, ``labkit down`` stops any left);
- ``instance_hooks.py`` → ``instances.py`` + ``imds.py`` (in moto's process): instances that run — user data as a
  process group, a metadata service per instance, EBS volumes as folders (labkit also reads ``instances.py``'s
  records: ``labkit status``, and the sweep of ``labkit down``/``reset``); ``instance_bin/aws``: the AWS CLI on
  their PATH;
- ``beanstalk_hooks.py`` → ``beanstalk.py`` (in moto's process): Elastic Beanstalk environments serve their
  application version (a process per environment, through ``instances.spawn_group``; ``beanstalk.py``'s records
  are read by labkit too: ``labkit status``, the sweep);
- ``validating.py`` + ``rules.py`` (+ ``dead_letter_sources.py``): AWS's rules, refused as AWS refuses them.
"""

from __future__ import annotations

from labkit.backends.embedded.backend import Embedded
from labkit.backends.embedded.lifecycle import (
    LAUNCHERS,
    STATE_FILE,
    Server,
    State,
    answers,
    endpoints,
    ensure_running,
    healthy,
    installed_versions,
    is_alive,
    locked,
    memory_mb,
    port_is_free,
    read_state,
    require_running,
    reset,
    server_python,
    stop,
)

__all__ = [
    "LAUNCHERS",
    "STATE_FILE",
    "Embedded",
    "Server",
    "State",
    "answers",
    "endpoints",
    "ensure_running",
    "healthy",
    "installed_versions",
    "is_alive",
    "locked",
    "memory_mb",
    "port_is_free",
    "read_state",
    "require_running",
    "reset",
    "server_python",
    "stop",
]
