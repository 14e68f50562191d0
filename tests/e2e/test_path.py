"""Canonical paths: the upstream receives only the canonical path, routing
uses it, and ambiguous encodings are refused."""
import pytest

from conftest import assert_problem, parse_response, raw_request, upstream_conf


def get(port, target, host=b"a"):
    resp = raw_request(port, b"GET " + target + b" HTTP/1.1\r\nHost: " + host +
                       b"\r\nConnection: close\r\n\r\n", timeout=3)
    return parse_response(resp)


class Env:
    def __init__(self, api, admin, g):
        self.api, self.admin, self.g = api, admin, g
        self.ma, self.mb = api.mark(), admin.mark()
        self.ra, self.rb = api.raw_mark(), admin.raw_mark()

    def fwd(self):
        """(api requests, admin requests) since the test began, read once a
        barrier request through /api has reached the api upstream. Where no
        request was parsed, no byte may have arrived either."""
        raw_api = self.api.forwarded_since(self.ra, self.g, "/api/__barrier__")
        raw_admin = b"".join(self.admin.raw_since(self.rb).values())
        a = [r for r in self.api.since(self.ma) if not r["path"].startswith("/api/__barrier__")]
        b = self.admin.since(self.mb)
        if not a:
            assert raw_api == b"", raw_api[:300]
        if not b:
            assert raw_admin == b"", raw_admin[:300]
        return a, b


@pytest.fixture(scope="module")
def shared(module_stack):
    api = module_stack.upstream("api")
    admin = module_stack.upstream("admin")
    g = module_stack.gateway({
        "upstreams": {"api": upstream_conf(api), "admin": upstream_conf(admin)},
        "plugins": {"deny": {"type": "test_async", "verdict": "deny", "status": 403,
                             "sync": True}},
        "routes": [
            {"name": "api", "match": {"path_prefix": "/api"}, "upstream": "api"},
            {"name": "admin", "match": {"path_prefix": "/admin"}, "upstream": "admin",
             "plugins": ["deny"]},
            {"name": "public", "match": {"path": "/admin/public"}, "upstream": "admin"},
            {"name": "literal", "match": {"path_prefix": "/api/literal"}, "upstream": "api",
             "allow_double_encoding": True},
        ]})
    return api, admin, g


@pytest.fixture
def env(shared):
    return Env(*shared)


@pytest.mark.parametrize("raw,canonical", [
    (b"/api/./a/../b", "/api/b"),
    (b"//api///x", "/api/x"),
    (b"/api/%61", "/api/a"),
    (b"/api/%7E", "/api/~"),
    (b"/api/%7e", "/api/~"),
    (b"/api/x/.", "/api/x/"),
    (b"/api/x/y/..", "/api/x/"),
    (b"/api/%C3%A9", "/api/%C3%A9"),
    (b"/api/\xc3\xa9", "/api/%C3%A9"),
    (b"/api/%c3%a9", "/api/%C3%A9"),
    (b"/api/a%20b", "/api/a%20b"),
    (b"/api/%25", "/api/%25"),
    (b"/api/%3F", "/api/%3F"),
    (b"/api/a;b", "/api/a;b"),
])
def test_upstream_sees_canonical_path(env, raw, canonical):
    api, g = env.api, env.g
    st, h, body = get(g.port, raw)
    assert st == 200, body
    assert api.requests()[-1]["target"] == canonical


def test_query_is_not_canonicalised(env):
    api, g = env.api, env.g
    st, h, body = get(g.port, b"/api/./x?a=%2F&b=..&c=%00")
    assert st == 200
    assert api.requests()[-1]["target"] == "/api/x?a=%2F&b=..&c=%00"


@pytest.mark.parametrize("raw", [
    b"/api/%2F", b"/api/%2f", b"/api/a%2Fb", b"/api/%00", b"/api\\x", b"/api/%5C", b"/api/%5c",
    b"/api/\xff", b"/api/%ff", b"/api/%C3%28", b"/api/%C0%AF", b"/api/%E0%80%AF",
    b"/api/%ED%A0%80", b"/api/..%2f", b"/api/..%2fadmin", b"/api/%2e%2e%2fadmin",
    b"/api/%", b"/api/%4", b"/api/%zz", b"/api/\x01", b"/api/\x7f", b"*", b"api",
])
def test_bad_paths_400(env, raw):
    g = env.g
    resp = get(g.port, raw)
    assert_problem(resp, 400)
    assert env.fwd() == ([], [])


@pytest.mark.parametrize("raw", [
    b"/api/../admin", b"/api/%2e%2e/admin", b"/api/%2E%2E/admin", b"/api/.%2e/admin",
    b"/api/%2e./admin", b"/api/./../admin", b"//admin", b"/./admin", b"/api/x/../../admin",
    b"/api/../admin/", b"/api/../admin/x", b"/%61dmin", b"/%61%64%6d%69%6e/x",
    b"/api/..;/admin",
])
def test_admin_not_reachable_through_api_tricks(env, raw):
    """Whatever the spelling, a path whose canonical form is under /admin is
    routed to the admin route (denied here), and the api upstream never
    receives anything that a backend could resolve to /admin."""
    g = env.g
    resp = get(g.port, raw)
    st = resp[0]
    assert st in (403, 400), resp
    if st == 403:
        assert_problem(resp, 403)
    assert env.fwd() == ([], [])


def test_double_encoding_refused_by_default(env):
    """%252e is "%2e" for us and a '.' for an upstream that decodes twice:
    refused (as WAFs do) unless the route allows it."""
    g = env.g
    assert_problem(get(g.port, b"/api/%252e%252e/admin"), 400)
    assert env.fwd() == ([], [])


def test_double_encoding_stays_literal(env):
    """On a route that allows it, %252e is the literal text "%2e", not a
    dot: it stays under the route and is forwarded as is."""
    g = env.g
    st, h, body = get(g.port, b"/api/literal/%252e%252e/admin")
    assert st == 200
    assert [r["target"] for r in env.fwd()[0]] == ["/api/literal/%252e%252e/admin"]
    assert env.fwd()[1] == []


def test_exact_route_reachable_by_canonical_form_only(env):
    g = env.g
    for raw in (b"/admin/public", b"/admin/./public", b"//admin//public", b"/admin/x/../public",
                b"/%61dmin/public"):
        st, h, body = get(g.port, raw)
        assert st == 200, (raw, body)
    assert [r["target"] for r in env.fwd()[1]] == ["/admin/public"] * 5
    assert env.fwd()[0] == []


def test_dot_segments_above_root(env):
    api, g = env.api, env.g
    st, h, body = get(g.port, b"/../../api/x")
    assert st in (200, 400)
    if st == 200:
        assert api.requests()[-1]["target"] == "/api/x"


def test_path_case_sensitive(env):
    g = env.g
    resp = get(g.port, b"/ADMIN")
    assert_problem(resp, 404)
    assert env.fwd() == ([], [])


def test_space_in_request_target_not_forwarded(env):
    g = env.g
    resp = raw_request(g.port, b"GET /api/a b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                       timeout=3)
    st = parse_response(resp)[0]
    assert st in (400, None), resp[:200]
    assert env.fwd() == ([], [])
