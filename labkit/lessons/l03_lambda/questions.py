"""Lesson 03's end-of-lesson questions ("Check yourself")."""

from labkit.course.quiz import Question, Quiz

QUESTIONS = Quiz(
    "03",
    [
        Question(
            "invoke() answers with StatusCode 200 and FunctionError 'Unhandled'. What happened?",
            [
                "The function ran and raised an exception; the payload describes the error",
                "Lambda refused the call before running any code",
                "The function succeeded",
            ],
            answer=0,
            why="A function's error comes back in a successful response; only a wrong call raises a ClientError.",
        ),
        Question(
            "You invoke with InvocationType='Event' and the handler raises an exception. What does Lambda do "
            "by default?",
            [
                "It returns the error to your invoke() call",
                "It runs the handler up to two more times, with the same event",
                "Nothing: the event is dropped at once",
            ],
            answer=1,
            why="Nobody waits for an asynchronous invocation, so Lambda retries a failed event twice by itself.",
        ),
        Question(
            "A counter defined at module level reads 1 on one invocation and 2 on the next. Why?",
            [
                "Lambda saved the variable in a database between the calls",
                "The second invocation reused the same execution environment: a warm start",
                "Two copies of the function ran at the same time",
            ],
            answer=1,
            why="Module code runs once per execution environment; warm invocations reuse it and its variables.",
        ),
        Question(
            "A job needs 20 minutes of work. Can one Lambda invocation do it?",
            [
                "Yes: set Timeout to 1200",
                "No: a timeout is at most 900 seconds (15 minutes), so split the work",
                "Yes, if you give the function more memory",
            ],
            answer=1,
            why="Lambda stops a handler at its timeout, and the timeout cannot exceed 15 minutes.",
        ),
        Question(
            "Your function runs for each upload under uploads/ and writes its result under uploads/ too. What happens?",
            [
                "It runs once per upload, as intended",
                "Each result is a new upload: the function triggers itself again and again",
                "S3 refuses the write",
            ],
            answer=1,
            why="The function's own write matches the notification's filter, so it invokes the function again.",
        ),
    ],
)
