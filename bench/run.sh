#!/usr/bin/env bash
# bench/run.sh - portcullis against haproxy and nginx, one command.
#
#   bench/run.sh [--rounds N] [--duration S] [--slow-rounds N] [--quick]
#                [--no-proxy] [--no-slow] [--save] [--refresh]
#
# 1. Copies the shared harness ($REPO/../shared/bench) to $BENCH_HARNESS
#    (default /tmp/pcbench-harness) unless it is already there
#    (--refresh copies it again), and builds it (bin/, tokens/).
# 2. Builds portcullis into $PORTCULLIS_BUILD_DIR (default /tmp/bench-build)
#    unless PORTCULLIS_BIN is set.
# 3. Proxy campaign: portcullis, haproxy, nginx2 and direct (the ceiling) in
#    front of the same upstream, wrk -t2 -c50, N interleaved rounds of S
#    seconds (default 5 x 10 s), reference haproxy.
#    Slow campaign: slow-portcullis, slow-haproxy, slow-nginx2 in front of the
#    100 ms upstream, wrk -t2 -c1000 (default 3 x 10 s).
# 4. Prints a summary (bench/summarize.py): req/s median (min-max), p50, p99,
#    CPU us/req, and per-round ratios portcullis/haproxy, portcullis/nginx2.
#
# --quick: 3 rounds of 5 s (both campaigns). --save: also copy the results
# (results.jsonl, meta.txt, summary.md of each campaign and the combined
# summary) to bench/results/<date>/ in the repository.
# Everything runs on 127.0.0.1 (ports 18001-18999); every wrk run is bounded
# by its duration, the whole campaign by `timeout`; the harness starts every
# process itself and stops it by PID (also on Ctrl-C).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SHARED=${BENCH_SHARED:-$REPO/../shared/bench}
HARNESS=${BENCH_HARNESS:-${TMPDIR:-/tmp}/pcbench-harness}
BUILD_DIR=${PORTCULLIS_BUILD_DIR:-/tmp/bench-build}

ROUNDS=5 SLOW_ROUNDS=3 DURATION=10 DO_PROXY=1 DO_SLOW=1 SAVE=0 REFRESH=0

die() { echo "bench/run.sh: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

while (($#)); do
	case $1 in
	--rounds) ROUNDS=$2; shift ;;
	--slow-rounds) SLOW_ROUNDS=$2; shift ;;
	--duration) DURATION=$2; shift ;;
	--quick) ROUNDS=3 SLOW_ROUNDS=3 DURATION=5 ;;
	--no-proxy) DO_PROXY=0 ;;
	--no-slow) DO_SLOW=0 ;;
	--save) SAVE=1 ;;
	--refresh) REFRESH=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (--help)" ;;
	esac
	shift
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ && $SLOW_ROUNDS =~ ^[1-9][0-9]*$ && $DURATION =~ ^[1-9][0-9]*$ ]] ||
	die "--rounds, --slow-rounds and --duration take positive integers"

# ---- 1. the harness ---------------------------------------------------------
if ((REFRESH)) || [[ ! -x $HARNESS/run.sh ]]; then
	[[ -x $SHARED/run.sh ]] || die "no shared harness at $SHARED (set BENCH_SHARED)"
	log "copying $SHARED to $HARNESS"
	mkdir -p "$HARNESS"
	cp -r "$SHARED"/. "$HARNESS"/
	chmod -R u+w "$HARNESS"   # the shared copy is read-only; the harness writes bin/ tokens/ results/
fi
log "building the harness in $HARNESS"
"$HARNESS/run.sh" build >"$HARNESS/build.log" 2>&1 || { tail -20 "$HARNESS/build.log"; die "harness build failed"; }

# ---- 2. the gateway -----------------------------------------------------------
if [[ -z ${PORTCULLIS_BIN:-} ]]; then
	log "building portcullis in $BUILD_DIR"
	[[ -x $REPO/configure ]] || (cd "$REPO" && ./autogen.sh >/dev/null)
	mkdir -p "$BUILD_DIR"
	[[ -f $BUILD_DIR/Makefile ]] || (cd "$BUILD_DIR" && "$REPO/configure" >/dev/null)
	make -C "$BUILD_DIR" -j2 portcullis >"$BUILD_DIR/bench-make.log" 2>&1 ||
		{ tail -30 "$BUILD_DIR/bench-make.log"; die "portcullis build failed"; }
	PORTCULLIS_BIN=$BUILD_DIR/portcullis
fi
[[ -x $PORTCULLIS_BIN ]] || die "PORTCULLIS_BIN=$PORTCULLIS_BIN is not an executable"
export PORTCULLIS_BIN
export BENCH_EXTRA_TARGETS=$REPO/bench/targets.d
log "portcullis: $PORTCULLIS_BIN ($("$PORTCULLIS_BIN" --version 2>&1 | head -1))"

# ---- 3. campaigns ---------------------------------------------------------------
# campaign NAME TARGETS LIMIT_S ARGS...: run one harness campaign, bounded by
# `timeout` (SIGTERM: the harness then stops its processes by PID); sets
# LAST_RES to its results directory.
LAST_RES= CHILD=
on_signal() {
	if [[ -n $CHILD ]]; then
		log "interrupted: stopping the harness (pid $CHILD), which stops its processes"
		kill -TERM "$CHILD" 2>/dev/null || true
		wait "$CHILD" 2>/dev/null || true
	fi
	exit 130
}
trap on_signal INT TERM
campaign() {
	local name=$1 targets=$2 limit=$3; shift 3
	local out="$HARNESS/results/.last-$name.log" rc=0
	mkdir -p "$HARNESS/results"
	log "campaign $name: $targets (at most ${limit}s)"
	# timeout runs the harness in its own process group; a Ctrl-C here is
	# forwarded by on_signal (SIGTERM: the harness stops its PIDs and exits)
	timeout -s TERM "$limit" "$HARNESS/run.sh" campaign "$name" --targets "$targets" "$@" \
		>"$out" 2>&1 &
	CHILD=$!
	tail -n +1 --pid="$CHILD" -f "$out" >&2 &
	wait "$CHILD" || rc=$?
	CHILD=
	wait || true   # tail ends with the harness
	((rc == 0)) || die "campaign $name failed (exit $rc$( ((rc == 124)) && echo ": time limit")); see $out"
	LAST_RES=$(sed -n 's/^\[[0-9:]*\] results: //p' "$out" | tail -1)
	[[ -n $LAST_RES && -s $LAST_RES/results.jsonl ]] || die "campaign $name: no results (see $out)"
}

# the harness checks a port by connecting to it: a leftover or foreign
# listener in the bench range would be measured instead of ours
busy=$(ss -Hltn 'sport >= 18000 and sport <= 18999' | awk '{print $4}' | tr '\n' ' ')
[[ -z $busy ]] || die "ports in the bench range 18000-18999 are in use: $busy (another benchmark running?)"

JSONL=() DIRS=()
PROXY_TARGETS="portcullis haproxy nginx2 direct"
SLOW_TARGETS="slow-portcullis slow-haproxy slow-nginx2"
if ((DO_PROXY)); then
	# 4 targets x (rounds x duration + 2 s warm-up), + start/smoke/stop margin
	campaign proxy "$PROXY_TARGETS" $((4 * (ROUNDS * (DURATION + 1) + 3) + 120)) \
		--ref haproxy --ref nginx2 --rounds "$ROUNDS" --duration "$DURATION" --conns 50
	JSONL+=("$LAST_RES/results.jsonl"); DIRS+=("$LAST_RES")
fi
if ((DO_SLOW)); then
	campaign slow "$SLOW_TARGETS" $((3 * (SLOW_ROUNDS * (DURATION + 1) + 3) + 120)) \
		--ref slow-haproxy --ref slow-nginx2 --rounds "$SLOW_ROUNDS" --duration "$DURATION"
	JSONL+=("$LAST_RES/results.jsonl"); DIRS+=("$LAST_RES")
fi
((${#JSONL[@]})) || die "nothing to run (--no-proxy and --no-slow)"

# ---- 4. summary ------------------------------------------------------------------
STAMP=$(date +%Y%m%d-%H%M%S)
SUMMARY="$HARNESS/results/$STAMP-portcullis-summary.md"
python3 "$REPO/bench/summarize.py" --title "portcullis vs haproxy and nginx ($STAMP)" \
	--pair portcullis:haproxy --pair portcullis:nginx2 \
	--pair slow-portcullis:slow-haproxy --pair slow-portcullis:slow-nginx2 \
	"${JSONL[@]}" >"$SUMMARY"
echo
cat "$SUMMARY"
log "summary: $SUMMARY; campaign data: ${DIRS[*]}"

if ((SAVE)); then
	dest="$REPO/bench/results/$STAMP"
	mkdir -p "$dest"
	cp "$SUMMARY" "$dest/summary.md"
	for d in "${DIRS[@]}"; do
		b=$(basename "$d")
		mkdir -p "$dest/$b"
		cp "$d/results.jsonl" "$d/meta.txt" "$d/summary.md" "$dest/$b/"
		[[ -f $d/run/pcb-gateway.txt ]] && cp "$d/run/pcb-gateway.txt" "$dest/$b/"   # which binary
	done
	log "saved to $dest"
fi
