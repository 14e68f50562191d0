"""jwt plugin: every refusal end to end - alg none in any spelling, algorithm
confusion, kid games, crit, JWE, malformed base64/JSON, duplicate members,
size, time claims, issuer, audience, required and matched claims, tampering.
Every invalid token gets the same 401 (which check failed is only logged)
and never reaches the upstream."""
import hashlib
import hmac
import json
import time

import pytest
import requests

from conftest import assert_problem, simple_config
from mock_idp import KeyRing, b64u, raw_token

INVALID = ('Bearer realm="api", error="invalid_token", '
           'error_description="the access token is not valid"')


@pytest.fixture(scope="module")
def ring():
    return KeyRing()


@pytest.fixture
def gw(gateway, upstream, ring, tmp_path):
    """A gateway whose route "/" requires a token (ES256, RS256, HS256 keys)."""
    sec = tmp_path / "hs.secret"
    sec.write_bytes(ring.priv["HS256"])
    sec.chmod(0o600)

    def make(**extra):
        conf = {"type": "jwt", "issuer": [ring.issuer, "https://other.test"],
                "audiences": [ring.audience, "api2"], "realm": "api",
                "keys": [{"jwks": ring.jwks(["ES256", "RS256", "EdDSA"])},
                         {"hmac": {"file": str(sec)}, "alg": "HS256", "kid": "hs256"}]}
        conf.update(extra)
        up = upstream()
        g = gateway(simple_config(up, routes=[
            {"name": "api", "match": {"path_prefix": "/"}, "upstream": "u",
             "plugins": ["auth"]}], plugins={"auth": conf}))
        g.up = up
        return g
    return make


def call(g, tok, scheme="Bearer"):
    return requests.get(g.url + "/x", headers={"Authorization": "%s %s" % (scheme, tok)},
                        timeout=5)


def assert_invalid(r):
    doc = assert_problem(r, 401)
    assert r.headers.get("WWW-Authenticate") == INVALID, r.headers
    assert doc["type"] == "urn:portcullis:problem:auth.invalid_token", doc
    assert doc["detail"] == "the access token is not valid", doc
    return doc


def sign_hs(key, header, payload):
    h = b64u(json.dumps(header))
    p = b64u(payload if isinstance(payload, str) else json.dumps(payload))
    mac = hmac.new(key, ("%s.%s" % (h, p)).encode(), hashlib.sha256).digest()
    return "%s.%s.%s" % (h, p, b64u(mac))


def test_valid_baseline(gw, ring):
    g = gw()
    for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
        assert call(g, ring.token("ES256"), scheme).status_code == 200
    assert call(g, ring.token("HS256")).status_code == 200
    assert call(g, ring.token("ES256", iss="https://other.test")).status_code == 200
    assert call(g, ring.token("ES256", aud=["x", "api2"])).status_code == 200
    assert len(g.up.requests()) == 7


def test_alg_none_any_spelling(gw, ring):
    g = gw()
    claims = ring.claims()
    for alg in ("none", "None", "NONE", "nOnE", "none "):
        for kid in (None, "es256"):
            h = {"alg": alg, "typ": "JWT"}
            if kid:
                h["kid"] = kid
            for sig in (b"", b"x" * 64):
                assert_invalid(call(g, raw_token(h, claims, sig)))
    assert g.up.requests() == []
    assert "alg none" in g.log() or "jwt.alg_none" in g.log()


def test_algorithm_confusion(gw, ring):
    """HS256 keyed with a public key, tokens for one key under another's kid."""
    g = gw()
    claims = ring.claims()
    for alg in ("RS256", "ES256", "EdDSA"):
        pem = ring.pem(alg).encode()
        jwk = json.dumps(ring.public_jwk(ring.priv[alg], alg, ring.kid(alg))).encode()
        for secret in (pem, pem.strip(), jwk):
            for kid in (ring.kid(alg), None, "hs256"):
                h = {"alg": "HS256", "typ": "JWT"}
                if kid:
                    h["kid"] = kid
                assert_invalid(call(g, sign_hs(secret, h, claims)))
    # a genuine ES256 token sent under the RS256 key's kid, and the reverse
    assert_invalid(call(g, ring.token("ES256", kid="rs256")))
    assert_invalid(call(g, ring.token("RS256", kid="es256")))
    # the HMAC key's kid on an RS256 token
    assert_invalid(call(g, ring.token("RS256", kid="hs256")))
    # a kid nobody has, with static keys: refused, no refresh to wait for
    assert_invalid(call(g, ring.token("ES256", kid="nobody")))
    # the token names its own key: jwk / jku / x5u are never used
    other = ring.new_key("ES256")
    own = ring.public_jwk(other, "ES256", "es256")
    for hdr in ({"jwk": own}, {"jku": "http://127.0.0.1:1/jwks"},
                {"x5u": "http://127.0.0.1:1/x"}):
        assert_invalid(call(g, ring.token("ES256", key=other, headers=hdr)))
    assert g.up.requests() == []


def test_crit_jwe_and_malformed(gw, ring):
    g = gw()
    good = ring.token("ES256")
    h, p, s = good.split(".")
    cases = [
        ring.token("ES256", headers={"crit": ["exp"]}),
        ring.token("ES256", headers={"crit": ["urn:example:unknown"], "urn:example:unknown": 1}),
        ring.token("ES256", headers={"b64": False, "crit": ["b64"]}),
        "%s.%s.%s.%s.%s" % (h, p, s, s, s),                   # JWE: five parts
        "%s.%s" % (h, p),                                      # two parts
        "%s.%s.%s.%s" % (h, p, s, s),                          # four parts
        "%s.%s.%s=" % (h, p, s),                               # padding
        "%s.%s.%s" % (h, p, s + "A"),                          # signature length
        "%s.%s.%s" % (h, p[:-2] + "/+", s),                    # base64 (not url) chars
        raw_token("{not json", ring.claims()),
        raw_token({"alg": "ES256", "kid": "es256"}, "[1,2]"),
        raw_token({"alg": "ES256", "kid": "es256"}, "\"string\""),
        raw_token('{"alg":"ES256","alg":"none","kid":"es256"}', ring.claims()),
        raw_token({"alg": "ES256", "kid": 7}, ring.claims()),
        raw_token({"alg": "XS256"}, ring.claims()),
        raw_token({"kid": "es256"}, ring.claims()),
        "..",
        "a.b.c",
    ]
    for t in cases:
        assert_invalid(call(g, t))
    # not even a b64token (RFC 6750 §2.1): a malformed request, 400
    for t in ("%s.%s.%s" % (h[:-1] + "!", p, s), "%s %s" % (good, good), good + ",x",
              "%s.%s=.%s" % (h, p, s)):
        r = call(g, t)
        assert_problem(r, 400)
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="api", error="invalid_request"'
    # duplicate members in a correctly signed payload (python3-jwt's JWS layer
    # signs the raw bytes we give it)
    import jwt
    dup = ('{"iss":"%s","aud":"%s","sub":"alice","sub":"admin","exp":%d}'
           % (ring.issuer, ring.audience, int(time.time()) + 600))
    t = jwt.api_jws.encode(dup.encode(), ring.priv["ES256"], algorithm="ES256",
                           headers={"kid": "es256"})
    assert_invalid(call(g, t))
    # tampering: payload changed, signature kept; signature bit flipped
    evil = b64u(json.dumps(ring.claims(sub="admin")))
    assert_invalid(call(g, "%s.%s.%s" % (h, evil, s)))
    flipped = s[:10] + ("A" if s[10] != "A" else "B") + s[11:]
    assert_invalid(call(g, "%s.%s.%s" % (h, p, flipped)))
    assert call(g, good).status_code == 200
    assert len(g.up.requests()) == 1


def test_size_limit(gw, ring):
    g = gw()
    big = ring.token("ES256", pad="x" * 9000)
    assert len(big) > 8192
    assert_invalid(call(g, big))
    ok = ring.token("ES256", pad="x" * 5000)
    assert len(ok) < 8192
    assert call(g, ok).status_code == 200
    g2 = gw(token={"max_bytes": 1024})
    assert_invalid(call(g2, ok))
    assert "over the limit" in g2.log()


def test_time_claims(gw, ring):
    g = gw()
    now = int(time.time())
    assert_invalid(call(g, ring.token("ES256", exp=now - 120)))
    assert call(g, ring.token("ES256", exp=now - 20)).status_code == 200   # leeway 60 s
    assert_invalid(call(g, ring.token("ES256", nbf=now + 120)))
    assert call(g, ring.token("ES256", nbf=now + 20)).status_code == 200
    assert_invalid(call(g, ring.token("ES256", iat=now + 120)))
    assert_invalid(call(g, ring.token("ES256", exp=None)))
    assert_invalid(call(g, ring.token("ES256", exp="tomorrow")))
    assert_invalid(call(g, ring.token("ES256", exp=now + 600, nbf="soon")))
    log = g.log()
    for reason in ("jwt.expired", "jwt.nbf_future", "jwt.iat_future", "jwt.exp_missing"):
        assert reason in log, reason
    g2 = gw(leeway_s=0, require_exp=False, max_age_s=100)
    assert_invalid(call(g2, ring.token("ES256", exp=now - 2)))
    assert call(g2, ring.token("ES256", exp=None)).status_code == 200
    assert_invalid(call(g2, ring.token("ES256", iat=now - 200)))
    assert_invalid(call(g2, ring.token("ES256", iat=None)))               # max age needs iat


def test_issuer_audience(gw, ring):
    g = gw()
    assert_invalid(call(g, ring.token("ES256", iss="https://evil.test")))
    assert_invalid(call(g, ring.token("ES256", iss="https://idp.test/")))  # exact match
    assert_invalid(call(g, ring.token("ES256", iss=None)))
    assert_invalid(call(g, ring.token("ES256", aud="other")))
    assert_invalid(call(g, ring.token("ES256", aud=["x", "y"])))
    assert_invalid(call(g, ring.token("ES256", aud=None)))
    assert_invalid(call(g, ring.token("ES256", aud=["api", 5])))
    assert g.up.requests() == []


def test_required_and_matched_claims(gw, ring):
    g = gw(require=["sub", "org.id"],
           claims={"tenant": {"equals": "acme"}, "azp": {"one_of": ["web", "cli"]},
                   "org.id": {"equals": 42}, "roles": {"contains": "user"}})
    good = dict(tenant="acme", azp="web", org={"id": 42}, roles=["user", "x"])
    assert call(g, ring.token("ES256", **good)).status_code == 200
    for over in (dict(tenant="evil"), dict(tenant=None), dict(azp="mobile"), dict(azp=["web"]),
                 dict(org={"id": 43}), dict(org={"id": "42"}), dict(org=None),
                 dict(roles=["admin"]), dict(roles="user"), dict(sub=None)):
        c = dict(good)
        c.update(over)
        assert_invalid(call(g, ring.token("ES256", **c)))
    assert len(g.up.requests()) == 1
