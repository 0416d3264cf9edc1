"""Lesson 02's end-of-lesson questions ("Check yourself")."""

from labkit.course.quiz import Question, Quiz

QUESTIONS = Quiz(
    "02",
    [
        Question(
            "Versioning is enabled on a bucket and you delete notes.txt. What happens to it?",
            [
                "Every version of it is erased",
                "A delete marker hides it; every version is kept and can be made current again",
                "S3 refuses to delete an object in a versioned bucket",
            ],
            answer=1,
            why="With versioning a delete only adds a delete marker on top; the versions below it stay.",
        ),
        Question(
            "Backups must come back within milliseconds when needed, are read about once a quarter and are kept "
            "for at least 90 days. Which class fits best?",
            ["S3 Standard", "S3 Glacier Instant Retrieval", "S3 Glacier Deep Archive"],
            answer=1,
            why="Instant Retrieval reads in milliseconds, costs far less to store than Standard, and keeps 90 days.",
        ),
        Question(
            "You need one object back from S3 Glacier Deep Archive as cheaply as possible. How long do you plan for?",
            ["A few milliseconds", "Up to 12 hours", "Up to 48 hours"],
            answer=2,
            why="Bulk, Deep Archive's cheapest retrieval tier, finishes within 48 hours; Standard within 12.",
        ),
        Question(
            "You store 1,000 objects of 10 KB each in S3 Standard-IA and delete them after a week. "
            "What are you billed for, per object?",
            ["10 KB for one week", "128 KB for 30 days", "Nothing, since they were deleted"],
            answer=1,
            why="Standard-IA bills at least 128 KB per object and at least 30 days, even when you delete it sooner.",
        ),
        Question(
            "A presigned GET URL was made with ExpiresIn=300. Who can use it, and until when?",
            [
                "Only users of your AWS account, at any time",
                "Anyone who holds the link, for 5 minutes after it was signed",
                "Anyone, for ever",
            ],
            answer=1,
            why="The link carries your signature and its expiry; S3 checks both, not who presents it.",
        ),
    ],
)
