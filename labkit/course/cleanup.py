"""The clean-up cell's helper: delete each resource, skip what was never created, say what happened."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import botocore.exceptions
import botocore.parsers

from labkit.aws.errors import error_code
from labkit.aws.s3 import empty_bucket
from labkit.aws.sqs import queue_name


class Cleanup:
    """``clean.delete("bucket x", s3.delete_bucket, Bucket="x")``, then ``print(clean)``."""

    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.skipped: list[str] = []

    def delete(self, what: str, call: Callable[..., Any], /, **kwargs: Any) -> bool:
        try:
            call(**kwargs)
        except botocore.exceptions.ClientError as err:
            self.skipped.append(f"{what} ({error_code(err)})")
            return False
        except (botocore.exceptions.BotoCoreError, botocore.parsers.ResponseParserError) as err:
            # An emulator that does not implement a call may answer with an HTML error page.
            self.skipped.append(f"{what} ({type(err).__name__})")
            return False
        self.deleted.append(what)
        return True

    def empty_and_delete_bucket(self, s3: Any, bucket: str) -> bool:
        """S3 deletes only empty buckets: remove every object version first."""
        with contextlib.suppress(botocore.exceptions.ClientError):  # no such bucket: delete_bucket records it
            empty_bucket(s3, bucket)
        return self.delete(f"bucket {bucket}", s3.delete_bucket, Bucket=bucket)

    def delete_queues(self, sqs: Any, prefix: str | None = None, names: Iterable[str | None] = ()) -> None:
        """Delete every queue whose name starts with ``prefix``, and each queue named in ``names``.

        A name that is None (an exercise not done yet) is skipped, so a student notebook cleans up too.
        """
        urls = sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []) if prefix else []
        for name in filter(None, names):
            urls += [u for u in sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", []) if queue_name(u) == name]
        for url in dict.fromkeys(urls):
            self.delete(f"queue {queue_name(url)}", sqs.delete_queue, QueueUrl=url)

    def __str__(self) -> str:
        line = f"deleted {len(self.deleted)}: {', '.join(self.deleted) or 'nothing'}"
        if self.skipped:
            line += f"\nskipped {len(self.skipped)} (not there): {', '.join(self.skipped)}"
        return line

    def __repr__(self) -> str:
        return str(self)
