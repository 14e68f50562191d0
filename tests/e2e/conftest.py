"""Fixtures for the portcullis end-to-end tests.

Everything runs on 127.0.0.1. Every process a test starts is stopped by a
finalizer, and every gateway's stderr is checked for sanitizer reports and
assertion failures at teardown.

PC_BUILDDIR (default /tmp/e2e-build) holds tests/portcullis-test (the gateway
plus the test-only "test_async" plugin type) and portcullis.

Fixtures:
  stack          processes for one test: stack.upstream(name), stack.gateway(cfg)
  upstream       = stack.upstream: starts mock_upstream.py, returns an Upstream
                   (.port .url .requests() .mark() .since(mark) .stop())
  gateway        = stack.gateway: fills in listen/admin ports, starts the test
                   binary, waits for /readyz; returns a Gateway (.url .admin_url
                   .port .config_path .proc .log() .reload(cfg) .generation()
                   .metrics() .signal(sig) .stop())
  module_stack   the same, shared by a module (tests compare record deltas)
  free_port      function returning a free loopback port
At teardown every gateway is stopped (SIGTERM, 15 s) and the test fails if
its stderr shows a sanitizer report or an assertion failure, if it did not
exit in time, or if it had died on its own before.
"""
import copy
import json
import os
import signal
import socket
import subprocess
import time

import pytest
import requests

from procs import terminate

HERE = os.path.dirname(os.path.abspath(__file__))
BUILDDIR = os.environ.get("PC_BUILDDIR", "/tmp/e2e-build")
TEST_BINARY = os.path.join(BUILDDIR, "tests", "portcullis-test")
PROD_BINARY = os.path.join(BUILDDIR, "portcullis")
PYTHON = "/usr/bin/python3"
MOCK = os.path.join(HERE, "mock_upstream.py")



def is_sanitizer_binary(data):
    """An ASan build calls __asan_init (the runtime is a shared library, so
    its own strings, such as "AddressSanitizer", are not in the binary)."""
    return b"__asan_init" in data or b"AddressSanitizer" in data


def _time_factor():
    """Time limits are scaled by PC_E2E_TIME_FACTOR, default 3 for a
    sanitizer build (ASan makes the gateway several times slower), else 1."""
    if os.environ.get("PC_E2E_TIME_FACTOR"):
        return float(os.environ["PC_E2E_TIME_FACTOR"])
    try:
        with open(TEST_BINARY, "rb") as f:
            return 3.0 if is_sanitizer_binary(f.read()) else 1.0
    except OSError:
        return 1.0


TIME_FACTOR = _time_factor()

BAD_PATTERNS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                "assertion failed")

GATEWAY_ENV = dict(os.environ,
                   ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                   UBSAN_OPTIONS="print_stacktrace=1")


_GIVEN_PORTS = set()


def free_port():
    """A port that was free a moment ago (bind to port 0 on loopback).

    The kernel may hand the same ephemeral port to two probes in a row once
    the first socket is closed, so a port is never given out twice in one
    test session: a gateway's listener and admin port must differ."""
    for _ in range(64):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        finally:
            s.close()
        if port not in _GIVEN_PORTS:
            _GIVEN_PORTS.add(port)
            return port
    raise RuntimeError("no fresh loopback port after 64 probes")


@pytest.fixture(name="free_port")
def free_port_fixture():
    return free_port


# ---- mock upstreams --------------------------------------------------------------


class Upstream:
    def __init__(self, tmp_path, name, idx):
        self.name = name
        self.record = str(tmp_path / ("upstream-%s-%d.jsonl" % (name, idx)))
        self.rawfile = str(tmp_path / ("upstream-%s-%d.raw.jsonl" % (name, idx)))
        open(self.record, "w").close()
        open(self.rawfile, "w").close()
        self.errfile = open(str(tmp_path / ("upstream-%s-%d.err" % (name, idx))), "wb")
        self.proc = subprocess.Popen(
            [PYTHON, MOCK, "--port", "0", "--name", name, "--record", self.record,
             "--raw", self.rawfile],
            stdout=subprocess.PIPE, stderr=self.errfile, stdin=subprocess.DEVNULL)
        import select
        line = b""
        ready, _, _ = select.select([self.proc.stdout], [], [], 10.0)
        if ready:
            line = self.proc.stdout.readline()  # one short line, or EOF if it died
        if not line.startswith(b"LISTENING "):
            self.stop()
            raise RuntimeError("mock upstream did not start: %r" % line)
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d" % self.port
        self._wait_accepts()

    def _wait_accepts(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mock upstream not accepting on %d" % self.port)

    def requests(self):
        """Requests recorded so far (dicts: name, method, target, path, headers, body_len)."""
        out = []
        with open(self.record, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if line:
                    out.append(json.loads(line))
        return out

    def mark(self):
        return len(self.requests())

    def since(self, mark):
        return self.requests()[mark:]

    def _raw_reads(self):
        out = []
        with open(self.rawfile, encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):  # a line still being written is skipped
                    out.append(json.loads(line))
        return out

    def raw_mark(self):
        """A position in the raw log (every byte received, before parsing)."""
        return len(self._raw_reads())

    def raw_since(self, mark=0):
        """{connection number: bytes received} since mark, in arrival order."""
        conns = {}
        for rec in self._raw_reads()[mark:]:
            conns[rec["conn"]] = conns.get(rec["conn"], b"") + rec["data"].encode("latin-1")
        return conns

    def connections(self):
        """How many connections sent this upstream at least one byte."""
        return len({rec["conn"] for rec in self._raw_reads()})

    def forwarded_since(self, mark, g, barrier_path="/__barrier__"):
        """The raw bytes this upstream received since raw mark, once a barrier
        request sent through g afterwards has arrived: a fence instead of a
        fixed sleep. g must route barrier_path to this upstream. Barrier
        request heads (this call's and earlier ones') are cut out; what is left is what the
        gateway forwarded for the requests under test (b"" if nothing).
        Bounded by 10 s (scaled for sanitizer builds)."""
        tag = ("%s/%d-%d" % (barrier_path.rstrip("/"), os.getpid(), time.monotonic_ns())).encode()
        s = socket.create_connection(("127.0.0.1", g.port), timeout=5)
        try:
            s.sendall(b"GET " + tag + b" HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            read_response_bytes(s, timeout=5 * TIME_FACTOR)
        finally:
            s.close()
        deadline = time.monotonic() + 10 * TIME_FACTOR
        while True:
            conns = self.raw_since(mark)
            if any(tag in data for data in conns.values()):
                break
            if time.monotonic() > deadline:
                raise AssertionError("barrier %r never reached upstream %s" % (tag, self.name))
            time.sleep(0.01)
        # cut every barrier request head (earlier calls' too)
        prefix = b"GET " + barrier_path.rstrip("/").encode() + b"/"
        rest = b""
        for data in conns.values():
            while True:
                i = data.find(prefix)
                if i < 0:
                    break
                end = data.find(b"\r\n\r\n", i)
                data = data[:i] + (data[end + 4:] if end >= 0 else b"")
            rest += data
        return rest

    def stop(self):
        terminate(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.errfile.close()


def metric_value(text, name):
    """The value of an unlabelled metric in a /metrics page (0 if absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def stop_with_requests_waiting(g, send, n=4):
    """SIGTERM to g while n requests wait inside it (send(i) makes request
    i and returns its response): the gateway exits cleanly within 5 s, and
    every request ends, none with 200."""
    import threading
    results = []

    def one(i):
        try:
            results.append(send(i).status_code)
        except requests.RequestException as e:
            results.append(type(e).__name__)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    # the requests are inside the gateway, not merely sent
    deadline = time.monotonic() + 10 * TIME_FACTOR
    while metric_value(g.metrics(), "portcullis_requests_active") < n:
        assert time.monotonic() < deadline, "the %d requests never reached the gateway" % n
        time.sleep(0.02)
    t0 = time.monotonic()
    assert g.stop() == 0
    assert time.monotonic() - t0 < 5
    for t in threads:
        t.join(10)
    assert len(results) == n and 200 not in results, results


# ---- gateways ---------------------------------------------------------------------


def upstream_conf(*ups, **extra):
    """{"targets": [...]} for mock upstreams (or (upstream, weight) pairs)."""
    targets = []
    for u in ups:
        if isinstance(u, tuple):
            targets.append({"url": u[0].url, "weight": u[1]})
        elif isinstance(u, str):
            targets.append({"url": u})
        else:
            targets.append({"url": u.url})
    d = {"targets": targets}
    d.update(extra)
    return d


def simple_config(up, routes=None, **top):
    """A config with one upstream "u" and, by default, one prefix route on "/"."""
    cfg = {
        "upstreams": {"u": upstream_conf(up)},
        "routes": routes if routes is not None else [
            {"name": "all", "match": {"path_prefix": "/"}, "upstream": "u"}],
    }
    cfg.update(top)
    return cfg


class Gateway:
    def __init__(self, tmp_path, config, binary, idx):
        self.binary = binary
        self.config_path = str(tmp_path / ("gateway-%d.json" % idx))
        self.stderr_path = str(tmp_path / ("gateway-%d.err" % idx))
        self.config = self._fill(copy.deepcopy(config))
        self._write(self.config)
        self._errf = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen([binary, "-c", self.config_path], stdout=self._errf,
                                     stderr=self._errf, stdin=subprocess.DEVNULL,
                                     env=GATEWAY_ENV)
        self.exit_code = None
        self.stop_requested = False
        self.port = self.config["listen"][0]["port"]
        self.admin_port = self.config["admin"]["port"]
        self.url = "http://127.0.0.1:%d" % self.port
        self.admin_url = "http://127.0.0.1:%d" % self.admin_port

    @staticmethod
    def _fill(cfg):
        cfg.setdefault("workers", 2)
        cfg.setdefault("routes", [])
        listen = cfg.setdefault("listen", [{}])
        for l in listen:
            l.setdefault("address", "127.0.0.1")
            if not l.get("port"):
                l["port"] = free_port()
        admin = cfg.setdefault("admin", {})
        admin.setdefault("address", "127.0.0.1")
        if not admin.get("port"):
            admin["port"] = free_port()
        return cfg

    def _write(self, cfg):
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(cfg, f, indent=1)
        os.replace(tmp, self.config_path)

    def wait_ready(self, timeout=10.0):
        """True once this gateway serves. /readyz alone is not proof: on a
        shared machine another process may take the probed admin port before
        the gateway binds it, and answer 200 itself. So the gateway must
        also have logged that it serves (all its listeners bound), unless
        its log level hides that line."""
        lg = self.config.get("log")
        quiet = isinstance(lg, dict) and lg.get("level") in ("warn", "error")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if ((quiet or " routes, generation " in self.log()) and
                        requests.get(self.admin_url + "/readyz", timeout=1).status_code == 200):
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.03)
        return False

    def log(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def generation(self):
        return requests.get(self.admin_url + "/config", timeout=2).json()["generation"]

    def metrics(self):
        return requests.get(self.admin_url + "/metrics", timeout=2).text

    def reload(self, new_config, timeout=5.0):
        """Rewrite the config, SIGHUP, wait for the next generation (or timeout).

        Returns True when the generation moved on, False when the log says the
        reload was refused (or on timeout)."""
        before = self.generation()
        refusals = self.log().count("reload refused")
        cfg = copy.deepcopy(new_config)
        if isinstance(cfg, dict):
            cfg.setdefault("workers", self.config.get("workers", 2))
            cfg.setdefault("listen", copy.deepcopy(self.config["listen"]))
            cfg.setdefault("admin", copy.deepcopy(self.config["admin"]))
            self._write(cfg)
        else:  # raw text (to write broken JSON)
            with open(self.config_path, "w") as f:
                f.write(cfg)
        self.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.generation() > before:
                    if isinstance(cfg, dict):
                        self.config = cfg
                    return True
            except requests.RequestException:
                pass
            if self.log().count("reload refused") > refusals:
                return False
            time.sleep(0.05)
        return False

    def signal(self, sig):
        """Sends a signal; SIGTERM/SIGINT count as a requested stop."""
        if sig in (signal.SIGTERM, signal.SIGINT) and not self.stop_requested:
            self.stop_requested = True
            self.died_early = self.proc.poll()
        self.proc.send_signal(sig)

    def stop(self, timeout=15.0):
        """SIGTERM, wait up to `timeout` s (then SIGKILL); returns the exit code."""
        if not self.stop_requested:
            self.stop_requested = True
            self.died_early = self.proc.poll()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
                self.exit_code = "killed"
                self._errf.close()
                return self.exit_code
        if self.exit_code is None:
            self.exit_code = self.proc.returncode
        if not self._errf.closed:
            self._errf.close()
        return self.exit_code

    def sanitizer_problems(self):
        log = self.log()
        return [p for p in BAD_PATTERNS if p in log]


def _start_gateway(tmp_path, config, binary, started, check_ready=True):
    last = None
    for _attempt in range(3):  # a free port may be taken between probe and bind
        g = Gateway(tmp_path, config, binary, len(started))
        started.append(g)
        if not check_ready:
            return g
        if g.wait_ready():
            return g
        last = g
        g.stop()
        log = g.log()
        if "ddress already in use" not in log and "cannot listen" not in log:
            break
    raise RuntimeError("gateway did not become ready (exit %r):\n%s" % (last.exit_code,
                                                                         last.log()[-4000:]))


class Stack:
    """Processes started for one test (or one module): stopped together,
    gateways' stderr checked for sanitizer reports."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.upstreams = []
        self.gateways = []

    def upstream(self, name="upstream"):
        u = Upstream(self.tmp_path, name, len(self.upstreams))
        self.upstreams.append(u)
        return u

    def gateway(self, config, binary=TEST_BINARY, check_ready=True):
        return _start_gateway(self.tmp_path, config, binary, self.gateways, check_ready)

    def close(self):
        problems = []
        for g in self.gateways:
            if not g.stop_requested and g.proc.poll() is not None:
                rc = g.proc.returncode
                why = ("SIGKILL from outside? (another session's pkill on a shared box)"
                       if rc == -signal.SIGKILL else "crash?")
                problems.append("%s: gateway exited on its own with code %s (%s)\n%s"
                                % (g.config_path, rc, why, g.log()[-3000:]))
            code = g.stop()
            bad = g.sanitizer_problems()
            if bad:
                problems.append("%s: %s\n%s" % (g.config_path, bad, g.log()[-6000:]))
            if code == "killed":
                problems.append("%s: did not exit within 15 s of SIGTERM" % g.config_path)
        for u in self.upstreams:
            u.stop()
        return problems


@pytest.fixture
def stack(tmp_path):
    st = Stack(tmp_path)
    yield st
    problems = st.close()
    if problems:
        pytest.fail("gateway problems at teardown:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture(scope="module")
def module_stack(tmp_path_factory, request):
    """Like `stack`, shared by the tests of one module (faster: tests check
    the upstream record by difference)."""
    st = Stack(tmp_path_factory.mktemp(request.module.__name__))
    yield st
    problems = st.close()
    if problems:
        pytest.fail("gateway problems at teardown:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def upstream(stack):
    """Factory: upstream(name="u1") starts a mock upstream."""
    return stack.upstream


@pytest.fixture
def gateway(stack):
    """Factory: gateway(config_dict) starts the test binary and waits for /readyz."""
    return stack.gateway


# ---- helpers ----------------------------------------------------------------------


def raw_request(port, data, timeout=5.0, read_all=True):
    """Send raw bytes, return everything the server sends until it closes
    (or until one full response is in, when read_all is False)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        return read_response_bytes(s, timeout, read_all)
    finally:
        s.close()


def read_response_bytes(s, timeout=5.0, read_all=True):
    buf = b""
    deadline = time.monotonic() + timeout
    s.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            d = s.recv(65536)
        except socket.timeout:
            if not read_all and response_complete(buf):
                break
            continue
        except ConnectionResetError:
            break
        if not d:
            break
        buf += d
        if not read_all and response_complete(buf):
            break
    return buf


def response_complete(buf):
    if b"\r\n\r\n" not in buf:
        return False
    head, body = buf.split(b"\r\n\r\n", 1)
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(body) >= int(v.strip())
    return False


def parse_response(buf):
    """(status, headers dict lower-case -> value, body) of the first response."""
    if not buf:
        return None, {}, b""
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode("latin-1")] = v.strip().decode("latin-1")
    if "content-length" in headers:
        body = body[:int(headers["content-length"])]
    return status, headers, body


def assert_problem(resp_or_tuple, status):
    """Checks an application/problem+json error with the request id."""
    if isinstance(resp_or_tuple, tuple):
        st, headers, body = resp_or_tuple
    else:
        st, headers, body = (resp_or_tuple.status_code,
                             {k.lower(): v for k, v in resp_or_tuple.headers.items()},
                             resp_or_tuple.content)
    assert st == status, (st, body)
    assert headers.get("content-type", "").startswith("application/problem+json"), headers
    doc = json.loads(body)
    for k in ("type", "title", "status", "detail", "request_id"):
        assert k in doc, (k, doc)
    assert doc["status"] == status
    assert doc["request_id"], doc
    assert headers.get("x-request-id") == doc["request_id"], (headers, doc)
    return doc


# ---- redis-server (store tests: tests/e2e/test_redis*.py, test_ratelimit*.py,
# test_bruteforce*.py) --------------------------------------------------------------


class RedisServer:
    """A redis-server on a free loopback port (no persistence), started and
    stopped by the test; restart() keeps the port. DEBUG is enabled for
    local clients (DEBUG SLEEP simulates a slow Redis)."""

    def __init__(self, tmp_path, idx, extra=(), unix=False):
        import shutil
        self.exe = shutil.which("redis-server")
        self.dir = tmp_path / ("redis-%d" % idx)
        self.dir.mkdir(exist_ok=True)
        self.port = free_port()
        self.extra = list(extra)
        self.unix_path = str(self.dir / "redis.sock") if unix else None
        self.password = None
        self.proc = None
        self.logf = None
        self.start()

    def start(self, timeout=10.0):
        args = [self.exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", str(self.dir), "--daemonize", "no",
                "--loglevel", "warning", "--enable-debug-command", "local"] + self.extra
        if self.unix_path:
            args += ["--unixsocket", self.unix_path, "--unixsocketperm", "700"]
        self.logf = open(str(self.dir / "redis.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.logf, stderr=self.logf,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: %s" % open(str(self.dir / "redis.log")).read())
            try:
                s = socket.create_connection(("127.0.0.1", self.port), timeout=0.5)
                s.sendall(b"PING\r\n")
                data = s.recv(64)
                s.close()
                if data.startswith(b"+PONG") or data.startswith(b"-NOAUTH"):
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start on port %d" % self.port)

    def url(self, db=0, userinfo=""):
        return "redis://%s127.0.0.1:%d/%d" % (userinfo + "@" if userinfo else "", self.port, db)

    def client(self, db=0, **kw):
        import redis as redis_py
        return redis_py.Redis(host="127.0.0.1", port=self.port, db=db, socket_timeout=10, **kw)

    def kill(self):
        """SIGKILL: the connections drop at once, nothing is saved."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self.logf:
            self.logf.close()
            self.logf = None

    def restart(self):
        self.kill()
        self.start()

    def stop(self):
        terminate(self.proc, grace=10)
        if self.logf:
            self.logf.close()
            self.logf = None


@pytest.fixture
def redis_server(tmp_path):
    """Factory: redis_server(extra=(), unix=False) starts a redis-server; skips
    the test when redis-server or the python redis module is missing."""
    import shutil
    if not shutil.which("redis-server"):
        pytest.skip("redis-server not installed")
    pytest.importorskip("redis")
    started = []

    def make(extra=(), unix=False):
        r = RedisServer(tmp_path, len(started), extra, unix)
        started.append(r)
        return r

    yield make
    for r in started:
        r.stop()


# ---- helpers of the rate-limit / brute-force / Redis store tests ----------------


def rl_token(sub=None, valid=True, **claims):
    """A bearer token for the test_auth plugin: valid iff its signature part
    is "valid"; the payload (base64url JSON) holds sub and the claims."""
    import base64
    payload = dict(claims)
    if sub is not None:
        payload["sub"] = sub
    p = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return "eyJhbGciOiJub25lIn0.%s.%s" % (p, "valid" if valid else "forged")


def rl_bearer(sub=None, valid=True, **claims):
    return {"Authorization": "Bearer " + rl_token(sub, valid, **claims)}


def rl_burst(urls, n, headers=None, threads=32):
    """n GETs spread round robin over urls, from `threads` threads with a
    keep-alive session each; headers may be a function of the index.
    Returns the statuses in request order."""
    import concurrent.futures
    import threading
    local = threading.local()

    def one(i):
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = requests.Session()
        h = headers(i) if callable(headers) else (headers or {})
        return s.get(urls[i % len(urls)], headers=h, timeout=20).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=threads) as ex:
        return list(ex.map(one, range(n)))


def rl_metric(g, name, labels=None):
    """The value of one /metrics sample (0.0 when absent)."""
    import re
    pat = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" (\S+)$"
    for line in g.metrics().splitlines():
        m = re.match(pat, line)
        if m:
            return float(m.group(1))
    return 0.0


def rl_wait_for(pred, timeout=10.0, step=0.05):
    """Polls pred() until it is truthy or timeout passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def rl_check_config(tmp_path, cfg, binary=None, name="check.json"):
    """`portcullis -t` on cfg: (exit code, stderr)."""
    p = tmp_path / name
    p.write_text(json.dumps(cfg))
    r = subprocess.run([binary or TEST_BINARY, "-t", "-c", str(p)], capture_output=True,
                       text=True, timeout=30)
    return r.returncode, r.stderr
