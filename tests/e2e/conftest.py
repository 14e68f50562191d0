"""Fixtures for the portcullis end-to-end tests.

Everything runs on 127.0.0.1. Every process a test starts is stopped by a
finalizer, and every gateway's stderr is checked for sanitizer reports and
assertion failures at teardown.

PC_BUILDDIR (default /tmp/e2e-build) holds tests/portcullis-test (the gateway
plus the test-only "test_async" plugin type) and portcullis.
"""
import copy
import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
BUILDDIR = os.environ.get("PC_BUILDDIR", "/tmp/e2e-build")
TEST_BINARY = os.path.join(BUILDDIR, "tests", "portcullis-test")
PROD_BINARY = os.path.join(BUILDDIR, "portcullis")
PYTHON = "/usr/bin/python3"
MOCK = os.path.join(HERE, "mock_upstream.py")

BAD_PATTERNS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer",
                "assertion failed")

GATEWAY_ENV = dict(os.environ,
                   ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
                   UBSAN_OPTIONS="print_stacktrace=1")


def free_port():
    """A port that was free a moment ago (bind to port 0 on loopback)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


@pytest.fixture(name="free_port")
def free_port_fixture():
    return free_port


# ---- mock upstreams --------------------------------------------------------------


class Upstream:
    def __init__(self, tmp_path, name, idx):
        self.name = name
        self.record = str(tmp_path / ("upstream-%s-%d.jsonl" % (name, idx)))
        open(self.record, "w").close()
        self.errfile = open(str(tmp_path / ("upstream-%s-%d.err" % (name, idx))), "wb")
        self.proc = subprocess.Popen(
            [PYTHON, MOCK, "--port", "0", "--name", name, "--record", self.record],
            stdout=subprocess.PIPE, stderr=self.errfile, stdin=subprocess.DEVNULL)
        line = b""
        deadline = time.monotonic() + 10
        # readline blocks, but the process prints quickly or dies (EOF).
        line = self.proc.stdout.readline()
        if not line.startswith(b"LISTENING ") or time.monotonic() > deadline:
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

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.errfile.close()


@pytest.fixture
def upstream(tmp_path):
    """Factory: upstream(name="u1") starts a mock upstream."""
    started = []

    def make(name="upstream"):
        u = Upstream(tmp_path, name, len(started))
        started.append(u)
        return u

    yield make
    for u in started:
        u.stop()


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
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if requests.get(self.admin_url + "/readyz", timeout=1).status_code == 200:
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

        Returns True when the generation moved on."""
        before = self.generation()
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
            time.sleep(0.05)
        return False

    def stop(self, timeout=15.0):
        """SIGTERM, wait up to `timeout` s (then SIGKILL); returns the exit code."""
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
        code = g.stop()
        log = g.log()
        if "ddress already in use" not in log and "cannot listen" not in log:
            break
    raise RuntimeError("gateway did not become ready (exit %r):\n%s" % (last.exit_code,
                                                                         last.log()[-4000:]))


@pytest.fixture
def gateway(tmp_path, request):
    """Factory: gateway(config_dict) starts the test binary and waits for /readyz."""
    started = []

    def make(config, binary=TEST_BINARY, check_ready=True):
        return _start_gateway(tmp_path, config, binary, started, check_ready)

    yield make
    problems = []
    for g in started:
        code = g.stop()
        bad = g.sanitizer_problems()
        if bad:
            problems.append("%s: %s\n%s" % (g.config_path, bad, g.log()[-6000:]))
        if code == "killed":
            problems.append("%s: did not exit within 15 s of SIGTERM" % g.config_path)
    if problems:
        pytest.fail("gateway problems at teardown:\n" + "\n".join(problems), pytrace=False)


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
