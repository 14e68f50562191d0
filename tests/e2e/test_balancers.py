"""Balancers over mock upstreams: weighted round robin, hash (header, path,
client ip), least_conn, random_two; a dead target in a pool."""
import collections
import re
import time

import pytest
import requests

from conftest import TIME_FACTOR, assert_problem, free_port, upstream_conf
from test_concurrency import fire, get


def pool_cfg(targets, balancer, **extra):
    up = upstream_conf(*targets, balancer=balancer)
    up.update(extra)
    return {"upstreams": {"u": up},
            "routes": [{"name": "r", "match": {"path_prefix": "/"}, "upstream": "u"}]}


def names(g, n, path="/x", headers=None):
    c = collections.Counter()
    with requests.Session() as s:
        for i in range(n):
            r = s.get(g.url + path, headers=headers or {}, timeout=5)
            assert r.status_code == 200
            c[r.json()["name"]] += 1
    return c


@pytest.fixture
def two(upstream):
    return upstream("a"), upstream("b")


def test_round_robin_weights(two, gateway):
    a, b = two
    g = gateway(pool_cfg([(a, 3), (b, 1)], "round_robin"))
    c = names(g, 200)
    assert 140 <= c["a"] <= 160 and c["a"] + c["b"] == 200, c


def test_round_robin_equal(two, gateway):
    a, b = two
    g = gateway(pool_cfg([a, b], "round_robin"))
    c = names(g, 100)
    assert 45 <= c["a"] <= 55, c


def test_hash_on_header_is_sticky(two, gateway):
    a, b = two
    g = gateway(pool_cfg([a, b], "hash", hash_key={"header": "X-User"}))
    placement = {}
    for k in range(30):
        got = set()
        for _ in range(5):
            r = requests.get(g.url + "/x", headers={"X-User": "user-%d" % k}, timeout=5)
            got.add(r.json()["name"])
        assert len(got) == 1, (k, got)
        placement[k] = got.pop()
    assert set(placement.values()) == {"a", "b"}, placement


def test_hash_on_path_is_sticky(two, gateway):
    a, b = two
    g = gateway(pool_cfg([a, b], "hash", hash_key="path"))
    seen = set()
    for k in range(20):
        got = {requests.get(g.url + "/p/%d" % k, timeout=5).json()["name"] for _ in range(4)}
        assert len(got) == 1
        seen |= got
    assert seen == {"a", "b"}


def test_hash_on_client_ip(two, gateway):
    a, b = two
    g = gateway(pool_cfg([a, b], "hash", hash_key="client_ip"))
    c = names(g, 20)
    assert len(c) == 1, c  # every request comes from 127.0.0.1


def test_least_conn_spreads(two, gateway):
    a, b = two
    g = gateway(pool_cfg([a, b], "least_conn"))
    el, res = fire(g.port, [get(b"/lc/%d?delay_ms=300" % i) for i in range(40)])
    assert [r[0] for r in res] == [200] * 40
    c = collections.Counter(r["name"] for r in a.requests() + b.requests())
    assert c["a"] >= 10 and c["b"] >= 10, c


@pytest.mark.parametrize("balancer", ["least_conn", "random_two"])
def test_busy_target_avoided(two, gateway, balancer):
    """A slow request pinned on one target: every new request goes to the
    other, idle one. Round robin would send half of them to the busy one."""
    import threading
    a, b = two
    g = gateway({**pool_cfg([a, b], balancer), "workers": 1})
    slow = threading.Thread(target=lambda: requests.get(
        g.url + "/slow?delay_ms=%d" % int(3000 * TIME_FACTOR), timeout=30))
    slow.start()
    try:
        deadline = time.monotonic() + 10 * TIME_FACTOR
        while not (a.requests() or b.requests()):
            assert time.monotonic() < deadline, "the slow request never reached a target"
            time.sleep(0.01)
        busy, idle = (a, b) if a.requests() else (b, a)
        with requests.Session() as s:
            for i in range(10):
                r = s.get(g.url + "/fast/%d" % i, timeout=5)
                assert r.status_code == 200
                assert r.json()["name"] == idle.name, (i, r.json()["name"])
        assert [r["path"] for r in busy.requests()] == ["/slow"]
    finally:
        slow.join(30)


def test_random_two_is_not_a_rotation(upstream, gateway):
    """Idle targets: random_two picks at random, so 90 picks over three
    targets are not the strict a, b, c rotation round robin gives, and
    still reach every target."""
    ups = [upstream(n) for n in "abc"]
    g = gateway({**pool_cfg(ups, "random_two"), "workers": 1})
    seq = []
    with requests.Session() as s:
        for i in range(90):
            r = s.get(g.url + "/r/%d" % i, timeout=5)
            assert r.status_code == 200
            seq.append(r.json()["name"])
    c = collections.Counter(seq)
    assert min(c.values()) >= 10, c
    rotation = all(seq[i] == seq[i % 3] for i in range(len(seq)))
    assert not rotation, seq


def test_dead_target_gives_502_current_behaviour(two, gateway):
    """No health checks yet: requests the balancer sends to a dead target
    fail with 502 (problem+json); the others succeed."""
    a, _ = two
    dead = "http://127.0.0.1:%d" % free_port()
    g = gateway(pool_cfg([a, dead], "round_robin"))
    statuses = collections.Counter()
    for i in range(20):
        r = requests.get(g.url + "/x", timeout=5)
        statuses[r.status_code] += 1
        if r.status_code == 502:
            assert_problem(r, 502)
    assert set(statuses) <= {200, 502}, statuses
    assert statuses[200] >= 5 and statuses[502] >= 5, statuses
    m = re.search(r'portcullis_upstream_errors_total\{upstream="u",kind="connect"\} (\d+)', g.metrics())
    assert m and int(m.group(1)) == statuses[502]


def dead_urls(n):
    """n distinct ports with nothing listening."""
    import socket
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return ["http://127.0.0.1:%d" % s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def test_all_targets_dead(gateway):
    g = gateway(pool_cfg(dead_urls(2), "least_conn"))
    for _ in range(4):
        assert_problem(requests.get(g.url + "/x", timeout=5), 502)
