"""The last RFC gaps of the front end and strict request shapes (issue 11):
Host, absolute-form targets, a chunked body over the limit, 304 lengths,
NULs in the request line, '_' header names, double percent-encoding, and
the errors libmicrohttpd would answer itself. Every refusal is checked on
the raw bytes the upstream received, fenced by a barrier request."""
import json
import socket

import pytest

from conftest import (assert_problem, parse_response, raw_request, read_response_bytes,
                      upstream_conf)


@pytest.fixture(scope="module")
def env(module_stack):
    u = module_stack.upstream("u")
    g = module_stack.gateway({
        "upstreams": {"u": upstream_conf(u)},
        "plugins": {"claims": {"type": "headers",
                               "request": {"set": {"X-Auth-Subject": "alice"}}}},
        "limits": {"max_body_bytes": 10000},
        "routes": [
            {"name": "vhost", "match": {"host": "api.example", "path_prefix": "/"},
             "upstream": "u"},
            {"name": "claims", "match": {"path_prefix": "/claims"}, "upstream": "u",
             "plugins": ["claims"]},
            {"name": "literal", "match": {"path_prefix": "/literal"}, "upstream": "u",
             "allow_double_encoding": True},
            {"name": "all", "match": {"path_prefix": "/"}, "upstream": "u"},
        ]})
    return u, g


def send(g, data, timeout=3):
    return parse_response(raw_request(g.port, data, timeout=timeout))


def fwd(u, g, r0):
    """The raw bytes u received since raw mark r0, barrier heads cut."""
    return u.forwarded_since(r0, g)


def heads(raw):
    """The header lines (name, value) of every request head in raw bytes."""
    out = []
    for block in raw.split(b"\r\n\r\n"):
        for line in block.split(b"\r\n")[1:]:
            k, sep, v = line.partition(b":")
            if sep:
                out.append((k.decode("latin-1"), v.strip().decode("latin-1")))
    return out


def request_lines(raw):
    return [b.split(b"\r\n", 1)[0] for b in raw.split(b"\r\n\r\n") if b.startswith(
        (b"GET ", b"POST ", b"HEAD ", b"DELETE "))]


# ---- Host --------------------------------------------------------------------------


@pytest.mark.parametrize("host", [b"a b/c@d", b"a/b", b"a@b", b"a:99999", b"a:80x", b"[::1",
                                  b"[zz]", b"a%2fb", b"a\\b", b"a" * 300])
def test_bad_host_400_not_forwarded(env, host):
    u, g = env
    r0 = u.raw_mark()
    resp = send(g, b"GET /h HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
    doc = assert_problem(resp, 400)
    assert fwd(u, g, r0) == b""
    assert "host" in json.dumps(doc).lower()


def test_good_host_forwarded_as_x_forwarded_host(env):
    u, g = env
    for host in (b"a.example:8080", b"[::1]:80", b"10.0.0.1", b"a"):
        r0 = u.raw_mark()
        st, _, body = send(g, b"GET /h HTTP/1.1\r\nHost: " + host +
                           b"\r\nConnection: close\r\n\r\n")
        assert st == 200, body
        assert ("X-Forwarded-Host", host.decode()) in heads(fwd(u, g, r0))


# ---- absolute-form -----------------------------------------------------------------


def test_absolute_form_authority_replaces_host(env):
    u, g = env
    r0 = u.raw_mark()
    st, _, body = send(g, b"GET http://api.example/x/./y?q=1 HTTP/1.1\r\nHost: other\r\n"
                          b"Connection: close\r\n\r\n")
    assert st == 200, body
    raw = fwd(u, g, r0)
    assert request_lines(raw) == [b"GET /x/y?q=1 HTTP/1.1"], raw[:300]
    assert ("X-Forwarded-Host", "api.example") in heads(raw)
    # routed by the authority: the host-only route saw it
    assert json.loads(body)["target"] == "/x/y?q=1"


@pytest.mark.parametrize("target,path", [
    (b"HTTPS://Api.Example:8443/a", b"/a"),
    (b"hTtP://h.example", b"/"),
    (b"http://h.example?x=1", b"/?x=1"),
])
def test_absolute_form_accepted(env, target, path):
    u, g = env
    r0 = u.raw_mark()
    st, _, body = send(g, b"GET " + target + b" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert st == 200, body
    assert request_lines(fwd(u, g, r0)) == [b"GET " + path + b" HTTP/1.1"]


@pytest.mark.parametrize("target", [
    b"ftp://h/x", b"http:///x", b"http://u@h/x", b"http://h:99999/x", b"http://h/../%2f",
    b"http://h/a%2Fb", b"http:/h/x", b"//h/x/../../%2f",
])
def test_absolute_form_refused(env, target):
    u, g = env
    r0 = u.raw_mark()
    resp = send(g, b"GET " + target + b" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert_problem(resp, 400)
    assert fwd(u, g, r0) == b""


# ---- request line ------------------------------------------------------------------


@pytest.mark.parametrize("line", [
    b"GET\x00DELETE /x HTTP/1.1",
    b"GET /api/items/42\x00/../../admin HTTP/1.1",
    b"GET /x?a=1\x00b HTTP/1.1",
    b"GET /x\x00 HTTP/1.1",
    b"G(T /x HTTP/1.1",
    b"GE\x01T /x HTTP/1.1",
    b"G\x80T /x HTTP/1.1",
])
def test_bad_request_line_400_not_forwarded(env, line):
    u, g = env
    r0 = u.raw_mark()
    resp = send(g, line + b"\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert_problem(resp, 400)
    assert fwd(u, g, r0) == b""


def test_extension_method_token_forwarded(env):
    u, g = env
    r0 = u.raw_mark()
    st, _, _ = send(g, b"PURGE /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert st == 200
    raw = fwd(u, g, r0)
    assert raw.startswith(b"PURGE /x HTTP/1.1\r\n"), raw[:300]


# ---- '_' in header names -----------------------------------------------------------


SPOOFS = [(b"X_Auth_Subject", b"mallory"), (b"X_Forwarded_For", b"1.2.3.4"),
          (b"X_Forwarded_Host", b"evil"), (b"X_Forwarded_Proto", b"https"),
          (b"X_Request_Id", b"spoofed-id-123"), (b"X_HTTP_Method_Override", b"DELETE"),
          (b"X_HTTP_Method", b"DELETE"), (b"X_Method_Override", b"DELETE"),
          (b"X-Auth_Subject", b"mallory"), (b"Custom_Header", b"1")]


def spoof_request(path):
    """The '_' spellings, and on /claims (where a plugin sets it) the exact
    name of X-Auth-Subject too."""
    exact = b"X-Auth-Subject: mallory\r\n" if path.startswith(b"/claims") else b""
    return (b"GET " + path + b" HTTP/1.1\r\nHost: a\r\n" +
            b"".join(k + b": " + v + b"\r\n" for k, v in SPOOFS) +
            exact + b"Connection: close\r\n\r\n")


@pytest.mark.parametrize("path", [b"/x", b"/claims/x"])
def test_underscore_headers_dropped_by_default(env, path):
    u, g = env
    r0 = u.raw_mark()
    st, _, body = send(g, spoof_request(path))
    assert st == 200, body
    got = heads(fwd(u, g, r0))
    assert not [k for k, v in got if "_" in k], got
    assert "mallory" not in json.dumps(got) and "DELETE" not in json.dumps(got)
    subj = [v for k, v in got if k.lower() == "x-auth-subject"]
    assert subj == (["alice"] if path == b"/claims/x" else [])


def test_underscores_allowed_still_strips_vouched_names(stack):
    u = stack.upstream("u")
    g = stack.gateway({
        "listen": [{"underscores_in_headers": True}],
        "upstreams": {"u": upstream_conf(u)},
        "plugins": {"claims": {"type": "headers",
                               "request": {"set": {"X-Auth-Subject": "alice"}}}},
        "routes": [{"name": "claims", "match": {"path_prefix": "/claims"}, "upstream": "u",
                    "plugins": ["claims"]},
                   {"name": "all", "match": {"path_prefix": "/"}, "upstream": "u"}]})
    r0 = u.raw_mark()
    st, _, body = send(g, spoof_request(b"/claims/x"))
    assert st == 200, body
    got = heads(fwd(u, g, r0))
    names = [k for k, v in got if "_" in k]
    assert names == ["Custom_Header"], got
    assert [v for k, v in got if k.lower() == "x-auth-subject"] == ["alice"]
    assert "mallory" not in json.dumps(got) and "DELETE" not in json.dumps(got)


# ---- double percent-encoding -------------------------------------------------------


@pytest.mark.parametrize("target", [b"/x/%252e%252e%252f", b"/x/%2541", b"/x/a%25ff"])
def test_double_encoding_refused_by_default(env, target):
    u, g = env
    r0 = u.raw_mark()
    resp = send(g, b"GET " + target + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert_problem(resp, 400)
    assert fwd(u, g, r0) == b""


def test_double_encoding_allowed_per_route(env):
    u, g = env
    r0 = u.raw_mark()
    st, _, body = send(g, b"GET /literal/%252e%252e%252f HTTP/1.1\r\nHost: a\r\n"
                          b"Connection: close\r\n\r\n")
    assert st == 200, body
    assert request_lines(fwd(u, g, r0)) == [b"GET /literal/%252e%252e%252f HTTP/1.1"]
    # a lone %25 is no double encoding
    st, _, body = send(g, b"GET /x/100%25 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert st == 200, body


# ---- chunked body over max_body_bytes ----------------------------------------------


@pytest.mark.parametrize("total,chunk", [(10001, 1000), (2 * 1024 * 1024, 4096)])
def test_chunked_over_max_413_problem(env, total, chunk):
    u, g = env
    r0 = u.raw_mark()
    s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    try:
        s.sendall(b"POST /over HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  b"Connection: close\r\n\r\n")
        sent = 0
        while sent < total:
            n = min(chunk, total - sent)
            s.sendall(b"%x\r\n" % n + b"c" * n + b"\r\n")
            sent += n
        s.sendall(b"0\r\n\r\n")
        resp = read_response_bytes(s, timeout=5, read_all=False)
    finally:
        s.close()
    assert_problem(parse_response(resp), 413)
    assert b"/over" not in fwd(u, g, r0)


# ---- 304 and HEAD lengths ----------------------------------------------------------


@pytest.mark.parametrize("method,status", [(b"GET", 304), (b"HEAD", 304), (b"HEAD", 200)])
def test_bodiless_answer_keeps_upstream_content_length(env, method, status):
    u, g = env
    q = b"/x?status=%d&header=Content-Length:10" % status
    if status == 200:
        q = b"/x?size=10"
    s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    try:
        s.sendall(method + b" " + q + b" HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        resp = read_response_bytes(s, timeout=3)
    finally:
        s.close()
    first, _, rest = resp.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 %d" % status), resp[:300]
    cls = [ln for ln in first.split(b"\r\n") if ln.lower().startswith(b"content-length:")]
    assert cls == [b"Content-Length: 10"], first
    # no body: the next response follows the head at once
    assert rest.startswith(b"HTTP/1.1 200"), resp[:600]


def test_304_without_length_has_no_body(env):
    """No Content-Length from the upstream: none invented beyond 0, and no
    chunked framing (a "0" chunk after a 304 would desync the connection)."""
    u, g = env
    s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
    try:
        s.sendall(b"GET /x?status=304 HTTP/1.1\r\nHost: a\r\n\r\n"
                  b"GET /after HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        resp = read_response_bytes(s, timeout=3)
    finally:
        s.close()
    first, _, rest = resp.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 304"), resp[:300]
    assert b"transfer-encoding" not in first.lower(), first
    assert rest.startswith(b"HTTP/1.1 200"), resp[:600]


# ---- errors libmicrohttpd would answer itself --------------------------------------


def test_long_line_414_problem(env):
    """Four times max_url_bytes: still the gateway's 414, not MHD's."""
    u, g = env
    r0 = u.raw_mark()
    resp = send(g, b"GET /" + b"a" * 30000 + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert_problem(resp, 414)
    assert fwd(u, g, r0) == b""


def test_many_headers_431_problem(env):
    """Four times max_headers: still the gateway's 431, not MHD's."""
    u, g = env
    r0 = u.raw_mark()
    hs = b"".join(b"X-%d: v\r\n" % i for i in range(400))
    resp = send(g, b"GET /many HTTP/1.1\r\nHost: a\r\n" + hs + b"Connection: close\r\n\r\n")
    assert_problem(resp, 431)
    assert fwd(u, g, r0) == b""


MHD_OWN = [
    # id, request, MHD's status
    ("line_64k", b"GET /" + b"a" * 65536 + b" HTTP/1.1\r\nHost: a\r\n\r\n", 414),
    ("fields_1000", b"GET /x HTTP/1.1\r\nHost: a\r\n" +
     b"".join(b"X-%d: v\r\n" % i for i in range(1000)) + b"\r\n", 431),
    ("chunk_size_overflow", b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"fffffffffffffffffff\r\nabc\r\n0\r\n\r\n", 413),
    ("bad_chunk_size", b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"zz\r\nabc\r\n0\r\n\r\n", 400),
    ("http09", b"GET /x\r\n\r\n", 400),
]


@pytest.mark.parametrize("name,data,status", MHD_OWN, ids=[c[0] for c in MHD_OWN])
def test_mhd_own_answers_pinned(env, name, data, status):
    """Pins what libmicrohttpd 0.9.75 answers before the gateway sees the
    request (docs/architecture.md, "Errors the gateway cannot word"): a
    head beyond its pool, a malformed chunk size, HTTP/0.9. One well-formed
    response with the right status, its HTML body, the connection closed,
    nothing forwarded. If this starts failing because the answer became
    problem+json, move the case up to the gateway's own tests and the doc."""
    u, g = env
    r0 = u.raw_mark()
    resp = raw_request(g.port, data, timeout=3)
    st, headers, body = parse_response(resp)
    assert st == status, resp[:300]
    assert resp.count(b"HTTP/1.1 ") == 1, resp[:600]
    assert headers.get("connection") == "close"
    assert body.startswith(b"<html>") and "content-type" not in headers, resp[:300]
    assert fwd(u, g, r0) == b""


def test_jwt_claims_headers_every_spelling_stripped(stack):
    """jwt's claims_to_headers names are per instance: the core learns them
    from the plugin's set/remove calls. With '_' names allowed on the
    listener, a client's X_Auth_Subject still never reaches the upstream
    beside the X-Auth-Subject the plugin set, nor X_Auth_Org for a claim the
    token does not carry."""
    from mock_idp import KeyRing
    ring = KeyRing()
    u = stack.upstream("u")
    g = stack.gateway({
        "listen": [{"underscores_in_headers": True}],
        "upstreams": {"u": upstream_conf(u)},
        "plugins": {"auth": {"type": "jwt", "issuer": ring.issuer,
                             "audiences": [ring.audience], "keys": {"jwks": ring.jwks(["ES256"])},
                             "claims_to_headers": {"sub": "X-Auth-Subject",
                                                   "org.id": "X-Auth-Org"}}},
        "routes": [{"name": "api", "match": {"path_prefix": "/"}, "upstream": "u",
                    "plugins": ["auth"]}]})
    tok = ring.token("ES256", sub="alice").encode()
    r0 = u.raw_mark()
    st, _, body = send(g, b"GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer " + tok +
                       b"\r\nX_Auth_Subject: mallory\r\nx-auth_subject: mallory\r\n"
                       b"X_Auth_Org: evil\r\nX_Other: kept\r\nConnection: close\r\n\r\n")
    assert st == 200, body
    # answered 200: the upstream logged the raw bytes before it answered
    got = heads(b"".join(u.raw_since(r0).values()))
    assert [v for k, v in got if k.lower().replace("_", "-") == "x-auth-subject"] == ["alice"]
    assert not [k for k, v in got if k.lower().replace("_", "-") == "x-auth-org"], got
    assert ("X_Other", "kept") in got
