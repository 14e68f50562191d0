"""jwt plugin: every algorithm end to end, with keys given inline (JWKS), in
PEM files and as HMAC secrets in files; tokens made by python3-jwt."""
import json
import os

import pytest
import requests

from conftest import assert_problem, simple_config
from mock_idp import ALGS, KeyRing


@pytest.fixture(scope="module")
def ring():
    return KeyRing()


def secret_file(tmp_path, ring, alg):
    p = tmp_path / ("%s.secret" % alg)
    p.write_bytes(ring.priv[alg])
    os.chmod(str(p), 0o600)
    return str(p)


def static_keys(tmp_path, ring):
    keys = [{"jwks": ring.jwks()}]
    for alg in ("HS256", "HS384", "HS512"):
        keys.append({"hmac": {"file": secret_file(tmp_path, ring, alg)}, "alg": alg,
                     "kid": ring.kid(alg)})
    return keys


def jwt_conf(ring, keys, **extra):
    c = {"type": "jwt", "issuer": ring.issuer, "audiences": [ring.audience], "keys": keys,
         "claims_to_headers": {"sub": "X-Auth-Subject", "scope": "X-Auth-Scopes"}}
    c.update(extra)
    return c


def start(gateway, upstream, conf, **top):
    up = upstream()
    cfg = simple_config(up, routes=[{"name": "api", "match": {"path_prefix": "/"},
                                     "upstream": "u", "plugins": ["auth"]}],
                        plugins={"auth": conf}, **top)
    return gateway(cfg), up


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def test_every_algorithm_inline_keys(gateway, upstream, tmp_path, ring):
    g, up = start(gateway, upstream, jwt_conf(ring, static_keys(tmp_path, ring)))
    for alg in ALGS:
        tok = ring.token(alg, sub="user-" + alg)
        r = requests.get(g.url + "/x", headers=bearer(tok), timeout=5)
        assert r.status_code == 200, (alg, r.status_code, r.text)
        echo = r.json()
        seen = {k.lower(): v for k, v in echo["headers"]}
        assert seen["x-auth-subject"] == "user-" + alg
        assert seen["x-auth-scopes"] == "read write"
    # every verification key is pinned: a token signed by another key of the
    # same kind, under a configured kid, is refused
    for alg in ("RS256", "PS384", "ES256", "ES512", "EdDSA"):
        tok = ring.token(alg, key=ring.new_key(alg))
        r = requests.get(g.url + "/x", headers=bearer(tok), timeout=5)
        assert_problem(r, 401)
    assert len(up.requests()) == len(ALGS)


def test_pem_files_and_no_kid(gateway, upstream, tmp_path, ring):
    keys = []
    for alg in ("RS256", "PS512", "ES384", "EdDSA"):
        p = tmp_path / ("%s.pem" % alg)
        p.write_text(ring.pem(alg))
        k = {"pem": {"file": str(p)}}
        if alg[:2] in ("RS", "PS"):
            k["alg"] = alg  # RSA keys need their algorithm named
        keys.append(k)
    g, _ = start(gateway, upstream, jwt_conf(ring, keys))
    for alg in ("RS256", "PS512", "ES384", "EdDSA"):
        # the IdP's kid is unknown here: kid-less configured keys are tried
        for kid in (ring.kid(alg), False):
            r = requests.get(g.url + "/x", headers=bearer(ring.token(alg, kid=kid)), timeout=5)
            assert r.status_code == 200, (alg, kid, r.text)
    # RS384 was not configured at all
    r = requests.get(g.url + "/x", headers=bearer(ring.token("RS384")), timeout=5)
    assert_problem(r, 401)


def test_algorithms_allow_list(gateway, upstream, tmp_path, ring):
    g, _ = start(gateway, upstream,
                 jwt_conf(ring, [{"jwks": ring.jwks(["ES256"])}], algorithms=["ES256", "RS256"]))
    assert requests.get(g.url + "/", headers=bearer(ring.token("ES256")),
                        timeout=5).status_code == 200
    # RS256 is allowed, but no key is pinned to it
    assert_problem(requests.get(g.url + "/", headers=bearer(ring.token("RS256")), timeout=5), 401)


def test_bad_key_configs_are_refused(gateway, upstream, tmp_path, ring):
    """Config errors name the field; the gateway does not start."""
    import subprocess
    from conftest import TEST_BINARY
    cases = [
        (jwt_conf(ring, [{"hmac": "short", "alg": "HS256"}]), "keys[0].hmac"),
        (jwt_conf(ring, [{"pem": ring.pem("RS256")}]), "keys[0].pem"),  # RSA without alg
        (jwt_conf(ring, [{"pem": ring.pem("ES256"), "alg": "RS256"}]), "keys[0].pem"),
        (jwt_conf(ring, [{"jwks": ring.jwks(["RS256"])}], algorithms=["none"]),
         "algorithms[0]"),
        (jwt_conf(ring, [{"jwks": ring.jwks(["RS256"])}], algorithms=["ES256"]), "keys[0].jwks"),
        (jwt_conf(ring, []), "keys"),
        ({"type": "jwt", "audiences": ["a"], "keys": [{"jwks": ring.jwks(["ES256"])}]}, "issuer"),
        (jwt_conf(ring, [{"jwks": ring.jwks(["ES256"])}], leeway_s=3600), "leeway_s"),
        (jwt_conf(ring, [{"jwks": ring.jwks(["ES256"])}], scopes={"all": ["a b"]}), "scopes.all"),
        (jwt_conf(ring, [{"jwks": ring.jwks(["ES256"])}], typo=1), "typo"),
        (jwt_conf(ring, [{"jwks": ring.jwks(["ES256"])}], jwks={"url": "ftp://x"}), "jwks.url"),
        (jwt_conf(ring, [{"jwks": ring.jwks(["ES256"])}],
                  claims_to_headers={"sub": "Authorization"}), "claims_to_headers.sub"),
        (jwt_conf(ring, [{"jwks": ring.jwks(["ES256"])}], claims={"tenant": {"like": "a"}}),
         "claims.tenant"),
    ]
    for i, (conf, path) in enumerate(cases):
        cfg = {"listen": [{"address": "127.0.0.1", "port": 1}], "upstreams": {
            "u": {"targets": [{"url": "http://127.0.0.1:9"}]}}, "plugins": {"auth": conf},
            "routes": [{"name": "r", "match": {"path_prefix": "/"}, "upstream": "u",
                        "plugins": ["auth"]}]}
        f = tmp_path / ("bad%d.json" % i)
        f.write_text(json.dumps(cfg))
        p = subprocess.run([TEST_BINARY, "-t", "-c", str(f)], capture_output=True, timeout=20)
        err = p.stderr.decode()
        assert p.returncode == 1, (path, err)
        assert "plugins.auth." + path in err or (path == "keys" and "plugins.auth.keys" in err), \
            (path, err)


def test_demo_config_and_token_generator(gateway, upstream):
    """conf/demo.json's jwt instance accepts conf/demo_token.py's tokens."""
    import subprocess
    from conftest import PYTHON
    src = os.environ.get("PC_SRCDIR") or os.path.join(os.path.dirname(__file__), "..", "..")
    with open(os.path.join(src, "conf", "demo.json")) as f:
        demo = json.load(f)
    gen = os.path.join(src, "conf", "demo_token.py")
    tok = subprocess.run([PYTHON, gen], capture_output=True, timeout=20,
                         check=True).stdout.decode().strip()
    weak = subprocess.run([PYTHON, gen, "--scope", "orders:write"], capture_output=True,
                          timeout=20, check=True).stdout.decode().strip()
    g, up = start(gateway, upstream, demo["plugins"]["demo_auth"])
    r = requests.get(g.url + "/api/orders/1", headers=bearer(tok), timeout=5)
    assert r.status_code == 200, r.text
    assert {k.lower(): v for k, v in r.json()["headers"]}["x-auth-subject"] == "alice"
    r = requests.get(g.url + "/api/orders/1", headers=bearer(weak), timeout=5)
    assert_problem(r, 403)
    assert 'realm="demo"' in r.headers["WWW-Authenticate"]
