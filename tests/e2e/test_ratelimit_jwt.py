"""rate_limit and brute_force with the real jwt plugin (HS256 static key):
limits keyed on the verified subject and on a client-id claim, and the
lockout earned by forged tokens (401 from jwt, an authenticating plugin),
per client IP only: their claimed subject is never counted."""
import time

import pytest
import requests

from conftest import assert_problem, rl_metric, rl_wait_for, simple_config

jwt = pytest.importorskip("jwt")

KEY = b"k" * 32
ISS, AUD = "https://idp.test", "api"


def tok(sub, key=KEY, **claims):
    now = int(time.time())
    payload = {"iss": ISS, "aud": AUD, "sub": sub, "iat": now, "exp": now + 600}
    payload.update(claims)
    return {"Authorization": "Bearer " + jwt.encode(payload, key, algorithm="HS256")}


def make(upstream, gateway, tmp_path, plugins, chain):
    keyfile = tmp_path / "hs256.key"
    keyfile.write_bytes(KEY)
    keyfile.chmod(0o600)
    u = upstream("u")
    cfg = simple_config(u, routes=[{"name": "api", "match": {"path_prefix": "/"},
                                    "upstream": "u", "plugins": chain}])
    plugins = dict(plugins)
    plugins["auth"] = {"type": "jwt", "issuer": ISS, "audiences": [AUD],
                       "algorithms": ["HS256"],
                       "keys": [{"hmac": {"file": str(keyfile)}, "alg": "HS256"}]}
    cfg["plugins"] = plugins
    cfg["listen"] = [{"trusted_proxies": ["127.0.0.1"]}]
    return u, gateway(cfg)


def get(g, headers, ip="192.0.2.1"):
    h = dict(headers)
    h["X-Forwarded-For"] = ip
    return requests.get(g.url + "/", headers=h, timeout=10)


def test_limits_per_verified_subject_and_per_client(upstream, gateway, tmp_path):
    u, g = make(upstream, gateway, tmp_path, {
        "per_user": {"type": "rate_limit", "limits": [{"rate": 2, "period": "1m"}],
                     "headers": True},
        "per_client": {"type": "rate_limit", "key": [{"claim": "azp"}],
                       "limits": [{"rate": 5, "period": "1m"}]},
    }, ["auth", "per_user", "per_client"])
    assert [get(g, tok("ann", azp="web")).status_code for _ in range(3)] == [200, 200, 429]
    assert [get(g, tok("bob", azp="web")).status_code for _ in range(2)] == [200, 200]
    # the client application "web" has used 4 of 5: one more for anyone
    assert get(g, tok("cat", azp="web")).status_code == 200
    r = get(g, tok("dan", azp="web"))
    assert_problem(r, 429)
    assert get(g, tok("dan", azp="cli")).status_code == 200
    # a forged token never reaches the limits: 401 from jwt
    assert get(g, tok("ann", key=b"x" * 32)).status_code == 401


def test_forged_tokens_lock_out_the_ip_not_the_subject(upstream, gateway, tmp_path):
    u, g = make(upstream, gateway, tmp_path, {
        "lockout": {"type": "brute_force", "max_failures": 3, "subject_max_failures": 3,
                    "window": "1m", "lockout": "1h"},
    }, ["lockout", "auth"])
    forged = tok("victim", key=b"x" * 32)
    for ip in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        assert get(g, forged, ip).status_code == 401
    assert rl_wait_for(lambda: rl_metric(g, "portcullis_bruteforce_failures_total") == 3, 5)
    # a forged token's "sub" names a victim, not an attacker: never counted
    # (docs/ratelimit.md, threat model), so the victim's good token passes
    assert get(g, tok("victim"), "198.51.100.9").status_code == 200
    # one address failing on its own is locked out
    for _ in range(3):
        assert get(g, {"Authorization": "Bearer not.a.jwt"}, "203.0.113.5").status_code == 401
    assert rl_wait_for(lambda: "brute_force: lockout of client_ip 203.0.113.5" in g.log(), 5)
    r = get(g, tok("other"), "203.0.113.5")
    assert_problem(r, 429)
    assert r.headers["Retry-After"] == "3600"
    assert rl_metric(g, "portcullis_bruteforce_lockouts_total") == 1
    assert "lockout of subject" not in g.log()
