"""The routing table's endpoint variables are the ones botocore actually reads."""

import boto3
import pytest

from labkit.backends.services import MOTO_CLIENTS, SERVICES, moto_endpoint_envs


@pytest.mark.parametrize("service", SERVICES, ids=lambda s: s.name)
def test_endpoint_env_matches_botocore_service_id(service):
    model = boto3.session.Session().client(service.client, region_name="us-east-1").meta.service_model
    assert service.endpoint_env == "AWS_ENDPOINT_URL_" + model.service_id.upper().replace(" ", "_")


def test_moto_serves_what_ministack_lacks_or_does_worse():
    assert set(MOTO_CLIENTS) == {"autoscaling", "ec2", "elasticbeanstalk", "glacier"}
    assert moto_endpoint_envs() == [
        "AWS_ENDPOINT_URL_AUTO_SCALING",
        "AWS_ENDPOINT_URL_EC2",
        "AWS_ENDPOINT_URL_ELASTIC_BEANSTALK",
        "AWS_ENDPOINT_URL_GLACIER",
    ]


def test_every_seed_service_is_on_the_map():
    seed = {
        "EC2",
        "Lambda",
        "Elastic Beanstalk",
        "S3",
        "EBS",
        "Glacier",
        "RDS",
        "DynamoDB",
        "VPC",
        "CloudFront",
        "Route 53",
        "IAM",
        "CloudWatch",
    }
    assert seed <= {s.name for s in SERVICES}
