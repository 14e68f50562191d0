#!/bin/sh
# gateway/store/ratelimit.lua on a real redis-server, against gateway/store/ratelimit.c
# (tests/unit/test_ratelimit_lua.py), for `make check`. Needs Debian's
# /usr/bin/python3 with python3-pytest and python3-redis, redis-server and
# gcc, which scripts/install-deps.sh installs.
set -e
here=$(cd "$(dirname "$0")" && pwd)
PC_SRCDIR=${PC_SRCDIR:-$(cd "$here/../.." && pwd)}
PYTHONDONTWRITEBYTECODE=1
export PYTHONDONTWRITEBYTECODE
if ! /usr/bin/python3 -c 'import pytest, redis' 2>/dev/null; then
    echo "ratelimit_lua.sh: /usr/bin/python3 lacks pytest or redis; skipping" >&2
    exit 77
fi
cd "$PC_SRCDIR"
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider tests/unit/test_ratelimit_lua.py "$@"
