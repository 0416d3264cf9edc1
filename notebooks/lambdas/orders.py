"""Lesson 08's order processing: ``process(record)`` handles one order from an SQS message.

A message's body is an order in JSON, e.g. ``{"order": "A-001", "quantity": 2}``. A bad order (a body
that is not JSON, or a quantity that is not a whole number of at least 1) raises ``ValueError``.

Every call prints one line, ``ORDER {json}``: the body, the message id, the queue it came from, how many
times SQS has handed the message out, and whether processing worked. The lesson reads those lines back
from CloudWatch Logs to count what happened to each message.
"""

import json


def process(record):
    """Process the order in one SQS record (an item of the event's "Records"); raise ValueError if it is bad."""
    body = record["body"]
    line = {
        "body": body,
        "message_id": record["messageId"],
        "queue": record.get("eventSourceARN", "").split(":")[-1],
        "receive_count": int(record.get("attributes", {}).get("ApproximateReceiveCount", "1")),
        "ok": False,
    }
    try:
        order = json.loads(body)  # json.JSONDecodeError is a ValueError
        quantity = order.get("quantity") if isinstance(order, dict) else None
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise ValueError(f"bad quantity {quantity!r}")
        line["ok"] = True
        return order
    except ValueError as err:
        line["error"] = str(err)
        raise ValueError(f"bad order {body!r}: {err}") from None
    finally:
        print("ORDER " + json.dumps(line))
