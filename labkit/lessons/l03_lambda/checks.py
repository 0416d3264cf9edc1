"""Checks for 03-lambda: they invoke and inspect the learner's real function."""

from __future__ import annotations

import json
import uuid
from typing import Any

import boto3

from labkit.course.checks import Result, hint, passed
from labkit.course.exercises import exercise
from labkit.course.registry import lesson
from labkit.course.scan import Candidate, Scan, candidates, suffix_of


def _function(name: str | None):
    """(configuration, None) or (None, hint) for a function name the learner gave."""
    if not name or "..." in name:
        return None, hint("set shout_name to the name of the function you created")
    awslambda = boto3.client("lambda")
    try:
        config = awslambda.get_function_configuration(FunctionName=name)
    except awslambda.exceptions.ResourceNotFoundException:
        return None, hint(f"there is no function named {name!r}: create it with awslambda.create_function(...)")
    state = config.get("State")
    if state == "Failed":
        return None, hint(
            f"{name} is in state Failed ({config.get('StateReasonCode', '?')}); on LocalStack, Lambda needs Docker"
        )
    if state != "Active" or config.get("LastUpdateStatus") == "InProgress":
        status = f"{state}/{config.get('LastUpdateStatus')}"
        return None, hint(f"{name} is {status}: wait with wait_active({name!r})")
    return config, None


def _shout(name: str, text: str) -> tuple[Any, str | None]:
    """Invoke the function with {"text": text}; (payload, None) or (None, what went wrong)."""
    response = boto3.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"text": text}))
    payload = response["Payload"].read()
    if response.get("FunctionError"):
        try:
            message = json.loads(payload).get("errorMessage", "")
        except (ValueError, AttributeError):
            message = payload[:200].decode(errors="replace")
        return None, f"the handler raised an error for {{'text': {text!r}}}: {message}"
    try:
        body = json.loads(payload)
    except ValueError:
        return None, f"the handler returned something that is not JSON: {payload[:80]!r}"
    if not isinstance(body, dict):
        return None, f"the handler returned {body!r}: return a dictionary like {{'shout': 'HI!'}}"
    return body, None


@exercise(1, "a function of your own", looks_for="function labkit-03-shout-<suffix> or a tagged one")
def shouts(name: str) -> Result:
    """The function exists, is Active, and answers {"text": t} with {"shout": T.upper() + punctuation}."""
    config, problem = _function(name)
    if problem is not None:
        return problem
    text = f"lambda {uuid.uuid4().hex[:4]}"
    body, problem_text = _shout(name, text)
    if problem_text:
        return hint(problem_text)
    shout = body.get("shout")
    if not isinstance(shout, str):
        return hint(f"the answer has no 'shout' text: it returned {body!r}")
    if not shout.startswith(text.upper()):
        return hint(f"for {text!r} the shout should start with {text.upper()!r}, got {shout!r}")
    if not shout[len(text) :].startswith("!"):
        return hint(f"end the shout with '!': got {shout!r}")
    return passed(f"{name} runs: {text!r} → {shout!r} ({config['Runtime']}, handler {config['Handler']})")


@exercise(2, "configure, don't redeploy", looks_for="function labkit-03-shout-<suffix> or a tagged one")
def configured(name: str, timeout: int = 5, punctuation: str = "!!!") -> Result:
    """The function has the timeout and PUNCTUATION variable asked for, and its answers use them."""
    config, problem = _function(name)
    if problem is not None:
        return problem
    if config.get("Timeout") != timeout:
        return hint(
            f"{name} has Timeout {config.get('Timeout')} s: set Timeout={timeout} with update_function_configuration"
        )
    variables = (config.get("Environment") or {}).get("Variables") or {}
    if variables.get("PUNCTUATION") != punctuation:
        return hint(
            f"{name}'s environment is {variables or 'empty'}: set Environment={{'Variables': "
            f"{{'PUNCTUATION': {punctuation!r}}}}}"
        )
    body, problem_text = _shout(name, "hi")
    if problem_text:
        return hint(problem_text)
    if body.get("shout") != "HI" + punctuation:
        return hint(f"the variable is set, but the answer is {body.get('shout')!r}: does the handler read PUNCTUATION?")
    return passed(f"{name}: Timeout {timeout} s, PUNCTUATION={punctuation!r}, answers {body['shout']!r}")


# ----------------------------------------------------------------------------- finders, for labkit progress

LESSON = lesson("03")


def _shout_functions(scan: Scan) -> list[str]:
    named = [f["FunctionName"] for f in scan.functions() if suffix_of("labkit-03-shout-{s}", f["FunctionName"])]
    demo = ("labkit-03-hello-{s}", "labkit-03-upload-{s}", "labkit-03-shout-{s}")
    tagged = [
        f["FunctionName"]
        for f in scan.functions()
        if not any(suffix_of(p, f["FunctionName"]) for p in demo) and scan.function_lesson(f) == LESSON.tag
    ]
    return named + tagged


@shouts.finder
def _shouts(scan: Scan) -> list[Candidate]:
    return candidates(_shout_functions(scan))


@configured.finder
def _configured(scan: Scan) -> list[Candidate]:
    return candidates(_shout_functions(scan), timeout=5, punctuation="!!!")
