"""Lesson 10's end-of-lesson questions (its Summary's "Check yourself")."""

from labkit.course.quiz import Question, Quiz

QUESTIONS = Quiz(
    "10",
    [
        Question(
            "What makes a subnet public?",
            [
                "A setting chosen when the subnet is created",
                "Its route table sends 0.0.0.0/0 to an internet gateway",
                "A CIDR block outside the private address ranges",
            ],
            answer=1,
            why="A subnet is public because of its route to an internet gateway; without that route it is private.",
        ),
        Question(
            "Why does the db group allow 5432 from the web security group rather than from the web servers' addresses?",
            [
                "The rule keeps working however many web servers come and go",
                "Rules with addresses cost more",
                "Security groups cannot hold address ranges",
            ],
            answer=0,
            why="A group reference matches every interface in that group, whatever its address.",
        ),
        Question(
            "A network ACL allows inbound TCP 5432 from the web subnet and has no outbound rule but the final *. "
            "Does a database reply reach the web server?",
            [
                "Yes: replies to allowed traffic are always let out",
                "Only if the security group allows it",
                "No: the ACL is stateless, so the reply needs an outbound rule for the ephemeral ports",
            ],
            answer=2,
            why="A network ACL checks every packet against its own direction's rules; it remembers no connection.",
        ),
        Question(
            "A browser opens https://shop.example.com/cart. What does it ask DNS?",
            ["The whole URL", "The name shop.example.com", "The path /cart on shop.example.com"],
            answer=1,
            why="DNS answers names with records; the scheme and path never reach it.",
        ),
        Question(
            "Why point the zone apex (example.com itself) at CloudFront with an alias A record rather than a CNAME?",
            [
                "A CNAME cannot exist at the zone apex; an alias record can",
                "An alias record is cached longer",
                "CNAME records cannot point at CloudFront",
            ],
            answer=0,
            why="A CNAME is not allowed at the zone apex; Route 53's alias record works there.",
        ),
    ],
)
