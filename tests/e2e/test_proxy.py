"""Proxying: bodies both ways, streaming, hop-by-hop headers, forwarding
headers, request ids, trace context, rewrite_prefix, upstream failures."""
import hashlib
import os
import time

import pytest
import requests

from conftest import (TIME_FACTOR, assert_problem, free_port, parse_response, raw_request,
                      simple_config, upstream_conf)

TP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def hdrs(echo, name):
    """All values of header `name` (case-insensitive) the upstream saw."""
    return [v for k, v in echo["headers"] if k.lower() == name.lower()]


def names(echo):
    return {k.lower() for k, v in echo["headers"]}


def pattern(n):
    block = bytes(range(256)) * 256
    full, rest = divmod(n, len(block))
    return block * full + block[:rest]


def vm(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


@pytest.fixture
def one(upstream, gateway):
    u = upstream("u1")
    g = gateway(simple_config(u))
    return u, g


# ---- connections and workers ---------------------------------------------------


def fresh_connection_gets(g, n):
    """n requests, each on a new client connection (so that SO_REUSEPORT
    spreads them over the workers)."""
    for i in range(n):
        with requests.Session() as s:
            r = s.get(g.url + "/conn/%d" % i, headers={"Connection": "close"}, timeout=5)
            assert r.status_code == 200


def test_upstream_connection_kept_alive(upstream, gateway):
    """One worker, 20 requests on 20 client connections: the upstream sees
    them all on one connection, taken from the worker's pool each time."""
    u = upstream("ka")
    g = gateway({**simple_config(u), "workers": 1})
    fresh_connection_gets(g, 20)
    assert len(u.requests()) == 20
    assert u.connections() == 1, u.connections()


def test_every_worker_serves(upstream, gateway):
    """Two workers: client connections are spread over both, and each keeps
    its own upstream pool, so the upstream sees exactly two connections."""
    u = upstream("w2")
    g = gateway({**simple_config(u), "workers": 2})
    fresh_connection_gets(g, 40)
    assert len(u.requests()) == 40
    assert u.connections() == 2, u.connections()


# ---- bodies ---------------------------------------------------------------------


def test_get_echo_path_and_query(one):
    u, g = one
    r = requests.get(g.url + "/a/b?x=1&y=%2F&z", timeout=5)
    assert r.status_code == 200
    e = r.json()
    assert e["method"] == "GET"
    assert e["target"] == "/a/b?x=1&y=%2F&z"


def test_post_100k_body_intact(one):
    u, g = one
    body = os.urandom(100 * 1024)
    r = requests.post(g.url + "/upload", data=body,
                      headers={"Content-Type": "application/octet-stream"}, timeout=10)
    assert r.status_code == 200
    e = r.json()
    assert e["body_len"] == len(body)
    assert e["body"].encode("latin-1") == body
    assert hdrs(e, "Content-Length") == [str(len(body))]


def test_post_chunked_request_body_intact(one):
    u, g = one
    parts = [os.urandom(1000) for _ in range(50)]
    r = requests.post(g.url + "/upload", data=iter(parts), timeout=10)
    assert r.status_code == 200
    e = r.json()
    assert e["body"].encode("latin-1") == b"".join(parts)
    # the upstream gets a framed body, never a client's Transfer-Encoding it can't trust
    assert len(hdrs(e, "Content-Length")) + len(hdrs(e, "Transfer-Encoding")) == 1


def test_put_empty_body(one):
    u, g = one
    r = requests.put(g.url + "/x", data=b"", timeout=5)
    assert r.status_code == 200
    assert r.json()["body_len"] == 0


def test_keepalive_many_requests_one_connection(one):
    u, g = one
    with requests.Session() as s:
        for i in range(20):
            r = s.get(g.url + "/k%d" % i, timeout=5)
            assert r.status_code == 200
            assert r.json()["target"] == "/k%d" % i


def test_large_response_streamed_with_bounded_memory(one):
    """50 MiB through the gateway: complete, byte-exact, RSS grows far less
    than the body. The client first stalls for 1 s so that a gateway that
    buffered the whole upstream response would show it."""
    u, g = one
    size = 50 * 1024 * 1024
    rss0 = vm(g.proc.pid, "VmRSS")
    r = requests.get(g.url + "/big?size=%d" % size, stream=True, timeout=30)
    assert r.status_code == 200
    assert r.headers.get("Content-Length") == str(size)
    time.sleep(1.0)
    stalled = vm(g.proc.pid, "VmRSS")
    h = hashlib.sha256()
    n = 0
    for chunk in r.iter_content(1 << 20):
        h.update(chunk)
        n += len(chunk)
    assert n == size
    assert h.hexdigest() == hashlib.sha256(pattern(size)).hexdigest()
    peak = vm(g.proc.pid, "VmHWM")
    # A gateway that held the body would grow by 50 MiB; one that streams
    # holds its bounded buffers (about 0.2 MiB here). 8 MiB leaves room for
    # the sanitizer build's allocator and nothing for a buffered body.
    limit = 8 * 1024 * 1024
    assert stalled - rss0 < limit, (rss0, stalled)
    assert peak - rss0 < limit, (rss0, peak)


def test_chunked_upstream_response(one):
    u, g = one
    size = 300000
    r = requests.get(g.url + "/c?chunked=1&size=%d" % size, timeout=10)
    assert r.status_code == 200
    assert r.content == pattern(size)
    r = requests.get(g.url + "/c?chunked=1", timeout=10)
    assert r.status_code == 200
    assert r.json()["target"] == "/c?chunked=1"


def test_upstream_closes_after_response(one):
    u, g = one
    for i in range(5):
        r = requests.get(g.url + "/c?close=1&i=%d" % i, timeout=5)
        assert r.status_code == 200


def test_upstream_status_passthrough(one):
    u, g = one
    for st in (201, 204, 404, 418, 500, 503):
        r = requests.get(g.url + "/s?status=%d" % st, timeout=5)
        assert r.status_code == st
        assert r.headers.get("X-Request-Id")


def test_head_request(one):
    u, g = one
    r = requests.head(g.url + "/h?size=1000", timeout=5)
    assert r.status_code == 200
    assert r.content == b""
    assert u.requests()[-1]["method"] == "HEAD"
    # A HEAD response may omit Content-Length; if present it must be what GET
    # would send (RFC 9110 §9.3.2), never 0.
    assert r.headers.get("Content-Length") in (None, "1000"), r.headers


def test_head_then_get_on_one_connection(one):
    """After a HEAD response (no body), the next response on the connection
    is parsed correctly."""
    u, g = one
    resp = raw_request(g.port, b"HEAD /h?size=1000 HTTP/1.1\r\nHost: x\r\n\r\n"
                               b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert resp.count(b"HTTP/1.1 200") == 2, resp[:500]


# ---- hop-by-hop -------------------------------------------------------------------


def test_hop_by_hop_request_headers_removed(one):
    u, g = one
    r = requests.get(g.url + "/hop", headers={
        "Connection": "keep-alive, X-Foo", "X-Foo": "1", "Keep-Alive": "timeout=5",
        "TE": "trailers", "Upgrade": "websocket", "Proxy-Connection": "keep-alive",
        "Trailer": "X-T", "X-Kept": "yes"}, timeout=5)
    assert r.status_code == 200
    seen = names(r.json())
    for h in ("x-foo", "keep-alive", "te", "upgrade", "proxy-connection", "trailer"):
        assert h not in seen, (h, seen)
    assert hdrs(r.json(), "X-Kept") == ["yes"]
    conn = [v.lower() for v in hdrs(r.json(), "Connection")]
    assert all("x-foo" not in v for v in conn)


def test_hop_by_hop_response_headers_removed(one):
    u, g = one
    r = requests.get(g.url + "/hop?header=Connection:X-Secret&header=X-Secret:1"
                             "&header=Keep-Alive:timeout%3D5&header=X-Visible:yes"
                             "&header=Upgrade:h2c&header=Proxy-Connection:close", timeout=5)
    assert r.status_code == 200
    assert "X-Secret" not in r.headers
    assert "Keep-Alive" not in r.headers
    assert "Upgrade" not in r.headers
    assert "Proxy-Connection" not in r.headers
    assert r.headers.get("X-Visible") == "yes"
    assert "x-secret" not in r.headers.get("Connection", "").lower()


# ---- forwarding headers -------------------------------------------------------------


def test_forwarded_headers_set(one):
    u, g = one
    r = requests.get(g.url + "/f", headers={"Host": "api.example.com"}, timeout=5)
    e = r.json()
    assert hdrs(e, "X-Forwarded-For") == ["127.0.0.1"]
    assert hdrs(e, "X-Forwarded-Proto") == ["http"]
    assert hdrs(e, "X-Forwarded-Host") == ["api.example.com"]
    # the upstream gets the target's authority as Host (pass_host false)
    assert hdrs(e, "Host") == ["127.0.0.1:%d" % u.port]


def test_untrusted_forwarded_headers_replaced(one):
    u, g = one
    r = requests.get(g.url + "/f", headers={
        "Host": "api.example.com", "X-Forwarded-For": "1.2.3.4",
        "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example",
        "Forwarded": "for=1.2.3.4"}, timeout=5)
    e = r.json()
    assert hdrs(e, "X-Forwarded-For") == ["127.0.0.1"]
    assert hdrs(e, "X-Forwarded-Proto") == ["http"]
    assert hdrs(e, "X-Forwarded-Host") == ["api.example.com"]
    assert hdrs(e, "Forwarded") == []


def test_untrusted_duplicate_xff_replaced(one):
    u, g = one
    resp = raw_request(g.port, b"GET /f HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\n"
                               b"X-Forwarded-For: 2.2.2.2\r\nConnection: close\r\n\r\n")
    st, h, body = parse_response(resp)
    assert st == 200
    import json
    assert hdrs(json.loads(body), "X-Forwarded-For") == ["127.0.0.1"]


def test_xff_from_peer_outside_trusted_proxies_replaced(upstream, gateway):
    u = upstream("u1")
    cfg = simple_config(u)
    cfg["listen"] = [{"trusted_proxies": ["10.0.0.0/8"]}]
    g = gateway(cfg)
    r = requests.get(g.url + "/f", headers={"X-Forwarded-For": "10.1.2.3, 1.2.3.4",
                                            "X-Forwarded-Proto": "https"}, timeout=5)
    e = r.json()
    assert hdrs(e, "X-Forwarded-For") == ["127.0.0.1"]
    assert hdrs(e, "X-Forwarded-Proto") == ["http"]


def test_trusted_proxy_xff_appended(upstream, gateway):
    u = upstream("u1")
    cfg = simple_config(u)
    cfg["listen"] = [{"trusted_proxies": ["127.0.0.1"]}]
    cfg["access_log"] = {"path": "stderr"}
    g = gateway(cfg)
    r = requests.get(g.url + "/f", headers={"X-Forwarded-For": "203.0.113.7",
                                            "X-Forwarded-Proto": "https"}, timeout=5)
    e = r.json()
    assert hdrs(e, "X-Forwarded-For") == ["203.0.113.7, 127.0.0.1"]
    assert hdrs(e, "X-Forwarded-Proto") == ["https"]


def test_pass_host(upstream, gateway):
    u = upstream("u1")
    cfg = simple_config(u)
    cfg["upstreams"]["u"]["pass_host"] = True
    g = gateway(cfg)
    r = requests.get(g.url + "/f", headers={"Host": "api.example.com"}, timeout=5)
    assert hdrs(r.json(), "Host") == ["api.example.com"]


# ---- request id and trace context -----------------------------------------------------


@pytest.mark.parametrize("rid", ["abcdefgh", "req-1234.abc_DEF:9", "a" * 128])
def test_request_id_kept_when_well_formed(one, rid):
    u, g = one
    r = requests.get(g.url + "/id", headers={"X-Request-Id": rid}, timeout=5)
    assert r.headers["X-Request-Id"] == rid
    assert hdrs(r.json(), "X-Request-Id") == [rid]


@pytest.mark.parametrize("rid", ["short", "a" * 129, "bad id with spaces", "abc/defgh",
                                 "abcdefgh\u00e9"])
def test_request_id_replaced_when_malformed(one, rid):
    u, g = one
    r = requests.get(g.url + "/id", headers={"X-Request-Id": rid.encode("utf-8")}, timeout=5)
    assert r.status_code == 200
    got = r.headers["X-Request-Id"]
    assert got != rid and 8 <= len(got) <= 128
    assert hdrs(r.json(), "X-Request-Id") == [got]


def test_request_id_generated_and_unique(one):
    u, g = one
    ids = set()
    for _ in range(20):
        r = requests.get(g.url + "/id", timeout=5)
        ids.add(r.headers["X-Request-Id"])
        assert hdrs(r.json(), "X-Request-Id") == [r.headers["X-Request-Id"]]
    assert len(ids) == 20


def test_upstream_request_id_does_not_override(one):
    u, g = one
    r = requests.get(g.url + "/id?header=X-Request-Id:from-upstream-123",
                     headers={"X-Request-Id": "client-id-123"}, timeout=5)
    assert r.headers["X-Request-Id"] == "client-id-123"


def test_request_id_on_gateway_errors(one):
    u, g = one
    r = requests.get(g.url + "/%2F", headers={"X-Request-Id": "err-id-12345"}, timeout=5)
    doc = assert_problem(r, 400)
    assert doc["request_id"] == "err-id-12345"


def test_traceparent_propagated(one):
    u, g = one
    r = requests.get(g.url + "/t", headers={"traceparent": TP}, timeout=5)
    assert hdrs(r.json(), "traceparent") == [TP]


@pytest.mark.parametrize("tp", [
    TP.upper(),
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    TP + "-extra",
    "garbage",
])
def test_invalid_traceparent_not_forwarded(one, tp):
    u, g = one
    r = requests.get(g.url + "/t", headers={"traceparent": tp}, timeout=5)
    assert r.status_code == 200
    assert tp not in hdrs(r.json(), "traceparent")


# ---- rewrite_prefix -----------------------------------------------------------------------


def test_rewrite_prefix(upstream, gateway):
    u = upstream("u1")
    g = gateway(simple_config(u, routes=[
        {"name": "v2", "match": {"path_prefix": "/api"}, "upstream": "u", "rewrite_prefix": "/v2"},
        {"name": "strip", "match": {"path_prefix": "/strip/"}, "upstream": "u",
         "rewrite_prefix": ""},
        {"name": "keep", "match": {"path_prefix": "/keep"}, "upstream": "u"},
    ]))
    cases = {
        "/api/x?q=1": "/v2/x?q=1",
        "/api": "/v2",
        "/api/": "/v2/",
        "/api/a/b": "/v2/a/b",
        "/strip/x/y": "/x/y",
        "/strip/": "/",
        "/keep/z": "/keep/z",
    }
    for src, want in cases.items():
        r = requests.get(g.url + src, timeout=5)
        assert r.status_code == 200, src
        assert r.json()["target"] == want, (src, r.json()["target"])


# ---- upstream failures ------------------------------------------------------------------


def assert_no_internals(r, *ports):
    body = r.text
    assert "127.0.0.1" not in body
    for p in ports:
        assert str(p) not in body, (p, body)


def test_connect_refused_502(gateway, upstream):
    dead = free_port()
    g = gateway({"upstreams": {"u": upstream_conf("http://127.0.0.1:%d" % dead)},
                 "routes": [{"name": "r", "match": {"path_prefix": "/"}, "upstream": "u"}]})
    r = requests.get(g.url + "/x", timeout=5)
    assert_problem(r, 502)
    assert_no_internals(r, dead)
    assert 'kind="connect"' in g.metrics()


def test_upstream_timeout_504(upstream, gateway):
    u = upstream("u1")
    cfg = simple_config(u)
    cfg["upstreams"]["u"]["timeouts"] = {"connect_ms": 1000, "response_ms": 300}
    g = gateway(cfg)
    t0 = time.monotonic()
    r = requests.get(g.url + "/x?hang=1", timeout=10)
    el = time.monotonic() - t0
    assert_problem(r, 504)
    assert_no_internals(r, u.port)
    assert el < 2.0 * TIME_FACTOR, el
    # the gateway still works afterwards
    assert requests.get(g.url + "/ok", timeout=5).status_code == 200


def test_upstream_reset_502(one):
    u, g = one
    r = requests.get(g.url + "/x?reset=1", timeout=10)
    assert_problem(r, 502)
    assert_no_internals(r, u.port)
    assert requests.get(g.url + "/ok", timeout=5).status_code == 200


def test_upstream_reset_post_502(one):
    u, g = one
    r = requests.post(g.url + "/x?reset=1", data=b"abc", timeout=10)
    assert_problem(r, 502)
    # a POST is not retried
    assert len([q for q in u.requests() if q["method"] == "POST"]) == 1


def test_upstream_dies_mid_body(one):
    """The upstream goes away in the middle of a Content-Length body: the
    client must see a truncated response (connection closed), never a
    complete-looking one."""
    u, g = one
    r = requests.get(g.url + "/big?size=%d" % (20 * 1024 * 1024), stream=True, timeout=10)
    assert r.status_code == 200
    got = 0
    it = r.iter_content(1 << 16)
    first = next(it)
    got += len(first)
    u.stop()
    with pytest.raises(requests.exceptions.RequestException):
        for chunk in it:
            got += len(chunk)
        # the stream ended: it must not have been complete
        if got < 20 * 1024 * 1024:
            raise requests.exceptions.ChunkedEncodingError("short")
