#!/bin/bash
# fuzz/run.sh [SECONDS]: builds every libFuzzer target with clang (ASan +
# UBSan) and runs each for SECONDS (default 60) on a scratch copy of its
# seed corpus (fuzz/corpus/<target>/, kept in the repository; what a run
# finds stays in the scratch copy: see fuzz/README.md for how a finding
# becomes a corpus file and a unit test). Targets run FUZZ_JOBS at a time
# (default: one per core), each for the full SECONDS. Exits non-zero when
# any target found a crash, leak or timeout.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
out=${FUZZ_BUILD:-$src/fuzz/build}
mkdir -p "$out"
CC=${CC_FUZZ:-clang}
CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c11 -D_GNU_SOURCE -I$src/gateway -I$src/include -I$src/plugins/jwt"
JANSSON=$(pkg-config --cflags --libs jansson)

jobs_max=${FUZZ_JOBS:-$(nproc)}

# Targets build in the background, jobs_max at a time; a failed build
# leaves $out/<name>.failed (with clang's messages in $out/<name>.build).
build() {
    name=$1
    shift
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
    rm -f "$out/$name" "$out/$name.failed"
    # shellcheck disable=SC2086
    ($CC $CFLAGS -o "$out/$name" "$@" >"$out/$name.build" 2>&1 || touch "$out/$name.failed") &
}

# Waits for every build; stops at the first that failed.
builds_done() {
    wait
    for f in "$out"/*.failed; do
        [ -e "$f" ] || continue
        cat "${f%.failed}.build"
        echo "== fuzz: building $(basename "${f%.failed}") FAILED"
        exit 1
    done
    built=1
}
built=0

cd "$src"
build fuzz_path fuzz/fuzz_path.c gateway/http/path.c gateway/base/util.c gateway/base/clock.c
build fuzz_router fuzz/fuzz_router.c gateway/http/router.c gateway/base/util.c gateway/base/clock.c
build fuzz_headers fuzz/fuzz_headers.c gateway/http/hdr.c gateway/base/util.c gateway/base/clock.c
build fuzz_lease fuzz/fuzz_lease.c gateway/store/lease.c gateway/store/ratelimit.c gateway/base/util.c gateway/base/clock.c
build fuzz_redis_reply fuzz/fuzz_redis_reply.c gateway/store/redis_reply.c gateway/store/redis_cmd.c \
    gateway/base/util.c gateway/base/clock.c $(pkg-config --libs hiredis) -lcrypto -lpthread
build fuzz_store_verdict fuzz/fuzz_store_verdict.c gateway/store/store_verdict.c gateway/store/lease.c \
    gateway/store/ratelimit.c gateway/store/redis_reply.c gateway/base/util.c gateway/base/clock.c \
    $(pkg-config --libs hiredis) -lpthread
build fuzz_upstream_response fuzz/fuzz_upstream_response.c gateway/upstream/response.c gateway/http/hdr.c \
    gateway/base/util.c gateway/base/clock.c -lhttp_parser
# The config loader reaches into Redis address parsing (redis_url.c): the
# loader's files and that one are instrumented; whatever else it may come to
# need comes from a normal build's libpcore.a (PC_LIBPCORE, or build-release/
# as scripts/test.sh leaves it), uninstrumented. Every store and Redis source
# a target reaches is compiled into it, so coverage guidance sees it.
libpcore=${PC_LIBPCORE:-$src/build-release/libpcore.a}
if [ ! -f "$libpcore" ]; then
    echo "fuzz: $libpcore not found: build first (scripts/build.sh build-release)" >&2
    exit 1
fi
conf_srcs="gateway/conf/loader.c gateway/conf/fields.c gateway/conf/validate.c gateway/conf/listen.c
    gateway/conf/services.c gateway/conf/upstreams.c gateway/conf/plugins_conf.c gateway/conf/routes.c
    gateway/conf/document.c gateway/conf/lifetime.c gateway/conf/resolve.c gateway/conf/conf_diag.c
    gateway/conf/values.c"
# The real plugin registry and every built-in plugin's config code, so that
# their parsers are fuzzed too (fuzz_conf.c refuses files and "load").
plugin_srcs="gateway/conf/plugins.c plugins/rate_limit.c plugins/brute_force.c plugins/headers.c
    $(ls plugins/jwt/*.c plugins/ip_filter/*.c plugins/allowlist/*.c plugins/schema/*.c plugins/openapi/*.c | tr '\n' ' ')"
# shellcheck disable=SC2086 # conf_srcs and plugin_srcs are lists of words
build fuzz_conf -DPC_FUZZ_REAL_PLUGINS fuzz/fuzz_conf.c $conf_srcs $plugin_srcs gateway/ops/metrics.c \
    gateway/base/util.c gateway/base/clock.c gateway/http/router.c gateway/upstream/lb.c gateway/http/path.c \
    gateway/store/redis_url.c "$libpcore" \
    $(pkg-config --libs hiredis libcurl libmicrohttpd libssl libcrypto yaml-0.1 libpcre2-8 libidn2) \
    $JANSSON -lev -lhttp_parser -lm -lpthread
build fuzz_jwt fuzz/fuzz_jwt.c plugins/jwt/jwt_token.c plugins/jwt/jwt_keys.c \
    plugins/jwt/jwt_verify.c plugins/jwt/jwt_claims.c plugins/jwt/jwt_http.c \
    gateway/base/util.c gateway/base/clock.c -lcrypto $JANSSON
build fuzz_allowlist -I"$src/plugins/allowlist" fuzz/fuzz_allowlist.c plugins/allowlist/al_template.c \
    gateway/base/util.c gateway/base/clock.c $(pkg-config --cflags --libs libpcre2-8) $JANSSON
build fuzz_cidr -Iplugins/ip_filter fuzz/fuzz_cidr.c plugins/ip_filter/cidr.c gateway/base/util.c \
    gateway/base/clock.c $JANSSON
build fuzz_jwt_docs fuzz/fuzz_jwt_docs.c plugins/jwt/jwt_docs.c plugins/jwt/jwt_claims.c \
    gateway/base/util.c gateway/base/clock.c $JANSSON
build fuzz_openapi -I"$src/plugins/openapi" fuzz/fuzz_openapi.c plugins/openapi/yaml_json.c \
    plugins/openapi/oa_import.c plugins/openapi/oa_op.c plugins/openapi/oa_security.c \
    plugins/openapi/oa_resp.c plugins/openapi/oa_schema.c \
    $(pkg-config --libs yaml-0.1) $JANSSON
# The schema plugin's request text readers, over the strict JSON reader.
build fuzz_schema_params -I"$src/plugins/schema" fuzz/fuzz_schema_params.c \
    plugins/schema/schema_params.c $(ls plugins/schema/json_*.c | tr '\n' ' ') -lm
# The schema plugin's pattern and format checks: PCRE2 (and libidn2 for
# hostnames) are the system's, uninstrumented.
PCRE2=$(pkg-config --cflags --libs libpcre2-8)
build fuzz_regex -I"$src/plugins" fuzz/fuzz_regex.c plugins/schema/regex.c plugins/schema/regex_ecma.c \
    $PCRE2 -lpthread
build fuzz_formats -I"$src/plugins" fuzz/fuzz_formats.c plugins/schema/formats.c \
    plugins/schema/format_net.c plugins/schema/format_uri.c plugins/schema/regex.c \
    plugins/schema/regex_ecma.c $PCRE2 $(pkg-config --cflags --libs libidn2) -lpthread
build fuzz_json_read -I"$src/plugins" fuzz/fuzz_json_read.c tests/unit/json_diff.c \
    plugins/schema/json_read.c plugins/schema/json_num.c plugins/schema/json_tree.c $JANSSON -lm
# The schema engine with the JSON reader, formats and patterns it runs on.
schema_srcs="plugins/schema/schema_arena.c plugins/schema/schema_uri.c plugins/schema/schema_scan.c
    plugins/schema/schema_compile.c plugins/schema/schema_validate.c plugins/schema/schema_err.c
    $(ls plugins/schema/json_*.c plugins/schema/format*.c plugins/schema/regex*.c | tr '\n' ' ')"
schema_libs="$(pkg-config --libs libpcre2-8 libidn2) -lm"
# shellcheck disable=SC2086 # schema_srcs and schema_libs are lists of words
build fuzz_schema_compile -I"$src/plugins/schema" fuzz/fuzz_schema_compile.c $schema_srcs $schema_libs
# shellcheck disable=SC2086
build fuzz_schema_validate -I"$src/plugins/schema" fuzz/fuzz_schema_validate.c $schema_srcs $schema_libs

failed=0

# One target, in the background: its log is $out/<name>.log.
fuzz_one() {
    name=$1
    seeds=$2
    dict=$3
    work="$out/corpus-$name"
    mkdir -p "$work"
    [ -d "$seeds" ] && cp -n "$seeds"/* "$work"/ 2>/dev/null || true
    set -- -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    [ -n "$dict" ] && set -- "$@" -dict="$src/$dict"
    (cd "$out" && "./$name" "$@" "$work" 2>"$out/$name.log")
}

# Reaps one finished target and reports it.
reap() {
    name=
    while [ -z "$name" ]; do # skip children that are not targets
        rc=0
        done_pid=
        wait -n -p done_pid || rc=$?
        if [ -z "$done_pid" ]; then
            echo "== fuzz: lost track of ${names[*]}"
            exit 1
        fi
        name=${names[$done_pid]:-}
    done
    unset "names[$done_pid]"
    if [ "$rc" -ne 0 ]; then
        tail -n 60 "$out/$name.log"
        echo "== $name: FAILED (log: $out/$name.log)"
        failed=1
    else
        echo "== $name: $(grep -E "^stat::number_of_executed_units" "$out/$name.log" || echo 'no stats')"
    fi
}

declare -A names=()
run() {
    [ "$built" -eq 1 ] || builds_done
    if [ "${#names[@]}" -ge "$jobs_max" ]; then reap; fi
    echo "== $1: ${secs}s"
    fuzz_one "$1" "$2" "${3:-}" &
    names[$!]=$1
}

run fuzz_path fuzz/corpus/path
run fuzz_router fuzz/corpus/path
run fuzz_headers fuzz/corpus/headers
run fuzz_lease fuzz/corpus/lease
run fuzz_redis_reply fuzz/corpus/redis_reply fuzz/redis.dict
run fuzz_store_verdict fuzz/corpus/store_verdict fuzz/redis.dict
run fuzz_upstream_response fuzz/corpus/upstream_response fuzz/http.dict
run fuzz_conf fuzz/corpus/conf fuzz/conf.dict
run fuzz_jwt fuzz/corpus/jwt fuzz/jwt.dict
run fuzz_jwt_docs fuzz/corpus/jwt_docs fuzz/jwt_docs.dict
run fuzz_json_read fuzz/corpus/json fuzz/json.dict
run fuzz_allowlist fuzz/corpus/allowlist fuzz/allowlist.dict
run fuzz_regex fuzz/corpus/regex fuzz/regex.dict
run fuzz_formats fuzz/corpus/formats fuzz/formats.dict
run fuzz_cidr fuzz/corpus/cidr fuzz/cidr.dict
run fuzz_schema_compile fuzz/corpus/schema_compile fuzz/schema.dict
run fuzz_schema_validate fuzz/corpus/schema_validate fuzz/schema.dict
run fuzz_openapi fuzz/corpus/openapi fuzz/openapi.dict
run fuzz_schema_params fuzz/corpus/schema_params
while [ "${#names[@]}" -gt 0 ]; do reap; done
if [ "$failed" -ne 0 ]; then
    echo "== fuzzing: FAILED"
    exit 1
fi
echo "== fuzzing: no findings"
