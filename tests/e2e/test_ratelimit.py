"""rate_limit plugin on the memory store: 429 problem+json with Retry-After and
the IETF RateLimit headers, several limits in one check, sliding window, key
kinds (subject, client IP, header, route param, claim, combinations) with the
client-IP fallback, scopes (global, route, group), one limit shared by every
worker, config errors with JSON paths, and the memory bound under a flood of
distinct keys (metrics)."""
import re
import time

import requests

from conftest import (assert_problem, rl_bearer, rl_burst, rl_check_config, rl_metric,
                      simple_config)


def rl(limits, **kw):
    d = {"type": "rate_limit", "limits": limits}
    d.update(kw)
    return d


def cfg_with(u, plugins, routes=None, **top):
    c = simple_config(u, routes=routes or [
        {"name": "all", "match": {"path_prefix": "/"}, "upstream": "u",
         "plugins": list(plugins)}])
    c["plugins"] = plugins
    c.update(top)
    return c


def get(g, path="/", headers=None, session=None):
    return (session or requests).get(g.url + path, headers=headers or {}, timeout=10)


# ---- the answer -------------------------------------------------------------------


def test_limit_answers_429_problem_with_headers(upstream, gateway):
    u = upstream("u")
    g = gateway(cfg_with(u, {"rl": rl([{"rate": 3, "period": "1m"}],
                                      key=[{"header": "X-User"}])}))
    s = requests.Session()
    ok = [get(g, "/a", {"X-User": "ann"}, s) for _ in range(3)]
    assert [r.status_code for r in ok] == [200, 200, 200]
    assert "RateLimit" not in ok[0].headers  # "headers": false by default
    r = get(g, "/a", {"X-User": "ann"}, s)
    doc = assert_problem(r, 429)
    assert doc["type"].endswith("rate_limit.exceeded")
    assert r.headers["RateLimit-Policy"] == '"default";q=3;w=60'
    m = re.fullmatch(r'"default";r=0;t=(\d+)', r.headers["RateLimit"])
    assert m and 1 <= int(m.group(1)) <= 60, r.headers["RateLimit"]
    # GCRA 3/min: one more request every 20 s
    assert 1 <= int(r.headers["Retry-After"]) <= 20
    # another user is not affected; the denied request never reached the upstream
    assert get(g, "/a", {"X-User": "bob"}).status_code == 200
    assert len(u.requests()) == 4
    assert rl_metric(g, "portcullis_ratelimit_limited_total") == 1


def test_headers_on_allowed_responses(upstream, gateway):
    u = upstream("u")
    g = gateway(cfg_with(u, {"rl": rl([{"rate": 3, "period": "10s", "name": "per10s"}],
                                      key=[{"header": "X-User"}], headers=True)}))
    s = requests.Session()
    seen = []
    for _ in range(3):
        r = get(g, "/", {"X-User": "ann"}, s)
        assert r.status_code == 200
        assert r.headers["RateLimit-Policy"] == '"per10s";q=3;w=10'
        seen.append(r.headers["RateLimit"])
    assert [re.match(r'"per10s";r=(\d+);t=\d+', h).group(1) for h in seen] == ["2", "1", "0"]


def test_several_limits_in_one_check(upstream, gateway):
    """5/s and 7/h checked together: the per-second limit stops the burst,
    the hourly one stops the 8th request; a refused request consumes nothing."""
    u = upstream("u")
    g = gateway(cfg_with(u, {"rl": rl([{"rate": 5, "period": "1s"},
                                       {"rate": 7, "period": "1h", "name": "hourly"}],
                                      key=[{"header": "X-User"}])}))
    s = requests.Session()
    h = {"X-User": "ann"}
    assert [get(g, "/", h, s).status_code for _ in range(5)] == [200] * 5
    r = get(g, "/", h, s)
    assert r.status_code == 429
    assert r.headers["RateLimit-Policy"] == '"limit1";q=5;w=1, "hourly";q=7;w=3600'
    assert r.headers["RateLimit"].startswith('"limit1";r=0;')
    assert r.headers["Retry-After"] == "1"
    for _ in range(5):  # refused requests consume nothing from the hourly limit
        assert get(g, "/", h, s).status_code == 429
    time.sleep(0.45)  # two more per-second tokens (one every 200 ms)
    assert [get(g, "/", h, s).status_code for _ in range(2)] == [200, 200]
    time.sleep(1.1)
    r = get(g, "/", h, s)
    assert r.status_code == 429
    assert r.headers["RateLimit"].startswith('"hourly";r=0;'), r.headers
    assert int(r.headers["Retry-After"]) > 60
    assert len(u.requests()) == 7


def test_sliding_window(upstream, gateway):
    u = upstream("u")
    g = gateway(cfg_with(u, {"rl": rl([{"rate": 4, "period_ms": 60000,
                                        "algorithm": "sliding_window"}],
                                      key=[{"header": "X-User"}], headers=True)}))
    s = requests.Session()
    got = [get(g, "/", {"X-User": "ann"}, s) for _ in range(6)]
    assert [r.status_code for r in got] == [200, 200, 200, 200, 429, 429]
    assert got[4].headers["RateLimit-Policy"] == '"default";q=4;w=60'
    assert int(got[4].headers["Retry-After"]) >= 1


# ---- keys --------------------------------------------------------------------------


def test_key_subject_then_client_ip_fallback(upstream, gateway):
    """Default key: the verified subject. Without one, the client IP (here
    from X-Forwarded-For through a trusted proxy): never a shared bucket."""
    u = upstream("u")
    plugins = {"auth": {"type": "test_auth"},
               "rl": rl([{"rate": 2, "period": "1m"}])}
    c = cfg_with(u, plugins, routes=[
        {"name": "api", "match": {"path_prefix": "/api"}, "upstream": "u",
         "plugins": ["auth", "rl"]},
        {"name": "open", "match": {"path_prefix": "/open"}, "upstream": "u",
         "plugins": ["rl"]}])
    c["listen"] = [{"trusted_proxies": ["127.0.0.1"]}]
    g = gateway(c)
    for who in ("alice", "bob"):
        assert [get(g, "/api", rl_bearer(who)).status_code for _ in range(3)] == [200, 200, 429]
    # no subject: per client IP; a subject spelled like that IP is another bucket
    ip1, ip2 = {"X-Forwarded-For": "192.0.2.1"}, {"X-Forwarded-For": "192.0.2.2"}
    assert [get(g, "/open", ip1).status_code for _ in range(3)] == [200, 200, 429]
    assert [get(g, "/open", ip2).status_code for _ in range(3)] == [200, 200, 429]
    assert [get(g, "/api", rl_bearer("192.0.2.3")).status_code for _ in range(2)] == [200, 200]
    assert get(g, "/open", {"X-Forwarded-For": "192.0.2.3"}).status_code == 200


def test_key_header_param_claim_and_combination(upstream, gateway):
    u = upstream("u")
    lim = [{"rate": 1, "period": "1m"}]
    plugins = {
        "auth": {"type": "test_auth"},
        "by_key": rl(lim, key=[{"header": "X-Api-Key"}]),
        "by_tenant": rl(lim, key=[{"param": "tenant"}]),
        "by_client": rl(lim, key=[{"claim": "azp"}]),
        "by_both": rl(lim, key=["subject", {"header": "X-Device"}]),
    }
    routes = [
        {"name": "k", "match": {"path_prefix": "/k"}, "upstream": "u", "plugins": ["by_key"]},
        {"name": "t", "match": {"path_template": "/t/{tenant}/x"}, "upstream": "u",
         "plugins": ["by_tenant"]},
        {"name": "c", "match": {"path_prefix": "/c"}, "upstream": "u",
         "plugins": ["auth", "by_client"]},
        {"name": "b", "match": {"path_prefix": "/b"}, "upstream": "u",
         "plugins": ["auth", "by_both"]},
    ]
    c = cfg_with(u, plugins, routes=routes)
    c["listen"] = [{"trusted_proxies": ["127.0.0.1"]}]
    g = gateway(c)
    k1, k2 = {"X-Api-Key": "key-one"}, {"X-Api-Key": "key-two"}
    assert [get(g, "/k", k1).status_code, get(g, "/k", k1).status_code] == [200, 429]
    assert get(g, "/k", k2).status_code == 200
    assert [get(g, "/t/acme/x").status_code, get(g, "/t/acme/x").status_code] == [200, 429]
    assert get(g, "/t/globex/x").status_code == 200
    # two users of one client application share its bucket
    assert get(g, "/c", rl_bearer("u1", azp="app-1")).status_code == 200
    assert get(g, "/c", rl_bearer("u2", azp="app-1")).status_code == 429
    assert get(g, "/c", rl_bearer("u3", azp="app-2")).status_code == 200
    # combination: subject AND device
    a1 = dict(rl_bearer("ann"), **{"X-Device": "phone"})
    a2 = dict(rl_bearer("ann"), **{"X-Device": "laptop"})
    assert [get(g, "/b", a1).status_code, get(g, "/b", a1).status_code] == [200, 429]
    assert get(g, "/b", a2).status_code == 200
    # missing key material -> the client IP, per client
    nokey1, nokey2 = {"X-Forwarded-For": "198.51.100.1"}, {"X-Forwarded-For": "198.51.100.2"}
    assert [get(g, "/k", nokey1).status_code, get(g, "/k", nokey1).status_code] == [200, 429]
    assert get(g, "/k", nokey2).status_code == 200
    # a token without azp: falls back to the IP, not to a shared "no azp" bucket
    assert get(g, "/c", dict(rl_bearer("v1"), **nokey1)).status_code == 200
    assert get(g, "/c", dict(rl_bearer("v2"), **nokey2)).status_code == 200


def test_scopes_global_route_group(upstream, gateway):
    u = upstream("u")
    lim = [{"rate": 2, "period": "1m"}]
    k = [{"header": "X-User"}]
    plugins = {
        "glob": rl(lim, key=k),                       # default scope: global
        "perroute": rl(lim, key=k, scope="route"),
        "grp_a": rl(lim, key=k, scope={"group": "orders"}, headers=True),
        "grp_b": rl(lim, key=k, scope={"group": "orders"}),
    }
    routes = []
    for name, plugin in (("g1", "glob"), ("g2", "glob"), ("r1", "perroute"), ("r2", "perroute"),
                         ("o1", "grp_a"), ("o2", "grp_b")):
        routes.append({"name": name, "match": {"path_prefix": "/" + name}, "upstream": "u",
                       "plugins": [plugin]})
    g = gateway(cfg_with(u, plugins, routes=routes))
    h = {"X-User": "ann"}
    assert [get(g, p, h).status_code for p in ("/g1", "/g2", "/g1", "/g2")] == [200, 200, 429, 429]
    assert [get(g, p, h).status_code for p in ("/r1", "/r2", "/r1", "/r2", "/r1")] == \
        [200, 200, 200, 200, 429]
    assert [get(g, p, h).status_code for p in ("/o1", "/o2", "/o1", "/o2")] == [200, 200, 429, 429]


def test_workers_share_one_memory_limit(upstream, gateway):
    """4 workers, 60 connections, one limit of 25: exactly 25 pass."""
    u = upstream("u")
    g = gateway(cfg_with(u, {"rl": rl([{"rate": 25, "period": "1h"}],
                                      key=[{"header": "X-User"}])}, workers=4))
    got = rl_burst([g.url + "/"], 200, {"X-User": "ann"}, threads=60)
    assert got.count(200) == 25 and got.count(429) == 175, got


# ---- configuration -------------------------------------------------------------


def test_config_errors_have_json_paths(tmp_path, upstream):
    u = upstream("u")
    cases = [
        ({"limits": []}, "plugins.rl.limits: must be a list of 1 to 8 limits"),
        ({"limits": [{"rate": 10}]}, "plugins.rl.limits[0].period: required"),
        ({"limits": [{"rate": 10, "period": "1 s"}]}, "plugins.rl.limits[0].period: must be a duration"),
        ({"limits": [{"rate": 0, "period": "1s"}]}, "plugins.rl.limits[0].rate: must be an integer"),
        ({"limits": [{"rate": 5, "period": "1s", "burst": 2, "algorithm": "sliding_window"}]},
         "plugins.rl.limits[0].burst: only for algorithm gcra"),
        ({"limits": [{"rate": 5, "period": "1s", "algorithm": "leaky"}]},
         "plugins.rl.limits[0].algorithm: must be"),
        ({"limits": [{"rate": 5, "period": "1s", "colour": 1}]},
         "plugins.rl.limits[0].colour: unknown key"),
        ({"limits": [{"rate": 5, "period": "1s"}], "key": ["subject", {"cookie": "x"}]},
         "plugins.rl.key[1]: unknown part"),
        ({"limits": [{"rate": 5, "period": "1s"}], "scope": "everywhere"},
         "plugins.rl.scope: must be"),
        ({"limits": [{"rate": 5, "period": "1s"}], "on_error": "maybe"},
         "plugins.rl.on_error: must be"),
        ({"limits": [{"rate": 5, "period": "1s"}], "limit": 3}, "plugins.rl.limit: unknown key"),
    ]
    for i, (body, want) in enumerate(cases):
        body = dict(body, type="rate_limit")
        cfg = cfg_with(u, {"rl": body})
        cfg["listen"] = [{"port": 18999}]
        rc, err = rl_check_config(tmp_path, cfg, name="c%d.json" % i)
        assert rc == 1 and want in err, (body, err)


def test_memory_store_stays_within_its_bound(upstream, gateway):
    """A flood of distinct keys into a 1 MiB store: it evicts and stays within
    max_bytes (the 1,000,000-key version is tests/unit/test_store_memory.c)."""
    u = upstream("u")
    g = gateway(cfg_with(u, {"rl": rl([{"rate": 100, "period": "1h"}],
                                      key=[{"header": "X-Api-Key"}])},
                         store={"type": "memory", "max_bytes": 1048576}))
    n = 12000
    got = rl_burst([g.url + "/"], n, lambda i: {"X-Api-Key": "k%d" % i}, threads=16)
    assert got.count(200) == n
    used = rl_metric(g, "portcullis_store_memory_bytes")
    assert rl_metric(g, "portcullis_store_memory_max_bytes") == 1048576
    assert 0 < used <= 1048576
    assert rl_metric(g, "portcullis_store_memory_evicted_total") > 0
    assert rl_metric(g, "portcullis_store_memory_entries") < n
