"""A fake Redis on 127.0.0.1 that answers the gateway's rate-limit checks
honestly (mode "allow") or in one of many hostile ways, switchable while
the gateway runs: for tests/e2e/test_redis_hostile.py.

It speaks just enough RESP: it reads the gateway's commands (arrays of
bulk strings, pipelined), answers SCRIPT LOAD with the script's SHA1, PING
with PONG, and EVALSHA according to the mode ("silent": a server that
hangs, never answering that connection again). Every loop is bounded: a
streaming mode stops after STREAM_MAX bytes or when the gateway hangs up."""
import hashlib
import socket
import threading
import time

STREAM_MAX = 256 * 1024 * 1024
STREAM_SECONDS = 10


def _ints(values):
    return b"*%d\r\n" % len(values) + b"".join(b":%d\r\n" % v for v in values)


def _checks(args):
    """(need, extra) of each check of an EVALSHA sent by store_check.c:
    EVALSHA sha numkeys KEYS... now, then n need extra give + 4 per limit."""
    nkeys = int(args[2])
    argv = args[3 + nkeys:]
    out, i = [], 1
    while i < len(argv):
        n, need, extra = int(argv[i]), int(argv[i + 1]), int(argv[i + 2])
        out.append((need, extra))
        i += 4 + 4 * n
    return out


def _allow(checks):
    # granted, remaining, reset_ms, retry_after_ms, limit, over_*
    return _ints([v for need, _ in checks for v in (need, 50, 1000, 0, 0, 0, 0, 0)])


# mode -> bytes answered to an EVALSHA, from its checks
CANNED = {
    "allow": _allow,
    "status": lambda c: b"+OK\r\n",
    "error": lambda c: b"-ERR something went wrong\r\n",
    "nil": lambda c: b"$-1\r\n",
    "integer": lambda c: b":1\r\n",
    "short": lambda c: _ints([1] * (8 * len(c) - 1)),
    "long": lambda c: _ints([1] * (8 * len(c) + 8)),
    "negative": lambda c: _ints([-1] * (8 * len(c))),
    "out_of_range": lambda c: _ints([1 << 62] * (8 * len(c))),
    "grant_too_much": lambda c: _ints([v for need, extra in c
                                       for v in (need + extra + 1000, 1, 1, 0, 0, 0, 0, 0)]),
    "bad_limit_index": lambda c: _ints([v for need, _ in c for v in (need, 1, 1, 0, 7, 0, 0, 0)]),
    "strings": lambda c: b"*%d\r\n" % (8 * len(c)) + b"$1\r\n1\r\n" * (8 * len(c)),
    "garbage": lambda c: b"hello, this is not RESP\r\n",
}

# mode -> (head, chunk): the head, then chunks streamed until the gateway hangs up
STREAMS = {
    "huge_bulk": (b"$1000000000\r\n", b"x" * 65536),
    "huge_array": (b"*2147483647\r\n", b":1\r\n" * 16384),
    "huge_status": (b"+", b"y" * 65536),
    "deep_arrays": (b"", b"*1\r\n" * 16384),
}

MODES = sorted(set(CANNED) | set(STREAMS) | {"silent", "close"})


def _read_command(f):
    line = f.readline()
    if not line:
        return None
    if not line.startswith(b"*"):
        raise ValueError("not a RESP array: %r" % line[:40])
    args = []
    for _ in range(int(line[1:])):
        hdr = f.readline()
        n = int(hdr[1:])
        data = f.read(n + 2)
        args.append(data[:-2])
    return args


class FakeRedis:
    def __init__(self):
        self.mode = "allow"
        self.evalshas = 0
        self.connections = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._conns = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def set_mode(self, mode):
        assert mode in MODES, mode
        self.mode = mode

    def _accept(self):
        while not self._stop.is_set():
            try:
                c, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                self._conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _stream(self, c, head, chunk):
        c.settimeout(1.0)
        c.sendall(head)
        sent, t0 = 0, time.monotonic()
        while (sent < STREAM_MAX and time.monotonic() - t0 < STREAM_SECONDS
               and not self._stop.is_set()):
            c.sendall(chunk)
            sent += len(chunk)

    def _serve(self, c):
        f = c.makefile("rb")
        stuck = False  # "silent": this connection never answers again
        try:
            while not self._stop.is_set():
                args = _read_command(f)
                if args is None:
                    return
                if stuck:
                    continue
                cmd = args[0].upper()
                if cmd == b"SCRIPT" and args[1].upper() == b"LOAD":
                    sha = hashlib.sha1(args[2]).hexdigest().encode()
                    c.sendall(b"$40\r\n" + sha + b"\r\n")
                    continue
                if cmd == b"PING":
                    c.sendall(b"+PONG\r\n")
                    continue
                if cmd != b"EVALSHA":
                    c.sendall(b"-ERR this fake knows only EVALSHA\r\n")
                    continue
                self.evalshas += 1
                mode = self.mode
                if mode == "close":
                    return
                if mode == "silent":
                    stuck = True
                    continue
                if mode in STREAMS:
                    self._stream(c, *STREAMS[mode])
                    return
                c.sendall(CANNED[mode](_checks(args)))
        except (OSError, ValueError):
            return
        finally:
            f.close()
            c.close()

    def stop(self):
        self._stop.set()
        self._sock.close()
        with self._lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._thread.join(5)
