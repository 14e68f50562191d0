"""The jwt plugin's verified-token cache, proven from outside: its lookups
are counted on /metrics (portcullis_jwt_cache_hits_total / _misses_total),
a second request with the same token is a hit, and neither a revoked nor
an expired token is served from it: the counters say what the cache did,
the upstream's raw log (behind a barrier) what was let through.
One worker, so that every request meets the same per-worker cache."""
import json
import time

import pytest
import requests

from conftest import TIME_FACTOR, rl_metric, rl_wait_for, simple_config
from mock_idp import KeyRing

HITS, MISSES = "portcullis_jwt_cache_hits_total", "portcullis_jwt_cache_misses_total"


@pytest.fixture(scope="module")
def ring():
    return KeyRing()


@pytest.fixture
def gw(gateway, upstream, ring):
    def make(**extra):
        conf = {"type": "jwt", "issuer": ring.issuer, "audiences": [ring.audience],
                "keys": {"jwks": ring.jwks(["ES256"])}, "leeway_s": 0}
        conf.update(extra)
        up = upstream()
        g = gateway(simple_config(up, routes=[
            {"name": "barrier", "match": {"path_prefix": "/__barrier__"}, "upstream": "u"},
            {"name": "api", "match": {"path_prefix": "/"}, "upstream": "u",
             "plugins": ["auth"]}], plugins={"auth": conf}, workers=1))
        g.up = up
        return g
    return make


def get(g, tok, path="/x"):
    return requests.get(g.url + path, headers={"Authorization": "Bearer " + tok}, timeout=5)


def counts(g):
    return rl_metric(g, HITS), rl_metric(g, MISSES)


def test_second_request_with_the_same_token_is_a_hit(gw, ring):
    g = gw()
    assert counts(g) == (0, 0)
    assert "# TYPE %s counter" % HITS in g.metrics()
    tok = ring.token("ES256", sub="alice")
    m = g.up.raw_mark()
    assert get(g, tok, "/first").status_code == 200
    assert counts(g) == (0, 1)
    assert get(g, tok, "/second").status_code == 200
    assert counts(g) == (1, 1)
    # another token is another entry
    assert get(g, ring.token("ES256", sub="bob"), "/third").status_code == 200
    assert counts(g) == (1, 2)
    raw = g.up.forwarded_since(m, g)
    for p in (b"/first", b"/second", b"/third"):
        assert b"GET " + p + b" " in raw


def test_cache_off_counts_nothing(gw, ring):
    g = gw(cache={"enabled": False})
    tok = ring.token("ES256", sub="alice")
    assert [get(g, tok).status_code for _ in range(2)] == [200, 200]
    assert counts(g) == (0, 0)


def test_a_revoked_token_is_not_served_from_the_cache(gw, ring):
    g = gw()
    exp = int(time.time()) + 600
    tok = ring.token("ES256", sub="alice", jti="cache-rev-1", exp=exp)
    assert [get(g, tok).status_code for _ in range(2)] == [200, 200]
    assert counts(g) == (1, 1)
    r = requests.post(g.admin_url + "/revocations", data=json.dumps({"jti": "cache-rev-1",
                                                                     "exp": exp}),
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 201, r.text
    m = g.up.raw_mark()
    # found in the cache, refused by the revocation check, dropped from it
    assert get(g, tok, "/after-revoke-1").status_code == 401
    assert counts(g) == (2, 1)
    # so the next one is verified afresh (a miss) and refused again
    assert get(g, tok, "/after-revoke-2").status_code == 401
    assert counts(g) == (2, 2)
    assert b"/after-revoke" not in g.up.forwarded_since(m, g)


def test_an_expired_token_is_not_served_from_the_cache(gw, ring):
    g = gw()
    life = max(2, int(2 * TIME_FACTOR))
    exp = int(time.time()) + life
    tok = ring.token("ES256", sub="alice", exp=exp)
    assert [get(g, tok).status_code for _ in range(2)] == [200, 200]
    assert counts(g) == (1, 1)
    assert rl_wait_for(lambda: time.time() >= exp + 0.05, life + 2, 0.05)
    m = g.up.raw_mark()
    # the entry died at exp: a miss, then verification refuses the token
    assert get(g, tok, "/after-exp").status_code == 401
    assert counts(g) == (1, 2)
    assert b"/after-exp" not in g.up.forwarded_since(m, g)
