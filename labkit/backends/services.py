"""The course's map of AWS services, and which embedded server answers each.

One table, used by the connect banner, ``labkit status``, the routing of the
embedded backend and lesson 00's tour.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    name: str  # what AWS calls it
    client: str  # boto3.client(<client>)
    category: str  # the course map's grouping
    what: str  # one line for a learner
    moto: bool = False  # embedded backend routes it to moto instead of MiniStack

    @property
    def endpoint_env(self) -> str:
        """The SDK's per-service endpoint variable, e.g. AWS_ENDPOINT_URL_AUTO_SCALING."""
        return "AWS_ENDPOINT_URL_" + _SERVICE_IDS.get(self.client, self.client).upper().replace(" ", "_")


# botocore's serviceId for clients whose id differs from the client name
# (tests/unit/test_services.py checks these against botocore itself).
_SERVICE_IDS = {
    "autoscaling": "Auto Scaling",
    "elasticbeanstalk": "Elastic Beanstalk",
    "logs": "CloudWatch Logs",
    "route53": "Route 53",
}

SERVICES: tuple[Service, ...] = (
    Service("EC2", "ec2", "Compute", "virtual servers you control, OS and all", moto=True),
    Service("Lambda", "lambda", "Compute", "your code, run only when something triggers it"),
    Service("Elastic Beanstalk", "elasticbeanstalk", "Compute", "upload code; AWS runs the servers", moto=True),
    Service("S3", "s3", "Storage", "buckets of files (objects), any size, any number"),
    Service("EBS", "ec2", "Storage", "disks for EC2 that outlive a stopped server", moto=True),
    Service("Glacier", "glacier", "Storage", "cheap archive for data you rarely read", moto=True),
    Service("RDS", "rds", "Databases", "managed SQL databases (MySQL, PostgreSQL)"),
    Service("DynamoDB", "dynamodb", "Databases", "fast key-value NoSQL at any scale"),
    Service("VPC", "ec2", "Networking", "your private, isolated network", moto=True),
    Service("CloudFront", "cloudfront", "Networking", "CDN: caches content near users"),
    Service("Route 53", "route53", "Networking", "DNS: names to resources"),
    Service("IAM", "iam", "Security & Monitoring", "who may do what"),
    Service("CloudWatch", "cloudwatch", "Security & Monitoring", "metrics, alarms, dashboards"),
    Service("SQS", "sqs", "Messaging", "queues between parts of an application"),
    Service("SNS", "sns", "Messaging", "publish once, deliver to many subscribers"),
    Service("CloudWatch Logs", "logs", "Security & Monitoring", "log groups and streams"),
    Service("Auto Scaling", "autoscaling", "Compute", "grow and shrink a fleet of EC2 instances", moto=True),
)

# Clients the embedded backend sends to moto; everything else goes to MiniStack.
MOTO_CLIENTS: tuple[str, ...] = tuple(sorted({s.client for s in SERVICES if s.moto}))


def moto_endpoint_envs() -> list[str]:
    """AWS_ENDPOINT_URL_<SERVICE> names that point at moto on the embedded backend."""
    envs = {s.endpoint_env for s in SERVICES if s.moto}
    return sorted(envs)
