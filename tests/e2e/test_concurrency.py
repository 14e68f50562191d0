"""Concurrency: many requests waiting on a slow upstream or suspended in an
async plugin never hold a thread; the async plugin API (resume, deny,
core timeout, sync completion, body phase)."""
import asyncio
import json
import socket
import time

import requests

from conftest import (TIME_FACTOR, assert_problem, metric_value, parse_response, simple_config,
                      upstream_conf)


async def _one(port, request, timeout):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(-1), timeout)
        return data
    finally:
        writer.close()


async def _many(port, requests_, timeout, limit_open=None):
    async def guarded(req):
        try:
            return await asyncio.wait_for(_one(port, req, timeout), timeout + 1)
        except (OSError, asyncio.TimeoutError) as e:
            return repr(e).encode()
    return await asyncio.gather(*(guarded(r) for r in requests_))


def fire(port, reqs, timeout=10):
    """Sends every request on its own connection, all at once; returns
    (elapsed seconds, list of parsed responses)."""
    t0 = time.monotonic()
    out = asyncio.run(_many(port, reqs, timeout))
    el = time.monotonic() - t0
    return el, [parse_response(b) if b.startswith(b"HTTP/") else (None, {}, b) for b in out]


def get(path, extra=b""):
    return (b"GET " + path + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" + extra + b"\r\n")


def post(path, body):
    return (b"POST " + path + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


# ---- slow upstream ----------------------------------------------------------------


def test_500_concurrent_slow_upstream_requests(upstream, gateway):
    u = upstream("slow")
    g = gateway(simple_config(u, workers=2))
    n = 500
    el, res = fire(g.port, [get(b"/slow/%d?delay_ms=200" % i) for i in range(n)])
    statuses = [r[0] for r in res]
    bad = [(i, r[0], r[2][:80]) for i, r in enumerate(res) if r[0] != 200]
    assert not bad, (len(bad), bad[:5])
    assert el < 2.0 * TIME_FACTOR, "500 requests of 200 ms took %.2f s" % el
    # each reached the upstream once, with its own path
    paths = sorted(r["path"] for r in u.requests())
    assert paths == sorted("/slow/%d" % i for i in range(n))
    assert statuses.count(200) == n


def test_slow_request_does_not_block_fast_ones(upstream, gateway):
    u = upstream("u")
    g = gateway(simple_config(u, workers=1))
    import threading
    slow = {}

    def run_slow():
        slow["r"] = requests.get(g.url + "/x?delay_ms=1500", timeout=10)

    t = threading.Thread(target=run_slow)
    t.start()
    try:
        time.sleep(0.1)
        t0 = time.monotonic()
        for i in range(10):
            assert requests.get(g.url + "/fast", timeout=5).status_code == 200
        assert time.monotonic() - t0 < 1.2 * TIME_FACTOR  # the slow one takes 1.5 s
    finally:
        t.join(10)
    assert slow["r"].status_code == 200


# ---- async plugin -----------------------------------------------------------------


def async_cfg(u, **plugin):
    p = {"type": "test_async"}
    p.update(plugin)
    return {"upstreams": {"u": upstream_conf(u)}, "plugins": {"a": p},
            "routes": [{"name": "r", "match": {"path_prefix": "/"}, "upstream": "u",
                        "plugins": ["a"]}]}


def test_many_suspended_requests_resume(upstream, gateway):
    u = upstream("u")
    g = gateway(async_cfg(u, delay_ms=200))
    n = 300
    el, res = fire(g.port, [get(b"/s/%d" % i) for i in range(n)])
    bad = [(i, r[0]) for i, r in enumerate(res) if r[0] != 200]
    assert not bad, bad[:5]
    assert el < 2.0 * TIME_FACTOR, el
    for _, _, body in res:
        e = json.loads(body)
        assert [v for k, v in e["headers"] if k == "X-Test-Async"] == ["resumed"]
    assert len(u.requests()) == n


def test_async_deny(upstream, gateway):
    u = upstream("u")
    g = gateway(async_cfg(u, delay_ms=50, verdict="deny", status=429))
    el, res = fire(g.port, [get(b"/d/%d" % i) for i in range(50)])
    for r in res:
        assert_problem(r, 429)
    # every request was answered by the plugin's verdict, so anything
    # forwarded would have been sent before: no byte may have arrived
    assert u.raw_since(0) == {}
    assert u.requests() == []


def test_async_never_end_core_timeout(upstream, gateway):
    u = upstream("u")
    cfg = async_cfg(u, never_end=True, timeout_ms=300)
    cfg["drain_timeout_ms"] = 1000  # see test_core_timeout_releases_request
    g = gateway(cfg)
    t0 = time.monotonic()
    r = requests.get(g.url + "/n", timeout=10)
    el = time.monotonic() - t0
    assert_problem(r, 503)
    assert 0.25 < el < 1.5 * TIME_FACTOR, el
    # many at once
    el, res = fire(g.port, [get(b"/n/%d" % i) for i in range(100)])
    assert [r[0] for r in res] == [503] * 100
    assert el < 2.0 * TIME_FACTOR, el
    assert u.requests() == []


def test_async_sync_completion(upstream, gateway):
    u = upstream("u")
    g = gateway(async_cfg(u, sync=True))
    for i in range(20):
        r = requests.get(g.url + "/sync", timeout=5)
        assert r.status_code == 200
        assert [v for k, v in r.json()["headers"] if k == "X-Test-Async"] == ["resumed"]


def test_async_sync_deny(upstream, gateway):
    u = upstream("u")
    g = gateway(async_cfg(u, sync=True, verdict="deny", status=451))
    assert_problem(requests.get(g.url + "/x", timeout=5), 451)
    assert u.requests() == []


def test_async_body_phase(upstream, gateway):
    u = upstream("u")
    g = gateway(async_cfg(u, delay_ms=100, phase="body"))
    body = bytes(range(256)) * 40
    el, res = fire(g.port, [post(b"/b/%d" % i, body) for i in range(50)])
    for st, h, b in res:
        assert st == 200
        e = json.loads(b)
        assert e["body"].encode("latin-1") == body
        assert [v for k, v in e["headers"] if k == "X-Test-Async"] == ["resumed"]
    # chunked request body through the body phase
    r = requests.post(g.url + "/chunked", data=iter([b"abc", b"def"]), timeout=5)
    assert r.status_code == 200 and r.json()["body"] == "abcdef"


def test_async_body_phase_deny(upstream, gateway):
    u = upstream("u")
    g = gateway(async_cfg(u, delay_ms=50, phase="body", verdict="deny", status=403))
    r = requests.post(g.url + "/b", data=b"x" * 1000, timeout=5)
    assert_problem(r, 403)
    assert u.requests() == []


def test_async_request_timeout_while_suspended(upstream, gateway):
    u = upstream("u")
    cfg = async_cfg(u, delay_ms=1500, timeout_ms=10000)
    cfg["routes"][0]["limits"] = {"request_timeout_ms": 300}
    g = gateway(cfg)
    t0 = time.monotonic()
    r = requests.get(g.url + "/x", timeout=10)
    assert r.status_code in (503, 504)
    assert_problem(r, r.status_code)
    assert time.monotonic() - t0 < 1.5 * TIME_FACTOR
    # the plugin's timer fires later, on an abandoned token: no crash
    time.sleep(1.5)
    assert requests.get(g.url + "/health", timeout=5).status_code in (200, 503, 504)
    assert g.proc.poll() is None
    assert "/x" not in [q["path"] for q in u.requests()]


def test_client_disconnects_while_suspended(upstream, gateway):
    u = upstream("u")
    g = gateway(async_cfg(u, delay_ms=300))
    socks = []
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
        s.sendall(get(b"/gone/%d" % i))
        socks.append(s)
    time.sleep(0.1)
    for s in socks:
        s.close()
    # every abandoned request is noticed and ended (bounded wait, not a sleep)
    deadline = time.monotonic() + 10 * TIME_FACTOR
    while metric_value(g.metrics(), "portcullis_requests_active") != 0:
        assert time.monotonic() < deadline, [
            l for l in g.metrics().splitlines() if "active" in l]
        time.sleep(0.05)
    assert g.proc.poll() is None
    assert requests.get(g.url + "/after", timeout=5).status_code == 200


def test_client_disconnects_while_waiting_for_upstream(upstream, gateway):
    u = upstream("u")
    g = gateway(simple_config(u))
    socks = []
    for i in range(50):
        s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
        s.sendall(get(b"/gone/%d?delay_ms=300" % i))
        socks.append(s)
    time.sleep(0.15)
    for s in socks:
        s.close()
    time.sleep(0.6)
    assert g.proc.poll() is None
    assert requests.get(g.url + "/after", timeout=5).status_code == 200
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if "portcullis_requests_active 0" in g.metrics():
            break
        time.sleep(0.1)
    assert "portcullis_requests_active 0" in g.metrics()


def test_core_timeout_releases_request(upstream, gateway):
    """Once the core's timeout has answered a request whose plugin never
    ends its token, the request is over for the client: it must not stay
    counted in portcullis_requests_active, and SIGTERM must not wait the
    whole drain_timeout for it."""
    u = upstream("u")
    cfg = async_cfg(u, never_end=True, timeout_ms=200)
    cfg["drain_timeout_ms"] = 2500
    g = gateway(cfg)
    assert_problem(requests.get(g.url + "/n", timeout=5), 503)
    time.sleep(0.3)
    active = [l for l in g.metrics().splitlines() if l.startswith("portcullis_requests_active ")]
    t0 = time.monotonic()
    code = g.stop()
    el = time.monotonic() - t0
    assert code == 0
    assert active == ["portcullis_requests_active 0"], active
    assert el < 1.5, "SIGTERM took %.1f s (drain_timeout 2.5 s)" % el


def test_client_disconnect_aborts_hanging_upstream(upstream, gateway):
    """A client that sends a request and goes away while the gateway waits
    for the upstream: the gateway should notice (as proxies do, "499") and
    drop the upstream exchange, not keep it open until the upstream timeout.
    Otherwise clients can pile up open upstream requests for free."""
    u = upstream("u")
    cfg = simple_config(u)
    cfg["upstreams"]["u"]["timeouts"] = {"connect_ms": 1000, "response_ms": 15000}
    cfg["drain_timeout_ms"] = 1000
    g = gateway(cfg)
    socks = []
    for i in range(10):
        s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
        s.sendall(get(b"/hang/%d?hang=1" % i))
        socks.append(s)
    time.sleep(0.3)
    for s in socks:
        s.close()
    deadline = time.monotonic() + 3
    active = None
    while time.monotonic() < deadline:
        active = [l for l in g.metrics().splitlines()
                  if l.startswith("portcullis_requests_active ")]
        if active == ["portcullis_requests_active 0"]:
            break
        time.sleep(0.1)
    assert active == ["portcullis_requests_active 0"], active


# ---- parked requests (gateway/front/mhd.c): waiting on a fast upstream unsuspended --------


def _gauges(g, names):
    """The named unlabelled metrics, as {name: value}."""
    found = {}
    for line in g.metrics().splitlines():
        name, _, value = line.partition(" ")
        if name in names:
            found[name] = int(float(value))
    return found


def test_client_reset_while_parked_ends_the_request(upstream, gateway):
    """A request waits parked (not suspended) for its first milliseconds; a
    client that resets then is seen by libmicrohttpd itself. The request
    ends, its upstream exchange is dropped, and the gateway keeps serving."""
    import struct
    u = upstream("u")
    g = gateway(simple_config(u, workers=1))
    for i in range(40):
        s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(get(b"/r/%d?delay_ms=%d" % (i, i % 4)))
        s.close()  # RST, at once or within the upstream's few milliseconds
    # Done when the gateway has accepted all 40 connections (it may not
    # have yet: the client does not wait) and none is open or in flight.
    # Generous: on a loaded machine the upstream's own accept queue can
    # overflow, and a dropped SYN is retried after 1 s, then 3 s.
    want = {"portcullis_connections_total": 40, "portcullis_connections_active": 0,
            "portcullis_requests_active": 0}
    deadline = time.monotonic() + 10 * TIME_FACTOR
    while time.monotonic() < deadline and _gauges(g, want) != want:
        time.sleep(0.05)
    assert _gauges(g, want) == want
    assert requests.get(g.url + "/after", timeout=5).status_code == 200


def test_keep_alive_and_pipelined_requests_on_parked_path(upstream, gateway):
    """Sequential and pipelined requests on one connection, answered while
    parked or after a suspension (delays around the parking time)."""
    u = upstream("u")
    g = gateway(simple_config(u, workers=1))
    with socket.create_connection(("127.0.0.1", g.port), timeout=5) as s:
        f = s.makefile("rb")
        for i in range(30):
            s.sendall(b"GET /ka/%d?delay_ms=%d HTTP/1.1\r\nHost: a\r\n\r\n" % (i, i % 5))
            status, headers, body = _read_response(f)
            assert status == 200 and json.loads(body)["target"].startswith("/ka/%d?" % i)
        s.sendall(b"".join(b"GET /pl/%d?delay_ms=%d HTTP/1.1\r\nHost: a\r\n\r\n" % (i, i % 3)
                           for i in range(10)))
        for i in range(10):
            status, headers, body = _read_response(f)
            assert status == 200 and json.loads(body)["target"].startswith("/pl/%d?" % i)


def _read_response(f):
    line = f.readline()
    status = int(line.split()[1])
    headers = {}
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        k, v = h.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    body = f.read(int(headers.get("content-length", "0")))
    return status, headers, body
