"""Lesson 08's end-of-lesson questions (``questions.show()`` in the notebook's Summary)."""

from labkit.course.quiz import Question, Quiz

QUESTIONS = Quiz(
    "08",
    [
        Question(
            "A batch of 10 messages reaches your function; one of them cannot be processed and the handler raises. "
            "The mapping has no ReportBatchItemFailures. What happens to the other 9?",
            [
                "Lambda deletes them; only the bad message comes back",
                "Nothing is deleted: all 10 become visible again after the visibility timeout and are handled again",
                "Lambda moves all 10 to the dead-letter queue at once",
            ],
            answer=1,
            why="An error fails the whole invocation, so Lambda deletes none of the batch and all of it is retried.",
        ),
        Question(
            'Your handler returns {"batchItemFailures": [{"itemIdentifier": <messageId>}]}, but the mapping\'s '
            "FunctionResponseTypes is empty. What becomes of the listed message?",
            [
                "It is deleted with the rest of the batch, as if it had worked",
                "It comes back after the visibility timeout",
                "It goes straight to the dead-letter queue",
            ],
            answer=0,
            why="Lambda reads batchItemFailures only when the mapping has ReportBatchItemFailures; otherwise a "
            "response without an error is a success for the whole batch.",
        ),
        Question(
            "A mapping has BatchSize=10 and ScalingConfig MaximumConcurrency=2, and 100 messages are waiting. "
            "At most how many messages are being processed at the same moment?",
            ["2", "10", "20", "100"],
            answer=2,
            why="Each invocation gets at most BatchSize messages and at most MaximumConcurrency invocations run at "
            "once: 2 × 10.",
        ),
        Question(
            "You want batches of 50 messages from a standard queue. What else must the mapping set?",
            [
                "MaximumConcurrency of at least 50",
                "MaximumBatchingWindowInSeconds of at least 1",
                "A FIFO queue as the source",
            ],
            answer=1,
            why="Above a BatchSize of 10 Lambda needs a batching window of at least a second to gather the batch.",
        ),
        Question(
            "Which setting does AWS advise to be at least six times the function's timeout?",
            [
                "maxReceiveCount in the redrive policy",
                "MaximumBatchingWindowInSeconds",
                "The source queue's visibility timeout",
            ],
            answer=2,
            why="A batch stays hidden for the queue's visibility timeout while the function works on it, with room "
            "left for retries when the function is throttled.",
        ),
    ],
)
