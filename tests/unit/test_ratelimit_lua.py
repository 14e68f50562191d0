"""tests/unit/test_ratelimit_lua.py: gateway/store/ratelimit.lua on a real Redis.

Starts its own redis-server on a free loopback port (no persistence), loads
the script and runs it with EVALSHA on a fake clock (ARGV[1]). Checks:
  * VECTORS, the same table as tests/unit/test_ratelimit.c;
  * a randomised differential run against gateway/store/ratelimit.c itself
    (pc_rl_giveback + pc_rl_take, built as a shared library and called
    through ctypes): several waiting requests, requests taken ahead,
    requests given back; same results, same stored state, same writes,
    same expiries, step by step, on the fast path (one GCRA limit) and the
    general one;
  * a batch of checks gives what each gives alone;
  * argument validation and the production path (redis TIME).
Skips when redis-server (or, for the differential run, gcc) is missing.

Run: /usr/bin/python3 -m pytest -q tests/unit/test_ratelimit_lua.py
"""

import ctypes
import os
import random
import shutil
import socket
import subprocess
import time

import pytest

redis = pytest.importorskip("redis")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "gateway", "store", "ratelimit.lua")

GCRA, SLIDING = 0, 1
ALG_NAME = {GCRA: "gcra", SLIDING: "sliding"}


def gcra(rate, period, burst=0):
    return (GCRA, rate, period, burst)


def win(rate, period):
    return (SLIDING, rate, period, 0)


def ok(now, rem, reset, lim):
    return (now, 1, rem, reset, 0, lim)


def no(now, reset, retry, lim):
    return (now, 0, 0, reset, retry, lim)


# Keep in step with VECTORS in test_ratelimit.c.
VECTORS = [
    ("gcra 10/s burst 10", [gcra(10, 1000)],
     [ok(0, 9 - i, 100 * (i + 1), 0) for i in range(10)]
     + [no(0, 1000, 100, 0), no(99, 901, 1, 0), ok(100, 0, 1000, 0), no(100, 1000, 100, 0)]),
    ("gcra burst 1", [gcra(10, 1000, 1)],
     [ok(0, 0, 100, 0), no(0, 100, 100, 0), no(50, 50, 50, 0), ok(100, 0, 100, 0)]),
    ("gcra 3/s rounds T up", [gcra(3, 1000)],
     [ok(0, 2, 334, 0), ok(0, 1, 667, 0), ok(0, 0, 1001, 0), no(0, 1001, 334, 0),
      ok(334, 0, 1000, 0)]),
    ("multi-limit: a denied request consumes nothing", [gcra(2, 1000), gcra(3, 60000)],
     [ok(0, 1, 500, 0), ok(0, 0, 1000, 0), no(0, 1000, 500, 0), no(0, 1000, 500, 0),
      ok(500, 0, 59500, 1), no(1500, 58500, 18500, 1), no(1500, 58500, 18500, 1),
      ok(20000, 0, 60000, 1), no(20000, 60000, 20000, 1)]),
    ("sliding 10/s", [win(10, 1000)],
     [ok(0, 9 - i, 2000, 0) for i in range(10)]
     + [no(0, 2000, 1100, 0), no(999, 1001, 101, 0), no(1000, 1000, 100, 0),
        ok(1100, 0, 1900, 0), no(1100, 1900, 100, 0), ok(1550, 3, 1450, 0),
        ok(2999, 8, 1001, 0), ok(5000, 9, 2000, 0)]),
    ("sliding 1/s", [win(1, 1000)],
     [ok(0, 0, 2000, 0), no(10, 1990, 1990, 0), no(1000, 1000, 1000, 0), no(1999, 1, 1, 0),
      ok(2000, 0, 2000, 0)]),
    ("mixed gcra + sliding", [win(3, 1000), gcra(1, 500, 2)],
     [ok(0, 1, 500, 1), ok(0, 0, 1000, 1), no(0, 1000, 500, 1), ok(500, 0, 1500, 0),
      no(1000, 1000, 334, 0), ok(1334, 0, 1666, 0), no(1334, 1666, 333, 0)]),
    ("gcra clock steps back", [gcra(10, 1000)],
     [ok(10000, 9 - i, 100 * (i + 1), 0) for i in range(10)]
     + [no(5000, 1000, 100, 0), ok(5100, 0, 1000, 0), no(5100, 1000, 100, 0)]),
    ("sliding clock steps back", [win(10, 1000)],
     [ok(5500, 9 - i, 1500, 0) for i in range(10)]
     + [no(2200, 1800, 900, 0), ok(3100, 0, 1900, 0)]),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def r(tmp_path_factory):
    exe = shutil.which("redis-server")
    if not exe:
        pytest.skip("redis-server not installed")
    workdir = tmp_path_factory.mktemp("redis")
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("redis-server did not start")
                time.sleep(0.05)
        yield client
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def sha(r):
    with open(SCRIPT) as f:
        return r.script_load(f.read())


def check_args(limits, need=1, extra=0, give=0):
    args = [str(len(limits)), str(need), str(extra), str(give)]
    for alg, rate, period, burst in limits:
        args += [ALG_NAME[alg], str(rate), str(period), str(burst)]
    return args


def script_args(limits, now, need=1, extra=0, give=0):
    return ["" if now is None else str(now)] + check_args(limits, need, extra, give)


def run(r, sha, keys, limits, now, need=1, extra=0, give=0):
    args = script_args(limits, now, need, extra, give)
    return [int(x) for x in r.evalsha(sha, len(keys), *keys, *args)]


def keys_for(tag, n):
    return ["pc:{%s}:l%d" % (tag, i) for i in range(n)]


@pytest.mark.parametrize("vector", VECTORS, ids=[v[0] for v in VECTORS])
def test_vectors(r, sha, vector):
    name, limits, steps = vector
    keys = keys_for(name, len(limits))
    r.delete(*keys)
    for i, (now, allowed, rem, reset, retry, lim) in enumerate(steps):
        # Fake time runs far from real time: keep keys from expiring
        # under us (expiry is checked in the differential test).
        got = run(r, sha, keys, limits, now)
        for k in keys:
            r.persist(k)
        # one request: granted is allowed; what a second one would get is
        # the refusal itself when refused, nothing when admitted
        over = [reset, retry, lim] if not allowed else [0, 0, 0]
        assert got == [allowed, rem, reset, retry, lim] + over, \
            "%s step %d (now %d)" % (name, i, now)


# ---- differential run against gateway/store/ratelimit.c ----

class Limit(ctypes.Structure):
    _fields_ = [("period_ms", ctypes.c_uint64), ("rate", ctypes.c_uint32),
                ("burst", ctypes.c_uint32), ("alg", ctypes.c_int)]


class State(ctypes.Structure):
    _fields_ = [("t", ctypes.c_uint64), ("prev", ctypes.c_uint32), ("cur", ctypes.c_uint32)]


class Result(ctypes.Structure):
    _fields_ = [("allowed", ctypes.c_int), ("limit", ctypes.c_uint),
                ("remaining", ctypes.c_uint64), ("reset_ms", ctypes.c_uint64),
                ("retry_after_ms", ctypes.c_uint64)]


@pytest.fixture(scope="module")
def clib(tmp_path_factory):
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler for the differential test")
    so = str(tmp_path_factory.mktemp("clib") / "libpcrl.so")
    subprocess.check_call([cc, "-std=c11", "-D_GNU_SOURCE", "-O2", "-shared", "-fPIC",
                           "-I" + os.path.join(ROOT, "gateway"),
                           os.path.join(ROOT, "gateway", "store", "ratelimit.c"),
                           os.path.join(ROOT, "gateway", "base", "util.c"),
                           os.path.join(ROOT, "gateway", "base", "clock.c"), "-o", so])
    lib = ctypes.CDLL(so)
    lib.pc_rl_take.restype = ctypes.c_uint64
    lib.pc_rl_take.argtypes = [ctypes.POINTER(Limit), ctypes.POINTER(State), ctypes.c_size_t,
                               ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint64,
                               ctypes.POINTER(Result), ctypes.POINTER(Result)]
    lib.pc_rl_giveback.restype = ctypes.c_int
    lib.pc_rl_giveback.argtypes = [ctypes.POINTER(Limit), ctypes.POINTER(State), ctypes.c_size_t,
                                   ctypes.c_uint64, ctypes.c_uint64]
    lib.pc_rl_expires_ms.restype = ctypes.c_uint64
    lib.pc_rl_expires_ms.argtypes = [ctypes.POINTER(Limit), ctypes.POINTER(State)]
    lib.pc_rl_limit_check.restype = ctypes.c_int
    lib.pc_rl_limit_check.argtypes = [ctypes.POINTER(Limit), ctypes.c_void_p]
    return lib


def random_limit(rng):
    rate = rng.choice([1, 2, 3, 7, 10, 100, 1000])
    period = rng.choice([1, 7, 100, 999, 1000, 60000, 3600000])
    if rng.random() < 0.5:
        return gcra(rate, period, rng.choice([0, 1, 2, rate * 3]))
    return win(rate, period)


def random_now(rng, now):
    roll = rng.random()
    if roll < 0.03:
        return max(0, now - rng.randrange(1, 200000))  # clock steps back
    if roll < 0.06:
        return now + rng.randrange(1, 4000000)
    if roll < 0.4:
        return now
    return now + rng.randrange(0, 300)


def stored_value(alg, st):
    if alg == GCRA:
        return str(st.t)
    return "%d:%d:%d" % (st.t, st.prev, st.cur)


def random_counts(rng, limits):
    """need, extra, give for one check: mostly one request alone."""
    roll = rng.random()
    need = 1 if roll < 0.6 else rng.choice([0, 0, 2, 3, 7, 40])
    extra = 0 if rng.random() < 0.5 else rng.choice([1, 5, 100, 10 ** 6])
    give = 0 if rng.random() < 0.7 else rng.choice([1, 3, 50, 10 ** 7])
    return need, extra, give


def c_check(clib, carr, states, n, now, need, extra, give):
    """What the script does, in C: the 8 values it returns."""
    if give or (not need and not extra):
        clib.pc_rl_giveback(carr, states, n, now, give)  # normalises, even for 0
    if not need and not extra:
        return [0] * 8
    res, over = Result(), Result()
    g = clib.pc_rl_take(carr, states, n, now, need, extra, ctypes.byref(res), ctypes.byref(over))
    if not need and not g:
        return [0] * 8
    out = [g, res.remaining, res.reset_ms, res.retry_after_ms, res.limit]
    if g < need:
        return out + [over.reset_ms, over.retry_after_ms, over.limit]
    return out + [0, 0, 0]


def test_differential(r, sha, clib):
    rng = random.Random(20240611)
    for scenario in range(60):
        # one GCRA limit takes the script's fast path: often alone
        n = 1 if scenario % 3 == 0 else rng.randint(1, 3)
        limits = [random_limit(rng) for _ in range(n)]
        if scenario % 3 == 0:
            limits = [gcra(*random_limit(rng)[1:3], rng.choice([0, 1, 2, 300]))]
        carr = (Limit * n)(*[Limit(p, rate, b, a) for a, rate, p, b in limits])
        assert all(clib.pc_rl_limit_check(ctypes.byref(carr[i]), None) == 0 for i in range(n))
        states = (State * n)()
        keys = keys_for("diff%d" % scenario, n)
        r.delete(*keys)
        now = rng.choice([0, 1, 999, 1700000000000])
        for step in range(250):
            now = random_now(rng, now)
            need, extra, give = random_counts(rng, limits)
            before = [(s.t, s.prev, s.cur) for s in states]
            expect = c_check(clib, carr, states, n, now, need, extra, give)
            # One MULTI: Redis freezes its clock for a transaction, so a key
            # written with PX 1 is still there to be read back.
            pipe = r.pipeline(transaction=True)
            pipe.evalsha(sha, n, *keys, *script_args(limits, now, need, extra, give))
            for k in keys:
                pipe.get(k)
                pipe.pttl(k)
                pipe.persist(k)
            out = pipe.execute()
            got, out = [int(x) for x in out[0]], out[1:]
            ctx = "scenario %d step %d now %d limits %r need %d extra %d give %d" % (
                scenario, step, now, limits, need, extra, give)
            assert got == expect, ctx
            for i in range(n):
                value, pttl = out[3 * i], out[3 * i + 1]
                changed = before[i] != (states[i].t, states[i].prev, states[i].cur)
                px = clib.pc_rl_expires_ms(ctypes.byref(carr[i]), ctypes.byref(states[i])) - now
                if changed and px <= 0:
                    assert value is None, ctx  # given back to empty: deleted
                elif changed:
                    # Written, with the state C holds and its expiry.
                    assert value == stored_value(limits[i][0], states[i]), ctx
                    assert px - 1000 < pttl <= px, ctx
                else:
                    # not written (persisted or absent), or written back as it
                    # was (given back, then taken again)
                    if pttl not in (-1, -2):
                        assert give and px - 1000 < pttl <= px, ctx
                    if value is not None:
                        assert value == stored_value(limits[i][0], states[i]), ctx


# ---- batch mode ----

def test_batch_matches_checks_alone(r, sha):
    """Batches whose checks often share one limit (the script reuses the
    last limits it parsed) and sometimes do not: every check of a batch
    gets what the same check gets alone, and leaves the same state."""
    rng = random.Random(20261123)
    specs = [[gcra(10, 1000)], [gcra(10, 1000)], [gcra(3, 700, 5)], [gcra(10, 1000, 1)],
             [gcra(10, 1000), win(5, 1000)], [win(10, 1000)], [gcra(100, 60000)]]
    users = ["u%d" % i for i in range(6)]
    now = 1700000000000
    r.delete(*[k for u in users for p in ("s", "b") for k in keys_for(p + u, 2)])
    for step in range(300):
        now = random_now(rng, now)
        picks = rng.sample(users, rng.randint(1, len(users)))
        checks = [(u, specs[rng.choice([0, 0, 0, 1, 2, 3, 4, 5, 6])], random_counts(rng, None))
                  for u in picks]
        alone = []
        for u, limits, counts in checks:
            alone.append(run(r, sha, keys_for("s" + u, len(limits)), limits, now, *counts))
        keys, args = [], [str(now)]
        for u, limits, counts in checks:
            keys += keys_for("b" + u, len(limits))
            args += check_args(limits, *counts)
        got = [int(x) for x in r.evalsha(sha, len(keys), *keys, *args)]
        ctx = "step %d checks %r" % (step, checks)
        assert got == [v for res in alone for v in res], ctx
        for u, limits, _ in checks:
            for ks, kb in zip(keys_for("s" + u, len(limits)), keys_for("b" + u, len(limits))):
                assert r.get(ks) == r.get(kb), ctx
                r.persist(ks)  # fake time: real expiry must not race the two
                r.persist(kb)


# ---- arguments and the production clock ----

GOOD = ["1", "1", "0", "0"]  # one limit, one request, nothing ahead or back


@pytest.mark.parametrize("args", [
    [""] + GOOD + ["gcra", "0", "1000", "0"],          # rate 0
    [""] + GOOD + ["gcra", "1", "0", "0"],             # period 0
    [""] + GOOD + ["gcra", "1", str(2 ** 36 + 1), "0"],
    [""] + GOOD + ["gcra", "1", str(2 ** 36), "17"],   # burst too large (T*B > 2^50)
    [""] + GOOD + ["leaky", "1", "1000", "0"],
    [""] + GOOD + ["gcra", "1.5", "1000", "0"],
    [""] + GOOD + ["gcra", "1", "1000"],               # too few arguments
    [str(2 ** 42)] + GOOD + ["gcra", "1", "1000", "0"],
    ["", "1", "-1", "0", "0", "gcra", "1", "1000", "0"],       # need < 0
    ["", "1", "1", str(2 ** 32 + 1), "0", "gcra", "1", "1000", "0"],  # extra too large
    ["", "1", "1", "0", "0.5", "gcra", "1", "1000", "0"],      # giveback not an integer
    ["", "0", "1", "0", "0"],                                   # no limits
    ["", "2", "1", "0", "0", "gcra", "1", "1000", "0", "gcra", "1", "1000", "0"],  # 2 limits, 1 key
])
def test_bad_arguments(r, sha, args):
    with pytest.raises(redis.ResponseError):
        r.evalsha(sha, 1, "pc:{bad}:l0", *args)
    assert r.get("pc:{bad}:l0") is None  # nothing written


def test_redis_time(r, sha):
    keys = keys_for("time", 2)
    r.delete(*keys)
    limits = [gcra(2, 60000), win(5, 60000)]
    assert run(r, sha, keys, limits, None)[:1] == [1]
    assert run(r, sha, keys, limits, None)[:1] == [1]
    got = run(r, sha, keys, limits, None)
    assert got[0] == 0 and got[4] == 0 and 0 < got[3] <= 30000
    # The state sits on the server's clock, and expires with it.
    tat_us = int(r.get(keys[0]))
    sec, usec = r.time()
    assert abs(tat_us - (sec * 1000000 + usec) - 60000000) < 5000000
    assert 0 < r.pttl(keys[0]) <= 60000
    assert 60000 < r.pttl(keys[1]) <= 120000
