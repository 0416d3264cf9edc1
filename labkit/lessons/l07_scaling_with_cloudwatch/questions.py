"""Lesson 07's check-yourself questions."""

from labkit.course.quiz import Question, Quiz

QUESTIONS = Quiz(
    "07",
    [
        Question(
            "An alarm on ApproximateNumberOfMessagesVisible stays in ALARM for five minutes. What does it do with "
            "the simple scaling policy in its AlarmActions?",
            [
                "Runs it once, when it goes into ALARM, and never again",
                "Runs it again once a minute while it stays in ALARM; the policy ignores the runs during its cooldown",
                "Runs it once per evaluation period of the alarm",
            ],
            answer=1,
            why="Auto Scaling actions repeat once a minute while the alarm stays in ALARM, and a simple policy "
            "ignores alarms until its cooldown has passed.",
        ),
        Question(
            "A step scaling policy adds 5 instances for a breach of 0–2,000 and 8 beyond. The first 5 are still "
            "warming up when the alarm reports a breach of 2,500. What happens?",
            [
                "Nothing: the policy waits for a cooldown",
                "It adds 8 more instances, 13 in all",
                "It adds 3, so the group grows by 8 in all: warming instances are not current capacity",
            ],
            answer=2,
            why="Step scaling has no cooldown; it computes from the capacity that has warmed up, so a larger "
            "breach adds only the difference.",
        ),
        Question(
            "Your instances each process 25 messages a second and a message may wait 4 seconds. What target do "
            "you give a target tracking policy on visible messages ÷ InService instances?",
            ["25", "100", "4"],
            answer=1,
            why="The acceptable backlog per instance is the rate one instance clears times the wait you accept: "
            "25 × 4.",
        ),
        Question(
            "Why can scaling in on ApproximateNumberOfMessagesVisible alone hurt when each job takes minutes?",
            [
                "Messages being worked on are not visible, so the queue looks empty while every instance is busy",
                "Visible messages are only counted once an hour",
                "Scale-in alarms cannot watch SQS metrics",
            ],
            answer=0,
            why="In-flight messages count as NotVisible, so the visible count drops while the work is still going "
            "on, and removed instances' messages come back to be processed again.",
        ),
    ],
)
