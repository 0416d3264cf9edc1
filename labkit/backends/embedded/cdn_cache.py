"""A cache in front of CloudFront's origins, in MiniStack's process: Miss, then Hit within the TTL.

MiniStack (1.5.33) serves a distribution's viewer requests by ``Host`` header, but fetches every request
from the origin and answers ``X-Cache: Miss from cloudfront``. ``ministack_fixes.py`` (the launcher) calls
``install()``, which wraps two functions of MiniStack's ``cloudfront`` module:

- ``_fetch_from_origin``: a GET or HEAD whose response is in this cache, unexpired, is answered from it
  without reaching the origin (S3 is not asked: a changed object keeps its old bytes here until the TTL
  ends or an invalidation); otherwise the origin answers and a cacheable response is stored;
- ``handle_viewer_request``: a response from the cache says ``X-Cache: Hit from cloudfront`` and carries
  ``Age`` (whole seconds in the cache), as CloudFront's do;
- ``_create_invalidation``: a created invalidation drops the cached paths it names (``/images/*``: every
  path starting ``/images/``; ``/*``: all), whatever their query strings, as in
  https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/invalidation-specifying-objects.html;
- ``reset``: ``/_ministack/reset`` empties the cache too.

How long a response stays, from
https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/Expiration.html (``ttl``): the origin's
``Cache-Control: s-maxage`` (else ``max-age``, else ``Expires``) bounded by the cache behaviour's
MinTTL and MaxTTL (its cache policy's, or the legacy MinTTL/DefaultTTL/MaxTTL of the behaviour); with none
of them, its DefaultTTL; ``no-store``/``no-cache``/``private`` mean not cached while MinTTL is 0, else
MinTTL. Cached: responses with status 200, 203, 300, 301 or 410.

What differs from CloudFront (said in lesson 10's "emulator vs AWS" box): one cache (CloudFront has one per
edge location, and a regional tier); error responses (4xx, 5xx) are not cached (CloudFront keeps them
for the error-caching minimum TTL, 10 s by default); the cache key is the path and the query string the
behaviour forwards, not headers or cookies; no revalidation (``RefreshHit``); an invalidation is
``Completed`` at once; at most ``MAX_ENTRIES`` responses are kept (the oldest go first).

Standard library only; MiniStack's module is passed to ``install`` (run by path with the servers' Python).
"""

from __future__ import annotations

import contextvars
import email.utils
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

CACHEABLE_STATUS = frozenset({200, 203, 300, 301, 410})
CACHED_METHODS = frozenset({"GET", "HEAD"})
MAX_ENTRIES = 2000
LEGACY_TTLS = (0.0, 86400.0, 31536000.0)  # a behaviour's MinTTL, DefaultTTL, MaxTTL when it sets none
HIT = "Hit from cloudfront"

Key = tuple[str, str, str, str]  # distribution id, method, path, query string


@dataclass
class Entry:
    response: tuple[Any, ...]  # what _fetch_from_origin returned: (status, reason, headers, body)
    stored: float  # the clock when stored
    ttl: float


def _directives(cache_control: str) -> dict[str, str]:
    out = {}
    for part in cache_control.split(","):
        name, _, value = part.strip().partition("=")
        if name:
            out[name.lower()] = value.strip().strip('"')
    return out


def ttl(headers: dict[str, Any], min_ttl: float, default_ttl: float, max_ttl: float, now: float | None = None) -> float:
    """Seconds CloudFront keeps a response with these origin ``headers`` (lower-case names), 0 = not cached."""
    found = {k.lower(): v for k, v in headers.items()}
    directives = _directives(str(found.get("cache-control", "")))
    if any(d in directives for d in ("no-store", "no-cache", "private")):
        return min_ttl
    for name in ("s-maxage", "max-age"):
        if name in directives:
            try:
                return min(max(float(directives[name]), min_ttl), max_ttl)
            except ValueError:
                break
    if "expires" in found:
        try:
            expires = email.utils.parsedate_to_datetime(str(found["expires"])).timestamp()
        except (TypeError, ValueError):
            expires = 0.0  # an invalid date is already expired (RFC 9111)
        return min(max(expires - (time.time() if now is None else now), min_ttl), max_ttl)
    return default_ttl


def _pattern(path: str) -> re.Pattern[str]:
    """An invalidation path as a regex over cached paths: ``*`` is a wildcard (only at the end on AWS)."""
    return re.compile("".join(".*" if c == "*" else re.escape(c) for c in path) + "$")


class Cache:
    """Responses by key, each until its TTL ends; thread-safe (MiniStack may call from worker threads)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_entries: int = MAX_ENTRIES) -> None:
        self.clock, self.max_entries = clock, max_entries
        self._entries: OrderedDict[Key, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Key) -> tuple[Entry, float] | None:
        """(entry, age in seconds), or None when absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            age = self.clock() - entry.stored
            if age >= entry.ttl:
                del self._entries[key]
                return None
            return entry, age

    def put(self, key: Key, response: tuple[Any, ...], seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = Entry(response, self.clock(), seconds)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def invalidate(self, distribution_id: str, paths: list[str]) -> int:
        """Drop what ``paths`` name in one distribution; returns how many responses went."""
        patterns = [_pattern(p if p.startswith("/") else "/" + p) for p in paths]
        with self._lock:
            gone = [k for k in self._entries if k[0] == distribution_id and any(p.match(k[2]) for p in patterns)]
            for key in gone:
                del self._entries[key]
        return len(gone)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


CACHE = Cache()
# The request being served: its distribution and behaviour, and what the cache did (set by the wrapper).
_REQUEST: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("labkit_cdn_request", default=None)


def _child(cloudfront: Any, element: Any, *tags: str) -> Any:
    """``element``'s child by the path ``tags`` (MiniStack's namespace-blind ``_find``), or None."""
    for tag in tags:
        if element is None:
            return None
        element = cloudfront._find(element, tag)
    return element


def behaviour_ttls(cloudfront: Any, dist: dict[str, Any], behavior: dict[str, Any]) -> tuple[float, ...]:
    """(MinTTL, DefaultTTL, MaxTTL) of a behaviour: its cache policy's, else the behaviour's own (legacy)."""
    policy_id = behavior.get("cache_policy_id")
    if policy_id:
        policy = cloudfront._cache_policies.get(policy_id) or cloudfront._MANAGED_CACHE_POLICIES.get(policy_id)
        config = (policy or {}).get("Config", {})
        return tuple(
            float(config.get(k, d)) for k, d in zip(("MinTTL", "DefaultTTL", "MaxTTL"), LEGACY_TTLS, strict=True)
        )
    config_el = cloudfront._dist_config_el(dist)
    element = _child(cloudfront, config_el, "DefaultCacheBehavior")
    if behavior.get("path_pattern"):
        items = _child(cloudfront, config_el, "CacheBehaviors", "Items")
        ordered = list(items) if items is not None else []
        element = next(
            (it for it in ordered if cloudfront._text(it, "PathPattern") == behavior["path_pattern"]), element
        )
    values = []
    for name, default in zip(("MinTTL", "DefaultTTL", "MaxTTL"), LEGACY_TTLS, strict=True):
        text = cloudfront._text(element, name, "") if element is not None else ""
        values.append(float(text) if text.strip() else default)
    return tuple(values)


def install(cloudfront: Any, cache: Cache = CACHE) -> None:
    """Wrap MiniStack's CloudFront data plane (``cloudfront`` is ``ministack.services.cloudfront``)."""
    original_fetch = cloudfront._fetch_from_origin
    original_viewer = cloudfront.handle_viewer_request
    original_invalidation = cloudfront._create_invalidation
    original_reset = cloudfront.reset

    async def fetch_from_origin(origin: dict[str, Any], method: str, uri: str, query_string: str, *rest: Any) -> Any:
        request = _REQUEST.get()
        if request is None or method not in CACHED_METHODS or "first" in request:
            return await original_fetch(origin, method, uri, query_string, *rest)
        request["first"] = True  # only the viewer's own request (not a custom error page) is cached
        key: Key = (request["dist"]["Id"], method, uri, query_string or "")
        found = cache.get(key)
        if found is not None:
            entry, age = found
            request["age"] = age
            return entry.response
        response = await original_fetch(origin, method, uri, query_string, *rest)
        if response[0] in CACHEABLE_STATUS:
            min_ttl, default_ttl, max_ttl = behaviour_ttls(cloudfront, request["dist"], request["behavior"])
            cache.put(key, response, ttl(response[2], min_ttl, default_ttl, max_ttl))
        return response

    async def handle_viewer_request(dist: dict[str, Any], method: str, path: str, *rest: Any, **kw: Any) -> Any:
        behavior = cloudfront._match_behavior(cloudfront.parse_distribution_dataplane_config(dist), path)
        token = _REQUEST.set({"dist": dist, "behavior": behavior or {}})
        try:
            status, headers, body = await original_viewer(dist, method, path, *rest, **kw)
            request = _REQUEST.get() or {}
        finally:
            _REQUEST.reset(token)
        if "age" in request:
            headers = {k: v for k, v in headers.items() if k.lower() not in ("x-cache", "age")}
            headers["X-Cache"] = HIT
            headers["Age"] = str(int(request["age"]))
        return status, headers, body

    def create_invalidation(dist_id: str, body: bytes) -> Any:
        answer = original_invalidation(dist_id, body)
        if answer[0] in (200, 201):
            items = _child(cloudfront, cloudfront._parse_body(body), "Paths", "Items")
            paths = [child.text for child in (items if items is not None else []) if child.text]
            gone = cache.invalidate(dist_id, paths)
            print(f"labkit cdn cache: invalidation of {paths} in {dist_id} dropped {gone} cached responses", flush=True)
        return answer

    def reset() -> None:
        cache.clear()
        original_reset()

    cloudfront._fetch_from_origin = fetch_from_origin
    cloudfront.handle_viewer_request = handle_viewer_request
    cloudfront._create_invalidation = create_invalidation
    cloudfront.reset = reset
