"""Calls to this machine never go through a proxy.

A learner behind a proxy has ``http_proxy``/``https_proxy`` (or ``all_proxy``) set; Python's urllib
and botocore send every request through it, also a request to ``127.0.0.1``, unless ``NO_PROXY``
names the host (https://docs.python.org/3/library/urllib.request.html#urllib.request.getproxies;
for the SDK: https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-proxy.html). A proxy
cannot reach the learner's loopback, so every local call would fail. So:

- labkit's own HTTP calls to the servers it runs (health checks, resets) use ``OPENER``, which has no
  proxy at all; ``urlopen`` does the same for a URL on this machine and honours the proxy settings
  elsewhere (LocalStack may be elsewhere, and so is a classroom's server);
- ``no_proxy_env()`` adds ``127.0.0.1``, ``localhost`` and ``::1`` to ``NO_PROXY`` and ``no_proxy``
  (keeping what the learner listed), for the kernel (``labkit.connect()``) and for every process
  ``labkit.backends.servers`` starts (the servers, their Lambda workers, the fillers);
- ``describe()`` is what ``labkit doctor`` says about the proxy settings, credentials masked.
"""

from __future__ import annotations

import os
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
# An opener with an empty ProxyHandler: no proxy, whatever the environment says.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def is_local(url: str) -> bool:
    """True if ``url``'s host is this machine's loopback (``127.x``, ``localhost``, ``::1``)."""
    host = urllib.parse.urlsplit(url).hostname or ""
    return host in LOCAL_HOSTS or host.startswith("127.")


def urlopen(request: str | urllib.request.Request, timeout: float) -> Any:
    """``urllib.request.urlopen``, without a proxy when the URL is on this machine."""
    url = request.full_url if isinstance(request, urllib.request.Request) else request
    return (OPENER.open if is_local(url) else urllib.request.urlopen)(request, timeout=timeout)


def no_proxy_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``NO_PROXY`` and ``no_proxy``: what ``environ`` lists in either, then this machine's names."""
    environ = os.environ if environ is None else environ
    listed: list[str] = []
    for name in ("NO_PROXY", "no_proxy"):
        for entry in environ.get(name, "").split(","):
            if entry.strip() and entry.strip() not in listed:
                listed.append(entry.strip())
    listed += [host for host in LOCAL_HOSTS if host not in listed]
    value = ",".join(listed)
    return {"NO_PROXY": value, "no_proxy": value}


def _masked(url: str) -> str:
    """A proxy URL without its password (``http://user:***@host:port``)."""
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.password is None:
            return url
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "(not a URL)"


def describe(environ: Mapping[str, str] | None = None) -> str:
    """One line for ``labkit doctor``: the proxy settings, and that local calls bypass them."""
    environ = os.environ if environ is None else environ
    set_ = [f"{name}={_masked(environ[name])}" for name in PROXY_VARIABLES if environ.get(name)]
    if not set_:
        return "no proxy set (http_proxy, https_proxy, all_proxy): every call goes direct"
    return (
        f"proxy: {', '.join(set_)}; labkit's calls to this machine bypass it "
        f"(NO_PROXY={no_proxy_env(environ)['NO_PROXY']} for the kernel and the servers); real AWS goes through it"
    )
