"""The Redis store itself (gateway/store/redis.c, gateway/store/store.c) with a real
redis-server: ACL user + password from a file, database selection, key prefix
and Redis Cluster hash tag, unix sockets, the script reloaded after SCRIPT
FLUSH (NOSCRIPT), a refused AUTH, and a reload that tries to change the store."""
import os
import re
import time

import requests

from conftest import assert_problem, rl_metric, rl_wait_for, simple_config


def cfg_for(u, store, limits=None, workers=2):
    cfg = simple_config(u, routes=[{"name": "all", "match": {"path_prefix": "/"},
                                    "upstream": "u", "plugins": ["rl"]}])
    cfg["workers"] = workers
    cfg["plugins"] = {"rl": {"type": "rate_limit",
                             "limits": limits or [{"rate": 3, "period": "1h"}],
                             "key": [{"header": "X-User"}]}}
    cfg["store"] = dict({"type": "redis", "command_timeout_ms": 2000}, **store)
    return cfg


def up(g, n=2, timeout=10):
    return rl_wait_for(lambda: rl_metric(g, "portcullis_store_redis_connections_up") == n,
                       timeout)


def get(g, user, path="/"):
    return requests.get(g.url + path, headers={"X-User": user}, timeout=10)


def test_acl_user_password_file_database_prefix_and_hash_tag(upstream, gateway, redis_server,
                                                             tmp_path):
    r = redis_server(extra=["--requirepass", "admin-secret"])
    admin = r.client(password="admin-secret")
    # the least-privilege ACL of docs/fleet.md (with this test's prefix)
    admin.execute_command("ACL", "SETUSER", "gateway", "on", ">gw-secret", "~edge:*",
                          "resetchannels", "-@all", "+evalsha", "+script|load", "+get", "+set",
                          "+del", "+exists", "+incr", "+pexpire", "+pttl", "+time", "+select",
                          "+ping")
    pw = tmp_path / "redis.pw"
    pw.write_text("gw-secret\n")
    os.chmod(str(pw), 0o600)
    u = upstream("u")
    g = gateway(cfg_for(u, {"url": r.url(db=3), "username": "gateway",
                            "password": {"file": str(pw)}, "prefix": "edge:"},
                        limits=[{"rate": 3, "period": "1h"},
                                {"rate": 10, "period": "1m", "algorithm": "sliding_window"}]))
    assert up(g), g.log()[-2000:]
    assert [get(g, "ann").status_code for _ in range(4)] == [200, 200, 200, 429]
    db3 = r.client(db=3, password="admin-secret")
    keys = sorted(k.decode() for k in db3.keys("*"))
    assert len(keys) == 2, keys
    m = [re.fullmatch(r"edge:\{(rl:i:[0-9a-f]{16}:\*:h32:[0-9a-f]{32})\}:l([01])", k) for k in keys]
    assert all(m), keys
    assert m[0].group(1) == m[1].group(1)  # one hash tag: one cluster slot per check
    assert all(0 < db3.pttl(k) <= 3600 * 1000 for k in keys)  # state expires by itself
    assert r.client(db=0, password="admin-secret").dbsize() == 0
    assert "gw-secret" not in g.log()


def test_unix_socket_url(upstream, gateway, redis_server):
    r = redis_server(unix=True)
    u = upstream("u")
    g = gateway(cfg_for(u, {"url": "unix://%s?db=1" % r.unix_path}))
    assert up(g), g.log()[-2000:]
    assert [get(g, "bob").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert r.client(db=1).dbsize() == 1
    assert "unix:%s db 1" % r.unix_path in g.log()


def test_script_flush_is_survived(upstream, gateway, redis_server):
    """NOSCRIPT (SCRIPT FLUSH, or a failover to a replica without the script):
    the script is loaded again and the command retried, invisibly."""
    r = redis_server()
    u = upstream("u")
    g = gateway(cfg_for(u, {"url": r.url()}, limits=[{"rate": 5, "period": "1h"}]))
    assert up(g)
    assert [get(g, "cy").status_code for _ in range(2)] == [200, 200]
    r.client().script_flush()
    assert [get(g, "cy").status_code for _ in range(4)] == [200, 200, 200, 429]
    r.client().script_flush()
    assert get(g, "cy").status_code == 429
    assert rl_metric(g, "portcullis_store_errors_total") == 0


def test_refused_auth_fails_closed_and_is_logged(upstream, gateway, redis_server):
    r = redis_server(extra=["--requirepass", "right"])
    u = upstream("u")
    g = gateway(cfg_for(u, {"url": r.url(userinfo=":wrong"), "on_error": "fail_closed",
                            "connect_timeout_ms": 300}))
    t0 = time.monotonic()
    resp = get(g, "dee")
    assert time.monotonic() - t0 < 2
    assert_problem(resp, 503)
    assert rl_wait_for(lambda: "AUTH refused" in g.log(), 5), g.log()
    assert "wrong" not in g.log().replace("WRONGPASS", "")
    assert rl_metric(g, "portcullis_store_redis_connections_up") == 0


def test_reload_cannot_change_the_store(upstream, gateway, redis_server):
    r = redis_server()
    r2 = redis_server()
    u = upstream("u")
    cfg = cfg_for(u, {"url": r.url()})
    g = gateway(cfg)
    assert up(g)
    gen = g.generation()
    new = dict(cfg)
    new["store"] = dict(cfg["store"], url=r2.url())
    assert not g.reload(new, timeout=2)
    assert g.generation() == gen
    assert "store: changing the store requires a restart" in g.log()
    # the same store, other limits: fine
    new = dict(cfg)
    new["plugins"] = {"rl": dict(cfg["plugins"]["rl"], limits=[{"rate": 1, "period": "1h"}])}
    assert g.reload(new)
    assert [get(g, "eve").status_code for _ in range(2)] == [200, 429]
