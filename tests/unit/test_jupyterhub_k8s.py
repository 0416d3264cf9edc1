"""docs/jupyterhub/ for Kubernetes: the Zero to JupyterHub values file and the single-user Dockerfile.

Nothing here can run Kubernetes or Docker, so these tests check the files, not a deployment:
every key of the values file is one the chart documents, with the documented type (the keys used,
as the chart's configuration reference lists them for chart 4.4.0:
https://z2jh.jupyter.org/en/stable/resources/reference.html); the password rule in its
``hub.extraConfig`` is run; and the Dockerfile has what a learner's server needs.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VALUES = ROOT / "docs" / "jupyterhub" / "z2jh-values.yaml"
DOCKERFILE = ROOT / "docs" / "jupyterhub" / "Dockerfile"
CHART_VERSION = "4.4.0"
CHART_HUB_VERSION = "5.5.0"  # the JupyterHub that chart 4.4.0's hub image runs (its appVersion)

# The reference's keys this file may use, and their documented types. The chart passes the value of
# the dict-typed ones on as it is (traitlets config per class, env vars, Python snippets, a
# Kubernetes Lifecycle object), so the walk stops there.
DOCUMENTED: dict[str, tuple[type, ...]] = {
    "hub.config": (dict,),
    "hub.extraEnv": (dict, list),
    "hub.extraConfig": (dict,),
    "singleuser.image.name": (str,),
    "singleuser.image.tag": (str,),
    "singleuser.cmd": (list, str),
    "singleuser.defaultUrl": (str,),
    "singleuser.lifecycleHooks": (dict,),
    "singleuser.cpu.guarantee": (int, float),
    "singleuser.cpu.limit": (int, float),
    "singleuser.memory.guarantee": (str, int),
    "singleuser.memory.limit": (str, int),
    "singleuser.storage.capacity": (str,),
    "singleuser.networkPolicy.enabled": (bool,),
    "singleuser.networkPolicy.egressAllowRules.nonPrivateIPs": (bool,),
    "singleuser.networkPolicy.egressAllowRules.privateIPs": (bool,),
    "singleuser.networkPolicy.egressAllowRules.cloudMetadataServer": (bool,),
    "singleuser.networkPolicy.egressAllowRules.dnsPortsCloudMetadataServer": (bool,),
    "singleuser.networkPolicy.egressAllowRules.dnsPortsKubeSystemNamespace": (bool,),
    "singleuser.networkPolicy.egressAllowRules.dnsPortsPrivateIPs": (bool,),
    "singleuser.cloudMetadata.blockWithIptables": (bool,),
    "cull.enabled": (bool,),
    "cull.timeout": (int,),
    "cull.every": (int,),
}


def _values() -> dict:
    return yaml.safe_load(VALUES.read_text())


def _leaves(node: object, path: str = "") -> list[tuple[str, object]]:
    """Every (dotted path, value) of the values file, stopping at the documented keys."""
    if path in DOCUMENTED or not isinstance(node, dict):
        return [(path, node)]
    return [leaf for key, value in node.items() for leaf in _leaves(value, f"{path}.{key}" if path else key)]


def _problems(values: dict) -> tuple[list[str], list[tuple[str, str]]]:
    """(keys the reference does not document, keys whose value has another type than documented)."""
    undocumented, wrong = [], []
    for path, value in _leaves(values):
        if path not in DOCUMENTED:
            undocumented.append(path)
        elif not isinstance(value, DOCUMENTED[path]) or isinstance(value, bool) != (bool in DOCUMENTED[path]):
            wrong.append((path, type(value).__name__))
    return undocumented, wrong


def test_every_key_of_the_values_file_is_documented_with_its_type():
    assert _problems(_values()) == ([], [])


def test_the_checker_catches_a_typo_and_a_wrong_type():
    """The check above must be able to fail (a test that cannot fail is no test)."""
    values = _values()
    values["singleuser"]["memory"]["limt"] = "1G"
    values["cull"]["timeout"] = "1h"
    values["cull"]["enabled"] = "yes"
    assert _problems(values) == (["singleuser.memory.limt"], [("cull.enabled", "str"), ("cull.timeout", "str")])


def test_hub_config_names_classes_and_uses_the_shared_password_authenticator():
    config = _values()["hub"]["config"]
    assert all(re.fullmatch(r"[A-Z]\w*", name) for name in config)  # the reference: keys are class names
    assert config["JupyterHub"]["authenticator_class"] == "shared-password"
    assert config["Authenticator"]["allowed_users"]  # never "anyone with the password, any name"
    assert "user_password" not in str(config)  # the password comes from a Kubernetes secret, not this file
    ref = _values()["hub"]["extraEnv"]["LABKIT_HUB_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "labkit-hub", "key": "password"}


class _Config(dict):
    def __getattr__(self, name):
        return self.setdefault(name, _Config())

    def __setattr__(self, name, value):
        self[name] = value


@pytest.mark.parametrize("password", ["", "short", "11-chars-xx"])
def test_the_hubs_password_rule_refuses_an_empty_or_short_password(monkeypatch, password):
    snippet = _values()["hub"]["extraConfig"]["labkit-password"]
    monkeypatch.setenv("LABKIT_HUB_PASSWORD", password)
    with pytest.raises(SystemExit, match="at least 12 characters"):
        exec(snippet, {"c": _Config(), "os": os})


def test_the_hubs_password_rule_sets_a_long_password(monkeypatch):
    snippet = _values()["hub"]["extraConfig"]["labkit-password"]
    monkeypatch.setenv("LABKIT_HUB_PASSWORD", "a-long-course-password")
    c = _Config()
    exec(snippet, {"c": c})
    assert c.SharedPasswordAuthenticator.user_password == "a-long-course-password"


def test_each_learner_is_limited_culled_and_kept_off_other_networks():
    single = _values()["singleuser"]
    assert single["memory"]["limit"] and single["cpu"]["limit"]
    rules = single["networkPolicy"]["egressAllowRules"]
    assert single["networkPolicy"]["enabled"] and not rules["nonPrivateIPs"] and not rules["privateIPs"]
    assert not rules["cloudMetadataServer"] and single["cloudMetadata"]["blockWithIptables"]
    assert _values()["cull"]["enabled"] and _values()["cull"]["timeout"] > 0
    assert f"--version {CHART_VERSION}" in VALUES.read_text()


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_the_dockerfile_has_what_a_learners_server_needs():
    steps = _instructions()
    kinds = [k for k, _ in steps]
    base = dict(steps)["FROM"]
    assert ":" in base and not base.endswith(":latest")  # a pinned base
    assert "jupyter" in base  # Jupyter's docker-stacks: jovyan, NB_UID, start scripts
    users = [arg for kind, arg in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0")  # the learner's server never runs as root
    runs = " ".join(arg for kind, arg in steps if kind == "RUN")
    assert "make setup" in runs  # both environments from the pinned requirements files, as `make lab`
    assert f'"jupyterhub=={CHART_HUB_VERSION}"' in runs  # singleuser matches the chart's hub
    assert "labkit student" in runs  # the student versions of the lessons
    assert not re.search(r"labkit (up|classroom)|jupyter lab\b", runs)  # nothing started at build
    env = " ".join(arg for kind, arg in steps if kind == "ENV")
    assert "LABKIT_BACKEND=embedded" in env and "LABKIT_HOME=/home/jovyan/" in env
    assert "LABKIT_CLASSROOM" not in DOCKERFILE.read_text()  # no shared room: each learner's own backend
    assert kinds.index("COPY") < kinds.index("RUN", kinds.index("COPY"))
    for name in ("requirements.txt", "requirements-server.txt", "Makefile"):
        assert (ROOT / name).exists()


def test_the_values_file_and_the_image_agree():
    single = _values()["singleuser"]
    cmd = dict(_instructions())["CMD"]
    assert single["cmd"] in cmd  # the same jupyterhub-singleuser, from .venv
    hook = " ".join(single["lifecycleHooks"]["postStart"]["exec"]["command"])
    assert (
        "/opt/labkit/notebooks" in hook and "COPY --chown=${NB_UID}:${NB_GID} . /opt/labkit" in DOCKERFILE.read_text()
    )
    assert single["defaultUrl"].startswith("/lab/tree/labkit/student/")
    assert (ROOT / "notebooks").is_dir()
