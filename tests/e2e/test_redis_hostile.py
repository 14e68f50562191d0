"""Redis is hostile until checked: a fake Redis (fake_redis.py) answers the
rate-limit checks honestly, then in every wrong way we could think of
(wrong types and shapes, values out of range or impossible for the check,
errors, protocol garbage, a hang-up, silence, and announced replies of
gigabytes). Each is treated as Redis being unreachable: the on_error
policy answers at once, nothing is forwarded under fail_closed, the
gateway's memory stays bounded, and it recovers by itself when Redis talks
sense again."""
import time

import pytest
import requests

from conftest import assert_problem, rl_metric, rl_wait_for, simple_config
from fake_redis import MODES, STREAMS, FakeRedis

HOSTILE = [m for m in MODES if m != "allow"]


@pytest.fixture
def fake_redis():
    f = FakeRedis()
    yield f
    f.stop()


def config(u, fake, on_error):
    cfg = simple_config(u, routes=[{"name": "all", "match": {"path_prefix": "/"},
                                    "upstream": "u", "plugins": ["rl"]}])
    cfg["workers"] = 1
    # a burst under 256 is never leased: every request is its own check
    cfg["plugins"] = {"rl": {"type": "rate_limit", "limits": [{"rate": 100, "period": "1h"}],
                             "key": [{"header": "X-User"}]}}
    cfg["store"] = {"type": "redis", "url": fake.url(), "on_error": on_error,
                    "command_timeout_ms": 200, "connect_timeout_ms": 300}
    return cfg


def get(g, user):
    t0 = time.monotonic()
    r = requests.get(g.url + "/", headers={"X-User": user}, timeout=10)
    return r, time.monotonic() - t0


def rss_bytes(g):
    with open("/proc/%d/status" % g.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def connected(g):
    return rl_wait_for(lambda: rl_metric(g, "portcullis_store_redis_connections_up") == 1, 10)


@pytest.mark.parametrize("mode", HOSTILE)
def test_hostile_reply_fails_closed_at_once_and_bounded(upstream, gateway, fake_redis, mode):
    u = upstream("u")
    g = gateway(config(u, fake_redis, "fail_closed"))
    assert connected(g), g.log()[-2000:]
    r, _ = get(g, "alice")
    assert r.status_code == 200, r.text
    forwarded = len(u.requests())
    rss0 = rss_bytes(g)
    fake_redis.set_mode(mode)
    for i in range(3):
        r, took = get(g, "alice")
        assert_problem(r, 503)
        # command_timeout_ms is 200 (silence); the rest fail at once
        assert took < 2.0, (i, took)
    assert len(u.requests()) == forwarded, "a request went through without a valid check"
    assert rl_metric(g, "portcullis_store_errors_total") >= 1
    # a worker must not buffer what a server announces (gigabytes, for STREAMS)
    grown = rss_bytes(g) - rss0
    assert grown < 64 << 20, "RSS grew by %d MiB" % (grown >> 20)
    if mode in STREAMS and mode != "deep_arrays":
        assert "any of ours" in g.log(), g.log()[-2000:]
    # Redis talks sense again: recovery without a restart
    fake_redis.set_mode("allow")
    assert rl_wait_for(lambda: get(g, "bob")[0].status_code == 200, 10), g.log()[-2000:]
    assert g.proc.poll() is None


@pytest.mark.parametrize("mode", ["grant_too_much", "huge_bulk", "garbage", "silent"])
def test_hostile_reply_fails_open_to_local_limits(upstream, gateway, fake_redis, mode):
    u = upstream("u")
    g = gateway(config(u, fake_redis, "fail_open"))
    assert connected(g), g.log()[-2000:]
    fake_redis.set_mode(mode)
    for _ in range(3):
        r, took = get(g, "carol")
        assert r.status_code == 200, r.text
        assert took < 2.0, took
    assert rl_metric(g, "portcullis_store_fallbacks_total") >= 1
    fake_redis.set_mode("allow")
    assert rl_wait_for(lambda: connected(g) and get(g, "dave")[0].status_code == 200, 10)
