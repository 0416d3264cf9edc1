"""Lesson 11's end-of-lesson questions (its Summary's "Check yourself")."""

from labkit.course.quiz import Question, Quiz

QUESTIONS = Quiz(
    "11",
    [
        Question(
            "A user has ReadOnlyAccess, which allows s3:Get*, and an inline policy that denies s3:GetObject "
            "on payroll/*. Can the user read payroll/march.csv?",
            [
                "Yes: the Allow is attached first",
                "No: an explicit Deny overrides any Allow",
                "Only from the console",
            ],
            answer=1,
            why="IAM refuses a request that any policy explicitly denies, whatever else allows it.",
        ),
        Question(
            "You create an IAM user and attach no policy to it. What may it do?",
            [
                "Read everything in the account",
                "Whatever the root user may do",
                "Nothing: what no policy allows is implicitly denied",
            ],
            answer=2,
            why="Every request starts as an implicit deny; only an Allow in a policy opens it.",
        ),
        Question(
            "Why does a Lambda function run with a role rather than with an IAM user's access keys?",
            [
                "A role gives short-lived credentials to whoever it trusts, so there are no long-lived keys to leak",
                "A role may do more than a user",
                "IAM users cannot call AWS APIs from code",
            ],
            answer=0,
            why="A role has no keys of its own; the service that assumes it gets temporary credentials.",
        ),
        Question(
            "A metric gets one data point a minute. What does get_metric_statistics return with Period 300 and "
            "Statistics ['Sum']?",
            [
                "The last value of every five minutes",
                "The total of each five minutes' values",
                "One average for the whole time range",
            ],
            answer=1,
            why="CloudWatch groups the data points into periods and applies the statistic to each period.",
        ),
        Question(
            "On AWS, an alarm has Period 60 and EvaluationPeriods 3. How often does CloudWatch evaluate it?",
            [
                "Only when a new data point arrives",
                "Every 3 minutes, once per three periods",
                "Every minute, over the last 3 periods",
            ],
            answer=2,
            why="An alarm with a period of a minute or more is evaluated every minute, over a rolling window.",
        ),
    ],
)
