# portcullis JWT targets for the shared benchmark harness (../shared/bench),
# loaded with BENCH_EXTRA_TARGETS=<this folder> after 90-portcullis.sh
# (which provides portcullis_start and the binary lookup). Sourced by the
# harness's run.sh, not executed.
#
# Each target mirrors haproxy-jwt-<alg> (../shared/bench/conf/haproxy-jwt.cfg.in)
# so that only the gateway differs: Authorization: Bearer required, the
# header alg pinned ("algorithms": [ALG] and the key pinned to ALG), the
# signature checked with the public key PEM (HS256: the shared secret),
# iss and aud checked, exp in the future and nbf in the past (the jwt
# plugin's default 60 s leeway applies), a per-sub rate limit far above the
# load (rate_limit keyed by the verified subject, as haproxy's stick-table),
# round robin over the two upstreams $UP1 $UP2. portcullis also checks the
# token's jti against the revocation denylist on every request (the
# plugin's default; haproxy has no equivalent), and iat not in the future.
#
#   portcullis-jwt-<alg>          18411-18413  verified-token cache on (default)
#   portcullis-jwt-<alg>-nocache  18414-18416  cache off: every request parses
#                                              and verifies the token
# Admin listeners: port + 50 (18461-18466).
#
# Compare in one interleaved campaign, e.g.:
#   BENCH_EXTRA_TARGETS=$PWD/bench/targets.d PORTCULLIS_BIN=... \
#     /tmp/pc-bench/run.sh campaign custom --ref haproxy-jwt-rs256 \
#     --targets "haproxy-jwt-rs256 portcullis-jwt-rs256-nocache portcullis-jwt-rs256"

declare -F portcullis_start >/dev/null ||
	die "91-portcullis-jwt.sh needs portcullis_start from 90-portcullis.sh in the same folder"

# portcullis_jwt_start NAME PORT ALG CACHE(true|false)
portcullis_jwt_start() {
	local name=$1 port=$2 alg=$3 cache=$4 key tmpl=portcullis-jwt-pem.json.in
	case $alg in
	RS256) key=$TOK/rsa_public.pem ;;
	ES256) key=$TOK/ec_public.pem ;;
	HS256) key=$TOK/hs256.secret; tmpl=portcullis-jwt-hmac.json.in ;;  # the 64 hex chars are the key
	*) die "portcullis_jwt_start: unknown alg $alg" ;;
	esac
	need upstream
	portcullis_start "$name" "$port" "$tmpl" UP1="$UP1" UP2="$UP2" ALG="$alg" KEY="$key" \
		CACHE="$cache" ISS="https://auth.portcullis.test" AUD="portcullis-api"
}

target portcullis-jwt-rs256 18411 tokens=rs256 jwt=rs256 \
	desc="portcullis jwt RS256 (cache on) + iss/aud/exp/nbf + per-sub rate limit + rr x2 (as haproxy-jwt-rs256)"
start_portcullis_jwt_rs256() { portcullis_jwt_start portcullis-jwt-rs256 18411 RS256 true; }

target portcullis-jwt-es256 18412 tokens=es256 jwt=es256 desc="same with ES256, cache on"
start_portcullis_jwt_es256() { portcullis_jwt_start portcullis-jwt-es256 18412 ES256 true; }

target portcullis-jwt-hs256 18413 tokens=hs256 jwt=hs256 desc="same with HS256, cache on"
start_portcullis_jwt_hs256() { portcullis_jwt_start portcullis-jwt-hs256 18413 HS256 true; }

target portcullis-jwt-rs256-nocache 18414 tokens=rs256 jwt=rs256 \
	desc="portcullis jwt RS256, verified-token cache off"
start_portcullis_jwt_rs256_nocache() { portcullis_jwt_start portcullis-jwt-rs256-nocache 18414 RS256 false; }

# A/B of two builds: portcullis-jwt-rs256-nocache-b (18417) runs the same
# config with PORTCULLIS_BIN_B.
if [[ -n ${PORTCULLIS_BIN_B:-} ]]; then
	target portcullis-jwt-rs256-nocache-b 18417 tokens=rs256 jwt=rs256 \
		desc="portcullis-jwt-rs256-nocache, build B (PORTCULLIS_BIN_B)"
	start_portcullis_jwt_rs256_nocache_b() { PCB_COPY=pcb-gateway-b portcullis_jwt_start portcullis-jwt-rs256-nocache-b 18417 RS256 false; }
fi

target portcullis-jwt-es256-nocache 18415 tokens=es256 jwt=es256 desc="same with ES256, cache off"
start_portcullis_jwt_es256_nocache() { portcullis_jwt_start portcullis-jwt-es256-nocache 18415 ES256 false; }

target portcullis-jwt-hs256-nocache 18416 tokens=hs256 jwt=hs256 desc="same with HS256, cache off"
start_portcullis_jwt_hs256_nocache() { portcullis_jwt_start portcullis-jwt-hs256-nocache 18416 HS256 false; }
