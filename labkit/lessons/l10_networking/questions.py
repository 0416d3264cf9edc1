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
            "You upload a new index.html to the S3 origin. A user still gets the old page, with X-Cache: Hit from "
            "cloudfront. Why, and what shows the new page at once?",
            [
                "S3 is slow to update; wait a few seconds",
                "The edge answers from its cache until the TTL ends, without asking S3; an invalidation drops the copy",
                "The bucket policy blocks the new version; update the policy",
            ],
            answer=1,
            why="A hit never reaches the origin: the cached copy is served for its TTL unless you invalidate the path.",
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
            "api.shop.example.com has TTL 300. You UPSERT it to a new address; the change is INSYNC a minute later. "
            "A resolver asked for the old record just before. How long may its users still get the old address?",
            [
                "No time: INSYNC means every resolver has the new record",
                "Up to 300 seconds after it asked: it keeps the old answer for the record's TTL",
                "Until the hosted zone is deleted",
            ],
            answer=1,
            why="INSYNC is Route 53's own name servers; resolvers elsewhere keep an answer for its TTL.",
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
