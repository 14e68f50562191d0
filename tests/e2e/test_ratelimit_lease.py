"""rate_limit leases on the Redis store (gateway/store/lease.h), with real
redis-servers: a worker admits some requests ahead of Redis, never more
than the fleet's limit, and what it holds comes back; small limits and
lease_ms 0 stay exact request by request; leases cut Redis round trips."""
import time

import requests

from conftest import rl_burst, rl_check_config, rl_metric, rl_wait_for, simple_config

MONTH = "30d"


def lease_config(u, redis, rate, period=MONTH, workers=2, **store):
    cfg = simple_config(u, routes=[{"name": "all", "match": {"path_prefix": "/"},
                                    "upstream": "u", "plugins": ["rl"]}])
    cfg["workers"] = workers
    cfg["plugins"] = {"rl": {"type": "rate_limit", "key": [{"header": "X-User"}],
                             "limits": [{"rate": rate, "period": period}]}}
    st = {"type": "redis", "url": redis.url(), "on_error": "fail_closed",
          "command_timeout_ms": 5000, "connect_timeout_ms": 300}
    st.update(store)
    cfg["store"] = st
    return cfg


def up(g, workers=2):
    return rl_wait_for(lambda: rl_metric(g, "portcullis_store_redis_connections_up") == workers)


def total(gs, name):
    return sum(rl_metric(g, name) for g in gs)


def test_fleet_never_exceeds_a_leased_limit_and_gets_all_of_it(upstream, gateway, redis_server):
    """1024 a month (so a worker may hold up to 1024 / 256 = 4 ahead), two
    gateways of two workers: a burst of 4096 from 48 connections admits at
    most 1024 and at least 1024 - 4 * 4; once the leases end, what was held
    is back in Redis and the total is exactly 1024."""
    r = redis_server()
    u = upstream("u")
    g1 = gateway(lease_config(u, r, 1024))
    g2 = gateway(lease_config(u, r, 1024))
    assert up(g1) and up(g2)
    got = rl_burst([g1.url + "/", g2.url + "/"], 4096, {"X-User": "lease-user"}, threads=48)
    first = got.count(200)
    assert 1024 - 16 <= first <= 1024, first
    assert got.count(200) + got.count(429) == 4096, set(got)
    # fewer Redis checks than requests: waiting requests share a check, and
    # requests taken ahead need none
    checks = total([g1, g2], "portcullis_store_redis_checks_total")
    assert checks < 4096 / 2, checks
    time.sleep(2.5)  # a lease (1 s) and the sweep: everything held is given back
    s1, s2 = requests.Session(), requests.Session()
    later = [(s1 if i % 2 else s2).get((g1 if i % 2 else g2).url + "/",
                                       headers={"X-User": "lease-user"}, timeout=10).status_code
             for i in range(40)]
    assert first + later.count(200) == 1024, (first, later)
    assert len(u.requests()) == 1024
    assert total([g1, g2], "portcullis_store_errors_total") == 0


def test_leases_cut_redis_round_trips(upstream, gateway, redis_server):
    """One busy user on one worker, far below its limit: after a short ramp
    almost every request is admitted from the worker's lease."""
    r = redis_server()
    u = upstream("u")
    g = gateway(lease_config(u, r, 10000000, period="10s", workers=1))
    assert up(g, workers=1)
    admin = r.client()
    admin.config_resetstat()
    s = requests.Session()
    deadline, n = time.monotonic() + 3, 0
    while time.monotonic() < deadline and n < 3000:
        assert s.get(g.url + "/", headers={"X-User": "busy"}, timeout=10).status_code == 200
        n += 1
    admitted = rl_metric(g, "portcullis_ratelimit_lease_admitted_total")
    checks = rl_metric(g, "portcullis_store_redis_checks_total")
    calls = admin.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    assert n >= 300, n
    assert admitted >= 0.8 * n and checks <= 0.2 * n, (n, admitted, checks)
    assert calls <= checks + 1, (calls, checks)


def test_small_limits_and_lease_off_check_every_request(upstream, gateway, redis_server):
    """A burst under 256 is never leased, and "lease_ms": 0 turns leases
    off for every limit: each request is its own check."""
    r = redis_server()
    u = upstream("u")
    small = gateway(lease_config(u, r, 200, workers=1))
    off = gateway(lease_config(u, r, 10000000, period="10s", workers=1, lease_ms=0))
    assert up(small, workers=1) and up(off, workers=1)
    for g in (small, off):
        s = requests.Session()
        codes = [s.get(g.url + "/", headers={"X-User": "one"}, timeout=10).status_code
                 for _ in range(100)]
        assert codes == [200] * 100
        assert rl_metric(g, "portcullis_ratelimit_lease_admitted_total") == 0
        assert rl_metric(g, "portcullis_store_redis_checks_total") == 100
    assert "lease 0 ms" in off.log()


def test_a_refused_client_costs_redis_nothing_more(upstream, gateway, redis_server):
    """Past its limit, a client is refused locally until the retry time
    Redis gave (at most an eighth of a lease): hammering costs a few round
    trips a second, not one a request."""
    r = redis_server()
    u = upstream("u")
    g = gateway(lease_config(u, r, 2, period="1h", workers=1))
    assert up(g, workers=1)
    s = requests.Session()
    codes = [s.get(g.url + "/", headers={"X-User": "hammer"}, timeout=10).status_code
             for _ in range(200)]
    assert codes[:2] == [200, 200] and set(codes[2:]) == {429}
    assert rl_metric(g, "portcullis_ratelimit_lease_refused_total") >= 150
    assert rl_metric(g, "portcullis_store_redis_checks_total") <= 60
    resp = s.get(g.url + "/", headers={"X-User": "hammer"}, timeout=10)
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) > 1000


def test_lease_ms_is_checked(tmp_path, upstream):
    u = upstream("u")
    cfg = simple_config(u)
    cfg["store"] = {"type": "redis", "url": "redis://127.0.0.1:1/0", "lease_ms": 10001}
    rc, err = rl_check_config(tmp_path, cfg)
    assert rc != 0 and "store.lease_ms" in err, err
    cfg["store"] = {"type": "memory", "lease_ms": 100}
    rc, err = rl_check_config(tmp_path, cfg, name="mem.json")
    assert rc != 0 and "store.lease_ms" in err and "only for type redis" in err, err
