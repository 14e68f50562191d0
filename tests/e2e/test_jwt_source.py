"""jwt plugin: where the token comes from (Authorization: Bearer, a cookie,
never the query unless enabled), two credentials, missing credentials, the
optional mode, claims_to_headers with removal of client-sent copies, and
scopes (403 insufficient_scope)."""
import pytest
import requests

from conftest import assert_problem, parse_response, raw_request, simple_config
from mock_idp import KeyRing

MISSING = 'Bearer realm="api"'
BADREQ = 'Bearer realm="api", error="invalid_request"'


@pytest.fixture(scope="module")
def ring():
    return KeyRing()


@pytest.fixture
def gw(gateway, upstream, ring):
    def make(**extra):
        conf = {"type": "jwt", "issuer": ring.issuer, "audiences": [ring.audience],
                "realm": "api", "keys": {"jwks": ring.jwks(["ES256"])},
                "claims_to_headers": {"sub": "X-Auth-Subject", "scope": "X-Auth-Scopes",
                                      "org.id": "X-Auth-Org", "note": "X-Auth-Note"}}
        conf.update(extra)
        up = upstream()
        g = gateway(simple_config(up, routes=[
            {"name": "api", "match": {"path_prefix": "/"}, "upstream": "u",
             "plugins": ["auth"]}], plugins={"auth": conf}))
        g.up = up
        return g
    return make


def seen(echo):
    out = {}
    for k, v in echo["headers"]:
        out.setdefault(k.lower(), []).append(v)
    return out


def test_missing_and_other_schemes(gw, ring):
    g = gw()
    r = requests.get(g.url + "/x", timeout=5)
    doc = assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"] == MISSING
    assert doc["type"] == "urn:portcullis:problem:auth.missing_token"
    r = requests.get(g.url + "/x", headers={"Authorization": "Basic YWxpY2U6cHc="}, timeout=5)
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"] == MISSING
    for bad in ("Bearer", "Bearer ", "Bearer\ttok", "Bearer a b"):
        r = requests.get(g.url + "/x", headers={"Authorization": bad}, timeout=5)
        assert r.status_code in (400, 401), (bad, r.status_code)
        if r.status_code == 400:
            assert r.headers["WWW-Authenticate"] == BADREQ
    assert g.up.requests() == []


def test_two_authorization_headers(gw, ring):
    g = gw()
    tok = ring.token("ES256")
    req = ("GET /x HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer %s\r\n"
           "Authorization: Bearer %s\r\nConnection: close\r\n\r\n" % (tok, tok)).encode()
    st, headers, body = parse_response(raw_request(g.port, req))
    assert st == 400, body
    assert headers["www-authenticate"] == BADREQ
    assert g.up.requests() == []


def test_cookie_source(gw, ring):
    g = gw(token={"cookie": "access_token"})
    tok = ring.token("ES256")
    r = requests.get(g.url + "/x", headers={"Cookie": "a=1; access_token=%s; b=2" % tok},
                     timeout=5)
    assert r.status_code == 200, r.text
    r = requests.get(g.url + "/x", headers={"Cookie": 'access_token="%s"' % tok}, timeout=5)
    assert r.status_code == 200, r.text
    # two credentials: header and cookie, or the cookie twice
    r = requests.get(g.url + "/x", headers={"Cookie": "access_token=%s" % tok,
                                            "Authorization": "Bearer " + tok}, timeout=5)
    assert_problem(r, 400)
    r = requests.get(g.url + "/x", headers={"Cookie": "access_token=%s; access_token=%s"
                                            % (tok, tok)}, timeout=5)
    assert_problem(r, 400)
    # another cookie name is no credential
    r = requests.get(g.url + "/x", headers={"Cookie": "session=%s" % tok}, timeout=5)
    assert_problem(r, 401)
    assert len(g.up.requests()) == 2
    # cookie only: the Authorization header is no longer a source
    g2 = gw(token={"header": False, "cookie": "at"})
    r = requests.get(g2.url + "/x", headers={"Authorization": "Bearer " + tok}, timeout=5)
    assert_problem(r, 401)
    assert requests.get(g2.url + "/x", headers={"Cookie": "at=" + tok},
                        timeout=5).status_code == 200


def test_query_never_by_default(gw, ring):
    g = gw()
    tok = ring.token("ES256")
    r = requests.get(g.url + "/x?access_token=" + tok, timeout=5)
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"] == MISSING
    assert g.up.requests() == []
    g2 = gw(token={"query": True})
    assert requests.get(g2.url + "/x?a=1&access_token=" + tok, timeout=5).status_code == 200
    r = requests.get(g2.url + "/x?access_token=" + tok, headers={"Authorization": "Bearer " + tok},
                     timeout=5)
    assert_problem(r, 400)
    g3 = gw(token={"query": "tok"})
    assert requests.get(g3.url + "/x?tok=" + tok, timeout=5).status_code == 200
    assert_problem(requests.get(g3.url + "/x?access_token=" + tok, timeout=5), 401)


def test_claims_to_headers_and_spoofing(gw, ring):
    g = gw()
    tok = ring.token("ES256", sub="alice", org={"id": 7}, note="line1\nline2")
    spoof = {"X-Auth-Subject": "admin", "x-auth-org": "1", "X-AUTH-SCOPES": "admin",
             "X-Auth-Note": "forged"}
    r = requests.get(g.url + "/x", headers=dict(spoof, Authorization="Bearer " + tok), timeout=5)
    assert r.status_code == 200, r.text
    h = seen(r.json())
    assert h["x-auth-subject"] == ["alice"]
    assert h["x-auth-org"] == ["7"]
    assert h["x-auth-scopes"] == ["read write"]
    assert "x-auth-note" not in h          # a claim that would break the header: not sent
    # duplicated spoofed headers, raw
    raw = ("GET /x HTTP/1.1\r\nHost: a\r\nX-Auth-Subject: a\r\nX-Auth-Subject: b\r\n"
           "Authorization: Bearer %s\r\nConnection: close\r\n\r\n" % ring.token(
               "ES256", sub="bob")).encode()
    st, _, body = parse_response(raw_request(g.port, raw))
    assert st == 200
    import json
    assert seen(json.loads(body))["x-auth-subject"] == ["bob"]
    # a token without the claim: no header at all, the spoofed one is gone too
    r = requests.get(g.url + "/x", headers={"X-Auth-Org": "1", "Authorization": "Bearer " +
                                            ring.token("ES256", org=None, scope=None)}, timeout=5)
    h = seen(r.json())
    assert "x-auth-org" not in h and "x-auth-scopes" not in h


def test_optional_mode(gw, ring):
    g = gw(optional=True)
    r = requests.get(g.url + "/x", headers={"X-Auth-Subject": "admin"}, timeout=5)
    assert r.status_code == 200
    assert "x-auth-subject" not in seen(r.json())   # removed even without a token
    r = requests.get(g.url + "/x", headers={"Authorization": "Bearer " + ring.token(
        "ES256", sub="carol"), "X-Auth-Subject": "admin"}, timeout=5)
    assert seen(r.json())["x-auth-subject"] == ["carol"]
    # an invalid token is still refused
    assert_problem(requests.get(g.url + "/x", headers={
        "Authorization": "Bearer " + ring.token("ES256", exp=1)}, timeout=5), 401)


def test_scopes(gw, ring):
    g = gw(scopes={"all": ["read", "admin"]})
    r = requests.get(g.url + "/x", headers={"Authorization": "Bearer " + ring.token(
        "ES256", scope="read write")}, timeout=5)
    doc = assert_problem(r, 403)
    assert doc["type"] == "urn:portcullis:problem:auth.insufficient_scope"
    assert r.headers["WWW-Authenticate"] == \
        'Bearer realm="api", error="insufficient_scope", scope="read admin"'
    assert requests.get(g.url + "/x", headers={"Authorization": "Bearer " + ring.token(
        "ES256", scope="admin read")}, timeout=5).status_code == 200
    # scp as an array (Okta), and mixed with scope
    assert requests.get(g.url + "/x", headers={"Authorization": "Bearer " + ring.token(
        "ES256", scope=None, scp=["read", "admin"])}, timeout=5).status_code == 200
    r = requests.get(g.url + "/x", headers={"Authorization": "Bearer " + ring.token(
        "ES256", scope="read", scp=["admin"])}, timeout=5)
    assert r.status_code == 200
    assert seen(r.json())["x-auth-scopes"] == ["read admin"]
    # "read" alone is not "read:all"
    assert_problem(requests.get(g.url + "/x", headers={"Authorization": "Bearer " + ring.token(
        "ES256", scope="read:all admin")}, timeout=5), 403)
    g2 = gw(scopes={"any": ["admin", "write"]})
    assert requests.get(g2.url + "/x", headers={"Authorization": "Bearer " + ring.token(
        "ES256", scope="read write")}, timeout=5).status_code == 200
    r = requests.get(g2.url + "/x", headers={"Authorization": "Bearer " + ring.token(
        "ES256", scope="read")}, timeout=5)
    assert_problem(r, 403)
    assert 'scope="admin write"' in r.headers["WWW-Authenticate"]
    assert len(g.up.requests()) == 3
