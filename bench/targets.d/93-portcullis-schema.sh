# portcullis JSON Schema targets for the shared benchmark harness
# (../shared/bench), loaded through BENCH_EXTRA_TARGETS=<this folder>.
# Sourced by the harness's run.sh, not executed.
#
# Two configurations that differ only in the schema plugin, both POSTed the
# JSON Schema workload's 1 KiB valid order (bench/wrk/order-1k-valid.json,
# from ../shared/bench/schema/make_workload.py) by bench/wrk/post_order.lua:
#
#   portcullis-schema       18461  route "/" with the schema plugin validating
#                                  the body against the workload's order schema
#                                  (bench/conf/schema/order.schema.json, $ref
#                                  from schema_dir)
#   portcullis-schema-none  18462  the same route without the plugin (the
#                                  reference: issue 13 asks for >= 0.9x its req/s)
#
# One upstream target (the `upstream` fixture, 18001), 2 workers, no access
# log, log level warn. The harness only knows its own two wrk scripts, so
# this file wraps its wrk_run: for these targets LUA points at a directory
# under $RUN holding post_order.lua (as plain.lua), the body and the
# harness's report.lua. Smoke test: the harness's GET, which the plugin lets
# through (only POST is listed).
#
# Run (from the repository):
#   cp -r ../shared/bench /tmp/pc-bench && chmod -R u+w /tmp/pc-bench && /tmp/pc-bench/run.sh build
#   PORTCULLIS_BIN=<build>/portcullis BENCH_EXTRA_TARGETS=$PWD/bench/targets.d \
#     /tmp/pc-bench/run.sh campaign custom --rounds 5 --duration 10 \
#     --targets "portcullis-schema portcullis-schema-none" --ref portcullis-schema-none

SC_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
declare -A SC_WRK_LUA

# sc_start NAME PORT TEMPLATE: the POST script's directory, the config
# (PORT, ADMIN_PORT = PORT + 50, WORKERS, UP1, SCHEMA_DIR) checked with -t,
# then the gateway in the foreground.
sc_start() {
	local name=$1 port=$2 tmpl=$3 dir bin
	dir="$RUN/$name"
	bin=$(rl_portcullis_bin) || exit 1 # 92-portcullis-ratelimit.sh, sourced before this file
	mkdir -p "$dir/wrk"
	cp "$SC_REPO/bench/wrk/post_order.lua" "$dir/wrk/plain.lua"
	cp "$SC_REPO/bench/wrk/order-1k-valid.json" "$LUA/report.lua" "$dir/wrk/"
	SC_WRK_LUA[$name]=$dir/wrk
	render "$SC_REPO/bench/conf/$tmpl" "$dir/portcullis.json" PORT="$port" \
		ADMIN_PORT=$((port + 50)) WORKERS="${PORTCULLIS_WORKERS:-2}" UP1="$UP1" \
		SCHEMA_DIR="$SC_REPO/bench/conf/schema"
	"$bin" -t -c "$dir/portcullis.json" >"$dir/check.txt" 2>&1 ||
		die "portcullis config $name: $(cat "$dir/check.txt")"
	spawn "$name" "$bin" -c "$dir/portcullis.json"
}

# The harness's wrk_run, with LUA (dynamically scoped) switched for our targets.
eval "sc_harness_wrk_run() $(declare -f wrk_run | tail -n +2)"
wrk_run() {
	if [[ -n ${SC_WRK_LUA[$1]:-} ]]; then
		local LUA=${SC_WRK_LUA[$1]}
		sc_harness_wrk_run "$@"
		return
	fi
	sc_harness_wrk_run "$@"
}

target portcullis-schema 18461 \
	desc="portcullis, POST 1 KiB order validated by the schema plugin (order schema), 2 workers"
start_portcullis_schema() { need upstream; sc_start portcullis-schema 18461 portcullis-schema.json.in; }

target portcullis-schema-none 18462 \
	desc="portcullis, POST 1 KiB order, the same route without the schema plugin (reference)"
start_portcullis_schema_none() { need upstream; sc_start portcullis-schema-none 18462 portcullis-schema-none.json.in; }
