"""Lesson 12's end-of-lesson questions (``questions.show()`` in the notebook's Summary)."""

from labkit.course.quiz import Question, Quiz

QUESTIONS = Quiz(
    "12",
    [
        Question(
            "You change the BatchSize parameter with a change set. What does describe_change_set tell you before "
            "anything changes?",
            [
                "Nothing: a change set is applied as soon as it is created",
                "Which resources would be added, modified or replaced, and whether a replacement is needed",
                "How long the update will take",
            ],
            answer=1,
            why="A change set is a preview: it lists each resource change (Action, Replacement) and changes "
            "nothing until you execute it.",
        ),
        Question(
            "The mail-tracking service sends the same callback twice with the same webhook-id. Which part of "
            "the pipeline drops the second one?",
            [
                "The FIFO queue: the webhook-id is the MessageDeduplicationId",
                "DynamoDB: the table has a unique index on webhook-id",
                "Lambda: an event source mapping never delivers a message twice",
            ],
            answer=0,
            why="A FIFO queue drops a message whose deduplication id it has seen in the last 5 minutes; the "
            "conditional write in store() catches what arrives twice anyway.",
        ),
        Question(
            "Why does store() write with ConditionExpression 'attribute_not_exists(seq) OR seq < :seq'?",
            [
                "To make the write faster",
                "So a duplicate or an event older than the stored one changes nothing",
                "Because DynamoDB refuses an update_item without a condition",
            ],
            answer=1,
            why="SQS and Lambda deliver at least once, and retries can arrive late: the condition makes the "
            "write idempotent and keeps the newest state.",
        ),
        Question(
            "delete_stack fails on AWS with DELETE_FAILED for the receipts bucket. What is the usual cause?",
            [
                "The bucket still holds objects: CloudFormation does not delete a bucket that is not empty",
                "S3 buckets can never be deleted by CloudFormation",
                "The stack was created by another user",
            ],
            answer=0,
            why="Empty the bucket first (the clean-up cell does), or keep it with DeletionPolicy: Retain.",
        ),
        Question(
            "A batch from the FIFO queue holds customer A's events a1, a2 and customer B's b1, in that order, "
            "and a1 cannot be processed. Which records does the consumer list in batchItemFailures?",
            ["Only a1", "a1 and a2; b1 is processed", "All three"],
            answer=1,
            why="a2 must not be applied before a1, so it is returned unprocessed with it; B's order does not "
            "depend on A's (returning every later record, b1 too, is also safe, but retries B for nothing).",
        ),
    ],
)
