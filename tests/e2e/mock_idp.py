#!/usr/bin/python3
"""tests/e2e/mock_idp.py: a mock identity provider for the jwt plugin's
end-to-end tests, and the helpers the tests use with it.

As a program (`/usr/bin/python3 mock_idp.py --port 0`) it prints
"LISTENING <port>" and serves, on 127.0.0.1:

  GET  /.well-known/openid-configuration  {"issuer", "jwks_uri", "introspection_endpoint"}
  GET  /jwks                              the current JWKS, with a Cache-Control
  POST /introspect                        RFC 7662; client_secret_basic or _post
  POST /_control                          change behaviour (JSON, below)
  GET  /_stats                            what was asked so far

Control (every key optional; what is not given is kept):
  {"jwks": {...}, "cache_control": "max-age=60" | null,
   "issuer": "...",                       (issuer in the discovery document)
   "mode": "up" | "503" | "reset" | "hang" (hang: never answer the IdP paths),
   "delay_ms": N,                         (before answering the IdP paths)
   "client_id": "...", "client_secret": "...",
   "tokens": {"<token>": {...introspection response...}},  (others: active false)
   "introspect_status": 200,
   "reset_stats": true}

As a module it offers MockIdP (start/control/stop the process) and KeyRing
(keys for every algorithm, JWKS, tokens made by python3-jwt: an
implementation independent of the gateway's).
"""
import argparse
import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from procs import terminate

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))


# ---- the server ------------------------------------------------------------------


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.jwks = {"keys": []}
        self.cache_control = "max-age=300"
        self.issuer = None
        self.mode = "up"
        self.delay_ms = 0
        self.client_id = "portcullis"
        self.client_secret = "s3cret"
        self.tokens = {}
        self.introspect_status = 200
        self.stats = {}
        self.auth_methods = []

    def count(self, what):
        self.stats[what] = self.stats.get(what, 0) + 1


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-idp"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, status, body, ctype="application/json", extra=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _idp_gate(self, what):
        """Applies mode and delay; returns False when no answer is to be sent."""
        with STATE.lock:
            STATE.count(what)
            mode, delay = STATE.mode, STATE.delay_ms
        if delay:
            time.sleep(delay / 1000.0)
        if mode == "hang":
            time.sleep(30)
            self.close_connection = True
            return False
        if mode == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            return False
        if mode == "503":
            self._send(503, {"error": "down"})
            return False
        return True

    def _base(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/_stats":
            with STATE.lock:
                s = dict(STATE.stats)
                s["auth_methods"] = list(STATE.auth_methods)
            return self._send(200, s)
        if path == "/.well-known/openid-configuration":
            if not self._idp_gate("discovery"):
                return
            base = self._base()
            with STATE.lock:
                iss = STATE.issuer or base
            return self._send(200, {"issuer": iss, "jwks_uri": base + "/jwks",
                                    "introspection_endpoint": base + "/introspect"})
        if path == "/jwks":
            if not self._idp_gate("jwks"):
                return
            with STATE.lock:
                body, cc = json.dumps(STATE.jwks).encode(), STATE.cache_control
            return self._send(200, body, extra={"Cache-Control": cc} if cc else None)
        return self._send(404, {"error": "not found"})

    def do_POST(self):
        path = self.path.split("?", 1)[0]
        body = self._body()
        if path == "/_control":
            req = json.loads(body or b"{}")
            with STATE.lock:
                for k in ("jwks", "cache_control", "issuer", "mode", "delay_ms", "client_id",
                          "client_secret", "introspect_status"):
                    if k in req:
                        setattr(STATE, k, req[k])
                if "tokens" in req:
                    STATE.tokens.update(req["tokens"])
                if req.get("reset_stats"):
                    STATE.stats = {}
                    STATE.auth_methods = []
            return self._send(200, {"ok": True})
        if path == "/introspect":
            if not self._idp_gate("introspect"):
                return
            form = urllib.parse.parse_qs(body.decode(), keep_blank_values=True)
            with STATE.lock:
                cid, secret = STATE.client_id, STATE.client_secret
            method, ok = None, False
            auth = self.headers.get("Authorization")
            if auth and auth.startswith("Basic "):
                method = "client_secret_basic"
                raw = base64.b64decode(auth[6:]).decode()
                u, _, p = raw.partition(":")
                ok = (urllib.parse.unquote_plus(u) == cid and
                      urllib.parse.unquote_plus(p) == secret and "client_secret" not in form)
            elif "client_id" in form:
                method = "client_secret_post"
                ok = form.get("client_id") == [cid] and form.get("client_secret") == [secret]
            with STATE.lock:
                STATE.auth_methods.append(method if ok else "bad:%s" % method)
                status = STATE.introspect_status
                resp = STATE.tokens.get((form.get("token") or [""])[0], {"active": False})
            if not ok:
                return self._send(401, {"error": "invalid_client"})
            if form.get("token_type_hint") not in (None, ["access_token"]):
                return self._send(400, {"error": "invalid_request"})
            return self._send(status, resp)
        return self._send(404, {"error": "not found"})


def serve(port):
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    print("LISTENING %d" % srv.server_address[1], flush=True)
    srv.serve_forever(poll_interval=0.1)


# ---- helpers for the tests ---------------------------------------------------------


class MockIdP:
    """The mock provider as a child process (stopped by stop())."""

    def __init__(self, errpath=None):
        import requests  # only the tests need it
        self._requests = requests
        self.errfile = open(errpath or os.devnull, "wb")
        self.proc = subprocess.Popen([PYTHON, os.path.abspath(__file__), "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=self.errfile,
                                     stdin=subprocess.DEVNULL)
        line = self.proc.stdout.readline()
        if not line.startswith(b"LISTENING "):
            self.stop()
            raise RuntimeError("mock idp did not start: %r" % line)
        self.port = int(line.split()[1])
        self.url = "http://127.0.0.1:%d" % self.port
        self.jwks_url = self.url + "/jwks"
        self.introspect_url = self.url + "/introspect"

    def control(self, **kw):
        r = self._requests.post(self.url + "/_control", json=kw, timeout=5)
        r.raise_for_status()

    def stats(self):
        return self._requests.get(self.url + "/_stats", timeout=5).json()

    def count(self, what):
        return self.stats().get(what, 0)

    def stop(self):
        terminate(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.errfile.close()


ALGS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
        "EdDSA", "HS256", "HS384", "HS512"]


class KeyRing:
    """One key per algorithm (kid = the alg in lower case), made with
    python3-cryptography; tokens signed with python3-jwt."""

    def __init__(self, issuer="https://idp.test", audience="api"):
        import jwt  # noqa: F401
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
        self.issuer = issuer
        self.audience = audience
        self.priv = {}
        curves = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
        for alg in ALGS:
            if alg[:2] in ("RS", "PS"):
                self.priv[alg] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            elif alg[:2] == "ES":
                self.priv[alg] = ec.generate_private_key(curves[alg])
            elif alg == "EdDSA":
                self.priv[alg] = ed25519.Ed25519PrivateKey.generate()
            else:
                n = {"HS256": 32, "HS384": 48, "HS512": 64}[alg]
                self.priv[alg] = base64.b32encode(os.urandom(n)).decode()[:n].encode()

    @staticmethod
    def kid(alg):
        return alg.lower()

    def new_key(self, alg):
        """A fresh private key of the same kind (rotation)."""
        from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
        if alg[:2] in ("RS", "PS"):
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if alg[:2] == "ES":
            return ec.generate_private_key(self.priv[alg].curve)
        return ed25519.Ed25519PrivateKey.generate()

    @staticmethod
    def public_jwk(key, alg, kid):
        from jwt.algorithms import OKPAlgorithm, RSAAlgorithm
        if alg[:2] in ("RS", "PS"):
            d = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
        elif alg[:2] == "ES":
            # RFC 7518 §6.2.1.2: coordinates are full length (python3-jwt 2.6
            # drops leading zero bytes, which P-521 keys often have)
            nums = key.public_key().public_numbers()
            size = (key.curve.key_size + 7) // 8
            d = {"kty": "EC", "crv": {256: "P-256", 384: "P-384", 521: "P-521"}[key.curve.key_size],
                 "x": b64u(nums.x.to_bytes(size, "big")), "y": b64u(nums.y.to_bytes(size, "big"))}
        else:
            d = json.loads(OKPAlgorithm.to_jwk(key.public_key()))
        d.update({"kid": kid, "alg": alg, "use": "sig"})
        return d

    def jwks(self, algs=None, extra=()):
        keys = [self.public_jwk(self.priv[a], a, self.kid(a)) for a in (algs or ALGS)
                if not a.startswith("HS")]
        return {"keys": keys + list(extra)}

    def pem(self, alg):
        from cryptography.hazmat.primitives import serialization
        return self.priv[alg].public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()

    def claims(self, **over):
        now = int(time.time())
        c = {"iss": self.issuer, "aud": self.audience, "sub": "alice", "iat": now - 5,
             "nbf": now - 5, "exp": now + 600, "jti": "jti-%s" % base64.b32encode(
                 os.urandom(10)).decode().lower(), "scope": "read write"}
        for k, v in over.items():
            if v is None:
                c.pop(k, None)
            else:
                c[k] = v
        return c

    def token(self, alg="ES256", key=None, kid=None, headers=None, **claims):
        import jwt
        h = {"kid": self.kid(alg) if kid is None else kid}
        if kid is False:
            h.pop("kid")
        h.update(headers or {})
        return jwt.encode(self.claims(**claims), key if key is not None else self.priv[alg],
                          algorithm=alg, headers=h)


def b64u(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def raw_token(header, payload, sig=b"x" * 32):
    """A token assembled by hand (for what python3-jwt refuses to make)."""
    h = header if isinstance(header, str) else json.dumps(header)
    p = payload if isinstance(payload, str) else json.dumps(payload)
    return "%s.%s.%s" % (b64u(h), b64u(p), b64u(sig))


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    a = ap.parse_args()
    try:
        serve(a.port)
    except KeyboardInterrupt:
        sys.exit(0)
