"""Lesson 00's end-of-lesson questions ("Check yourself")."""

from labkit.course.quiz import Question, Quiz

QUESTIONS = Quiz(
    "00",
    [
        Question(
            "You run this notebook once on the embedded backend and once on a real AWS account. "
            "What changes in the cells?",
            [
                "Every boto3 client needs an endpoint_url argument for the emulator",
                "Nothing: labkit.connect() sets the SDK's own settings (endpoints, region, credentials)",
                "The cells import a different library for the emulator",
            ],
            answer=1,
            why="connect() sets AWS_ENDPOINT_URL_<SERVICE>, the region and credentials, which boto3 reads itself.",
        ),
        Question(
            "get_account_settings() reports ConcurrentExecutions = 1000. What does that number limit?",
            [
                "How many Lambda functions the account may create",
                "How many executions of all the account's functions together may run at one moment in the Region",
                "How many times one function may be invoked per second",
            ],
            answer=1,
            why="It counts executions running at once across every function in the Region, not functions.",
        ),
        Question(
            "Which service holds the disk an EC2 instance runs from, and keeps it while the instance is stopped?",
            ["S3", "EBS", "Glacier"],
            answer=1,
            why="EBS volumes are block storage attached to instances, and they persist when the instance stops.",
        ),
        Question(
            "Every name this lesson creates ends in a random suffix. Why?",
            [
                "AWS requires a suffix on every resource name",
                "So the notebook can run again, or next to a classmate's, without two runs wanting the same name",
                "To keep the names secret",
            ],
            answer=1,
            why="A second run would otherwise ask for a queue, bucket or table name that already exists.",
        ),
        Question(
            "A row of the tour's table shows ❌. What does it tell you?",
            [
                "The notebook is broken and must be restarted",
                "This backend does not offer that call; the row shows the error code it answered with",
                "AWS itself is down",
            ],
            answer=1,
            why="Each call runs inside tour.call(...), which records the error code instead of stopping the notebook.",
        ),
    ],
)
