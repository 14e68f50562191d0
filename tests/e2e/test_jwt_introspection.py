"""jwt plugin, introspection mode (RFC 7662) against tests/e2e/mock_idp.py:
active true/false, client_secret_basic and client_secret_post, positive
and negative caching (bounded, never past exp), claims policy on the
response, the provider failing or hanging (503 or on_error allow, never a
hang)."""
import os
import time

import pytest
import requests

from conftest import assert_problem, simple_config, stop_with_requests_waiting
from mock_idp import MockIdP

INVALID = ('Bearer realm="api", error="invalid_token", '
           'error_description="the access token is not valid"')


@pytest.fixture
def idp(tmp_path):
    i = MockIdP(str(tmp_path / "idp.err"))
    i.control(client_id="gw client", client_secret="s3cret:&=+%")
    yield i
    i.stop()


@pytest.fixture
def gw(gateway, upstream, idp, tmp_path):
    sec = tmp_path / "client.secret"
    sec.write_text("s3cret:&=+%")
    os.chmod(str(sec), 0o600)

    def make(workers=2, top=None, **extra):
        is_conf = {"url": idp.introspect_url, "client_id": "gw client",
                   "client_secret": {"file": str(sec)}, "timeout_ms": 500}
        is_conf.update(extra.pop("introspection", {}))
        conf = {"type": "jwt", "mode": "introspection", "realm": "api",
                "introspection": is_conf,
                "claims_to_headers": {"sub": "X-Auth-Subject", "scope": "X-Auth-Scopes"}}
        conf.update(extra)
        up = upstream()
        g = gateway(simple_config(up, routes=[
            {"name": "api", "match": {"path_prefix": "/"}, "upstream": "u",
             "plugins": ["auth"]}], plugins={"auth": conf}, workers=workers, **(top or {})))
        g.up = up
        return g
    return make


def active(sub="alice", **over):
    now = int(time.time())
    d = {"active": True, "sub": sub, "scope": "read write", "client_id": "app",
         "exp": now + 600, "iat": now - 5, "iss": "https://idp.test", "aud": "api"}
    d.update(over)
    return d


def get(g, tok, **h):
    h["Authorization"] = "Bearer " + tok
    return requests.get(g.url + "/x", headers=h, timeout=5)


def seen(r):
    return {k.lower(): v for k, v in r.json()["headers"]}


def test_active_basic_auth_and_cache(gw, idp):
    idp.control(tokens={"opaque-1": active()})
    g = gw(workers=1)
    r = get(g, "opaque-1", **{"X-Auth-Subject": "admin"})
    assert r.status_code == 200, r.text
    assert seen(r)["x-auth-subject"] == "alice"
    assert seen(r)["x-auth-scopes"] == "read write"
    for _ in range(5):
        assert get(g, "opaque-1").status_code == 200
    st = idp.stats()
    assert st["introspect"] == 1                 # the rest came from the cache
    assert st["auth_methods"] == ["client_secret_basic"]


def test_client_secret_post(gw, idp):
    idp.control(tokens={"opaque-2": active(sub="bob")})
    g = gw(introspection={"auth": "client_secret_post"})
    assert get(g, "opaque-2").status_code == 200
    assert idp.stats()["auth_methods"] == ["client_secret_post"]


def test_inactive_and_negative_cache(gw, idp):
    g = gw(workers=1, introspection={"negative_ttl_s": 1})
    r = get(g, "unknown-token")
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"] == INVALID
    assert_problem(get(g, "unknown-token"), 401)
    assert idp.count("introspect") == 1          # negative result cached...
    time.sleep(1.2)
    assert_problem(get(g, "unknown-token"), 401)
    assert idp.count("introspect") == 2          # ...briefly
    idp.control(tokens={"revived": {"active": False}})
    assert_problem(get(g, "revived"), 401)
    assert g.up.requests() == []


def test_cache_never_outlives_exp(gw, idp):
    idp.control(tokens={"short": active(exp=int(time.time()) + 2)})
    g = gw(workers=1, leeway_s=0)
    assert get(g, "short").status_code == 200
    assert get(g, "short").status_code == 200
    assert idp.count("introspect") == 1
    time.sleep(2.6)
    assert_problem(get(g, "short"), 401)         # asked again, and now expired
    assert idp.count("introspect") == 2


def test_bounded_cache(gw, idp):
    toks = {"t%02d" % n: active(sub="u%d" % n) for n in range(20)}
    idp.control(tokens=toks)
    g = gw(workers=1, introspection={"max_entries": 8})
    for t in sorted(toks):
        assert get(g, t).status_code == 200
    assert idp.count("introspect") == 20
    assert get(g, "t00").status_code == 200      # evicted long ago: asked again
    assert idp.count("introspect") == 21
    assert get(g, "t19").status_code == 200      # still cached
    assert idp.count("introspect") == 21


def test_policy_on_the_response(gw, idp):
    idp.control(tokens={"reader": active(scope="read"), "foreign": active(iss="https://evil.test"),
                        "old": active(exp=int(time.time()) - 3600)})
    g = gw(issuer="https://idp.test", scopes={"all": ["admin"]})
    r = get(g, "reader")
    assert_problem(r, 403)
    assert 'error="insufficient_scope", scope="admin"' in r.headers["WWW-Authenticate"]
    assert_problem(get(g, "foreign"), 401)
    assert_problem(get(g, "old"), 401)


def test_provider_failures(gw, idp):
    idp.control(tokens={"t": active()})
    g = gw(introspection={"cache_ttl_s": 0})
    # wrong client credentials: the provider answers 401 -> we cannot tell -> 503
    idp.control(client_secret="other")
    doc = assert_problem(get(g, "t"), 503)
    assert doc["type"] == "urn:portcullis:problem:auth.introspection_unavailable"
    idp.control(client_secret="s3cret:&=+%")
    assert get(g, "t").status_code == 200
    for mode in ("503", "reset", "hang"):
        idp.control(mode=mode)
        t0 = time.monotonic()
        assert_problem(get(g, "t"), 503)
        assert time.monotonic() - t0 < 2.0       # timeout_ms 500, never a hang
    idp.control(mode="up", delay_ms=1500)       # slow beyond the timeout
    t0 = time.monotonic()
    assert_problem(get(g, "t"), 503)
    assert time.monotonic() - t0 < 1.4
    idp.control(delay_ms=0, introspect_status=200, tokens={"t": {"no": "active"}})
    assert_problem(get(g, "t"), 503)             # not an RFC 7662 answer
    assert "introspection failed" in g.log()


def test_provider_gone_on_error_allow(gw, idp):
    g = gw(introspection={"on_error": "allow"})
    idp.control(mode="503")
    r = get(g, "whatever", **{"X-Auth-Subject": "admin"})
    assert r.status_code == 200
    assert "x-auth-subject" not in seen(r)      # no identity, and no forged one
    assert "allowing without identity" in g.log()
    idp.stop()
    assert get(g, "whatever").status_code == 200


def test_shutdown_with_introspections_in_flight(gw, idp):
    """SIGTERM while requests wait on a hanging provider: the gateway ends
    them and exits cleanly (no leak, no hang: checked at teardown too)."""
    idp.control(mode="hang")
    g = gw(introspection={"timeout_ms": 10000}, top={"drain_timeout_ms": 500})
    stop_with_requests_waiting(g, lambda n: get(g, "tok-%d" % n))
