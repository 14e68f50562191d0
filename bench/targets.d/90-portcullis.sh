# portcullis targets for the shared benchmark harness (../shared/bench).
# Loaded by the harness through BENCH_EXTRA_TARGETS=<this folder>; see
# bench/README.md. Sourced by the harness's run.sh, not executed.
#
# Each target mirrors a peer so that only the proxy differs:
#
#   portcullis       18401  = haproxy / nginx2: one upstream target (the
#                    `upstream` fixture, port $UP1), keep-alive on both sides,
#                    2 workers (haproxy nbthread 2, nginx 2 workers), no
#                    access log, log level warn.
#   slow-portcullis  18431  = slow-haproxy / slow-nginx2: the same in front of
#                    the `upstream_slow` fixture ($SLOW1, 100 ms per answer).
#
# Port plan inside the gateway's 184xx range: 1840x plain proxy, 1841x JWT
# targets (to come, mirroring haproxy-jwt-* on 1821x), 1843x slow upstream;
# each target's admin listener is its port + 50 (1845x..1848x).
#
# Binary: $PORTCULLIS_BIN if set; otherwise the first executable of
#   <repo>/build/portcullis          (an in-tree build directory)
#   /tmp/bench-build/portcullis      (what bench/run.sh builds)
# Workers: $PORTCULLIS_WORKERS (default 2, like the peers).
#
# The binary is copied to $RUN/pcb-gateway and started under that name: on a
# shared box another session's `pkill -9 portcullis` (matched on the process
# name) killed the gateway in the middle of a campaign. The copy also pins the
# binary for the whole run while others rebuild. The harness still stops it
# by PID.

PORTCULLIS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PORTCULLIS_WORKERS=${PORTCULLIS_WORKERS:-2}
PORTCULLIS_CONF=$PORTCULLIS_REPO/bench/conf

portcullis_bin() {
	local b
	if [[ -n ${PORTCULLIS_BIN:-} ]]; then
		[[ -x $PORTCULLIS_BIN ]] || die "PORTCULLIS_BIN=$PORTCULLIS_BIN is not an executable"
		echo "$PORTCULLIS_BIN"; return
	fi
	for b in "$PORTCULLIS_REPO/build/portcullis" /tmp/bench-build/portcullis; do
		[[ -x $b ]] && { echo "$b"; return; }
	done
	die "no portcullis binary: set PORTCULLIS_BIN (or build into $PORTCULLIS_REPO/build or /tmp/bench-build)"
}

# portcullis_start NAME PORT TEMPLATE KEY=VAL...: render the JSON config
# template (with PORT, ADMIN_PORT = PORT + 50, WORKERS), check it with -t,
# start the gateway in the foreground (SIGTERM stops it).
portcullis_start() {
	local name=$1 port=$2 tmpl=$3; shift 3
	local dir="$RUN/$name" bin
	bin=$(portcullis_bin) || exit 1
	mkdir -p "$dir"
	render "$PORTCULLIS_CONF/$tmpl" "$dir/portcullis.json" \
		PORT="$port" ADMIN_PORT=$((port + 50)) WORKERS="$PORTCULLIS_WORKERS" "$@"
	# PCB_COPY names the pinned copy: pcb-gateway, or pcb-gateway-b for
	# build B of an A/B campaign (PORTCULLIS_BIN_B, the NAME-b targets).
	local copy=${PCB_COPY:-pcb-gateway}
	[[ $copy == pcb-gateway-b ]] && bin=$PORTCULLIS_BIN_B
	if [[ ! -x $RUN/$copy ]]; then
		cp "$bin" "$RUN/$copy"
		echo "$bin $(sha256sum <"$bin" | cut -c1-16) $("$bin" --version 2>&1 | head -1)" >"$RUN/$copy.txt"
	fi
	"$RUN/$copy" -t -c "$dir/portcullis.json" >"$dir/check.txt" 2>&1 ||
		die "portcullis config $name: $(cat "$dir/check.txt")"
	spawn "$name" "$RUN/$copy" -c "$dir/portcullis.json"
}

target portcullis 18401 tokens=rs256 \
	desc="portcullis reverse proxy, 2 workers, 1 upstream target, keep-alive (as haproxy / nginx2)"
start_portcullis() { need upstream; portcullis_start portcullis 18401 portcullis-proxy.json.in UP1="$UP1"; }

# A/B of two builds: with PORTCULLIS_BIN_B set, portcullis-b (18402) is the
# same target run by that binary, interleaved with portcullis in one campaign.
if [[ -n ${PORTCULLIS_BIN_B:-} ]]; then
	target portcullis-b 18402 tokens=rs256 desc="portcullis, build B (PORTCULLIS_BIN_B)"
	start_portcullis_b() { need upstream; PCB_COPY=pcb-gateway-b portcullis_start portcullis-b 18402 portcullis-proxy.json.in UP1="$UP1"; }
fi

target slow-portcullis 18431 \
	desc="portcullis 2 workers in front of the slow (100 ms) upstream (as slow-haproxy)"
start_slow_portcullis() { need upstream_slow; portcullis_start slow-portcullis 18431 portcullis-slow.json.in UP1="$SLOW1"; }

# JWT targets, once the jwt plugin exists (the haproxy peers are
# haproxy-jwt-rs256/-es256/-hs256 on 18211-18213: JWT verify with the alg
# pinned, iss/aud/exp/nbf checks, per-sub stick-table, round robin over
# $UP1 and $UP2). Sketch, with a template portcullis-jwt.json.in that has
# two upstream targets and a jwt plugin instance on the route:
#
# portcullis_jwt_start() {   # portcullis_jwt_start NAME PORT ALG
#	local name=$1 port=$2 alg=$3 key
#	case $alg in
#	RS256) key=$TOK/rsa_public.pem ;;
#	ES256) key=$TOK/ec_public.pem ;;
#	HS256) key=$TOK/hs256.secret ;;     # {"file": ...}: the 64 hex chars are the key
#	esac
#	need upstream
#	portcullis_start "$name" "$port" portcullis-jwt.json.in UP1="$UP1" UP2="$UP2" \
#		ALG="$alg" KEY="$key" ISS="https://auth.portcullis.test" AUD="portcullis-api"
# }
# target portcullis-jwt-rs256 18411 tokens=rs256 jwt=rs256 desc="portcullis JWT RS256 + 2 upstreams"
# start_portcullis_jwt_rs256() { portcullis_jwt_start portcullis-jwt-rs256 18411 RS256; }
# (and -es256 on 18412 with tokens=es256 jwt=es256, -hs256 on 18413)
