#!/usr/bin/python3
"""conf/demo_token.py: prints a bearer token for conf/demo.json's "orders"
route (plugin demo_auth: ES256, kid demo-1, issuer
https://demo.portcullis.test, audience demo-api, scope orders:read).

    /usr/bin/python3 conf/demo_token.py [--sub alice] [--scope "orders:read"] [--ttl 3600]
    curl -H "Authorization: Bearer $(/usr/bin/python3 conf/demo_token.py)" \\
        http://127.0.0.1:8080/api/orders/1

The private key below is DEMO MATERIAL, published on purpose so that anyone
can mint demo tokens: never put its public half into a real configuration.
Needs python3-jwt and python3-cryptography (Debian packages)."""
import argparse
import time
import uuid

import jwt

DEMO_PRIVATE_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgS/3OCx9p8tEYZNzp
NeH38T7oM98arMwFKbSX3h536/uhRANCAAQvfrLlQFGs2mGqs5TmWz0UdUEE3D9X
51I4Hqcc+bmNiyAYOs/P6QUqcVTtEJQEDdzWLNp7kpVC1BmubMVo2ncg
-----END PRIVATE KEY-----
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sub", default="alice")
    ap.add_argument("--scope", default="orders:read")
    ap.add_argument("--ttl", type=int, default=3600, help="seconds until exp")
    a = ap.parse_args()
    now = int(time.time())
    claims = {"iss": "https://demo.portcullis.test", "aud": "demo-api", "sub": a.sub,
              "scope": a.scope, "iat": now, "nbf": now, "exp": now + a.ttl,
              "jti": str(uuid.uuid4())}
    print(jwt.encode(claims, DEMO_PRIVATE_KEY, algorithm="ES256", headers={"kid": "demo-1"}))


if __name__ == "__main__":
    main()
