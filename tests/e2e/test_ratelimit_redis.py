"""rate_limit through Redis, with a real redis-server started by the test:
exact limits across a fleet of two gateways under concurrent bursts, Redis
killed mid-run and restarted (fail_open and fail_closed, recovery without
restarting the gateways), and a Redis slower than command_timeout_ms."""
import threading
import time

import pytest
import requests

from conftest import assert_problem, rl_burst, rl_metric, rl_wait_for, simple_config


def rl_config(u, redis, limits, on_error="fail_closed", workers=2, **store):
    cfg = simple_config(u, routes=[{"name": "all", "match": {"path_prefix": "/"},
                                    "upstream": "u", "plugins": ["rl"]}])
    cfg["workers"] = workers
    cfg["plugins"] = {"rl": {"type": "rate_limit", "limits": limits,
                             "key": [{"header": "X-User"}]}}
    st = {"type": "redis", "url": redis.url(), "on_error": on_error,
          "command_timeout_ms": 200, "connect_timeout_ms": 300}
    st.update(store)
    cfg["store"] = st
    return cfg


def up(g, workers=2, timeout=10):
    return rl_wait_for(lambda: rl_metric(g, "portcullis_store_redis_connections_up") == workers,
                       timeout)


def get(g, user, session=None, path="/"):
    return (session or requests).get(g.url + path, headers={"X-User": user}, timeout=10)


@pytest.mark.parametrize("limits,allowed,batch", [
    ([{"rate": 100, "period": "1h"}], 100, True),
    ([{"rate": 100, "period": "1h"}], 100, False),
    ([{"rate": 60, "period": "1h", "algorithm": "sliding_window"}], 60, True),
    ([{"rate": 1000, "period": "1s", "burst": 1000}, {"rate": 75, "period": "1d"}], 75, True),
])
def test_fleet_limit_is_exact_across_two_gateways(upstream, gateway, redis_server, limits,
                                                  allowed, batch):
    """Two gateways (2 workers each) share one Redis: a limit of N is N in
    total, under a concurrent burst from 48 connections spread over both
    (with the checks of a loop iteration batched into one EVALSHA, and not)."""
    r = redis_server()
    u = upstream("u")
    # a generous timeout: this test is about exactness, not about slowness
    g1 = gateway(rl_config(u, r, limits, command_timeout_ms=5000, batch=batch))
    g2 = gateway(rl_config(u, r, limits, command_timeout_ms=5000, batch=batch))
    assert up(g1) and up(g2)
    got = rl_burst([g1.url + "/", g2.url + "/"], 4 * allowed, {"X-User": "fleet-user"},
                   threads=48)
    assert got.count(200) == allowed and got.count(429) == 3 * allowed, \
        (got.count(200), got.count(429), set(got))
    assert len(u.requests()) == allowed
    # each gateway let some through: the limit really is shared
    assert rl_metric(g1, "portcullis_ratelimit_limited_total") > 0
    assert rl_metric(g2, "portcullis_ratelimit_limited_total") > 0
    assert rl_metric(g1, "portcullis_store_errors_total") == 0
    assert rl_metric(g2, "portcullis_store_errors_total") == 0


def test_redis_killed_fail_open_then_recovers(upstream, gateway, redis_server):
    r = redis_server()
    u = upstream("u")
    limits = [{"rate": 3, "period": "1h"}]
    g1 = gateway(rl_config(u, r, limits, on_error="fail_open"))
    g2 = gateway(rl_config(u, r, limits, on_error="fail_open"))
    assert up(g1) and up(g2)
    pid1, pid2 = g1.proc.pid, g2.proc.pid
    s = requests.Session()
    assert [get(g1, "before", s).status_code for _ in range(2)] == [200, 200]
    r.kill()
    # local limits: each gateway counts alone (3 each), and answers at once
    t0 = time.monotonic()
    got1 = [get(g1, "during", s).status_code for _ in range(4)]
    got2 = [get(g2, "during").status_code for _ in range(4)]
    assert got1 == [200, 200, 200, 429] and got2 == [200, 200, 200, 429]
    assert time.monotonic() - t0 < 3
    assert rl_metric(g1, "portcullis_store_fallbacks_total") >= 4
    assert rl_metric(g1, "portcullis_store_redis_connections_up") == 0
    assert "answering from this gateway's memory store (on_error fail_open" in g1.log()
    assert "connection lost" in g1.log()
    # back: same port, gateways not restarted
    r.start()
    assert up(g1) and up(g2), g1.log()[-2000:]
    assert "connection restored" in g1.log()
    assert rl_metric(g1, "portcullis_store_redis_reconnects_total") == 2
    fb = rl_metric(g1, "portcullis_store_fallbacks_total")
    # shared again: 3 in total across both gateways
    got = [get(g1, "after").status_code, get(g2, "after").status_code,
           get(g1, "after").status_code, get(g2, "after").status_code]
    assert got == [200, 200, 200, 429]
    assert rl_metric(g1, "portcullis_store_fallbacks_total") == fb
    assert g1.proc.pid == pid1 and g2.proc.pid == pid2 and g1.proc.poll() is None
    assert r.client().keys("pc:{rl:*}:l0")  # the state is in Redis again


def test_redis_killed_fail_closed_then_recovers(upstream, gateway, redis_server):
    r = redis_server()
    u = upstream("u")
    g = gateway(rl_config(u, r, [{"rate": 100, "period": "1h"}], on_error="fail_closed"))
    assert up(g)
    assert get(g, "x").status_code == 200
    r.kill()
    t0 = time.monotonic()
    for _ in range(5):
        resp = get(g, "x")
        doc = assert_problem(resp, 503)
        assert doc["type"].endswith("rate_limit.store_unavailable")
        assert resp.headers["Retry-After"] == "1"
    assert time.monotonic() - t0 < 3  # a down Redis answers at once, no waiting
    assert rl_metric(g, "portcullis_store_errors_total") >= 5
    assert rl_metric(g, "portcullis_store_fallbacks_total") == 0
    assert "store calls fail (on_error fail_closed)" in g.log()
    assert len(u.requests()) == 1
    r.start()
    assert up(g), g.log()[-2000:]
    assert get(g, "x").status_code == 200


@pytest.mark.parametrize("on_error,during", [("fail_open", 200), ("fail_closed", 503)])
def test_slow_redis_never_stalls_a_request_past_the_timeout(upstream, gateway, redis_server,
                                                            on_error, during):
    r = redis_server()
    u = upstream("u")
    # lease_ms 0: every request asks Redis (with leases, requests a worker
    # took ahead would still pass while Redis sleeps: test_ratelimit_lease.py)
    g = gateway(rl_config(u, r, [{"rate": 1000, "period": "1h"}], on_error=on_error,
                          lease_ms=0))
    assert up(g)
    assert get(g, "slow").status_code == 200
    sleeper = threading.Thread(target=lambda: r.client().execute_command("DEBUG", "SLEEP", "2.5"))
    sleeper.start()
    time.sleep(0.1)
    times, codes = [], []
    s = requests.Session()
    while sleeper.is_alive() and len(codes) < 40:
        t0 = time.monotonic()
        codes.append(get(g, "slow", s).status_code)
        times.append(time.monotonic() - t0)
    sleeper.join()
    assert len(codes) >= 3 and set(codes) == {during}, codes
    # command_timeout_ms is 200: each request is answered then (or at once,
    # once the connection counts as dead), never when Redis wakes up. The
    # bounds leave room for a loaded machine (the sleep is 2.5 s).
    times.sort()
    assert times[-1] < 1.0 and times[len(times) // 2] < 0.5, times
    assert rl_metric(g, "portcullis_store_redis_timeouts_total") >= 1
    # Redis is back: the gateway recovers by itself (it may have reconnected)
    assert up(g), g.log()[-2000:]
    assert rl_wait_for(lambda: get(g, "after-slow").status_code == 200, 5)


def test_checks_gather_while_a_batch_is_in_flight(upstream, gateway, redis_server):
    """One worker, Redis held by DEBUG SLEEP: the first batch waits for its
    reply, and every check that arrives meanwhile goes out in one more
    EVALSHA when it comes, not one per loop iteration."""
    r = redis_server()
    u = upstream("u")
    g = gateway(rl_config(u, r, [{"rate": 1000, "period": "1h"}], workers=1,
                          command_timeout_ms=5000))
    assert up(g, workers=1)
    assert get(g, "warm").status_code == 200
    admin = r.client()
    admin.config_resetstat()
    sleeper = threading.Thread(target=lambda: r.client().execute_command("DEBUG", "SLEEP", "0.8"))
    sleeper.start()
    time.sleep(0.1)
    got = rl_burst([g.url + "/"], 20, lambda i: {"X-User": "gather-%d" % i}, threads=20)
    sleeper.join()
    assert got == [200] * 20, got
    calls = admin.info("commandstats").get("cmdstat_evalsha", {}).get("calls", 0)
    assert 1 <= calls <= 2, calls
