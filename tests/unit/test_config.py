"""Backend resolution order and settings, one test per rule in labkit.config's docstring."""

import pytest

from labkit import config
from labkit.errors import UnknownBackend


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in (
        "LABKIT_BACKEND",
        "LABKIT_ALLOW_REAL_AWS",
        "LABKIT_REGION",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "LABKIT_PORT",
        "LABKIT_MOTO_PORT",
        "LABKIT_DNS_PORT",
        "LABKIT_HOME",
    ):
        monkeypatch.delenv(name, raising=False)


def test_default_is_embedded():
    assert config.resolve_backend() == "embedded"


def test_environment_variable_beats_default(monkeypatch):
    monkeypatch.setenv("LABKIT_BACKEND", "localstack")
    assert config.resolve_backend() == "localstack"


def test_argument_beats_environment_variable(monkeypatch):
    monkeypatch.setenv("LABKIT_BACKEND", "localstack")
    assert config.resolve_backend("aws") == "aws"


def test_names_are_case_insensitive_and_trimmed():
    assert config.resolve_backend("  LocalStack ") == "localstack"


def test_empty_values_count_as_unset(monkeypatch):
    monkeypatch.setenv("LABKIT_BACKEND", "")
    assert config.resolve_backend("  ") == "embedded"


@pytest.mark.parametrize("source", ["argument", "environment"])
def test_unknown_backend_names_the_choices(monkeypatch, source):
    if source == "environment":
        monkeypatch.setenv("LABKIT_BACKEND", "moto")
    with pytest.raises(UnknownBackend) as err:
        config.resolve_backend("moto" if source == "argument" else None)
    message = str(err.value)
    assert "'moto'" in message and "embedded, localstack, aws" in message and "\n" not in message


def test_an_invalid_argument_is_an_error_even_if_the_environment_is_valid(monkeypatch):
    monkeypatch.setenv("LABKIT_BACKEND", "embedded")
    with pytest.raises(UnknownBackend):
        config.resolve_backend("emulator")


@pytest.mark.parametrize(
    ("value", "allowed"), [(None, False), ("0", False), ("yes", False), ("true", False), ("1", True)]
)
def test_real_aws_needs_exactly_1(monkeypatch, value, allowed):
    if value is not None:
        monkeypatch.setenv("LABKIT_ALLOW_REAL_AWS", value)
    assert config.real_aws_allowed() is allowed


def test_real_aws_explicit_argument():
    assert config.real_aws_allowed(True) is True
    assert config.real_aws_allowed("yes") is False  # only the real True counts


def test_region_order(monkeypatch):
    assert config.region() == "us-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert config.region() == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert config.region() == "eu-central-1"
    monkeypatch.setenv("LABKIT_REGION", "ap-south-1")
    assert config.region() == "ap-south-1"


def test_ports(monkeypatch):
    assert (config.ministack_port(), config.moto_port()) == (4600, 4601)
    monkeypatch.setenv("LABKIT_PORT", "0")
    assert config.ministack_port() == 0
    for bad in ("http", "80", "70000"):
        monkeypatch.setenv("LABKIT_PORT", bad)
        with pytest.raises(ValueError, match="LABKIT_PORT"):
            config.ministack_port()


def test_dns_port(monkeypatch):
    assert config.dns_port() == 4653
    monkeypatch.setenv("LABKIT_DNS_PORT", "0")
    assert config.dns_port() == 0
    monkeypatch.setenv("LABKIT_DNS_PORT", "53")
    with pytest.raises(ValueError, match="LABKIT_DNS_PORT=53 is out of range"):
        config.dns_port()


def test_home(monkeypatch, tmp_path):
    assert config.home().parts[-2:] == (".cache", "labkit")
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    assert config.home() == tmp_path
