"""Lesson 03's first function: it greets, and it can be asked to fail or to take its time."""

import os
import time

# Module-level code runs once per execution environment, at its cold start; warm invocations reuse it.
_invocations = 0


def handler(event, context):
    global _invocations
    _invocations += 1
    name = event.get("name", "world")
    greeting = os.environ.get("GREETING", "Hello")
    print(f"greeting {name} (invocation {_invocations} of this execution environment)")
    if event.get("fail"):
        raise ValueError(f"asked to fail while greeting {name}")
    if event.get("sleep"):
        time.sleep(float(event["sleep"]))
    return {
        "message": f"{greeting}, {name}!",
        "cold_start": _invocations == 1,
        "request_id": context.aws_request_id,
    }
