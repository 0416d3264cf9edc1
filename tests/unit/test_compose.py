"""docker-compose.yml is a valid Compose file and keeps the promises DESIGN.md makes about the localstack backend.

`docker compose config` needs Docker's compose plugin; the same check offline is the Compose Specification's
JSON schema, which check-jsonschema (requirements-dev.txt) ships as a file, so nothing is fetched at test time.
"""

import copy
import importlib.metadata
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

COMPOSE = yaml.safe_load((Path(__file__).parents[2] / "docker-compose.yml").read_text())
SERVICE = COMPOSE["services"]["localstack"]


@pytest.fixture(scope="module")
def compose_schema() -> jsonschema.protocols.Validator:
    try:
        files = importlib.metadata.files("check-jsonschema") or []
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("check-jsonschema is not installed (requirements-dev.txt); it ships the Compose schema")
    (schema,) = [f for f in files if f.name == "compose-spec.json"]
    document = json.loads(schema.read_text())
    assert document["title"] == "Compose Specification"
    return jsonschema.Draft202012Validator(document)


def test_is_valid_under_the_compose_specification(compose_schema):
    assert [f"{list(e.absolute_path)}: {e.message}" for e in compose_schema.iter_errors(COMPOSE)] == []


def test_the_schema_refuses_what_docker_compose_would(compose_schema):
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["localstack"]["healthcheck"]["interval"] = 5  # a duration is a string: "5s"
    broken["services"]["localstack"]["restart_policy"] = "always"  # no such key
    assert len(list(compose_schema.iter_errors(broken))) >= 2


def test_pins_the_last_image_without_auth_token_but_lets_it_be_chosen():
    assert SERVICE["image"] == "${LOCALSTACK_IMAGE:-localstack/localstack:4.14}"


def test_passes_the_auth_token_through():
    assert SERVICE["environment"]["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"


def test_ports_only_on_loopback():
    assert all(port.startswith("127.0.0.1:") for port in SERVICE["ports"])


def test_docker_socket_for_lambda_and_a_healthcheck():
    assert "/var/run/docker.sock:/var/run/docker.sock" in SERVICE["volumes"]
    assert "_localstack/health" in " ".join(SERVICE["healthcheck"]["test"])


def test_checks_presigned_urls_as_s3_does():
    # LocalStack skips signature and expiry checks unless told; lesson 02 shows both refusals.
    assert SERVICE["environment"]["S3_SKIP_SIGNATURE_VALIDATION"] == "0"
