"""Routing: host (exact, wildcard, any), path (exact, template, prefix),
methods, 404/405, most specific route wins."""
import pytest
import requests

from conftest import assert_problem, parse_response, raw_request, upstream_conf

ROUTES = [
    # name, match
    ("exact_host", {"host": "api.example.com", "path_prefix": "/"}),
    ("wild_host", {"host": "*.example.com", "path_prefix": "/"}),
    ("wild_deep", {"host": "*.deep.example.com", "path_prefix": "/"}),
    ("host_exact_path", {"host": "api.example.com", "path": "/special"}),
    ("items_exact", {"path": "/items/new"}),
    ("items_tpl", {"path_template": "/items/{id}"}),
    ("items_tpl_sub", {"path_template": "/items/{id}/tags/{tag}"}),
    ("items_prefix", {"path_prefix": "/items"}),
    ("api", {"path_prefix": "/api"}),
    ("api_v1", {"path_prefix": "/api/v1"}),
    ("dir", {"path_prefix": "/dir/"}),
    ("get_only", {"path": "/ro", "methods": ["GET"]}),
    ("post_ro", {"path": "/rw", "methods": ["POST"]}),
    ("put_ro", {"path": "/rw", "methods": ["PUT", "DELETE"]}),
    ("exact", {"path": "/exact"}),
]


@pytest.fixture(scope="module")
def env(module_stack):
    u = module_stack.upstream("u")
    plugins = {"tag_" + n: {"type": "headers", "request": {"set": {"X-Route": n}}}
               for n, _ in ROUTES}
    routes = [{"name": n, "match": m, "upstream": "u", "plugins": ["tag_" + n]} for n, m in ROUTES]
    g = module_stack.gateway({"upstreams": {"u": upstream_conf(u)}, "plugins": plugins,
                              "routes": routes})
    return u, g


def route_of(g, path, host="other.test", method="GET"):
    r = requests.request(method, g.url + path, headers={"Host": host}, timeout=5)
    if r.status_code != 200:
        return r.status_code, r
    return [v for k, v in r.json()["headers"] if k == "X-Route"][0], r


@pytest.mark.parametrize("host,path,want", [
    ("api.example.com", "/anything", "exact_host"),
    ("API.Example.COM", "/anything", "exact_host"),
    ("api.example.com:8080", "/anything", "exact_host"),
    ("api.example.com.", "/anything", "exact_host"),
    ("www.example.com", "/anything", "wild_host"),
    ("a.b.example.com", "/anything", "wild_host"),
    ("x.deep.example.com", "/anything", "wild_deep"),
    ("api.example.com", "/special", "host_exact_path"),
    # the exact-host table matches the path, so it decides
    ("api.example.com", "/exact", "exact_host"),
    # example.com itself is not *.example.com: falls to any-host routes
    ("example.com", "/exact", "exact"),
    ("example.com", "/anything", 404),
    ("notexample.com", "/exact", "exact"),
    ("evil-example.com", "/anything", 404),
])
def test_host_matching(env, host, path, want):
    u, g = env
    got, r = route_of(g, path, host)
    assert got == want, (host, path, got)


@pytest.mark.parametrize("path,want", [
    ("/items/new", "items_exact"),
    ("/items/42", "items_tpl"),
    ("/items/42/tags/red", "items_tpl_sub"),
    ("/items", "items_prefix"),
    ("/items/", "items_prefix"),  # empty segment: not a template param
    ("/items/42/other", "items_prefix"),
    ("/items/42/tags", "items_prefix"),
    ("/api", "api"),
    ("/api/x", "api"),
    ("/api/v1", "api_v1"),
    ("/api/v1/x", "api_v1"),
    ("/api/v10", "api"),
    ("/apix", 404),
    ("/dir/", "dir"),
    ("/dir/x", "dir"),
    ("/dir", 404),
    ("/exact", "exact"),
    ("/exact/", 404),
    ("/exactly", 404),
    ("/", 404),
])
def test_path_matching_and_specificity(env, path, want):
    u, g = env
    got, r = route_of(g, path)
    assert got == want, (path, got)


def test_no_route_404_problem(env):
    u, g = env
    r = requests.get(g.url + "/nowhere", timeout=5)
    assert_problem(r, 404)


def test_methods_and_405_allow(env):
    u, g = env
    assert route_of(g, "/ro")[0] == "get_only"
    assert requests.head(g.url + "/ro", timeout=5).status_code == 200  # GET serves HEAD
    r = requests.post(g.url + "/ro", timeout=5)
    assert_problem(r, 405)
    allow = {m.strip() for m in r.headers["Allow"].split(",")}
    assert allow == {"GET", "HEAD"}, allow
    assert route_of(g, "/rw", method="POST")[0] == "post_ro"
    assert route_of(g, "/rw", method="PUT")[0] == "put_ro"
    assert route_of(g, "/rw", method="DELETE")[0] == "put_ro"
    r = requests.get(g.url + "/rw", timeout=5)
    assert_problem(r, 405)
    allow = {m.strip() for m in r.headers["Allow"].split(",")}
    assert allow == {"POST", "PUT", "DELETE"}, allow


def test_unknown_method_on_restricted_route(env):
    u, g = env
    n0 = u.mark()
    resp = raw_request(g.port, b"BREW /ro HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    st = parse_response(resp)[0]
    assert st in (405, 400, 501), resp[:200]
    if st == 405:
        assert_problem(parse_response(resp), 405)
    assert u.since(n0) == []


def test_template_does_not_match_empty_or_encoded_slash(env):
    u, g = env
    n0 = u.mark()
    r = requests.get(g.url + "/items/a%2Fb", timeout=5)
    assert_problem(r, 400)
    assert u.since(n0) == []


def test_no_routes_everything_404(stack):
    g = stack.gateway({"routes": []})
    for p in ("/", "/x", "/metrics", "/healthz"):
        assert_problem(requests.get(g.url + p, timeout=5), 404)
