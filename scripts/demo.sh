#!/bin/sh
# scripts/demo.sh: installs what is needed, builds, and runs the gateway on
# conf/demo.json (embedded memory store) in front of a demo upstream on
# 127.0.0.1:8081. Prints curl lines to try; Ctrl-C stops everything.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -eq 0 ]; then
    "$src/scripts/install-deps.sh"
fi
"$src/scripts/build.sh" "$src/build-release" --enable-werror
bin="$src/build-release/portcullis"
"$bin" -t -c "$src/conf/demo.json"

/usr/bin/python3 "$src/tests/e2e/mock_upstream.py" --port 8081 --name demo >/dev/null &
up=$!
"$bin" -c "$src/conf/demo.json" &
gw=$!
trap 'kill $gw $up 2>/dev/null; wait $gw $up 2>/dev/null; exit 0' INT TERM
trap 'kill $gw $up 2>/dev/null' EXIT
for _ in 1 2 3 4 5 6 7 8 9 10; do
    curl -fs http://127.0.0.1:9901/readyz >/dev/null 2>&1 && break
    sleep 0.3
done
cd "$src"
cat <<'TRY'

portcullis is listening on http://127.0.0.1:8080 (admin on 127.0.0.1:9901).
Try, from another shell:

  # goes through: the upstream echoes what it received (note X-Demo, X-Forwarded-For, X-Request-Id)
  curl -i http://127.0.0.1:8080/api/hello/world?x=1

  # a route behind the jwt plugin: a sample token goes through, none or a forged one is refused
  TOKEN=$(/usr/bin/python3 conf/demo_token.py)
  curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/orders/1
  curl -i http://127.0.0.1:8080/api/orders/1                                   # 401
  curl -i -H "Authorization: Bearer ${TOKEN%?}x" http://127.0.0.1:8080/api/orders/1  # 401 invalid_token
  curl -i -H "Authorization: Bearer $(/usr/bin/python3 conf/demo_token.py --scope profile)" \
       http://127.0.0.1:8080/api/orders/1                                      # 403 insufficient_scope

  # the same route's API allow-list (GET /api/orders/{id:int}, POST /api/orders) and body schema
  curl -i -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/orders/abc    # 403 not listed
  curl -i -H "Authorization: Bearer $TOKEN" 'http://127.0.0.1:8080/api/orders/1?debug=1'  # 403 query
  curl -i -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
       -d '{"item": "book", "qty": 2, "price": 620.03}' http://127.0.0.1:8080/api/orders  # goes through
  curl -i -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
       -d '{"item": "", "qty": 0}' http://127.0.0.1:8080/api/orders           # 400 with "errors"

  # refused: no route (404), method not allowed (405 with Allow), ambiguous path (400)
  curl -i http://127.0.0.1:8080/admin
  curl -i -X POST http://127.0.0.1:8080/health
  curl -i 'http://127.0.0.1:8080/api/hello/..%2f..%2fetc'

  # operations
  curl http://127.0.0.1:9901/metrics
  kill -HUP <pid of portcullis>    # reload conf/demo.json; a broken file is refused

Ctrl-C stops the gateway and the demo upstream.
TRY
wait $gw
