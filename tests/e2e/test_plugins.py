"""The headers plugin (request and response edits) and chain order
(global_plugins first)."""
import json
import subprocess

import pytest
import requests

from conftest import TEST_BINARY, assert_problem, upstream_conf


def seen(r, name):
    return [v for k, v in r.json()["headers"] if k.lower() == name.lower()]


@pytest.fixture(scope="module")
def env(module_stack):
    u = module_stack.upstream("u")
    g = module_stack.gateway({
        "upstreams": {"u": upstream_conf(u)},
        "plugins": {
            "glob": {"type": "headers",
                     "request": {"set": {"X-Order": "global"}, "add": {"X-Chain": "g"}},
                     "response": {"add": {"X-Resp-Chain": "g"}}},
            "edit": {"type": "headers",
                     "request": {"remove": ["X-Remove-Me", "X-Set"],
                                 "set": {"X-Set": "gw", "X-Order": "route"},
                                 "add": {"X-Chain": "r", "X-Add": "a"}},
                     "response": {"remove": ["X-Up-Remove", "Server"],
                                  "set": {"X-Up-Set": "gw", "X-Frame-Options": "DENY"},
                                  "add": {"X-Resp-Chain": "r"}}},
            "deny": {"type": "test_async", "verdict": "deny", "status": 403, "sync": True},
        },
        "global_plugins": ["glob"],
        "routes": [
            {"name": "edit", "match": {"path_prefix": "/edit"}, "upstream": "u",
             "plugins": ["edit"]},
            {"name": "denied", "match": {"path_prefix": "/denied"}, "upstream": "u",
             "plugins": ["edit", "deny"]},
            {"name": "plain", "match": {"path_prefix": "/"}, "upstream": "u"},
        ]})
    return u, g


def test_request_headers_edited(env):
    u, g = env
    r = requests.get(g.url + "/edit", headers={"X-Remove-Me": "1", "x-set": "client",
                                               "X-Add": "client"}, timeout=5)
    assert r.status_code == 200
    assert seen(r, "X-Remove-Me") == []
    assert seen(r, "X-Set") == ["gw"]
    assert seen(r, "X-Add") == ["client", "a"]


def test_global_plugins_run_first(env):
    u, g = env
    r = requests.get(g.url + "/edit", timeout=5)
    assert seen(r, "X-Chain") == ["g", "r"]
    assert seen(r, "X-Order") == ["route"]
    r = requests.get(g.url + "/plain", timeout=5)
    assert seen(r, "X-Chain") == ["g"]
    assert seen(r, "X-Order") == ["global"]


def test_response_headers_edited(env):
    u, g = env
    r = requests.get(g.url + "/edit?header=X-Up-Remove:1&header=X-Up-Set:up&header=X-Up-Keep:k",
                     timeout=5)
    assert r.status_code == 200
    assert "X-Up-Remove" not in r.headers
    assert "Server" not in r.headers
    assert r.headers.get("X-Up-Set") == "gw"
    assert r.headers.get("X-Up-Keep") == "k"
    assert r.headers.get("X-Frame-Options") == "DENY"
    assert r.headers.get("X-Resp-Chain") in ("g, r", "g,r"), r.headers
    r = requests.get(g.url + "/plain?header=X-Up-Remove:1", timeout=5)
    assert r.headers.get("X-Up-Remove") == "1"
    assert r.headers.get("X-Resp-Chain") == "g"


def test_response_headers_on_gateway_answers(env):
    """Response edits recorded before a denial apply to the gateway's own answer."""
    u, g = env
    n0 = u.mark()
    r = requests.get(g.url + "/denied", timeout=5)
    assert_problem(r, 403)
    assert r.headers.get("X-Frame-Options") == "DENY"
    assert u.since(n0) == []


def test_client_cannot_spoof_gateway_headers_through_plugins(env):
    u, g = env
    r = requests.get(g.url + "/edit", headers={"X-Order": "client"}, timeout=5)
    assert seen(r, "X-Order") == ["route"]


# ---- plugins may not break framing or forwarding ------------------------------------


def check(tmp_path, cfg):
    p = tmp_path / "c.json"
    p.write_text(json.dumps(cfg))
    return subprocess.run([TEST_BINARY, "-t", "-c", str(p)], capture_output=True, text=True,
                          timeout=10)


def base(plugin):
    return {"workers": 1, "listen": [{"address": "127.0.0.1", "port": 18080}],
            "upstreams": {"u": {"targets": [{"url": "http://127.0.0.1:18081"}]}},
            "plugins": {"p": plugin},
            "routes": [{"name": "r", "match": {"path_prefix": "/"}, "upstream": "u",
                        "plugins": ["p"]}]}


@pytest.mark.parametrize("plugin,path", [
    ({"type": "headers", "request": {"set": {"Bad Name": "x"}}}, "plugins.p.request.set"),
    ({"type": "headers", "request": {"set": {"X-A": "a\nb"}}}, "plugins.p.request.set"),
    ({"type": "headers", "request": {"remove": "X-A"}}, "plugins.p.request.remove"),
    ({"type": "headers", "request": {"sett": {}}}, "plugins.p.request.sett"),
    ({"type": "headers", "requests": {}}, "plugins.p.requests"),
    ({"type": "headers", "response": {"add": {"X-A": 5}}}, "plugins.p.response.add"),
])
def test_headers_plugin_config_errors(tmp_path, plugin, path):
    p = check(tmp_path, base(plugin))
    assert p.returncode == 1, p.stderr
    assert any(l.startswith("error: " + path) for l in p.stderr.splitlines()), p.stderr


@pytest.mark.parametrize("name", ["Transfer-Encoding", "Content-Length", "Connection", "Host"])
def test_framing_headers_cannot_be_injected_upstream(stack, tmp_path, name):
    """A headers plugin that sets a framing header for the upstream must be
    refused by the config check, or the header must not reach the upstream
    in a way that changes framing (two lengths, length + chunked)."""
    value = {"Transfer-Encoding": "chunked", "Content-Length": "1", "Connection": "close",
             "Host": "internal.example"}[name]
    cfg = base({"type": "headers", "request": {"set": {name: value}}})
    if check(tmp_path, cfg).returncode != 0:
        return  # refused at load time: fine
    u = stack.upstream("u")
    cfg = {"upstreams": {"u": upstream_conf(u)}, "plugins": cfg["plugins"],
           "routes": cfg["routes"], "drain_timeout_ms": 500}
    g = stack.gateway(cfg)
    try:
        r = requests.post(g.url + "/x", data=b"hello", timeout=2)
    except requests.RequestException as e:
        pytest.fail("request failed: %r" % e)
    recs = u.requests()
    assert recs, "nothing reached the upstream (status %d)" % r.status_code
    hs = recs[-1]["headers"]
    cl = [v for k, v in hs if k.lower() == "content-length"]
    te = [v for k, v in hs if k.lower() == "transfer-encoding"]
    assert not (cl and te), hs
    assert len(cl) <= 1, hs
    if name in ("Content-Length", "Transfer-Encoding"):
        assert recs[-1]["body_len"] == 5, recs[-1]


@pytest.mark.parametrize("name", ["Content-Length", "Transfer-Encoding"])
def test_framing_headers_cannot_be_injected_downstream(stack, tmp_path, name):
    value = {"Transfer-Encoding": "chunked", "Content-Length": "1"}[name]
    cfg = base({"type": "headers", "response": {"set": {name: value}}})
    if check(tmp_path, cfg).returncode != 0:
        return
    u = stack.upstream("u")
    g = stack.gateway({"upstreams": {"u": upstream_conf(u)}, "plugins": cfg["plugins"],
                       "routes": cfg["routes"]})
    from conftest import raw_request
    resp = raw_request(g.port, b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    head = resp.split(b"\r\n\r\n")[0].lower()
    assert head.count(b"content-length:") + head.count(b"transfer-encoding:") == 1, resp[:600]
