"""The pipeline's front door: verify a signed callback, then queue it for the consumer.

``make_receiver(secret, queue_url, sqs)`` returns ``receive(headers, body)`` for lesson 06's
``WebhookServer``. The signature is checked per the Standard Webhooks specification; the order
event goes to the FIFO queue with the customer as its message group (order per customer) and the
``webhook-id`` as its deduplication id (a retried delivery is queued once).
"""

import json

from standardwebhooks import Webhook, WebhookVerificationError


def make_receiver(secret, queue_url, sqs):
    webhook = Webhook(secret)

    def receive(headers, body):
        try:
            webhook.verify(body, headers)
        except WebhookVerificationError:
            return 401, "bad signature"
        try:
            customer = str(json.loads(body)["customer"])
        except (ValueError, KeyError, TypeError):
            customer = "unknown"  # queued all the same: the consumer decides what is poison
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=body,
            MessageGroupId=customer,
            MessageDeduplicationId=headers["webhook-id"],
        )
        return 202, "queued"

    return receive
