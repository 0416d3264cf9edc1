"""``ListDeadLetterSourceQueues`` where the embedded server lacks it (MiniStack 1.5.33 answers InvalidAction).

AWS: "Returns a list of your queues that have the RedrivePolicy queue attribute configured with a
dead-letter queue", in pages of ``MaxResults`` (at most 1,000) with a ``NextToken``
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ListDeadLetterSourceQueues.html).
Answered from the server's own API (GetQueueAttributes, ListQueues) through ``ask``, with the
caller's credentials, so an account sees only its queues. ``validating.py`` calls it only after
the server itself answered InvalidAction. Standard library only (it runs in the servers' Python).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

# ask(action, params) -> (HTTP status, JSON answer or {"code": ..., "message": ...} on an error)
Ask = Callable[[str, dict[str, Any]], Awaitable[tuple[int, dict[str, Any]]]]


async def answer(ask: Ask, params: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
    """(200, {"queueUrls": [...], "NextToken"?: ...}), or the error of looking up the dead-letter queue."""
    status, found = await ask(
        "GetQueueAttributes", {"QueueUrl": params.get("QueueUrl", ""), "AttributeNames": ["QueueArn"]}
    )
    if status != 200:
        return status, found
    arn = found.get("Attributes", {}).get("QueueArn")
    urls: list[str] = []
    token: str | None = None
    while True:
        _, page = await ask("ListQueues", {"MaxResults": 1000, **({"NextToken": token} if token else {})})
        urls += page.get("QueueUrls", [])
        token = page.get("NextToken")
        if not token:
            break
    sources = []
    for url in urls:
        _, doc = await ask("GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["RedrivePolicy"]})
        try:
            policy = json.loads(doc.get("Attributes", {}).get("RedrivePolicy") or "{}")
        except ValueError:
            continue
        if isinstance(policy, dict) and policy.get("deadLetterTargetArn") == arn:
            sources.append(url)
    start = int(params["NextToken"]) if str(params.get("NextToken", "")).isdigit() else 0
    size = max(1, min(1000, int(params.get("MaxResults") or 1000)))
    page_of = {"queueUrls": sources[start : start + size]}
    return 200, {**page_of, "NextToken": str(start + size)} if start + size < len(sources) else page_of
