#!/usr/bin/python3
"""bench/idle_conns.py: resident memory of idle keep-alive connections,
portcullis next to haproxy and nginx, in one run.

Each server proxies to the same upstream (a small asyncio server started by
this script). For each server in turn: read its total RSS (all its
processes, from /proc), open N keep-alive connections that each send one
request and read its answer, wait, read the RSS again, close them all,
wait, read it a third time. Prints one table.

    /usr/bin/python3 bench/idle_conns.py [-n 10000] [--only portcullis]
        [--portcullis /tmp/b-idle/portcullis] [--settle 5] [--json]

Everything listens on 127.0.0.1, ports 18600-18699. Every process started is
stopped by PID (SIGTERM, then SIGKILL), also on error; the whole run is
bounded by --deadline seconds (default 600).
"""
import argparse
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

UP_PORT, PC_PORT, PC_ADMIN, NGX_PORT, HAP_PORT = 18600, 18601, 18602, 18603, 18604
REQ = b"GET /idle HTTP/1.1\r\nHost: bench\r\n\r\n"

UPSTREAM = r'''
import asyncio, sys
BODY = b"hello idle\n"
RESP = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
        % len(BODY)) + BODY
async def serve(r, w):
    try:
        buf = b""
        while True:
            d = await r.read(65536)
            if not d:
                break
            buf += d
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                w.write(RESP)
            await w.drain()
    except Exception:
        pass
    w.close()
async def main():
    s = await asyncio.start_server(serve, "127.0.0.1", int(sys.argv[1]), backlog=4096)
    async with s:
        await s.serve_forever()
asyncio.run(main())
'''

NGINX = '''worker_processes 2;
worker_rlimit_nofile {nofile};
daemon off;
master_process on;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections {nofile}; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    client_body_temp_path {dir}/tmp-body;
    proxy_temp_path {dir}/tmp-proxy;
    upstream up {{ server 127.0.0.1:{up}; keepalive 64; }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://up;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
    }}
}}
'''

HAPROXY = '''global
    nbthread 2
    maxconn {maxconn}
defaults
    mode http
    maxconn {maxconn}
    timeout connect 5s
    timeout client 300s
    timeout server 60s
    timeout http-keep-alive 300s
    http-reuse always
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server u1 127.0.0.1:{up}
'''


def portcullis_conf(up, port, admin, n):
    return {
        "workers": 2,
        "log": {"level": "warn"},
        "listen": [{"address": "127.0.0.1", "port": port, "max_connections": n + 1000,
                    "limits": {"client_idle_timeout_ms": 300000}}],
        "admin": {"address": "127.0.0.1", "port": admin},
        "upstreams": {"up": {"targets": [{"url": "http://127.0.0.1:%d" % up}]}},
        "routes": [{"name": "all", "match": {"path_prefix": "/"}, "upstream": "up"}],
    }


class Procs:
    def __init__(self):
        self.procs = []

    def spawn(self, name, argv, log):
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append((name, p))
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)

    def stop_all(self):
        for _, p in reversed(self.procs):
            self.stop(p)


def tree_rss_kb(pid):
    """Total VmRSS of pid and its descendants (nginx workers)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(kids.get(p, []))
        try:
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def wait_port(port, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d" % port)


def response_done(buf):
    head, sep, body = buf.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return len(body) >= int(v)
    return False


def open_idle(port, n, batch=500, timeout=60.0):
    """n connections, each after one answered request; returns the sockets."""
    done, sel = [], selectors.DefaultSelector()
    end = time.monotonic() + timeout
    while len(done) < n:
        pending = {}
        for _ in range(min(batch, n - len(done))):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(REQ)
            s.setblocking(False)
            pending[s] = b""
            sel.register(s, selectors.EVENT_READ)
        while pending:
            if time.monotonic() > end:
                raise RuntimeError("answers too slow (%d open)" % len(done))
            for key, _ in sel.select(1.0):
                s = key.fileobj
                d = s.recv(65536)
                if not d:
                    raise RuntimeError("server closed a connection")
                pending[s] += d
                if response_done(pending[s]):
                    if not pending[s].startswith(b"HTTP/1.1 200"):
                        raise RuntimeError("answer: %r" % pending[s][:80])
                    sel.unregister(s)
                    del pending[s]
                    done.append(s)
    sel.close()
    return done


def measure(name, pid, port, n, settle):
    time.sleep(settle)
    before = tree_rss_kb(pid)
    socks = open_idle(port, n)
    time.sleep(settle)
    at_n = tree_rss_kb(pid)
    for s in socks:
        s.close()
    time.sleep(settle)
    after = tree_rss_kb(pid)
    return {"server": name, "n": n, "before_kb": before, "at_n_kb": at_n,
            "after_kb": after, "per_conn_b": (at_n - before) * 1024 // max(n, 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--only", action="append")
    ap.add_argument("--portcullis", default=os.environ.get("PORTCULLIS_BIN",
                                                           "/tmp/b-idle/portcullis"))
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--deadline", type=int, default=600)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    want = a.only or ["portcullis", "haproxy", "nginx"]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:  # haproxy wants 2 fds per maxconn; root may raise the hard limit
        resource.setrlimit(resource.RLIMIT_NOFILE, (4 * a.n + 1000,) * 2)
        hard = 4 * a.n + 1000
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard < a.n + 100:
        sys.exit("ulimit -Hn %d is below -n %d" % (hard, a.n))
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError("deadline")))
    signal.alarm(a.deadline)
    tmp = tempfile.mkdtemp(prefix="pc-idle-")
    procs, rows = Procs(), []
    log = open(os.path.join(tmp, "servers.log"), "ab")
    try:
        procs.spawn("upstream", ["/usr/bin/python3", "-c", UPSTREAM, str(UP_PORT)], log)
        wait_port(UP_PORT)
        for name in want:
            n = a.n
            if name == "portcullis":
                path = os.path.join(tmp, "portcullis.json")
                with open(path, "w") as f:
                    json.dump(portcullis_conf(UP_PORT, PC_PORT, PC_ADMIN, a.n), f)
                p, port = procs.spawn(name, [a.portcullis, "-c", path], log), PC_PORT
            elif name == "nginx":
                os.makedirs(os.path.join(tmp, "tmp-body"), exist_ok=True)
                path = os.path.join(tmp, "nginx.conf")
                with open(path, "w") as f:
                    f.write(NGINX.format(dir=tmp, up=UP_PORT, port=NGX_PORT, nofile=2 * a.n + 1000))
                p, port = procs.spawn(name, ["/usr/sbin/nginx", "-c", path, "-p", tmp], log), \
                    NGX_PORT
            elif name == "haproxy":
                path = os.path.join(tmp, "haproxy.cfg")
                with open(path, "w") as f:
                    # haproxy needs 2 fds per maxconn, + 17; we cannot raise
                    # the hard limit, so it may see a few connections fewer
                    hap_maxconn = min(a.n + 500, (hard - 17) // 2)
                    f.write(HAPROXY.format(up=UP_PORT, port=HAP_PORT, maxconn=hap_maxconn))
                p, port = procs.spawn(name, ["/usr/sbin/haproxy", "-f", path], log), HAP_PORT
                n = min(a.n, hap_maxconn - 10)
            else:
                sys.exit("unknown server %s" % name)
            wait_port(port)
            rows.append(measure(name, p.pid, port, n, a.settle))
            procs.stop(p)
    finally:
        procs.stop_all()
        log.close()
        signal.alarm(0)
    if a.json:
        print(json.dumps(rows))
    print("| server | idle conns | RSS before | RSS at N idle | per idle conn | RSS after close |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %d | %.1f MB | %.1f MB | %.2f KB | %.1f MB |" % (
            r["server"], r["n"], r["before_kb"] / 1024, r["at_n_kb"] / 1024,
            r["per_conn_b"] / 1024,
            r["after_kb"] / 1024))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
