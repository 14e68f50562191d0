"""Revocation: the admin listener's POST /revocations (strict validation,
problem+json errors) and the jwt plugin refusing a revoked jti on every
worker at once - also right after a verified-token cache hit - until the
entry expires by itself. Plus the verified-token cache's own guarantees:
never past exp, never for other bytes than the verified token."""
import json
import time

import pytest
import requests

from conftest import assert_problem, simple_config
from mock_idp import KeyRing


@pytest.fixture(scope="module")
def ring():
    return KeyRing()


@pytest.fixture
def gw(gateway, upstream, ring):
    def make(workers=4, **extra):
        conf = {"type": "jwt", "issuer": ring.issuer, "audiences": [ring.audience],
                "keys": {"jwks": ring.jwks(["ES256"])}}
        conf.update(extra)
        up = upstream()
        g = gateway(simple_config(up, routes=[
            {"name": "api", "match": {"path_prefix": "/"}, "upstream": "u",
             "plugins": ["auth"]}], plugins={"auth": conf}, workers=workers))
        g.up = up
        return g
    return make


def get(g, tok):
    # a new connection each time: SO_REUSEPORT spreads them over the workers
    return requests.get(g.url + "/x", headers={"Authorization": "Bearer " + tok,
                                               "Connection": "close"}, timeout=5)


def revoke(g, body, ctype="application/json"):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return requests.post(g.admin_url + "/revocations", data=data,
                         headers={"Content-Type": ctype}, timeout=5)


def test_revoked_everywhere_within_a_second(gw, ring):
    g = gw()
    exp = int(time.time()) + 600
    tok = ring.token("ES256", jti="tok-1", exp=exp)
    other = ring.token("ES256", jti="tok-2", exp=exp)
    for _ in range(12):                          # verified and cached on every worker
        assert get(g, tok).status_code == 200
    r = revoke(g, {"jti": "tok-1", "exp": exp})
    assert r.status_code == 201, r.text
    assert r.json()["jti"] == "tok-1"
    assert r.json()["expires_at"] >= exp
    t0 = time.monotonic()
    for _ in range(40):
        assert_problem(get(g, tok), 401)
    assert time.monotonic() - t0 < 5
    assert get(g, other).status_code == 200
    assert "token revoked" in g.log()
    assert len(g.up.requests()) == 13


def test_ttl_expires_by_itself(gw, ring):
    g = gw()
    tok = ring.token("ES256", jti="short-lived")
    assert get(g, tok).status_code == 200
    assert revoke(g, {"jti": "short-lived", "ttl": 1}).status_code == 201
    assert_problem(get(g, tok), 401)
    time.sleep(1.3)
    assert get(g, tok).status_code == 200


def test_long_jti_and_past_exp(gw, ring):
    g = gw()
    long_jti = "j" * 700                         # stored under a hash
    tok = ring.token("ES256", jti=long_jti)
    assert get(g, tok).status_code == 200
    assert revoke(g, {"jti": long_jti, "ttl": 60}).status_code == 201
    assert_problem(get(g, tok), 401)
    r = revoke(g, {"jti": "ancient", "exp": int(time.time()) - 3600})
    assert r.status_code == 204                  # expired beyond any leeway: nothing to do
    # a token living past what the store keeps (2 years): capped, and said so
    far = ring.token("ES256", jti="far", exp=4102444800)
    r = revoke(g, {"jti": "far", "exp": 4102444800})
    assert r.status_code == 201, r.text
    assert r.json()["expires_at"] <= int(time.time()) + 2 * 365 * 86400 + 5
    assert_problem(get(g, far), 401)


def test_revocation_disabled(gw, ring):
    g = gw(revocation={"enabled": False})
    tok = ring.token("ES256", jti="kept")
    assert revoke(g, {"jti": "kept", "ttl": 60}).status_code == 201
    assert get(g, tok).status_code == 200


def test_admin_validation(gw, ring):
    g = gw(workers=1)
    bad = [
        "not json", "[]", "\"x\"", "{}", '{"jti": "a"}', '{"jti": "a", "exp": 1, "ttl": 1}',
        '{"jti": "", "ttl": 10}', '{"jti": 5, "ttl": 10}', '{"jti": "a", "ttl": 1.5}',
        '{"jti": "a", "ttl": 0}', '{"jti": "a", "ttl": -5}', '{"jti": "a", "ttl": "10"}',
        '{"jti": "a", "exp": "soon"}', '{"jti": "a", "exp": -1}',
        '{"jti": "a", "ttl": 10, "extra": 1}', '{"jti": "a", "jti": "b", "ttl": 10}',
        '{"jti": "a\\u0000b", "ttl": 10}', json.dumps({"jti": "x" * 2000, "ttl": 10}),
    ]
    for body in bad:
        r = revoke(g, body)
        assert r.status_code == 400, (body, r.status_code, r.text)
        assert r.headers["Content-Type"].startswith("application/problem+json")
        doc = r.json()
        assert doc["status"] == 400 and doc["type"].endswith("admin.invalid_revocation"), doc
    r = revoke(g, {"jti": "a", "ttl": 10}, ctype="text/plain")
    assert r.status_code == 415
    r = revoke(g, json.dumps({"jti": "a", "ttl": 10, "pad": "x" * 5000}))
    assert r.status_code == 413
    r = requests.get(g.admin_url + "/revocations", timeout=5)
    assert r.status_code == 405 and r.headers["Allow"] == "POST"
    # the rest of the admin API is untouched
    assert requests.get(g.admin_url + "/healthz", timeout=5).status_code == 200


def test_cache_never_past_exp(gw, ring):
    g = gw(workers=1, leeway_s=0)
    tok = ring.token("ES256", exp=int(time.time()) + 2)
    for _ in range(5):
        assert get(g, tok).status_code == 200
    time.sleep(2.6)
    assert_problem(get(g, tok), 401)


def test_cache_only_for_the_same_bytes(gw, ring):
    g = gw(workers=1)
    tok = ring.token("ES256")
    assert get(g, tok).status_code == 200
    h, p, s = tok.split(".")
    i = len(s) // 2
    forged = "%s.%s.%s" % (h, p, s[:i] + ("A" if s[i] != "A" else "B") + s[i + 1:])
    assert_problem(get(g, forged), 401)
    evil = ring.token("ES256", key=ring.new_key("ES256"), sub=json.loads(
        __import__("base64").urlsafe_b64decode(p + "==").decode())["sub"])
    assert_problem(get(g, evil), 401)
    assert get(g, tok).status_code == 200


@pytest.mark.parametrize("cache", [True, False])
def test_cache_on_and_off_agree(gw, ring, cache):
    g = gw(workers=2, cache={"enabled": cache, "max_entries": 8})
    toks = [ring.token("ES256", sub="u%d" % n) for n in range(30)]
    for _ in range(2):
        for t in toks:
            assert get(g, t).status_code == 200
    assert_problem(get(g, ring.token("ES256", exp=int(time.time()) - 300)), 401)
    assert_problem(get(g, ring.token("ES256", aud="other")), 401)
