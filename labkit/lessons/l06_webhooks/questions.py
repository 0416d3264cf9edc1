"""Lesson 06's end-of-lesson questions (shown by ``questions.show()`` in the notebook's Summary)."""

from labkit.course.quiz import Question, Quiz

QUESTIONS = Quiz(
    "06",
    [
        Question(
            "Why does the receiver answer 202 as soon as the event is queued, instead of processing it first?",
            [
                "SQS only accepts messages from a request that has already been answered",
                "A sender counts a slow answer as a failure and retries, so slow work before answering means "
                "more deliveries, not fewer",
                "A 202 tells the sender to sign its next delivery with a new secret",
            ],
            answer=1,
            why="The sender waits only a few seconds; the worker behind the queue can take as long as it needs.",
        ),
        Question(
            "A captured genuine delivery is sent again 10 minutes later, after the receiver restarted and forgot "
            "every webhook id. What refuses it?",
            [
                "The timestamp check: the signature covers the timestamp, which is more than 5 minutes old",
                "The set of webhook ids the receiver has queued",
                "Nothing: its signature is genuine, so it is queued",
            ],
            answer=0,
            why="An attacker cannot change the timestamp without breaking the signature, and verify refuses "
            "anything more than 5 minutes from now.",
        ),
        Question(
            "Two copies of the receiver run behind one URL, and the service's retry of a delivery reaches the "
            "other copy. What keeps the event from being queued twice?",
            [
                "Each copy's set of webhook ids",
                "hmac.compare_digest",
                "The FIFO queue, which drops a second message with the same MessageDeduplicationId sent within "
                "5 minutes",
            ],
            answer=2,
            why="Both copies send to the same queue, so the queue's deduplication sees both sends; their "
            "memories do not.",
        ),
        Question(
            "The worker's handler raises on a message. What happens to it?",
            [
                "SQS deletes it, since it was received",
                "It stays in the queue, comes back after the visibility timeout, and after maxReceiveCount "
                "receives SQS moves it to the dead-letter queue",
                "SQS moves it to the dead-letter queue at once",
            ],
            answer=1,
            why="Only delete_message removes a message; the redrive policy counts the receives.",
        ),
        Question(
            "You subscribe an HTTP endpoint to an SNS topic. When does SNS start sending it notifications?",
            [
                "At once, since the endpoint answered the SubscriptionConfirmation with 200",
                "After the subscription is confirmed: the SubscribeURL fetched, or ConfirmSubscription called "
                "with the Token",
                "After the topic's owner approves the endpoint in the console",
            ],
            answer=1,
            why="Until it is confirmed the subscription is pending, so nobody can point a topic at a server "
            "that did not ask for it.",
        ),
    ],
)
