"""MiniStack with labkit's fixes and data planes, run by path with the servers' Python (``.venv-server``):

    .venv-server/bin/python labkit/backends/embedded/ministack_fixes.py

It imports only the standard library and ministack (labkit is not installed there), applies the
fixes below to MiniStack's CloudWatch module, puts labkit's validating layer (``validating.py``:
AWS's rules for names, limits and FIFO) in front of MiniStack's app, then runs MiniStack's own
``main()`` with the settings ``labkit.backends.servers.ministack_env`` gives it. What MiniStack lacks is added
in this process, each in a module of its own (loaded by path like ``validating.py``):
``dns_server.py`` answers Route 53's zones over DNS on 127.0.0.1:``LABKIT_DNS_PORT`` (when set),
``cdn_cache.py`` makes CloudFront distributions cache (Miss, Hit, TTL, invalidation),
``sqs_move_tasks.py`` redrives dead-letter queues (``StartMessageMoveTask`` and its two siblings), and
``rds_actions.py`` gives each RDS ``postgres`` instance a real PostgreSQL (``LABKIT_RDS_DIR``).

1. **Alarms watch their own dimensions.** A metric is namespace + name + dimensions
   (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Dimension).
   MiniStack's alarm evaluation (1.5.33) mixes the data points of every dimension set of a
   metric name, so once labkit publishes ``AWS/SQS`` metrics for every queue, an alarm on one
   queue would see them all. Here an alarm evaluates only the points whose dimensions are exactly
   its own, as on AWS.
2. **GetMetricData evaluates metric math.** MiniStack answers a query with an ``Expression`` with
   ``InternalError``/"Expressions not implemented". Here arithmetic expressions over the other
   queries' ids (``+ - * / ^``, parentheses, numbers) are evaluated point by point, over the
   timestamps every operand has, as in
   https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/using-metric-math.html; a
   division by zero leaves that point out. Functions (``SUM``, ``FILL`` ...) still answer
   ``InternalError``, so nothing is silently wrong.
3. **Old data points go, at a bounded cost.** MiniStack filters every stored point of every
   metric on every CloudWatch request (keeping two weeks). labkit's backend publishes ``AWS/SQS``
   and ``AWS/AutoScaling`` points every second, which AWS keeps at that resolution for three hours
   (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#metrics-retention);
   here those two namespaces keep three hours, and the filtering runs at most once a minute.
4. **RDS instances are real databases.** With ``LABKIT_RDS_DIR`` set, each ``postgres`` instance gets a
   PostgreSQL engine at its endpoint (``rds_actions.py``, ``rds_engine.py``), which MiniStack starts only
   in Docker.
5. **A FIFO source scales across message groups.** MiniStack 1.5.33 runs one batch at a time for a FIFO queue's
   event source mapping, because a batch spans groups. Its receive never hands out a message of a group that has
   one in flight, so two batches in flight never share a group, and order within each group holds. AWS scales a FIFO
   source up to the number of active message groups, capped by ``MaximumConcurrency``
   (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html); here it gets the same limit as a
   standard queue's mapping (``MaximumConcurrency``, else MiniStack's 5, and never above reserved concurrency).
6. **One mapping per queue and function.** MiniStack 1.5.33 creates a second event source mapping of a queue to the
   same function, so every message would be handed over twice as often. Lambda refuses it with
   ``ResourceConflictException`` (HTTP 409, https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html),
   naming the existing mapping's UUID: update that one, or delete it first. Here it does the same.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

Series = dict[float, float]  # epoch seconds → value
SECOND_NAMESPACES = ("AWS/SQS", "AWS/AutoScaling")  # published every second by labkit's fillers
SECOND_DATA_S = 3 * 3600
EVICT_EVERY_S = 60.0

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(.))")


class ExpressionError(ValueError):
    """An expression this fix does not evaluate (a function, a syntax error, an unknown id)."""


def evaluate(expression: str, lookup: Callable[[str], Series | float]) -> Series | float:
    """The value of an arithmetic metric-math expression; ``lookup(id)`` gives a query's series."""
    tokens = [(num, name, op) for num, name, op in _TOKEN.findall(expression) if num or name or op.strip()]
    position = 0

    def peek() -> tuple[str, str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, str, str]:
        nonlocal position
        if position >= len(tokens):
            raise ExpressionError(f"unexpected end of {expression!r}")
        position += 1
        return tokens[position - 1]

    def atom() -> Series | float:
        num, name, op = take()
        if num:
            return float(num)
        if name:
            following = peek()
            if following is not None and following[2] == "(":
                raise ExpressionError(f"function {name}() is not evaluated here")
            return lookup(name)
        if op == "(":
            value = additive()
            if take()[2] != ")":
                raise ExpressionError(f"missing ')' in {expression!r}")
            return value
        if op == "-":
            return combine(-1.0, atom(), "*")
        raise ExpressionError(f"unexpected {op!r} in {expression!r}")

    def power() -> Series | float:
        base = atom()
        following = peek()
        if following is not None and following[2] == "^":
            take()
            return combine(base, power(), "^")
        return base

    def multiplicative() -> Series | float:
        value = power()
        while (following := peek()) is not None and following[2] in ("*", "/"):
            op = take()[2]
            value = combine(value, power(), op)
        return value

    def additive() -> Series | float:
        value = multiplicative()
        while (following := peek()) is not None and following[2] in ("+", "-"):
            op = take()[2]
            value = combine(value, multiplicative(), op)
        return value

    result = additive()
    if position != len(tokens):
        raise ExpressionError(f"unexpected {tokens[position]} in {expression!r}")
    return result


def _apply(a: float, b: float, op: str) -> float | None:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return None if b == 0 else a / b
    return float(a**b)


def combine(left: Series | float, right: Series | float, op: str) -> Series | float:
    """``left op right`` for two series (on the timestamps both have), a series and a number, or two numbers."""
    if isinstance(left, dict) or isinstance(right, dict):
        keys = [set(side) for side in (left, right) if isinstance(side, dict)]
        times = sorted(set.intersection(*keys))
        out: Series = {}
        for t in times:
            a = left[t] if isinstance(left, dict) else left
            b = right[t] if isinstance(right, dict) else right
            value = _apply(a, b, op)
            if value is not None:
                out[t] = value
        return out
    value = _apply(left, right, op)
    if value is None:
        raise ExpressionError("division by zero")
    return value


def metric_math(queries: list[dict[str, Any]], stat_results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """GetMetricData results for ``queries``, given the results of its MetricStat queries (epoch timestamps)."""
    series: dict[str, Series] = {r["Id"]: dict(zip(r["Timestamps"], r["Values"], strict=False)) for r in stat_results}
    by_id = {q.get("Id", ""): q for q in queries}
    computing: set[str] = set()

    def lookup(qid: str) -> Series | float:
        if qid in series:
            return series[qid]
        query = by_id.get(qid)
        if query is None or not query.get("Expression") or qid in computing:
            raise ExpressionError(f"unknown id {qid!r}")
        computing.add(qid)
        value = evaluate(query["Expression"], lookup)
        computing.discard(qid)
        if not isinstance(value, dict):
            raise ExpressionError(f"{qid} is a number, not a time series")
        series[qid] = value
        return value

    results = []
    for query in queries:
        if query.get("ReturnData", True) is False:
            continue
        qid = query.get("Id", "")
        label = query.get("Label") or qid
        try:
            values = lookup(qid)
        except ExpressionError as err:
            results.append(
                {
                    "Id": qid,
                    "Label": label,
                    "StatusCode": "InternalError",
                    "Messages": [{"Code": "Unsupported", "Value": str(err)}],
                    "Timestamps": [],
                    "Values": [],
                }
            )
            continue
        times = sorted(values)  # type: ignore[arg-type]
        results.append(
            {
                "Id": qid,
                "Label": label,
                "Timestamps": times,
                "Values": [values[t] for t in times],  # type: ignore[index]
                "StatusCode": "Complete",
            }
        )
    return results


def scale_fifo_sources() -> None:
    """Fix 5: a FIFO queue's mapping may have as many batches in flight as a standard queue's."""
    from ministack.services import lambda_svc

    own_limit = lambda_svc._sqs_esm_concurrency

    def concurrency(esm: dict[str, Any], func_rec: dict[str, Any], config: dict[str, Any], queue: Any = None) -> int:
        return int(own_limit(esm, func_rec, config, None))  # without the queue: the standard queue's limit

    lambda_svc._sqs_esm_concurrency = concurrency


def one_mapping_per_queue_and_function() -> None:
    """Fix 6: a second mapping of one SQS queue to one function (and qualifier) is refused, as Lambda does."""
    from ministack.services import lambda_svc

    create = lambda_svc._create_esm

    def create_once(data: dict[str, Any]) -> Any:
        source = data.get("EventSourceArn", "")
        name, qualifier = lambda_svc._resolve_request_scoped_name_and_qualifier(data.get("FunctionName", ""))
        if source.startswith("arn:") and ":sqs:" in source:
            for esm in list(lambda_svc._esms.values()):  # this account and region's mappings
                same = esm.get("FunctionName") == name and (esm.get("Qualifier") or None) == (qualifier or None)
                if esm.get("EventSourceArn") == source and same:
                    return lambda_svc.error_response_json(
                        "ResourceConflictException",
                        f'An event source mapping with SQS arn ("{source}") and function ("{name}") already exists. '
                        f"Please update or delete the existing mapping with UUID {esm['UUID']}",
                        409,
                    )
        return create(data)

    lambda_svc._create_esm = create_once


def apply() -> None:
    """Patch MiniStack's CloudWatch module in this process, its FIFO event sources (fix 5) and its mappings (6)."""
    scale_fifo_sources()
    one_mapping_per_queue_and_function()
    from ministack.services import cloudwatch as cw

    original_get_metric_data = cw._get_metric_data

    def evaluate_alarm(alarm: dict[str, Any]) -> None:
        """MiniStack's own ``_evaluate_alarm``, but over the points of the alarm's own dimensions only."""
        ns, mn = alarm.get("Namespace"), alarm.get("MetricName")
        if not ns or not mn:
            return
        own = cw._dims_key(cw._dims_from_list(alarm.get("Dimensions") or []))
        points = list(cw._metrics.get((ns, mn, own)) or [])
        cutoff = time.time() - alarm.get("Period", 60) * alarm.get("EvaluationPeriods", 1)
        recent = [p for p in points if p["Timestamp"] >= cutoff]
        if not recent:
            return
        stat_name = alarm.get("ExtendedStatistic") or alarm.get("Statistic", "Average")
        value = cw._stat_value(cw._calc_stats(recent), stat_name, recent)
        if value is None:
            return
        threshold, op = alarm.get("Threshold", 0), alarm.get("ComparisonOperator", "")
        breaching = {
            "GreaterThanOrEqualToThreshold": value >= threshold,
            "GreaterThanThreshold": value > threshold,
            "LessThanThreshold": value < threshold,
            "LessThanOrEqualToThreshold": value <= threshold,
        }.get(op, False)
        old_state, new_state = alarm["StateValue"], "ALARM" if breaching else "OK"
        if old_state != new_state:
            reason = f"Threshold Crossed: {stat_name} {value} {op} {threshold}"
            alarm.update(StateValue=new_state, StateReason=reason, StateUpdatedTimestamp=int(time.time()))
            cw._record_history(alarm["AlarmName"], old_state, new_state, reason)
            cw._dispatch_alarm_actions(alarm, old_state, new_state, reason)
            cw._evaluate_parent_alarms(alarm)

    def get_metric_data(params: Any, cbor_data: Any, is_cbor: bool, is_json: bool = False) -> Any:
        queries = (cbor_data or {}).get("MetricDataQueries") or []
        if not (is_cbor or is_json) or not any(q.get("Expression") for q in queries):
            return original_get_metric_data(params, cbor_data, is_cbor, is_json)
        stats = [dict(q, ReturnData=True) for q in queries if not q.get("Expression")]
        _, _, body = original_get_metric_data(params, {**cbor_data, "MetricDataQueries": stats}, False, True)
        results = metric_math(queries, json.loads(body)["MetricDataResults"])
        if is_cbor:
            return cw._cbor_ok({"MetricDataResults": [cw._cbor_metric_data_result(r) for r in results]})
        return cw._json_ok({"MetricDataResults": results})

    last_eviction = [0.0]

    def evict_old_metrics() -> None:
        now = time.time()
        if now - last_eviction[0] < EVICT_EVERY_S:
            return
        last_eviction[0] = now
        for key, pts in list(cw._metrics.items()):
            keep = SECOND_DATA_S if key[0] in SECOND_NAMESPACES else cw.TWO_WEEKS_SECONDS
            kept = [p for p in pts if p["Timestamp"] >= now - keep]
            if kept:
                cw._metrics[key] = kept
            else:
                del cw._metrics[key]

    cw._evaluate_alarm = evaluate_alarm
    cw._get_metric_data = get_metric_data
    cw._evict_old_metrics = evict_old_metrics


def sibling(name: str) -> ModuleType:
    """A module next to this file (``validating``, ``dns_server``, ``cdn_cache`` ...), loaded by path."""
    spec = importlib.util.spec_from_file_location(f"labkit_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def validating_layer() -> ModuleType:
    """``validating.py``: AWS's rules in front of MiniStack."""
    return sibling("validating")


def add_data_planes() -> None:
    """CloudFront's cache, SQS's DLQ redrive (message move tasks), a real PostgreSQL behind each RDS postgres
    instance (where labkit names the folder), and (with ``LABKIT_DNS_PORT`` set) the DNS server; a port it cannot
    bind ends the start."""
    from ministack.services import cloudfront, sqs

    sibling("cdn_cache").install(cloudfront)
    sibling("sqs_move_tasks").install(sqs)
    rds_dir = os.environ.get("LABKIT_RDS_DIR")
    if rds_dir:
        from ministack.services import rds

        sibling("rds_actions").install(rds, Path(rds_dir))
    raw = os.environ.get("LABKIT_DNS_PORT", "").strip()
    if not raw:
        return
    dns = sibling("dns_server")
    try:
        started = dns.serve(int(raw))
    except (OSError, ValueError) as err:
        sys.exit(f"labkit dns: cannot listen on {dns.HOST}:{raw} (UDP and TCP): {err}")
    print(f"labkit dns: answering Route 53 zones on {dns.HOST}:{started[0].server.server_address[1]}", flush=True)


if __name__ == "__main__":
    # Run by path, this file's folder is first on sys.path: take it off, so none of its neighbours
    # (rules.py, fillers.py, ...) can stand in for a module of the same name that MiniStack imports.
    if sys.path and os.path.abspath(sys.path[0]) == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    apply()
    add_data_planes()
    validating_layer().main([])  # wraps MiniStack's app with the rules, then runs MiniStack's main()
