"""brute_force plugin (failed-authentication lockout) on the memory store:
invalid tokens refused by an authenticating plugin lock the client IP out,
their claimed subjects are not counted, upstream 401s count on login routes only,
missing credentials and good requests do not count, every lockout is logged,
and the lockout ends by itself. The test_auth plugin stands in for jwt."""
import re
import time

import requests

from conftest import (assert_problem, rl_bearer, rl_check_config, rl_metric, rl_wait_for,
                      simple_config)


def bf(**kw):
    d = {"type": "brute_force", "max_failures": 3, "window": "1m", "lockout": "2s"}
    d.update(kw)
    return d


def start_bf(upstream, gateway, bf_conf, extra_routes=(), trusted=True):
    u = upstream("u")
    cfg = simple_config(u, routes=[
        {"name": "api", "match": {"path_prefix": "/api"}, "upstream": "u",
         "plugins": ["bf", "auth"]},
        {"name": "login", "match": {"path_prefix": "/login"}, "upstream": "u",
         "plugins": ["bf"]},
        {"name": "other", "match": {"path_prefix": "/other"}, "upstream": "u",
         "plugins": ["bf"]},
    ] + list(extra_routes))
    cfg["plugins"] = {"bf": bf_conf, "auth": {"type": "test_auth"}}
    if trusted:
        cfg["listen"] = [{"trusted_proxies": ["127.0.0.1"]}]
    return u, gateway(cfg)


def get(g, path, headers=None):
    return requests.get(g.url + path, headers=headers or {}, timeout=10)


def locked(g, who):
    """Failures are counted in on_log, after the answer went out: wait
    until the lockout is stored (logged) before relying on it."""
    assert rl_wait_for(lambda: "brute_force: lockout of " + who in g.log(), 5), g.log()


def xff(ip, h=None):
    d = dict(h or {})
    d["X-Forwarded-For"] = ip
    return d


def test_invalid_tokens_lock_the_client_ip_out(upstream, gateway):
    u, g = start_bf(upstream, gateway, bf(subject=False))
    ip = "203.0.113.7"
    bad = xff(ip, {"Authorization": "Bearer not-a-token"})
    assert [get(g, "/api", bad).status_code for _ in range(3)] == [401, 401, 401]
    locked(g, "client_ip 203.0.113.7")
    # locked out: even a good token from that address
    r = get(g, "/api", xff(ip, rl_bearer("alice")))
    doc = assert_problem(r, 429)
    assert doc["type"].endswith("brute_force.locked_out")
    assert r.headers["Retry-After"] == "2"
    # another address is fine
    assert get(g, "/api", xff("203.0.113.8", rl_bearer("alice"))).status_code == 200
    assert re.search(r"\[warn\] brute_force: lockout of client_ip 203\.0\.113\.7 for 2 s after 3 "
                     r"failed authentications within 60 s \(route=api req=\S+\)", g.log()), g.log()
    assert rl_metric(g, "portcullis_bruteforce_failures_total") == 3
    assert rl_metric(g, "portcullis_bruteforce_lockouts_total") == 1
    assert rl_metric(g, "portcullis_bruteforce_denied_total") == 1
    time.sleep(2.1)
    assert get(g, "/api", xff(ip, rl_bearer("alice"))).status_code == 200
    # the lockout answers never reached the upstream
    assert len(u.requests()) == 2


def test_refused_credentials_count_per_ip_only(upstream, gateway):
    """A refused credential's claimed subject (a forged token's "sub", the
    user of a Basic header on a bearer route) vouches for nothing: only the
    address counts. (Two real addresses: test_bruteforce_subject.py.)"""
    import base64
    u, g = start_bf(upstream, gateway, bf(max_failures=10, subject_max_failures=3,
                                          subject_key="subject"))
    for i in range(3):  # forged tokens claiming alice, from three addresses
        assert get(g, "/api", xff("198.51.100.%d" % i, rl_bearer("alice", valid=False))).status_code == 401
    basic = {"Authorization": "Basic " + base64.b64encode(b"carol:wrong").decode()}
    for i in range(3):
        assert get(g, "/api", xff("192.0.2.%d" % i, basic)).status_code == 401
    assert rl_wait_for(lambda: rl_metric(g, "portcullis_bruteforce_failures_total") == 6, 5)
    assert get(g, "/api", xff("198.51.100.50", rl_bearer("alice"))).status_code == 200
    assert "lockout" not in g.log()


def test_missing_credentials_and_good_requests_do_not_count(upstream, gateway):
    u, g = start_bf(upstream, gateway, bf())
    for _ in range(6):
        assert get(g, "/api", xff("192.0.2.10")).status_code == 401  # no Authorization
        assert get(g, "/api", xff("192.0.2.10", rl_bearer("dave"))).status_code == 200
    assert rl_metric(g, "portcullis_bruteforce_failures_total") == 0
    assert "lockout" not in g.log()


def test_count_missing_counts_them(upstream, gateway):
    u, g = start_bf(upstream, gateway, bf(count_missing=True))
    assert [get(g, "/api", xff("192.0.2.11")).status_code for _ in range(3)] == [401, 401, 401]
    locked(g, "client_ip 192.0.2.11")
    assert get(g, "/api", xff("192.0.2.11")).status_code == 429


def test_upstream_401_counts_on_login_routes_only(upstream, gateway):
    # subject_key "subject": the account-wide lock (the default, the pair of
    # subject and address, is in test_bruteforce_subject.py)
    u, g = start_bf(upstream, gateway, bf(login_routes=["login"], subject_header="X-Login",
                                          subject_key="subject"))
    # a password grant passed through to the identity service, refused 3 times
    for i in range(3):
        r = get(g, "/login?status=401", xff("192.0.2.%d" % (20 + i), {"X-Login": "erin"}))
        assert r.status_code == 401
    locked(g, "subject erin")
    r = get(g, "/login", xff("192.0.2.30", {"X-Login": "erin"}))
    assert_problem(r, 429)
    # the same upstream answer on a route that is not a login route: not counted
    for _ in range(5):
        assert get(g, "/other?status=401", xff("192.0.2.40")).status_code == 401
    assert get(g, "/other", xff("192.0.2.40")).status_code == 200


def test_lockout_counts_upstream_401_per_ip(upstream, gateway):
    u, g = start_bf(upstream, gateway, bf(login_routes=["login"], subject=False))
    ip = xff("192.0.2.77")
    assert [get(g, "/login?status=401", ip).status_code for _ in range(3)] == [401, 401, 401]
    locked(g, "client_ip 192.0.2.77")
    assert get(g, "/login", ip).status_code == 429


def test_config_errors_have_json_paths(tmp_path, upstream):
    u = upstream("u")
    cases = [
        ({"max_failures": 0}, "plugins.bf.max_failures: must be an integer between 1"),
        ({"window": "5 minutes"}, "plugins.bf.window: must be a duration"),
        ({"lockout": "1m", "lockout_ms": 5}, "plugins.bf.lockout: give lockout or lockout_ms"),
        ({"login_routes": "login"}, "plugins.bf.login_routes: must be a list"),
        ({"subject": "yes"}, "plugins.bf.subject: must be true or false"),
        ({"threshold": 3}, "plugins.bf.threshold: unknown key"),
        ({"subject_key": "ip"}, "plugins.bf.subject_key: must be \"pair\" or \"subject\""),
        ({"subject_alert_failures": 0}, "plugins.bf.subject_alert_failures: must be an integer"),
    ]
    for i, (body, want) in enumerate(cases):
        cfg = simple_config(u, routes=[{"name": "a", "match": {"path_prefix": "/"},
                                        "upstream": "u", "plugins": ["bf"]}])
        cfg["plugins"] = {"bf": dict(body, type="brute_force")}
        cfg["listen"] = [{"port": 18998}]
        rc, err = rl_check_config(tmp_path, cfg, name="b%d.json" % i)
        assert rc == 1 and want in err, (body, err)
