"""docker-compose.yml keeps the promises DESIGN.md makes about the localstack backend."""

from pathlib import Path

import yaml

COMPOSE = yaml.safe_load((Path(__file__).parents[2] / "docker-compose.yml").read_text())
SERVICE = COMPOSE["services"]["localstack"]


def test_pins_the_last_image_without_auth_token_but_lets_it_be_chosen():
    assert SERVICE["image"] == "${LOCALSTACK_IMAGE:-localstack/localstack:4.14}"


def test_passes_the_auth_token_through():
    assert SERVICE["environment"]["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"


def test_ports_only_on_loopback():
    assert all(port.startswith("127.0.0.1:") for port in SERVICE["ports"])


def test_docker_socket_for_lambda_and_a_healthcheck():
    assert "/var/run/docker.sock:/var/run/docker.sock" in SERVICE["volumes"]
    assert "_localstack/health" in " ".join(SERVICE["healthcheck"]["test"])
