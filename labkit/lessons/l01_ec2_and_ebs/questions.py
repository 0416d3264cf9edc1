"""Lesson 01's end-of-lesson questions ("Check yourself")."""

from labkit.course.quiz import Question, Quiz

QUESTIONS = Quiz(
    "01",
    [
        Question(
            "You stop an instance that has a data volume attached, then start it again. What do you find?",
            [
                "A new instance id, and the data volume detached",
                "The same instance id with the volume still attached and its data intact; "
                "a public IPv4 address would be a new one",
                "The instance's disks wiped, as after a reboot of a new machine",
            ],
            answer=1,
            why="A stop keeps the instance and its EBS volumes; only the host's memory and instance store are lost.",
        ),
        Question(
            "An instance launched with default settings also has a volume you attached later. You terminate it. "
            "What remains?",
            [
                "Nothing: every volume is deleted with the instance",
                "The volume attached later; the root volume is deleted",
                "Both volumes, attached to the terminated instance",
            ],
            answer=1,
            why="DeleteOnTermination is true by default for the root volume, false for a volume attached later.",
        ),
        Question(
            "How do you get a copy of a volume's data into another Availability Zone?",
            [
                "Attach the volume to an instance in the other zone",
                "Take a snapshot and create a new volume from it in the other zone",
                "Change the volume's AvailabilityZone with modify_volume",
            ],
            answer=1,
            why="A volume attaches only within its own zone; a volume made from a snapshot can be created in any zone.",
        ),
        Question(
            "What does a stopped instance cost?",
            [
                "Nothing at all",
                "No instance time, but its EBS volumes are still billed",
                "The same as a running one",
            ],
            answer=1,
            why="Instance time is billed while it runs; the EBS volumes it keeps are billed for as long as they exist.",
        ),
        Question(
            "What does Elastic Beanstalk do that you did by hand in this lesson?",
            [
                "It creates and runs the infrastructure — instances, security group, scaling — for the code you upload",
                "It writes the application's code for you",
                "It only stores zip files of your code",
            ],
            answer=0,
            why="An environment is a CloudFormation stack Beanstalk builds and runs from your application version.",
        ),
    ],
)
