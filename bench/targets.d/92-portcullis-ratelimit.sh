# portcullis rate-limit targets for the shared benchmark harness
# (../shared/bench), loaded through BENCH_EXTRA_TARGETS=<this folder>.
# Sourced by the harness's run.sh, not executed.
#
# Portcullis configurations that differ only in rate limiting, and
# the HAProxy peer that limits per subject with a local stick table:
#
#   portcullis-rl-none   18421  no limiting (the reference for the cost)
#   portcullis-rl-mem    18422  rate_limit, memory store
#   portcullis-rl-redis  18423  rate_limit, Redis store (the `redis` fixture,
#                               127.0.0.1:$REDIS_PORT; checks of one loop turn
#                               batched into one EVALSHA, the default)
#   portcullis-rl-redis-unix 18424  the same over a unix socket, to a Redis
#                               of its own (counted as the target's CPU)
#   haproxy-rr-st        18202  (shared target) sub from the JWT payload ->
#                               per-sub stick table, round robin over 2 upstreams
#
# Every target gets the same requests: GET / with a random bearer token of
# 1000 users (tokens/rs256.txt, lua/bearer.lua). The limit is keyed on the
# Authorization header (hashed: one bucket per user, since each user has
# one token), set far above the load (10,000,000 per 10 s, as the HAProxy
# peer's), so every request is checked and none is refused. Like the peer:
# 2 workers, 2 upstream targets round robin, no access log, log level warn.
# No JWT verification anywhere (the peer does none either).
#
# Run (from the repository):
#   cp -r ../shared/bench /tmp/pc-bench && chmod -R u+w /tmp/pc-bench && /tmp/pc-bench/run.sh build
#   PORTCULLIS_BIN=<build>/portcullis BENCH_EXTRA_TARGETS=$PWD/bench/targets.d \
#     /tmp/pc-bench/run.sh campaign custom --rounds 5 --duration 10 \
#     --targets "portcullis-rl-none portcullis-rl-mem portcullis-rl-redis portcullis-rl-redis-unix haproxy-rr-st" \
#     --ref portcullis-rl-none --ref haproxy-rr-st
# (a release build: configure without --enable-sanitizers). Results: docs/fleet.md.
#
# Binary: $PORTCULLIS_BIN, else <repo>/build/portcullis, else
# /tmp/bench-build/portcullis. Workers: $PORTCULLIS_WORKERS (default 2).
#
# A/B of two builds in one interleaved campaign: with PORTCULLIS_BIN_B set,
# every target above also exists as NAME-b (port + 20, 1844x), the same
# config run by that binary.

RL_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RL_CONF=$RL_REPO/bench/conf

rl_portcullis_bin() {
	local b
	if [[ -n ${PORTCULLIS_BIN:-} ]]; then
		[[ -x $PORTCULLIS_BIN ]] || die "PORTCULLIS_BIN=$PORTCULLIS_BIN is not an executable"
		echo "$PORTCULLIS_BIN"; return
	fi
	for b in "$RL_REPO/build/portcullis" /tmp/bench-build/portcullis; do
		[[ -x $b ]] && { echo "$b"; return; }
	done
	die "no portcullis binary: set PORTCULLIS_BIN"
}

# rl_start NAME PORT TEMPLATE: render (PORT, ADMIN_PORT = PORT + 50, WORKERS,
# UP1, UP2, REDIS_PORT), check with -t, run in the foreground.
rl_start() {
	local name=$1 port=$2 tmpl=$3 dir bin
	dir="$RUN/$name"
	bin=$(rl_portcullis_bin) || exit 1
	[[ -n ${RL_BIN_OVERRIDE:-} ]] && bin=$RL_BIN_OVERRIDE
	mkdir -p "$dir"
	render "$RL_CONF/$tmpl" "$dir/portcullis.json" PORT="$port" ADMIN_PORT=$((port + 50)) \
		WORKERS="${PORTCULLIS_WORKERS:-2}" UP1="$UP1" UP2="$UP2" REDIS_PORT="$REDIS_PORT"
	"$bin" -t -c "$dir/portcullis.json" >"$dir/check.txt" 2>&1 ||
		die "portcullis config $name: $(cat "$dir/check.txt")"
	spawn "$name" "$bin" -c "$dir/portcullis.json"
}

target portcullis-rl-none 18421 tokens=rs256 \
	desc="portcullis, no rate limiting, 2 workers, rr over 2 upstreams (reference for the limiting cost)"
start_portcullis_rl_none() { need upstream; rl_start portcullis-rl-none 18421 portcullis-rl-none.json.in; }

target portcullis-rl-mem 18422 tokens=rs256 \
	desc="portcullis rate_limit per user (Authorization), memory store"
start_portcullis_rl_mem() { need upstream; rl_start portcullis-rl-mem 18422 portcullis-rl-memory.json.in; }

target portcullis-rl-redis 18423 tokens=rs256 \
	desc="portcullis rate_limit per user (Authorization), Redis store (one EVALSHA per request)"
start_portcullis_rl_redis() { need upstream; need redis; rl_start portcullis-rl-redis 18423 portcullis-rl-redis.json.in; }

# The same Redis store through a unix socket, to a redis-server of its own
# (same settings as the shared `redis` fixture, plus the socket): the
# co-located deployment of docs/fleet.md.
target portcullis-rl-redis-unix 18424 tokens=rs256 \
	desc="portcullis rate_limit per user (Authorization), Redis store over a unix socket"
start_portcullis_rl_redis_unix() {
	need upstream
	local dir="$RUN/portcullis-rl-redis-unix"
	mkdir -p "$dir"
	spawn redis-unix redis-server --port 0 --unixsocket "$dir/redis.sock" --unixsocketperm 700 \
		--save "" --appendonly no --daemonize no --dir "$dir"
	local i
	for i in $(seq 50); do [[ -S $dir/redis.sock ]] && break; sleep 0.1; done
	[[ -S $dir/redis.sock ]] || die "redis-unix: no socket at $dir/redis.sock"
	sed -e "s|redis://127.0.0.1:@REDIS_PORT@/0|unix://$dir/redis.sock|" \
		"$RL_CONF/portcullis-rl-redis.json.in" >"$dir/template.json.in"
	RL_CONF=$dir rl_start portcullis-rl-redis-unix 18424 template.json.in
}

if [[ -n ${PORTCULLIS_BIN_B:-} ]]; then
	target portcullis-rl-none-b 18441 tokens=rs256 desc="portcullis-rl-none, build B"
	start_portcullis_rl_none_b() { need upstream; RL_BIN_OVERRIDE=$PORTCULLIS_BIN_B rl_start portcullis-rl-none-b 18441 portcullis-rl-none.json.in; }
	target portcullis-rl-mem-b 18442 tokens=rs256 desc="portcullis-rl-mem, build B"
	start_portcullis_rl_mem_b() { need upstream; RL_BIN_OVERRIDE=$PORTCULLIS_BIN_B rl_start portcullis-rl-mem-b 18442 portcullis-rl-memory.json.in; }
	target portcullis-rl-redis-b 18443 tokens=rs256 desc="portcullis-rl-redis, build B"
	start_portcullis_rl_redis_b() { need upstream; need redis; RL_BIN_OVERRIDE=$PORTCULLIS_BIN_B rl_start portcullis-rl-redis-b 18443 portcullis-rl-redis.json.in; }
fi
