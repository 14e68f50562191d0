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
    [ -n "${PC_NO_SKIP:-}" ] && exit 1 # CI: a skip is a failure
    exit 77
fi
cd "$PC_SRCDIR"
PYTHONPATH="$PC_SRCDIR/tests${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
exec /usr/bin/python3 -m pytest -q -p no:cacheprovider -p pytest_noskip tests/unit/test_ratelimit_lua.py "$@"
