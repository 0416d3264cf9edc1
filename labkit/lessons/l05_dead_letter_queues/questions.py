"""Lesson 05's end-of-lesson questions (its Summary's "Check yourself")."""

from labkit.course.quiz import Question, Quiz

QUESTIONS = Quiz(
    "05",
    [
        Question(
            "A queue's redrive policy says maxReceiveCount 3. A message has been received 3 times and never deleted. "
            "What happens when a consumer asks for it again?",
            [
                "It is delivered a fourth time",
                "SQS moves it to the dead-letter queue instead of delivering it",
                "SQS deletes it",
            ],
            answer=1,
            why="Once its receive count passes maxReceiveCount, SQS moves the message to the DLQ, not to a consumer.",
        ),
        Question(
            "Your orders queue is a FIFO queue. Which queue can be its dead-letter queue?",
            ["A FIFO queue", "Any standard queue", "Either kind"],
            answer=0,
            why="A dead-letter queue has the type of its source: a FIFO queue's DLQ is a FIFO queue.",
        ),
        Question(
            "A message spent 3 days in a standard queue, then moved to its DLQ, whose retention is 4 days. "
            "How long can it stay in the DLQ?",
            ["4 days", "14 days, the maximum", "About 1 day"],
            answer=2,
            why="A standard queue's message keeps its first enqueue time: the 4 days count from when it was sent.",
        ),
        Question(
            "A queue has no redrive policy, and its consumer can never process one message. What happens to it?",
            [
                "It comes back after every visibility timeout until its retention period ends",
                "SQS deletes it after a few failed receives",
                "It moves to a default dead-letter queue",
            ],
            answer=0,
            why="Without a DLQ nothing sets the message aside: it is received and fails again until it expires.",
        ),
        Question(
            "On AWS, the DLQ alarm has Period 60 and EvaluationPeriods 1. How often does CloudWatch evaluate it?",
            ["Only when a new data point arrives", "Once an hour", "Every minute"],
            answer=2,
            why="CloudWatch evaluates an alarm with a period of a minute or more every minute, over its last periods.",
        ),
    ],
)
