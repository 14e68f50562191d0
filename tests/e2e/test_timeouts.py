"""Slow and idle clients: the head deadline (listen[].limits.header_timeout_ms,
from accept or from the end of the previous response) and the body deadline
(request_timeout_ms while the body is still coming). Each passes whether bytes
arrive or not, answers 408 problem+json, closes, is logged as a timeout and
counted in portcullis_timeouts_total, and forwards nothing."""
import json
import os
import select
import socket
import time

import pytest

from conftest import TIME_FACTOR, assert_problem, metric_value, parse_response, \
    read_response_bytes, upstream_conf

HEAD_S = 1.0 * TIME_FACTOR       # header_timeout_ms
BODY_S = 1.0 * TIME_FACTOR       # request_timeout_ms
SLACK_S = 1.0 * TIME_FACTOR      # how late a cut may come


@pytest.fixture(scope="module")
def env(module_stack):
    u = module_stack.upstream("u")
    log = str(module_stack.tmp_path / "access.log")
    g = module_stack.gateway({
        "listen": [{"limits": {"header_timeout_ms": int(HEAD_S * 1000)}}],
        "limits": {"request_timeout_ms": int(BODY_S * 1000)},
        "access_log": {"path": log},
        "upstreams": {"u": upstream_conf(u)},
        "routes": [{"name": "all", "match": {"path_prefix": "/"}, "upstream": "u"}],
    })
    return g, u, log


def header_timeouts(g, phase):
    return metric_value(g.metrics(), 'portcullis_timeouts_total{phase="%s"}' % phase)


def access_lines(path, pred, n=1, timeout=5.0):
    """The access log lines matching pred, once there are n (bounded wait)."""
    deadline = time.monotonic() + timeout * TIME_FACTOR
    while True:
        lines = []
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                lines = [json.loads(l) for l in f.read().split("\n") if l]
        hits = [l for l in lines if pred(l)]
        if len(hits) >= n or time.monotonic() > deadline:
            return hits
        time.sleep(0.05)


class Trickler:
    """A raw client that sends its bytes one at a time, every `every`
    seconds, after sending `first` whole, and records what comes back and
    when the server closed."""

    def __init__(self, port, first, rest, every):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.t0 = time.monotonic()
        self.s.setblocking(False)
        if first:
            self.s.sendall(first)
        self.rest = rest
        self.every = every
        self.next_send = self.t0 + every
        self.buf = b""
        self.closed_at = None

    def step(self, now):
        """One poll step (call when readable or when a send is due)."""
        if self.closed_at is not None:
            return
        if self.rest and now >= self.next_send:
            try:
                self.s.send(self.rest[:1])
                self.rest = self.rest[1:]
            except OSError:
                self.rest = b""  # the server shut down: keep reading what it sent
            self.next_send = now + self.every
        try:
            d = self.s.recv(65536)
        except BlockingIOError:
            return
        except ConnectionResetError:
            d = b""
        if d:
            self.buf += d
        else:
            self.closed_at = now
            self.s.close()

    def elapsed(self):
        return self.closed_at - self.t0


def run_all(clients, bound):
    """Steps every client until all are closed or bound seconds passed."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        live = [c for c in clients if c.closed_at is None]
        if not live:
            break
        r, _, _ = select.select([c.s for c in live], [], [], 0.05)
        now = time.monotonic()
        for c in live:
            if c.s in r or (c.rest and now >= c.next_send):
                c.step(now)
    for c in clients:
        if c.closed_at is None:
            c.s.close()


def assert_cut(c, bound_from, reason):
    assert c.closed_at is not None, "still open after the bound: %r" % c.buf
    assert bound_from * 0.9 <= c.elapsed() <= bound_from + SLACK_S, c.elapsed()
    doc = assert_problem(parse_response(c.buf), 408)
    assert doc["type"].endswith(reason), doc
    assert parse_response(c.buf)[1].get("connection") == "close"
    return doc


HEAD = b"GET /slow/head HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"p" * 200 + b"\r\n\r\n"


def test_slow_request_line_gets_408_at_the_deadline(env):
    g, u, log = env
    mark, before = u.raw_mark(), header_timeouts(g, "header")
    c = Trickler(g.port, b"", HEAD, 0.25 * TIME_FACTOR)
    run_all([c], HEAD_S + 2 * SLACK_S)
    doc = assert_cut(c, HEAD_S, "request.header_timeout")
    assert header_timeouts(g, "header") == before + 1
    hits = access_lines(log, lambda l: l.get("request_id") == doc["request_id"])
    assert hits and hits[0]["status"] == 408, hits
    assert hits[0]["reason"] == "request.header_timeout"
    assert hits[0]["client"] == "127.0.0.1", hits
    assert u.forwarded_since(mark, g) == b""


def test_slow_headers_after_the_request_line_get_408(env):
    g, u, log = env
    mark, before = u.raw_mark(), header_timeouts(g, "header")
    line, rest = HEAD.split(b"\r\n", 1)
    c = Trickler(g.port, line + b"\r\n", rest, 0.1 * TIME_FACTOR)
    run_all([c], HEAD_S + 2 * SLACK_S)
    doc = assert_cut(c, HEAD_S, "request.header_timeout")
    assert header_timeouts(g, "header") == before + 1
    hits = access_lines(log, lambda l: l.get("request_id") == doc["request_id"])
    assert hits and hits[0]["status"] == 408, hits
    assert hits[0]["reason"] == "request.header_timeout"
    assert hits[0]["path"] == "/slow/head" and hits[0]["client"] == "127.0.0.1", hits
    assert u.forwarded_since(mark, g) == b""


def test_many_slow_clients_are_all_cut(env):
    g, u, log = env
    mark, before = u.raw_mark(), header_timeouts(g, "header")
    n = 200
    clients = [Trickler(g.port, b"G", HEAD[1:], 0.3 * TIME_FACTOR) for _ in range(n)]
    run_all(clients, HEAD_S + 3 * SLACK_S)
    open_ = [c for c in clients if c.closed_at is None]
    assert not open_, "%d of %d still open" % (len(open_), n)
    for c in clients:
        assert_cut(c, HEAD_S, "request.header_timeout")
    assert header_timeouts(g, "header") == before + n
    assert u.forwarded_since(mark, g) == b""


def post_head(length):
    return (b"POST /slow/body HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\n"
            b"Content-Length: %d\r\n\r\n" % length)


def check_body_timeout(g, u, log, c, mark, before):
    run_all([c], BODY_S + 2 * SLACK_S)
    doc = assert_cut(c, BODY_S, "request.timeout")
    assert header_timeouts(g, "body") == before + 1
    hits = access_lines(log, lambda l: l.get("request_id") == doc["request_id"])
    assert hits and hits[0]["status"] == 408, hits
    assert hits[0]["reason"] == "request.timeout"
    assert hits[0]["path"] == "/slow/body"
    assert u.forwarded_since(mark, g) == b""


def test_declared_body_never_sent_gets_408(env):
    g, u, log = env
    mark, before = u.raw_mark(), header_timeouts(g, "body")
    c = Trickler(g.port, post_head(100) + b"ab", b"", 1.0)
    check_body_timeout(g, u, log, c, mark, before)


def test_trickled_body_gets_408(env):
    g, u, log = env
    mark, before = u.raw_mark(), header_timeouts(g, "body")
    c = Trickler(g.port, post_head(100), b"x" * 100, 0.1 * TIME_FACTOR)
    check_body_timeout(g, u, log, c, mark, before)


def get(s):
    s.sendall(b"GET /ka HTTP/1.1\r\nHost: a\r\n\r\n")
    return parse_response(read_response_bytes(s, timeout=5 * TIME_FACTOR, read_all=False))


def test_keep_alive_pauses_are_not_cut(env):
    """Pauses between requests on a kept-alive connection, each shorter than
    the deadline but longer than one deadline in all, are not cut: the
    deadline counts from the previous response, not from accept."""
    g, u, log = env
    before = header_timeouts(g, "header")
    s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    try:
        for _ in range(3):
            assert get(s)[0] == 200
            time.sleep(0.6 * HEAD_S)
        assert get(s)[0] == 200
    finally:
        s.close()
    assert header_timeouts(g, "header") == before


def test_idle_keep_alive_is_held_not_answered(upstream, gateway):
    """A kept-alive connection with no byte of a next request is idle, not a
    slow head: past one second of silence the gateway holds it outside
    libmicrohttpd (gateway/front/idle.c) and closes it silently at
    client_idle_timeout_ms, as nginx and HAProxy do. Its head deadline starts
    again when bytes arrive, so it gets no 408 and stays usable."""
    head_s = 3.0 * TIME_FACTOR     # well past the one-second take-over
    u = upstream("u")
    g = gateway({
        "listen": [{"limits": {"header_timeout_ms": int(head_s * 1000)}}],
        "upstreams": {"u": upstream_conf(u)},
        "routes": [{"name": "all", "match": {"path_prefix": "/"}, "upstream": "u"}],
    })
    s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    try:
        assert get(s)[0] == 200
        s.settimeout(head_s + 2 * SLACK_S)
        try:
            early = s.recv(1)      # nothing may come: no 408, no close
        except socket.timeout:
            early = None
        assert early is None, early
        s.settimeout(5)
        assert get(s)[0] == 200    # handed back on its first byte
    finally:
        s.close()
    assert header_timeouts(g, "header") == 0
