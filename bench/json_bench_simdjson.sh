#!/bin/sh
# bench/json_bench_simdjson.sh: builds and runs bench/json_bench_simdjson.cpp,
# simdjson's DOM parser against our body reader (pc_json_parse) on the
# schema workload. Opt-in: the gateway, make and CI never need C++ or
# simdjson. Installs nothing; needs g++ and libsimdjson-dev (Debian 12:
# simdjson 3.0.1, no pkg-config file, so plain -lsimdjson).
#
#   /usr/bin/python3 /work/shared/bench/schema/make_workload.py /tmp/wl
#   bench/json_bench_simdjson.sh /tmp/wl [rounds, default 15]
#
# Our reader is compiled with the flags of the default build (-g -O2 and
# configure's C11 set); the binary and objects go to $TMPDIR.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 WORKLOAD_DIR [rounds]" >&2; exit 2; }
src=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d "${TMPDIR:-/tmp}/json_bench_simdjson.XXXXXX")
trap 'rm -rf "$out"' EXIT
[ -f /usr/include/simdjson.h ] || { echo "$0: simdjson.h missing (apt-get install libsimdjson-dev)" >&2; exit 2; }
for f in json_read json_num json_tree; do
    gcc -std=c11 -D_GNU_SOURCE -g -O2 -I"$src/plugins/schema" -c \
        "$src/plugins/schema/$f.c" -o "$out/$f.o"
done
g++ -std=c++17 -g -O2 -I"$src/plugins" "$src/bench/json_bench_simdjson.cpp" \
    "$out/json_read.o" "$out/json_num.o" "$out/json_tree.o" -lsimdjson -lpthread \
    -o "$out/json_bench_simdjson"
"$out/json_bench_simdjson" "$@"
