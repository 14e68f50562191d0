"""Admin listener: /healthz, /readyz, /metrics, /config; never on the
public port."""
import re

import pytest
import requests

from conftest import assert_problem, free_port, upstream_conf

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (-?[0-9.eE+-]+|\+Inf|NaN)$')


def parse_metrics(text):
    """{(name, frozenset(labels)): value}; asserts the text format is sane."""
    out = {}
    types = {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
            continue
        if line.startswith("#"):
            continue
        m = LINE.match(line)
        assert m, "bad metrics line: %r" % line
        labels = {}
        if m.group(3):
            for part in re.findall(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"', m.group(3)):
                labels[part[0]] = part[1]
        key = (m.group(1), frozenset(labels.items()))
        assert key not in out, "duplicate series %r" % line
        out[key] = float(m.group(4))
    for (name, _), _v in out.items():
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or base in types, "no TYPE for %s" % name
    return out, types


def series(metrics, name, **labels):
    want = set(labels.items())
    return {k: v for k, v in metrics.items() if k[0] == name and want <= set(k[1])}


@pytest.fixture(scope="module")
def env(module_stack):
    u = module_stack.upstream("u")
    dead = "http://127.0.0.1:%d" % free_port()
    g = module_stack.gateway({
        "upstreams": {"u": upstream_conf(u), "dead": upstream_conf(dead)},
        "routes": [{"name": "api", "match": {"path_prefix": "/api"}, "upstream": "u"},
                   {"name": "down", "match": {"path_prefix": "/down"}, "upstream": "dead"},
                   {"name": "ro", "match": {"path": "/ro", "methods": ["GET"]},
                    "upstream": "u"}]})
    return u, g


def test_healthz(env):
    u, g = env
    r = requests.get(g.admin_url + "/healthz", timeout=5)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    assert r.headers.get("Cache-Control") == "no-store"


def test_readyz(env):
    u, g = env
    r = requests.get(g.admin_url + "/readyz", timeout=5)
    assert r.status_code == 200 and r.json() == {"ready": True}


def test_config_endpoint(env):
    u, g = env
    r = requests.get(g.admin_url + "/config", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc["generation"] == 1
    assert re.match(r"^\d+\.\d+", doc["version"])


def test_admin_unknown_path_and_method(env):
    u, g = env
    assert_admin = requests.get(g.admin_url + "/nope", timeout=5)
    assert assert_admin.status_code == 404
    assert assert_admin.headers["Content-Type"].startswith("application/problem+json")
    r = requests.post(g.admin_url + "/metrics", data=b"x", timeout=5)
    assert r.status_code == 405
    assert "GET" in r.headers.get("Allow", "")


def test_metrics_format_and_counts(env):
    u, g = env
    before, _ = parse_metrics(g.metrics())
    for _ in range(7):
        assert requests.get(g.url + "/api/x", timeout=5).status_code == 200
    for _ in range(3):
        assert requests.get(g.url + "/api/x?status=503", timeout=5).status_code == 503
    assert requests.get(g.url + "/nowhere", timeout=5).status_code == 404
    assert requests.post(g.url + "/ro", timeout=5).status_code == 405
    for _ in range(2):
        assert requests.get(g.url + "/down", timeout=5).status_code == 502
    r = requests.get(g.admin_url + "/metrics", timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    after, types = parse_metrics(r.text)

    def delta(name, **labels):
        a = sum(series(after, name, **labels).values())
        b = sum(series(before, name, **labels).values())
        return a - b

    assert types["portcullis_requests_total"] == "counter"
    assert types["portcullis_request_duration_seconds"] == "histogram"
    assert types["portcullis_connections_active"] == "gauge"
    assert types["portcullis_config_generation"] == "gauge"
    assert delta("portcullis_requests_total", route="api", status="200") == 7
    assert delta("portcullis_requests_total", route="api", status="503") == 3
    assert delta("portcullis_requests_total", route="down", status="502") == 2
    assert delta("portcullis_requests_total", status="404") == 1
    assert delta("portcullis_requests_total", status="405") == 1
    assert delta("portcullis_upstream_errors_total", upstream="dead", kind="connect") == 2
    assert delta("portcullis_upstream_errors_total", upstream="u") == 0
    assert delta("portcullis_request_duration_seconds_count", route="api") == 10
    assert series(after, "portcullis_config_generation") == {
        ("portcullis_config_generation", frozenset()): 1.0}
    assert len(series(after, "portcullis_connections_active")) == 1


def test_histogram_is_cumulative(env):
    u, g = env
    requests.get(g.url + "/api/h?delay_ms=30", timeout=5)
    m, _ = parse_metrics(g.metrics())
    buckets = series(m, "portcullis_request_duration_seconds_bucket", route="api")
    by_le = sorted(((float(dict(k[1])["le"]), v) for k, v in buckets.items()))
    values = [v for _, v in by_le]
    assert values == sorted(values), by_le
    assert by_le[-1][0] == float("inf")
    count = series(m, "portcullis_request_duration_seconds_count", route="api")
    assert list(count.values()) == [by_le[-1][1]]
    total = sum(series(m, "portcullis_requests_total", route="api").values())
    assert total == by_le[-1][1]


@pytest.mark.parametrize("path", ["/metrics", "/healthz", "/readyz", "/config"])
def test_admin_not_on_public_port(env, path):
    u, g = env
    r = requests.get(g.url + path, timeout=5)
    assert_problem(r, 404)


def test_admin_paths_on_public_port_go_to_routes(stack):
    u = stack.upstream("u")
    g = stack.gateway({"upstreams": {"u": upstream_conf(u)},
                       "routes": [{"name": "all", "match": {"path_prefix": "/"}, "upstream": "u"}]})
    r = requests.get(g.url + "/metrics", timeout=5)
    assert r.status_code == 200
    assert r.json()["target"] == "/metrics"  # the upstream's answer, not the gateway's metrics
    assert "portcullis_" not in r.text


def test_admin_port_serves_no_routes(env):
    u, g = env
    n0 = u.mark()
    r = requests.get(g.admin_url + "/api/x", timeout=5)
    assert r.status_code == 404
    assert u.since(n0) == []


def test_config_validation_admin_overlap(tmp_path):
    """The admin port may not be a listener's port."""
    import json
    import subprocess
    from conftest import TEST_BINARY
    p = tmp_path / "c.json"
    p.write_text(json.dumps({"listen": [{"address": "127.0.0.1", "port": 18080}],
                             "admin": {"address": "127.0.0.1", "port": 18080},
                             "routes": []}))
    r = subprocess.run([TEST_BINARY, "-t", "-c", str(p)], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 1
    assert "error: admin" in r.stderr
