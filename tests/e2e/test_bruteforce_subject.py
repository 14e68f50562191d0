"""brute_force and subjects, from two real client addresses (127.0.0.1 and
127.0.0.2, no trusted proxy): a lockout an attacker cannot aim at someone
else (docs/ratelimit.md, "Threat model").

- forged tokens naming alice lock the attacker's address out, never alice;
- a credential that verifies is never refused by a subject lockout;
- a password attempt on a login route counts against (subject, client IP);
  the total per subject across addresses raises an alert, never a lock;
- a verified token refused by a later check counts against its subject.
What the upstream received is read from its raw log, behind a barrier."""
import base64

import pytest
import requests
from requests.adapters import HTTPAdapter

from conftest import assert_problem, rl_bearer, rl_metric, rl_wait_for, simple_config
from mock_idp import KeyRing

ATTACKER, ALICE = "127.0.0.2", "127.0.0.1"


class _From(HTTPAdapter):
    """Connections bound to one local address before they connect."""

    def __init__(self, addr):
        self.addr = addr
        super().__init__()

    def init_poolmanager(self, *a, **kw):
        kw["source_address"] = (self.addr, 0)
        super().init_poolmanager(*a, **kw)


def client(addr):
    s = requests.Session()
    s.mount("http://", _From(addr))
    return s


@pytest.fixture(scope="module")
def ring():
    return KeyRing()


def start(upstream, gateway, bf, auth, extra_plugins=None, extra_routes=()):
    u = upstream("u")
    routes = [
        # the barrier of forwarded_since: no plugin, so a locked 127.0.0.1 cannot stop it
        {"name": "barrier", "match": {"path_prefix": "/__barrier__"}, "upstream": "u"},
        {"name": "api", "match": {"path_prefix": "/api"}, "upstream": "u",
         "plugins": ["bf", "auth"]},
        {"name": "login", "match": {"path_prefix": "/login"}, "upstream": "u",
         "plugins": ["bf"]},
    ] + list(extra_routes)
    plugins = {"bf": dict(bf, type="brute_force"), "auth": auth}
    plugins.update(extra_plugins or {})
    g = gateway(simple_config(u, routes=routes, plugins=plugins))
    return u, g


def jwt_auth(ring):
    return {"type": "jwt", "issuer": ring.issuer, "audiences": [ring.audience],
            "keys": {"jwks": ring.jwks(["ES256"])}}


def locked(g, who):
    """Failures are counted in on_log, after the answer went out: wait
    until the lockout is stored (logged) before relying on it."""
    assert rl_wait_for(lambda: "brute_force: lockout of " + who + " for" in g.log(), 5), g.log()


def basic(user, password="wrong"):
    return {"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()}


def test_forged_tokens_lock_the_attacker_out_not_the_subject(upstream, gateway, ring):
    """The issue's scenario, with the jwt plugin and brute_force's defaults
    (subject counting on): 5 tokens claiming alice, signed with a key the
    gateway never saw, from 127.0.0.2."""
    u, g = start(upstream, gateway, {}, jwt_auth(ring))
    mallory, alice = client(ATTACKER), client(ALICE)
    forged = KeyRing().token("ES256", sub="alice")  # same kid, another key
    bad = {"Authorization": "Bearer " + forged}
    assert [mallory.get(g.url + "/api/x", headers=bad, timeout=10).status_code
            for _ in range(5)] == [401] * 5
    locked(g, "client_ip " + ATTACKER)
    r = mallory.get(g.url + "/api/x", headers=bad, timeout=10)
    assert assert_problem(r, 429)["type"].endswith("brute_force.locked_out")
    # alice, from her own address, with her valid token: not locked out
    m = u.raw_mark()
    good = {"Authorization": "Bearer " + ring.token("ES256", sub="alice")}
    r = alice.get(g.url + "/api/alice-ok", headers=good, timeout=10)
    assert r.status_code == 200, r.text
    assert b"GET /api/alice-ok " in u.forwarded_since(m, g)
    assert "lockout of subject" not in g.log()
    assert rl_metric(g, "portcullis_bruteforce_failures_total") == 5
    assert rl_metric(g, "portcullis_bruteforce_lockouts_total") == 1


def test_a_verified_credential_is_never_refused_by_a_subject_lockout(upstream, gateway, ring):
    """Even with the account-wide key (subject_key "subject"): alice's
    password attempts are locked out everywhere, her valid token is not."""
    u, g = start(upstream, gateway, {"max_failures": 100, "subject_max_failures": 3,
                                     "subject_key": "subject", "login_routes": ["login"]},
                 jwt_auth(ring))
    mallory, alice = client(ATTACKER), client(ALICE)
    for _ in range(3):
        assert mallory.get(g.url + "/login?status=401", headers=basic("alice"),
                           timeout=10).status_code == 401
    locked(g, "subject alice")
    m = u.raw_mark()
    # a password attempt naming alice: refused from any address, not forwarded
    for who in (mallory, alice):
        r = who.get(g.url + "/login/guess", headers=basic("alice", "maybe"), timeout=10)
        assert_problem(r, 429)
    # her token verifies: through, from either address
    good = {"Authorization": "Bearer " + ring.token("ES256", sub="alice")}
    for who in (alice, mallory):
        assert who.get(g.url + "/api/with-token", headers=good, timeout=10).status_code == 200
    raw = u.forwarded_since(m, g)
    assert b"/login/guess" not in raw
    assert raw.count(b"GET /api/with-token ") == 2
    assert rl_metric(g, "portcullis_bruteforce_denied_total") == 2


def test_login_attempts_lock_the_pair_and_alert_on_the_subject(upstream, gateway, ring):
    u, g = start(upstream, gateway, {"max_failures": 100, "subject_max_failures": 3,
                                     "subject_alert_failures": 4, "login_routes": ["login"],
                                     "subject_header": "X-Login"}, jwt_auth(ring))
    mallory, alice = client(ATTACKER), client(ALICE)
    for _ in range(3):
        assert mallory.get(g.url + "/login?status=401", headers={"X-Login": "alice"},
                           timeout=10).status_code == 401
    locked(g, "subject alice at client_ip " + ATTACKER)
    m = u.raw_mark()
    r = mallory.get(g.url + "/login/from-mallory", headers={"X-Login": "alice"}, timeout=10)
    assert assert_problem(r, 429)["type"].endswith("brute_force.locked_out")
    # the pair is locked, not alice and not the address
    assert alice.get(g.url + "/login/from-alice", headers={"X-Login": "alice"},
                     timeout=10).status_code == 200
    assert mallory.get(g.url + "/login/bob", headers={"X-Login": "bob"},
                       timeout=10).status_code == 200
    raw = u.forwarded_since(m, g)
    assert b"/login/from-mallory" not in raw
    assert b"GET /login/from-alice " in raw and b"GET /login/bob " in raw
    # the 4th failure of alice across addresses: an alert, still no lock for 127.0.0.1
    assert alice.get(g.url + "/login?status=401", headers={"X-Login": "alice"},
                     timeout=10).status_code == 401
    assert rl_wait_for(lambda: "brute_force: alert: subject alice had 4 failed" in g.log(), 5)
    assert rl_metric(g, "portcullis_bruteforce_subject_alerts_total") == 1
    m = u.raw_mark()
    assert alice.get(g.url + "/login/again", headers={"X-Login": "alice"},
                     timeout=10).status_code == 200
    assert b"GET /login/again " in u.forwarded_since(m, g)
    assert "lockout of subject alice at client_ip " + ALICE not in g.log()
    assert rl_metric(g, "portcullis_bruteforce_lockouts_total") == 1


def test_a_verified_token_failing_a_later_check_counts_against_its_subject(
        upstream, gateway, ring):
    """/step is [bf, auth, second_factor]: second_factor refuses with 401
    after the token verified. Those failures count against alice (the pair);
    forged tokens naming bob refused by auth never count against bob."""
    u, g = start(upstream, gateway,
                 {"max_failures": 100, "subject_max_failures": 3, "login_routes": ["login"]},
                 jwt_auth(ring),
                 extra_plugins={"second_factor": {"type": "test_async", "verdict": "deny",
                                                  "status": 401, "sync": True}},
                 extra_routes=[{"name": "step", "match": {"path_prefix": "/step"},
                                "upstream": "u", "plugins": ["bf", "auth", "second_factor"]}])
    mallory, alice = client(ATTACKER), client(ALICE)
    alice_tok = {"Authorization": "Bearer " + ring.token("ES256", sub="alice")}
    forged_bob = {"Authorization": "Bearer " + KeyRing().token("ES256", sub="bob")}
    for _ in range(3):
        assert mallory.get(g.url + "/step", headers=alice_tok, timeout=10).status_code == 401
        assert mallory.get(g.url + "/step", headers=forged_bob, timeout=10).status_code == 401
    locked(g, "subject alice at client_ip " + ATTACKER)
    assert "subject bob" not in g.log()
    m = u.raw_mark()
    # alice's password attempts from that address are locked out...
    assert_problem(mallory.get(g.url + "/login/pw", headers=basic("alice"), timeout=10), 429)
    # ...bob's are not, nor alice's from her other address, and her
    # verified token still passes
    assert mallory.get(g.url + "/login/pw-bob", headers=basic("bob"),
                       timeout=10).status_code == 200
    assert alice.get(g.url + "/login/pw-home", headers=basic("alice"),
                     timeout=10).status_code == 200
    assert mallory.get(g.url + "/api/tok", headers=alice_tok, timeout=10).status_code == 200
    raw = u.forwarded_since(m, g)
    assert b"/login/pw " not in raw
    for p in (b"/login/pw-bob", b"/login/pw-home", b"/api/tok"):
        assert b"GET " + p + b" " in raw


def test_test_auth_forgeries_do_not_count_per_subject(upstream, gateway):
    """The same with the test_auth stand-in, and the subject lock key when
    counting per subject alone: still only the address is locked."""
    u, g = start(upstream, gateway, {"max_failures": 3, "subject_key": "subject"},
                 {"type": "test_auth"})
    mallory, alice = client(ATTACKER), client(ALICE)
    for _ in range(3):
        assert mallory.get(g.url + "/api", headers=rl_bearer("alice", valid=False),
                           timeout=10).status_code == 401
    locked(g, "client_ip " + ATTACKER)
    assert_problem(mallory.get(g.url + "/api", headers=rl_bearer("alice"), timeout=10), 429)
    assert alice.get(g.url + "/api", headers=rl_bearer("alice"), timeout=10).status_code == 200
    assert "lockout of subject" not in g.log()
