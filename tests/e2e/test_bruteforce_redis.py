"""brute_force through Redis: a lockout earned on one gateway holds on every
gateway of the fleet, and the lockout check follows the store's on_error
policy when Redis is gone."""
import requests

from conftest import assert_problem, rl_bearer, rl_metric, rl_wait_for, simple_config


def cfg_for(u, r, on_error="fail_closed", bf_on_error="deny"):
    cfg = simple_config(u, routes=[{"name": "api", "match": {"path_prefix": "/"},
                                    "upstream": "u", "plugins": ["bf", "auth"]}])
    cfg["plugins"] = {"bf": {"type": "brute_force", "max_failures": 4, "window": "1m",
                             "lockout": "1h", "subject_max_failures": 100,
                             "on_error": bf_on_error},
                      "auth": {"type": "test_auth"}}
    cfg["listen"] = [{"trusted_proxies": ["127.0.0.1"]}]
    cfg["store"] = {"type": "redis", "url": r.url(), "on_error": on_error,
                    "command_timeout_ms": 2000}
    return cfg


def get(g, ip, headers=None):
    h = dict(headers or {})
    h["X-Forwarded-For"] = ip
    return requests.get(g.url + "/", headers=h, timeout=10)


def up(g):
    return rl_wait_for(lambda: rl_metric(g, "portcullis_store_redis_connections_up") == 2, 10)


def test_lockout_is_shared_by_the_fleet(upstream, gateway, redis_server):
    r = redis_server()
    u = upstream("u")
    g1, g2 = gateway(cfg_for(u, r)), gateway(cfg_for(u, r))
    assert up(g1) and up(g2)
    ip = "203.0.113.99"
    bad = {"Authorization": "Bearer junk"}
    # failures spread over both gateways count together: 2 + 2 = 4
    assert [get(g, ip, bad).status_code for g in (g1, g2, g1, g2)] == [401] * 4
    assert rl_wait_for(lambda: "lockout of client_ip 203.0.113.99" in g1.log() + g2.log(), 5)
    for g in (g1, g2):
        resp = get(g, ip, rl_bearer("frank"))
        assert_problem(resp, 429)
        assert resp.headers["Retry-After"] == "3600"
    assert get(g2, "203.0.113.100", rl_bearer("frank")).status_code == 200
    keys = sorted(k.decode() for k in r.client().keys("pc:{bf:*"))
    assert "pc:{bf:default:L:i12:203.0.113.99}:f" in keys, keys
    assert "pc:{bf:default:N:i12:203.0.113.99}:c" in keys, keys
    assert 0 < r.client().pttl("pc:{bf:default:L:i12:203.0.113.99}:f") <= 3600 * 1000


def test_lockout_check_when_redis_is_gone(upstream, gateway, redis_server):
    r = redis_server()
    u = upstream("u")
    closed = gateway(cfg_for(u, r, on_error="fail_closed"))
    allow = gateway(cfg_for(u, r, on_error="fail_closed", bf_on_error="allow"))
    local = gateway(cfg_for(u, r, on_error="fail_open"))
    for g in (closed, allow, local):
        assert up(g)
    r.kill()
    resp = get(closed, "192.0.2.1", rl_bearer("gina"))
    doc = assert_problem(resp, 503)
    assert doc["type"].endswith("brute_force.store_unavailable")
    assert get(allow, "192.0.2.1", rl_bearer("gina")).status_code == 200
    assert "lockout store unavailable: requests let through" in allow.log()
    # fail_open: lockouts are kept in this gateway's memory meanwhile
    bad = {"Authorization": "Bearer junk"}
    assert [get(local, "192.0.2.2", bad).status_code for _ in range(4)] == [401] * 4
    assert rl_wait_for(lambda: "lockout of client_ip 192.0.2.2" in local.log(), 5)
    assert get(local, "192.0.2.2", rl_bearer("gina")).status_code == 429
    assert rl_metric(local, "portcullis_store_fallbacks_total") >= 8
