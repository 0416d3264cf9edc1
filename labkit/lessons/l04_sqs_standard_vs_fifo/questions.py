"""Lesson 04's end-of-lesson questions ("Check yourself"): shown by ``questions.show()`` in the Summary."""

from labkit.course.quiz import Question, Quiz

QUESTIONS = Quiz(
    "04",
    [
        Question(
            "On a FIFO queue, consumer 1 has received A-1 (group A) and is still working on it. "
            "Consumer 2 now calls receive_message. What can it get?",
            [
                "A-2, the next message of group A",
                "Messages of other groups, but nothing more from group A",
                "Nothing at all until A-1 is deleted",
            ],
            answer=1,
            why="While a message of a group is in flight, SQS hands out no other message of that group; "
            "the other groups stay available.",
        ),
        Question(
            "A producer's send to a FIFO queue timed out, so it sends the same message again, with the same "
            "MessageDeduplicationId, a minute later. What happens?",
            [
                "The queue now holds two copies",
                "The second send is refused with an error",
                "The second send succeeds, but the queue keeps only the first copy",
            ],
            answer=2,
            why="Within the 5-minute deduplication interval a send with an id already seen is accepted but not "
            "delivered again: the payments demo returned the first send's MessageId.",
        ),
        Question(
            "AWS calls what FIFO queues do 'exactly-once processing'. Does that mean your FIFO consumer never "
            "sees a message twice?",
            [
                "Yes: the group stays locked, so each message is processed once",
                "No: a message not deleted before its visibility timeout ends is received again, on FIFO queues too",
                "Yes, as long as ContentBasedDeduplication is on",
            ],
            answer=1,
            why="SQS adds no duplicates and drops repeated sends, but a message that is not deleted in time comes "
            "back (receive #2 in the lesson), so handlers stay idempotent.",
        ),
        Question(
            "Every message of a busy FIFO queue uses MessageGroupId='orders'. What lets more consumers help?",
            [
                "Starting more consumers",
                "A message group per independent stream, e.g. per customer",
                "A longer visibility timeout",
            ],
            answer=1,
            why="A group's messages are processed one at a time; parallelism comes from having more groups.",
        ),
        Question(
            "Your FIFO consumer receives B-1, B-2, B-3 in one batch; handling B-2 fails. What keeps group B in order?",
            [
                "Handle B-3 now and retry B-2 later",
                "Delete B-2 and go on with B-3",
                "Leave B-2 and B-3 undeleted and go on with the other groups",
            ],
            answer=2,
            why="B-2 and B-3 come back, in that order, after the visibility timeout; handling B-3 first breaks "
            "the order and deleting B-2 loses it.",
        ),
    ],
)
