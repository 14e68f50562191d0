#!/usr/bin/python3
"""A mock HTTP/1.1 upstream for the portcullis end-to-end tests.

    mock_upstream.py --port N [--name NAME] [--record FILE] [--raw FILE]

--port 0 binds a free port. Once listening, the server prints one line
"LISTENING <port>" on stdout (the test harness reads it).

Default answer: 200 with the request echoed as JSON:
    {"name", "method", "target", "headers": [[k, v], ...], "body", "body_len"}
(the body as latin-1 text).

Query parameters (on the request target):
    delay_ms=N          answer after N ms (other requests are not blocked)
    status=NNN          answer with that status
    size=N              answer N bytes of a deterministic pattern (byte i is
                        i % 256), written in 64 KiB chunks, with Content-Length
    chunked=1           send the body with Transfer-Encoding: chunked
    close=1             send Connection: close and close after the response
    header=Name:Value   an extra response header (repeatable)
    hang=1              never answer (the connection stays open)
    reset=1             close the socket (RST) without answering

Every request is recorded, when its body has been read and before it is
answered, as one JSON line in the --record file:
    {"name", "method", "target", "path", "headers", "body_len", "time"}

Every byte received is also written, as it arrives and before any parsing,
to the --raw file: one JSON line per read, {"conn": N, "data": latin-1
text}, where N numbers the connections from 1. A gateway that forwards
something this parser cannot read still shows in the raw log, so "nothing
was forwarded" is checked on the raw bytes, not on parsed requests.
"""
import argparse
import asyncio
import json
import socket
import struct
import sys
import time
from urllib.parse import parse_qsl, urlsplit

CHUNK = 65536
PATTERN = bytes(range(256)) * (CHUNK // 256)


class BadRequest(Exception):
    pass


class Server:
    def __init__(self, name, record, raw=None):
        self.name = name
        self.record = open(record, "a", encoding="utf-8") if record else None
        self.raw = open(raw, "a", encoding="utf-8") if raw else None
        self.conns = 0
        self.hung = set()

    def raw_log(self, conn, data):
        if self.raw:
            self.raw.write(json.dumps({"conn": conn, "data": data.decode("latin-1")}) + "\n")
            self.raw.flush()

    def log(self, req):
        if not self.record:
            return
        self.record.write(json.dumps({
            "name": self.name,
            "method": req["method"],
            "target": req["target"],
            "path": req["target"].split("?", 1)[0],
            "headers": req["headers"],
            "body_len": len(req["body"]),
            "time": time.time(),
        }) + "\n")
        self.record.flush()

    async def read_request(self, reader):
        line = await reader.readline()
        if not line:
            return None
        while line in (b"\r\n", b"\n"):  # tolerate stray CRLF between requests
            line = await reader.readline()
            if not line:
                return None
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3:
            raise BadRequest("bad request line")
        method, target, version = parts
        headers = []
        total = 0
        while True:
            h = await reader.readline()
            if not h:
                return None
            total += len(h)
            if total > 1 << 20:
                raise BadRequest("headers too large")
            if h in (b"\r\n", b"\n"):
                break
            h = h.decode("latin-1").rstrip("\r\n")
            if ":" not in h:
                raise BadRequest("bad header")
            k, v = h.split(":", 1)
            headers.append([k, v.strip(" \t")])
        lower = {}
        for k, v in headers:
            lower.setdefault(k.lower(), []).append(v)
        body = b""
        te = lower.get("transfer-encoding")
        if te and te[-1].lower() == "chunked":
            chunks = []
            while True:
                sl = await reader.readline()
                if not sl:
                    return None
                size = int(sl.split(b";")[0].strip(), 16)
                if size == 0:
                    while True:  # trailers
                        t = await reader.readline()
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            body = b"".join(chunks)
        elif "content-length" in lower:
            n = int(lower["content-length"][0])
            body = await reader.readexactly(n) if n else b""
        return {"method": method, "target": target, "version": version,
                "headers": headers, "lower": lower, "body": body}

    async def handle(self, reader, writer):
        try:
            while True:
                try:
                    req = await self.read_request(reader)
                except BadRequest:
                    writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                                 b"Connection: close\r\n\r\n")
                    await writer.drain()
                    break
                if req is None:
                    break
                self.log(req)
                keep = await self.respond(req, reader, writer)
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            try:
                writer.close()
            except Exception:
                pass

    async def respond(self, req, reader, writer):
        q = parse_qsl(urlsplit(req["target"]).query, keep_blank_values=True)
        params = {}
        extra = []
        for k, v in q:
            if k == "header":
                if ":" in v:
                    hk, hv = v.split(":", 1)
                    extra.append((hk.strip(), hv.strip()))
            else:
                params[k] = v
        if params.get("reset") == "1":
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return False
        if params.get("hang") == "1":
            # Keep the connection open, never answer; wait for the peer to go.
            self.hung.add(writer)
            try:
                while await reader.read(65536):
                    pass
            finally:
                self.hung.discard(writer)
            return False
        if "delay_ms" in params:
            await asyncio.sleep(int(params["delay_ms"]) / 1000.0)
        status = int(params.get("status", "200"))
        chunked = params.get("chunked") == "1"
        close = params.get("close") == "1"
        head = req["method"] == "HEAD"
        hdrs = [("Server", "mock-upstream"), ("X-Upstream-Name", self.name)]
        if "size" in params:
            size = int(params["size"])
            ctype = "application/octet-stream"
            body_iter = self.pattern(size)
        else:
            echo = {"name": self.name, "method": req["method"], "target": req["target"],
                    "headers": req["headers"], "body": req["body"].decode("latin-1"),
                    "body_len": len(req["body"])}
            data = json.dumps(echo).encode()
            size = len(data)
            ctype = "application/json"
            body_iter = iter([data])
        no_body = head or status in (204, 304) or 100 <= status < 200
        hdrs.append(("Content-Type", ctype))
        if chunked:
            hdrs.append(("Transfer-Encoding", "chunked"))
        elif status not in (204, 304):
            hdrs.append(("Content-Length", str(size)))
        if close:
            hdrs.append(("Connection", "close"))
        hdrs.extend(extra)
        out = "HTTP/1.1 %d %s\r\n" % (status, "Mock")
        out += "".join("%s: %s\r\n" % (k, v) for k, v in hdrs) + "\r\n"
        writer.write(out.encode("latin-1"))
        if not no_body:
            for piece in body_iter:
                if chunked:
                    writer.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                else:
                    writer.write(piece)
                await writer.drain()
            if chunked:
                writer.write(b"0\r\n\r\n")
        await writer.drain()
        return not close

    @staticmethod
    def pattern(size):
        sent = 0
        while sent < size:
            n = min(CHUNK, size - sent)
            yield PATTERN[:n]
            sent += n


class TeeProtocol(asyncio.StreamReaderProtocol):
    """A stream protocol that hands every read to the raw log first."""

    def __init__(self, srv):
        srv.conns += 1
        self.conn = srv.conns
        self.srv = srv
        super().__init__(asyncio.StreamReader(), srv.handle)

    def data_received(self, data):
        self.srv.raw_log(self.conn, data)
        super().data_received(data)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default="upstream")
    ap.add_argument("--record")
    ap.add_argument("--raw")
    a = ap.parse_args()
    srv = Server(a.name, a.record, a.raw)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: TeeProtocol(srv), "127.0.0.1", a.port,
                                      backlog=4096, reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write("LISTENING %d\n" % port)
    sys.stdout.flush()
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
