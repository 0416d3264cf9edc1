"""CloudFront's cache on the embedded backend (labkit/backends/embedded/cdn_cache.py), against a stand-in
for MiniStack's cloudfront module whose origin counts what reaches it."""

from __future__ import annotations

import asyncio
import email.utils
import types
from xml.etree import ElementTree

import pytest

from labkit.backends.embedded import cdn_cache
from labkit.backends.embedded.cdn_cache import Cache, ttl


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 86400),  # nothing from the origin: the DefaultTTL
        ({"Cache-Control": "max-age=30"}, 30),
        ({"cache-control": "public, max-age=30, s-maxage=90"}, 90),  # s-maxage wins for a shared cache
        ({"Cache-Control": "max-age=0"}, 1),  # below MinTTL: MinTTL
        ({"Cache-Control": "max-age=99999999"}, 31536000),  # above MaxTTL: MaxTTL
        ({"Cache-Control": "no-store"}, 1),  # with MinTTL > 0, MinTTL
        ({"Cache-Control": "max-age=abc"}, 86400),
        ({"Expires": email.utils.formatdate(2000.0 + 120, usegmt=True)}, 120),
        ({"Expires": "not a date"}, 1),
    ],
)
def test_ttl_follows_cloudfronts_expiration_rules(headers, expected):
    assert ttl(headers, 1, 86400, 31536000, now=2000.0) == pytest.approx(expected, abs=1)


def test_no_cache_with_min_ttl_zero_is_not_cached():
    assert ttl({"Cache-Control": "private"}, 0, 86400, 31536000) == 0
    assert ttl({}, 0, 0, 0) == 0  # CachingDisabled


def test_entries_expire_after_their_ttl_and_age_grows():
    clock = Clock()
    cache = Cache(clock)
    key = ("E1", "GET", "/index.html", "")
    cache.put(key, (200, "OK", {}, b"v1"), 10)
    clock.now += 4
    entry, age = cache.get(key)
    assert entry.response[3] == b"v1" and age == 4
    clock.now += 6
    assert cache.get(key) is None and len(cache) == 0
    cache.put(key, (200, "OK", {}, b"v1"), 0)
    assert cache.get(key) is None


def test_invalidation_paths_and_wildcards_in_one_distribution():
    cache = Cache(Clock())
    for dist, path, query in [
        ("E1", "/index.html", ""),
        ("E1", "/index.html", "v=2"),
        ("E1", "/img/a.png", ""),
        ("E1", "/img/b.png", ""),
        ("E2", "/index.html", ""),
    ]:
        cache.put((dist, "GET", path, query), (200, "OK", {}, b""), 60)
    assert cache.invalidate("E1", ["/index.html"]) == 2  # every query string of the path
    assert cache.invalidate("E1", ["img/*"]) == 2
    assert cache.get(("E2", "GET", "/index.html", "")) is not None
    assert cache.invalidate("E2", ["/*"]) == 1 and len(cache) == 0


def test_the_oldest_response_goes_when_full():
    cache = Cache(Clock(), max_entries=2)
    for n in range(3):
        cache.put(("E1", "GET", f"/{n}", ""), (200, "OK", {}, b""), 60)
    assert cache.get(("E1", "GET", "/0", "")) is None and len(cache) == 2


def _fake_cloudfront(origin_headers: dict, status: int = 200) -> types.ModuleType:
    """The parts of ministack.services.cloudfront that install() wraps or reads."""
    module = types.ModuleType("fake_cloudfront")
    module.origin_calls = []
    module.body = b"v1"
    module._cache_policies = {}
    module._MANAGED_CACHE_POLICIES = {"opt": {"Config": {"MinTTL": 1, "DefaultTTL": 86400, "MaxTTL": 31536000}}}
    module.reset_calls = 0

    async def fetch(origin, method, uri, query_string, *rest):
        module.origin_calls.append((method, uri))
        return status, "OK", dict(origin_headers), module.body

    async def viewer(dist, method, path, *rest):
        # as MiniStack's handle_viewer_request: the module's _fetch_from_origin, then a Miss header
        got = await module._fetch_from_origin({}, method, path, "", {}, b"")
        return got[0], {"X-Cache": "Miss from cloudfront", "Content-Type": "text/html"}, got[3]

    def create_invalidation(dist_id, body):
        return 201, {}, b""

    def reset():
        module.reset_calls += 1

    module._fetch_from_origin = fetch
    module.handle_viewer_request = viewer
    module._create_invalidation = create_invalidation
    module.reset = reset
    module._match_behavior = lambda parsed, path: {"cache_policy_id": "opt"}
    module.parse_distribution_dataplane_config = lambda dist: {}
    module._parse_body = ElementTree.fromstring
    module._find = lambda el, tag: None if el is None else el.find(tag)
    return module


def _get(module, path="/index.html"):
    return asyncio.run(module.handle_viewer_request({"Id": "E1"}, "GET", path, path, "", {}, b"", {}))


def test_a_hit_is_served_without_reaching_the_origin():
    module = _fake_cloudfront({"cache-control": "max-age=60"})
    cache = Cache(Clock())
    cdn_cache.install(module, cache)
    status, headers, body = _get(module)
    assert (status, headers["X-Cache"], body) == (200, "Miss from cloudfront", b"v1") and "Age" not in headers
    module.body = b"v2"  # the origin changes
    cache.clock.now += 5
    status, headers, body = _get(module)
    assert (headers["X-Cache"], headers["Age"], body) == ("Hit from cloudfront", "5", b"v1")
    assert module.origin_calls == [("GET", "/index.html")]


def test_invalidation_and_reset_empty_the_cache():
    module = _fake_cloudfront({})
    cache = Cache(Clock())
    cdn_cache.install(module, cache)
    _get(module)
    _get(module, "/other")
    xml = b"<InvalidationBatch><Paths><Items><Path>/index.html</Path></Items></Paths></InvalidationBatch>"
    assert module._create_invalidation("E1", xml)[0] == 201
    module.body = b"v2"
    assert _get(module)[1]["X-Cache"] == "Miss from cloudfront" and _get(module)[2] == b"v2"
    assert _get(module, "/other")[1]["X-Cache"] == "Hit from cloudfront"
    module.reset()
    assert len(cache) == 0 and module.reset_calls == 1


def test_errors_and_other_methods_are_not_cached():
    module = _fake_cloudfront({"cache-control": "max-age=60"}, status=403)
    cache = Cache(Clock())
    cdn_cache.install(module, cache)
    _get(module), _get(module)
    assert len(module.origin_calls) == 2 and len(cache) == 0
    ok = _fake_cloudfront({"cache-control": "max-age=60"})
    cdn_cache.install(ok, Cache(Clock()))
    for _ in range(2):
        asyncio.run(ok.handle_viewer_request({"Id": "E1"}, "POST", "/form", "/form", "", {}, b"", {}))
    assert len(ok.origin_calls) == 2


def test_legacy_behaviours_use_their_own_ttls():
    module = _fake_cloudfront({})
    config = ElementTree.fromstring(
        "<DistributionConfig><DefaultCacheBehavior><MinTTL>0</MinTTL><DefaultTTL>2</DefaultTTL><MaxTTL>10</MaxTTL>"
        "</DefaultCacheBehavior><CacheBehaviors><Items><CacheBehavior><PathPattern>/img/*</PathPattern>"
        "<MinTTL>5</MinTTL></CacheBehavior></Items></CacheBehaviors></DistributionConfig>"
    )
    module._dist_config_el = lambda dist: config
    module._text = lambda element, tag, default="": element.findtext(tag) or default
    assert cdn_cache.behaviour_ttls(module, {}, {"path_pattern": None}) == (0.0, 2.0, 10.0)
    assert cdn_cache.behaviour_ttls(module, {}, {"path_pattern": "/img/*"}) == (5.0, 86400.0, 31536000.0)
    assert cdn_cache.behaviour_ttls(module, {}, {"cache_policy_id": "opt"}) == (1.0, 86400.0, 31536000.0)
