"""Request limits: URL, headers, body (Content-Length and chunked), route
overrides, request timeout, idle timeout, connections per IP."""
import socket
import time

import requests

from conftest import (TIME_FACTOR, assert_problem, parse_response, raw_request,
                      read_response_bytes, simple_config)


def req(path, headers=(), host=b"a", extra=b""):
    h = b"".join(b"%s: %s\r\n" % (k, v) for k, v in headers)
    return (b"GET " + path + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + h +
            b"Connection: close\r\n\r\n" + extra)


def limited(upstream, gateway, limits, routes=None, **top):
    u = upstream("u1")
    cfg = simple_config(u, routes=routes)
    cfg["limits"] = limits
    cfg.update(top)
    return u, gateway(cfg)


# ---- URL and headers --------------------------------------------------------------


def test_url_too_long_414(upstream, gateway):
    u, g = limited(upstream, gateway, {"max_url_bytes": 1024})
    ok = b"/" + b"a" * 1023
    st = parse_response(raw_request(g.port, req(ok)))[0]
    assert st == 200
    resp = parse_response(raw_request(g.port, req(b"/" + b"a" * 1024)))
    assert_problem(resp, 414)
    # the query counts too
    resp = parse_response(raw_request(g.port, req(b"/a?" + b"q" * 1100)))
    assert_problem(resp, 414)
    assert len(u.requests()) == 1


def test_huge_url_refused_without_forwarding(upstream, gateway):
    u, g = limited(upstream, gateway, {"max_url_bytes": 1024})
    resp = raw_request(g.port, req(b"/" + b"a" * 300000))
    st = parse_response(resp)[0]
    assert st in (414, 400, 431, None), resp[:300]
    assert u.requests() == []
    assert requests.get(g.url + "/alive", timeout=5).status_code == 200


def test_too_many_headers_431(upstream, gateway):
    u, g = limited(upstream, gateway, {"max_headers": 10})
    # Host + Connection + 8 = 10: fine
    st = parse_response(raw_request(g.port, req(b"/ok", [(b"X-%d" % i, b"v") for i in range(8)])))[0]
    assert st == 200
    resp = parse_response(raw_request(g.port, req(b"/no", [(b"X-%d" % i, b"v") for i in range(9)])))
    assert_problem(resp, 431)
    assert [r["path"] for r in u.requests()] == ["/ok"]


def test_header_bytes_too_large_431(upstream, gateway):
    u, g = limited(upstream, gateway, {"max_header_bytes": 2048})
    st = parse_response(raw_request(g.port, req(b"/ok", [(b"X-Big", b"v" * 1500)])))[0]
    assert st == 200
    resp = parse_response(raw_request(g.port, req(b"/no", [(b"X-Big", b"v" * 2100)])))
    assert_problem(resp, 431)
    # many small headers adding up
    resp = parse_response(raw_request(g.port, req(b"/no2", [(b"X-%d" % i, b"v" * 100)
                                                             for i in range(30)])))
    assert_problem(resp, 431)
    assert [r["path"] for r in u.requests()] == ["/ok"]


def test_huge_header_block_refused(upstream, gateway):
    u, g = limited(upstream, gateway, {"max_header_bytes": 2048})
    resp = raw_request(g.port, req(b"/no", [(b"X-%d" % i, b"v" * 1000) for i in range(300)]))
    st = parse_response(resp)[0]
    assert st in (431, 400, 413, None), resp[:300]
    assert u.requests() == []
    assert requests.get(g.url + "/alive", timeout=5).status_code == 200


def test_route_tightens_header_limits(upstream, gateway):
    u = upstream("u1")
    cfg = simple_config(u, routes=[
        {"name": "strict", "match": {"path_prefix": "/strict"}, "upstream": "u",
         "limits": {"max_headers": 4, "max_header_bytes": 1024}},
        {"name": "loose", "match": {"path_prefix": "/"}, "upstream": "u"},
    ])
    g = gateway(cfg)
    hs = [(b"X-%d" % i, b"v") for i in range(4)]
    assert_problem(parse_response(raw_request(g.port, req(b"/strict", hs))), 431)
    assert parse_response(raw_request(g.port, req(b"/other", hs)))[0] == 200
    big = [(b"X-Big", b"v" * 1100)]
    assert_problem(parse_response(raw_request(g.port, req(b"/strict", big))), 431)
    assert parse_response(raw_request(g.port, req(b"/other", big)))[0] == 200
    assert [r["path"] for r in u.requests()] == ["/other", "/other"]


# ---- body -------------------------------------------------------------------------


def test_content_length_over_max_413_before_body(upstream, gateway):
    u, g = limited(upstream, gateway, {"max_body_bytes": 1024})
    s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    try:
        # headers only: the answer must come without the body being sent
        s.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n")
        t0 = time.monotonic()
        resp = read_response_bytes(s, timeout=3, read_all=False)
        assert time.monotonic() - t0 < 2 * TIME_FACTOR
    finally:
        s.close()
    assert_problem(parse_response(resp), 413)
    assert u.requests() == []


def test_content_length_at_max_ok(upstream, gateway):
    u, g = limited(upstream, gateway, {"max_body_bytes": 1024})
    r = requests.post(g.url + "/x", data=b"z" * 1024, timeout=5)
    assert r.status_code == 200
    assert r.json()["body_len"] == 1024
    r = requests.post(g.url + "/x", data=b"z" * 1025, timeout=5)
    assert_problem(r, 413)
    assert len(u.requests()) == 1


def test_max_body_zero_allows_no_body(upstream, gateway):
    u, g = limited(upstream, gateway, {"max_body_bytes": 0})
    assert requests.get(g.url + "/x", timeout=5).status_code == 200
    assert requests.post(g.url + "/x", data=b"", timeout=5).status_code == 200
    assert_problem(requests.post(g.url + "/x", data=b"a", timeout=5), 413)


def send_chunked(port, total, chunk=4096, path=b"/x"):
    """Sends a chunked body of `total` bytes; returns what came back. The
    gateway may cut the connection while we send: that is fine."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        sent = 0
        try:
            while sent < total:
                n = min(chunk, total - sent)
                s.sendall(b"%x\r\n" % n + b"c" * n + b"\r\n")
                sent += n
            s.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            pass
        try:
            return read_response_bytes(s, timeout=3, read_all=False)
        except ConnectionResetError:
            return b""
    finally:
        s.close()


def test_chunked_body_over_max(upstream, gateway):
    u, g = limited(upstream, gateway, {"max_body_bytes": 10000})
    resp = send_chunked(g.port, 10000, path=b"/fits")
    assert parse_response(resp)[0] == 200
    resp = send_chunked(g.port, 2 * 1024 * 1024, path=b"/over")
    # the rest of the body is read and dropped, then 413 as documented
    assert_problem(parse_response(resp), 413)
    assert [r["path"] for r in u.requests()] == ["/fits"]


def test_chunked_body_just_over_max_413(upstream, gateway):
    u, g = limited(upstream, gateway, {"max_body_bytes": 10000})
    resp = send_chunked(g.port, 10001, chunk=1000, path=b"/over")
    assert_problem(parse_response(resp), 413)
    assert u.requests() == []


def test_route_overrides_max_body(upstream, gateway):
    u = upstream("u1")
    cfg = simple_config(u, routes=[
        {"name": "small", "match": {"path_prefix": "/small"}, "upstream": "u",
         "limits": {"max_body_bytes": 10}},
        {"name": "big", "match": {"path_prefix": "/big"}, "upstream": "u",
         "limits": {"max_body_bytes": 4096}},
        {"name": "rest", "match": {"path_prefix": "/"}, "upstream": "u"},
    ])
    cfg["limits"] = {"max_body_bytes": 1024}
    g = gateway(cfg)
    assert requests.post(g.url + "/small", data=b"x" * 10, timeout=5).status_code == 200
    assert_problem(requests.post(g.url + "/small", data=b"x" * 11, timeout=5), 413)
    assert requests.post(g.url + "/rest", data=b"x" * 11, timeout=5).status_code == 200
    assert_problem(requests.post(g.url + "/rest", data=b"x" * 1025, timeout=5), 413)
    assert requests.post(g.url + "/big", data=b"x" * 4000, timeout=5).status_code == 200
    assert_problem(requests.post(g.url + "/big", data=b"x" * 4097, timeout=5), 413)
    assert [r["path"] for r in u.requests()] == ["/small", "/rest", "/big"]


# ---- time ------------------------------------------------------------------------


def test_request_timeout_on_hanging_upstream_504(upstream, gateway):
    u = upstream("u1")
    cfg = simple_config(u, routes=[
        {"name": "fast", "match": {"path_prefix": "/"}, "upstream": "u",
         "limits": {"request_timeout_ms": 500}}])
    g = gateway(cfg)
    t0 = time.monotonic()
    r = requests.get(g.url + "/x?hang=1", timeout=10)
    el = time.monotonic() - t0
    assert_problem(r, 504)
    assert 0.4 < el < 1.5 * TIME_FACTOR, el
    # a slow (not hanging) upstream past the deadline too
    t0 = time.monotonic()
    r = requests.get(g.url + "/x?delay_ms=3000", timeout=10)
    assert_problem(r, 504)
    assert time.monotonic() - t0 < 1.5 * TIME_FACTOR
    assert requests.get(g.url + "/x", timeout=5).status_code == 200


def test_global_request_timeout(upstream, gateway):
    u, g = limited(upstream, gateway, {"request_timeout_ms": 400})
    t0 = time.monotonic()
    r = requests.get(g.url + "/x?hang=1", timeout=10)
    assert_problem(r, 504)
    assert time.monotonic() - t0 < 1.5 * TIME_FACTOR


def test_client_idle_timeout_closes_connection(upstream, gateway):
    u, g = limited(upstream, gateway, {"client_idle_timeout_ms": 1000})
    s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    try:
        t0 = time.monotonic()
        s.settimeout(5)
        try:
            d = s.recv(100)
        except ConnectionResetError:
            d = b""
        el = time.monotonic() - t0
        assert d == b""
        assert el < 4, el
    finally:
        s.close()


# ---- connections per IP ------------------------------------------------------------


def open_live(port):
    """A connection that has completed one keep-alive request."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /live HTTP/1.1\r\nHost: a\r\n\r\n")
    resp = read_response_bytes(s, timeout=3, read_all=False)
    return s, parse_response(resp)[0]


def refused(port):
    """True if a new connection is closed/reset without an answer."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
    except OSError:
        return True
    try:
        s.sendall(b"GET /third HTTP/1.1\r\nHost: a\r\n\r\n")
        s.settimeout(3)
        d = s.recv(100)
        return d == b"" or b" 503 " in d[:20] or b" 429 " in d[:20]
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    finally:
        s.close()


def test_max_connections_per_ip(upstream, gateway):
    u, g = limited(upstream, gateway, {"max_connections_per_ip": 2})
    a, sa = open_live(g.port)
    b, sb = open_live(g.port)
    try:
        assert (sa, sb) == (200, 200)
        assert refused(g.port)
        assert "/third" not in [r["path"] for r in u.requests()]
    finally:
        a.close()
    # a slot is free again once a connection closes (bounded wait)
    try:
        deadline = time.monotonic() + 5
        ok = False
        while time.monotonic() < deadline and not ok:
            try:
                c, sc = open_live(g.port)
                c.close()
                ok = sc == 200
            except OSError:
                pass
            if not ok:
                time.sleep(0.1)
        assert ok
    finally:
        b.close()


def test_listener_limit_override(upstream, gateway):
    u = upstream("u1")
    cfg = simple_config(u)
    cfg["listen"] = [{"limits": {"max_url_bytes": 128}}]
    g = gateway(cfg)
    assert_problem(parse_response(raw_request(g.port, req(b"/" + b"a" * 200))), 414)
