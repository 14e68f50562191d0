"""The token revocation list in the Redis store: a jti revoked through one
gateway's admin listener (POST /revocations, a store call from the admin
thread: the blocking connection) is refused by every gateway of the fleet."""
import json
import time

import pytest
import requests

from conftest import rl_metric, rl_wait_for, simple_config

jwt = pytest.importorskip("jwt")

KEY = b"r" * 32


def test_revocation_is_shared_by_the_fleet(upstream, gateway, redis_server, tmp_path):
    r = redis_server()
    keyfile = tmp_path / "hs256.key"
    keyfile.write_bytes(KEY)
    keyfile.chmod(0o600)
    u = upstream("u")
    cfg = simple_config(u, routes=[{"name": "api", "match": {"path_prefix": "/"},
                                    "upstream": "u", "plugins": ["auth"]}])
    cfg["plugins"] = {"auth": {"type": "jwt", "issuer": "https://idp.test", "audiences": ["api"],
                               "algorithms": ["HS256"],
                               "keys": [{"hmac": {"file": str(keyfile)}, "alg": "HS256"}],
                               "cache": {"enabled": False}}}
    cfg["store"] = {"type": "redis", "url": r.url(), "command_timeout_ms": 2000}
    g1, g2 = gateway(cfg), gateway(cfg)
    for g in (g1, g2):
        assert rl_wait_for(lambda: rl_metric(g, "portcullis_store_redis_connections_up") == 2)
    now = int(time.time())
    token = jwt.encode({"iss": "https://idp.test", "aud": "api", "sub": "zed", "iat": now,
                        "exp": now + 600, "jti": "jti-123"}, KEY, algorithm="HS256")
    h = {"Authorization": "Bearer " + token}
    assert requests.get(g1.url + "/", headers=h, timeout=5).status_code == 200
    assert requests.get(g2.url + "/", headers=h, timeout=5).status_code == 200
    resp = requests.post(g1.admin_url + "/revocations", data=json.dumps({"jti": "jti-123",
                                                                         "ttl": 600}),
                         headers={"Content-Type": "application/json"}, timeout=5)
    assert resp.status_code == 201, resp.text
    assert r.client().exists("pc:{revoked:jti:jti-123}:f") == 1
    assert 0 < r.client().pttl("pc:{revoked:jti:jti-123}:f") <= 600 * 1000
    for g in (g2, g1):
        assert requests.get(g.url + "/", headers=h, timeout=5).status_code == 401
