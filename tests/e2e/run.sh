#!/bin/sh
# Runs the end-to-end suite. `make check` sets PC_BUILDDIR and PC_SRCDIR;
# by hand: PC_BUILDDIR=/tmp/e2e-build tests/e2e/run.sh (from anywhere).
# Needs Debian's /usr/bin/python3 with python3-pytest and python3-requests.
set -e
here=$(cd "$(dirname "$0")" && pwd)
PC_SRCDIR=${PC_SRCDIR:-$(cd "$here/../.." && pwd)}
PC_BUILDDIR=${PC_BUILDDIR:-/tmp/e2e-build}
PYTHONDONTWRITEBYTECODE=1
export PC_SRCDIR PC_BUILDDIR PYTHONDONTWRITEBYTECODE
if [ ! -x "$PC_BUILDDIR/tests/portcullis-test" ]; then
    echo "run.sh: $PC_BUILDDIR/tests/portcullis-test is missing (make tests/portcullis-test)" >&2
    exit 1
fi
if ! /usr/bin/python3 -c 'import pytest, requests' 2>/dev/null; then
    echo "run.sh: /usr/bin/python3 lacks pytest or requests (apt-get install python3-pytest python3-requests); skipping" >&2
    [ -n "${PC_NO_SKIP:-}" ] && exit 1 # CI: a skip is a failure
    exit 77
fi
cd "$PC_SRCDIR"
PYTHONPATH="$PC_SRCDIR/tests${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
# Tests spend most of their time waiting on timers and sockets, each on its
# own gateway and ports, so they run in parallel: one process per core, at
# most 4 (PC_E2E_JOBS overrides; 1 runs them in one process).
jobs=${PC_E2E_JOBS:-$(nproc)}
[ "$jobs" -gt 4 ] && jobs=4
set --  -p no:cacheprovider -p pytest_noskip "$@"
if [ "$jobs" -gt 1 ] && /usr/bin/python3 -c 'import xdist' 2>/dev/null; then
    set -- -n "$jobs" "$@"
fi
exec /usr/bin/python3 -m pytest -q "$@" tests/e2e
