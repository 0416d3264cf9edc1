"""CloudFormation stacks: deleted first, and awaited, so that what a stack made goes with it.

A stack carries its own tags (lesson 12 tags it ``labkit:lesson``), so it is found by ``describe_stacks``.
``delete_stack`` deletes the stack's resources in reverse dependency order; the step waits for it (at most
``wait_seconds``) before the later steps look for what is left. On AWS a stack whose bucket still holds objects
ends ``DELETE_FAILED``
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/troubleshooting.html#troubleshooting-errors-delete-stack-fails):
the report says so, the bucket step later empties and deletes the bucket (it carries the stack's tags), and the
next ``labkit cleanup`` deletes the stack.
"""

from __future__ import annotations

import time

import botocore.exceptions

from labkit.ops.run import Found, Run, paginate, tags_of

KIND = "cloudformation stack"


def stacks(run: Run) -> list[Found]:
    cf = run.client("cloudformation")
    out = []
    for stack in paginate(cf, "describe_stacks", "Stacks"):
        lesson = run.wanted(tags_of(stack.get("Tags")))
        if stack["StackStatus"] != "DELETE_COMPLETE" and lesson is not None:
            name = stack["StackName"]
            out.append(Found(KIND, name, lesson, lambda n=name: delete_and_wait(cf, n, run.wait_seconds)))
    return out


def delete_and_wait(cf, name: str, wait_seconds: float) -> str | None:
    """``delete_stack``, then wait until it is gone: None; still deleting after ``wait_seconds``: a note (pending)."""
    cf.delete_stack(StackName=name)
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            (stack,) = cf.describe_stacks(StackName=name)["Stacks"]
        except botocore.exceptions.ClientError as err:
            if "does not exist" in str(err):
                return None
            raise
        status = stack["StackStatus"]
        if status == "DELETE_COMPLETE":
            return None
        if status == "DELETE_FAILED":
            reason = (stack.get("StackStatusReason") or "no reason given")[:100]
            error = {"Code": "DELETE_FAILED: run labkit cleanup again", "Message": reason}
            raise botocore.exceptions.ClientError({"Error": error}, "DeleteStack")
        if time.monotonic() >= deadline:
            return f"still {status} after {wait_seconds:.0f} s"
        time.sleep(1.0)
