"""Lesson 01: wait, with progress, until an instance's console output shows a line (the lesson reads it itself).

``GetConsoleOutput`` returns the most recent 64 KB an instance printed, base64-encoded on the wire (boto3
decodes it; https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_GetConsoleOutput.html). On AWS it
appears only after the boot has printed something, so this polls.
"""

from __future__ import annotations

import time


def wait_for_console(
    ec2, instance_id: str, text: str, *, count: int = 1, timeout_s: float = 20.0, interval: float = 0.2
) -> bool:
    """True once ``text`` appears ``count`` times in the console output; False after ``timeout_s`` or if the
    backend refuses the call (it never raises)."""
    import botocore.exceptions
    from tqdm.auto import tqdm

    start = time.monotonic()
    with tqdm(total=None, desc=f"console of {instance_id}", unit=" polls", leave=False) as bar:
        while True:
            try:
                output = ec2.get_console_output(InstanceId=instance_id).get("Output") or ""
            except botocore.exceptions.ClientError as err:  # a backend without console output
                print(f"get_console_output refused: {err.response['Error']['Code']}")
                return False
            bar.update(1)
            if output.count(text) >= count:
                print(f"console shows {text!r} after {time.monotonic() - start:.1f} s")
                return True
            if time.monotonic() - start > timeout_s:
                print(f"console does not show {text!r} after {timeout_s:.0f} s")
                return False
            time.sleep(interval)


def lines_with(output: str, *prefixes: str) -> str:
    """The lines of a console output that start with one of ``prefixes`` (what the lesson's scripts printed)."""
    return "\n".join(line for line in output.splitlines() if line.startswith(prefixes))
