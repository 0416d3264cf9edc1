"""Lesson 09's end-of-lesson questions (its Summary's "Check yourself")."""

from labkit.course.quiz import Question, Quiz

QUESTIONS = Quiz(
    "09",
    [
        Question(
            "You delete an RDS instance with delete_db_instance and its default settings. What is left afterwards?",
            ["Its automated backups and its manual snapshots", "Its manual snapshots only", "Nothing at all"],
            answer=1,
            why="By default its automated backups go with it; manual snapshots stay until you delete them.",
        ),
        Question(
            "You restore a DB snapshot. Where does the restored data go?",
            [
                "Into a new DB instance",
                "Over the instance the snapshot was taken of",
                "Into the snapshot, which becomes an instance",
            ],
            answer=0,
            why="A restore always creates a new DB instance; it never overwrites one.",
        ),
        Question(
            "A table is keyed by customer (partition key) and order_id (sort key, starting with the date). "
            "Which read of one customer's November orders reads the fewest items?",
            [
                "A scan with a FilterExpression on customer and month",
                "A query on customer with a FilterExpression on the month",
                "A query with customer = :c AND begins_with(order_id, :month)",
            ],
            answer=2,
            why="A key condition reads only the matching items; a filter discards items after they were read.",
        ),
        Question(
            "Two workers both see an order as open and both try to ship it. What lets only one of them succeed?",
            [
                "TTL on the order",
                "An update with ConditionExpression '#s = :open'",
                "A scan just before the update",
            ],
            answer=1,
            why="DynamoDB checks the condition atomically with the write, so the second update is refused.",
        ),
        Question(
            "Which workload fits DynamoDB better than RDS?",
            [
                "Ad-hoc reports that join many tables",
                "An existing application written for SQL and an ORM",
                "Shopping carts read and written by key, with traffic from zero to huge",
            ],
            answer=2,
            why="Known key-based access at any scale, without capacity planning, is what DynamoDB is built for.",
        ),
    ],
)
