#!/bin/sh
# scripts/test.sh: installs what is needed, builds, and runs every test:
# unit tests (C, Check) and end-to-end tests (pytest on the real binary),
# first in a normal -Werror build, then in an ASan+UBSan build, then a
# short run of every fuzz target.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" -eq 0 ]; then
    "$src/scripts/install-deps.sh"
fi
cd "$src"
./autogen.sh >/dev/null 2>&1
# Every test must run: a skip (a missing redis-server, Python module or
# compiler) fails the run instead of passing quietly.
PC_NO_SKIP=1
export PC_NO_SKIP

run_suite() {
    name=$1
    shift
    build="$src/build-$name"
    echo "== $name build: configure $*"
    "$src/scripts/build.sh" "$build" "$@"
    if ! make -C "$build" -j"$(nproc)" check; then
        for log in "$build"/tests/unit/*.log "$build"/tests/e2e/*.log; do
            [ -f "$log" ] && grep -q -E "FAIL|ERROR" "${log%.log}.trs" 2>/dev/null && tail -n 80 "$log"
        done
        echo "== $name build: FAILED"
        return 1
    fi
    if grep -q -E '^# SKIP: *[1-9]' "$build/test-suite.log"; then
        grep -E '^SKIP:' "$build/test-suite.log"
        echo "== $name build: FAILED (a test program skipped)"
        return 1
    fi
}

run_suite release --enable-werror
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_suite sanitizers --enable-werror --enable-sanitizers
# 30 s per fuzz target (12 targets: about 6 min plus 1.5 min of builds).
"$src/fuzz/run.sh" "${FUZZ_SECONDS:-30}"
echo "== all tests passed"
