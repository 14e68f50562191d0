#!/usr/bin/env bash
# bench/syscalls.sh - system calls and CPU per proxied request, per target.
#
#   bench/syscalls.sh [--duration S] [--conns C] [--slow] [TARGET...]
#
# Default targets: portcullis haproxy nginx2 (then, with --slow, also
# slow-portcullis slow-haproxy slow-nginx2 at 1000 connections).
# Starts the targets with the harness (`run.sh serve`, run bench/run.sh once
# before so the harness copy exists), then for each target in turn runs wrk
# (-t2, 50 connections, S seconds, the same requests as the campaigns) while
# `perf stat` counts the target's system calls by tracepoint
# (syscalls:sys_enter_*, all threads and worker processes of the target) and
# its task-clock. Prints syscalls per request by name, the total
# (raw_syscalls:sys_enter), and CPU ms per 1000 requests. Tracepoint counting
# is exact and cheap (no ptrace, unlike strace -c), so the target runs at
# nearly full speed; the counts per request still depend on load (how many
# events one epoll_wait returns), so compare targets at the same connection
# count. Stops the targets (SIGTERM to the harness, which stops them by PID).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HARNESS=${BENCH_HARNESS:-${TMPDIR:-/tmp}/pcbench-harness}
DURATION=5 CONNS=50 SLOW=0 TARGETS=()
die() { echo "bench/syscalls.sh: $*" >&2; exit 1; }
while (($#)); do
	case $1 in
	--duration) DURATION=$2; shift ;;
	--conns) CONNS=$2; shift ;;
	--slow) SLOW=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) TARGETS+=("$1") ;;
	esac
	shift
done
((${#TARGETS[@]})) || TARGETS=(portcullis haproxy nginx2)
((SLOW)) && TARGETS+=(slow-portcullis slow-haproxy slow-nginx2)
[[ -x $HARNESS/bin/upstream ]] || die "no built harness in $HARNESS (run bench/run.sh once, or set BENCH_HARNESS)"
command -v perf >/dev/null || die "perf is not installed"
export BENCH_EXTRA_TARGETS=$REPO/bench/targets.d
[[ -n ${PORTCULLIS_BIN:-} ]] && export PORTCULLIS_BIN

EVENTS=(read write readv writev sendmsg recvmsg sendto recvfrom sendmmsg recvmmsg
	epoll_wait epoll_pwait epoll_ctl accept accept4 connect close shutdown socket
	setsockopt getsockopt getsockname getpeername futex ioctl fcntl timerfd_settime
	eventfd2 poll ppoll select pselect6 brk mmap munmap madvise mprotect splice
	sched_yield getrandom clock_gettime gettimeofday nanosleep clock_nanosleep)
ev="raw_syscalls:sys_enter,task-clock"
for e in "${EVENTS[@]}"; do
	[[ -d /sys/kernel/tracing/events/syscalls/sys_enter_$e ]] && ev+=",syscalls:sys_enter_$e"
done
# failed calls (EAGAIN, EINPROGRESS, ...) of the I/O syscalls: exit events with a filter
PERF_EV=(-e "$ev")
for e in read recvfrom recvmsg readv sendmsg sendto writev accept4 connect; do
	[[ -d /sys/kernel/tracing/events/syscalls/sys_exit_$e ]] &&
		PERF_EV+=(-e "syscalls:sys_exit_$e" --filter 'ret < 0')
done

busy=$(ss -Hltn 'sport >= 18000 and sport <= 18999' | awk '{print $4}' | tr '\n' ' ')
[[ -z $busy ]] || die "ports in the bench range are already in use: $busy (another benchmark running?)"

OUT=$(mktemp -d "${TMPDIR:-/tmp}/pc-syscalls.XXXXXX")
SERVE=
cleanup() {   # the harness's `serve` sleeps in the foreground: end that sleep too
	[[ -n $SERVE ]] || return 0
	local c kids=()
	kill -TERM "$SERVE" 2>/dev/null || true
	for c in /proc/"$SERVE"/task/*/children; do { read -ra kids <"$c"; } 2>/dev/null || true; done
	for c in "${kids[@]}"; do
		[[ $(cat "/proc/$c/comm" 2>/dev/null) == sleep ]] && kill -TERM "$c" 2>/dev/null
	done
	wait "$SERVE" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$HARNESS/run.sh" serve "${TARGETS[@]}" >"$OUT/serve.log" 2>&1 &
SERVE=$!
RUN=
for _ in $(seq 100); do
	RUN=$(sed -n 's/^logs and configs: \([^ ]*\).*/\1/p' "$OUT/serve.log")
	[[ -n $RUN ]] && break
	kill -0 "$SERVE" 2>/dev/null || { cat "$OUT/serve.log"; die "serve failed"; }
	sleep 0.3
done
[[ -n $RUN ]] || die "targets did not come up (see $OUT/serve.log)"

# pids of a target and all its descendants (nginx workers)
tree() {
	local todo=("$@") p out=()
	while ((${#todo[@]})); do
		p=${todo[-1]}; unset 'todo[-1]'; out+=("$p")
		for c in /proc/"$p"/task/*/children; do
			local kids=(); { read -ra kids <"$c"; } 2>/dev/null || true
			((${#kids[@]})) && todo+=("${kids[@]}")
		done
	done
	local IFS=,; echo "${out[*]}"
}

for t in "${TARGETS[@]}"; do
	pid=$(awk -v n="$t" '$2 == n { print $1 }' "$RUN/pids")
	[[ -n $pid ]] || die "no pid for $t in $RUN/pids"
	url=$(awk -v n="$t" '$1 == n { print $2 }' "$OUT/serve.log")
	conns=$CONNS; script=(-s "$HARNESS/lua/bearer.lua" "$url" -- "$HARNESS/tokens/rs256.txt")
	if [[ $t == slow-* ]]; then conns=1000; script=(-s "$HARNESS/lua/plain.lua" "$url"); fi
	wrk -t2 -c"$conns" -d2s --timeout 10s "${script[@]}" >/dev/null 2>&1 || true  # warm-up
	perf stat -x, "${PERF_EV[@]}" -p "$(tree "$pid")" -o "$OUT/$t.perf" -- sleep "$((DURATION + 1))" &
	perfpid=$!
	sleep 0.5
	wrk -t2 -c"$conns" -d"${DURATION}s" --timeout 10s "${script[@]}" >"$OUT/$t.wrk" 2>&1 || true
	wait "$perfpid" || true
	echo "$t $conns $(grep '^WRKJSON ' "$OUT/$t.wrk" | sed 's/^WRKJSON //')" >>"$OUT/wrk.txt"
done

/usr/bin/python3 - "$OUT" "${TARGETS[@]}" <<'EOF'
import json, sys
out, targets = sys.argv[1], sys.argv[2:]
wrk = {}
for line in open(f"{out}/wrk.txt"):
    t, c, j = line.split(" ", 2)
    wrk[t] = (int(c), json.loads(j))
counts = {}
for t in targets:
    d = {}
    for line in open(f"{out}/{t}.perf"):
        f = line.strip().split(",")
        if len(f) < 3 or line.startswith("#"):
            continue
        try:
            v = float(f[0])
        except ValueError:
            v = 0.0
        name = f[2].replace("syscalls:sys_enter_", "")
        if name.startswith("syscalls:sys_exit_"):
            name = name.replace("syscalls:sys_exit_", "") + " failed (EAGAIN…)"
        d[name] = v
    counts[t] = d
# perf counts for DURATION+1 s, wrk for DURATION s: per request uses the
# requests wrk saw; the extra 0.5 s on each side is idle (no load), so
# counts there are a few timer wake-ups at most.
names = sorted({k for d in counts.values() for k in d
                if k not in ("raw_syscalls:sys_enter", "task-clock") and "failed" not in k},
               key=lambda k: -max(counts[t].get(k, 0) / max(wrk[t][1]["requests"], 1) for t in targets))
failed = sorted({k for d in counts.values() for k in d if "failed" in k})
print(f"| per request | " + " | ".join(f"{t} (c{wrk[t][0]})" for t in targets) + " |")
print("|---|" + "---|" * len(targets))
print("| req/s | " + " | ".join(f"{wrk[t][1]['rps']:.0f}" for t in targets) + " |")
rows = []
for k in names:
    vals = [counts[t].get(k, 0) / max(wrk[t][1]["requests"], 1) for t in targets]
    if max(vals) >= 0.01:
        print(f"| {k} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
tot = [counts[t].get("raw_syscalls:sys_enter", 0) / max(wrk[t][1]["requests"], 1) for t in targets]
known = [sum(counts[t].get(k, 0) for k in names) / max(wrk[t][1]["requests"], 1) for t in targets]
print("| other | " + " | ".join(f"{a - b:.2f}" for a, b in zip(tot, known)) + " |")
print("| **all syscalls** | " + " | ".join(f"**{v:.2f}**" for v in tot) + " |")
for k in failed:
    vals = [counts[t].get(k, 0) / max(wrk[t][1]["requests"], 1) for t in targets]
    if max(vals) >= 0.01:
        print(f"| of which {k} | " + " | ".join(f"{v:.2f}" for v in vals) + " |")
print("| CPU µs/req (task-clock) | " + " | ".join(
    f"{counts[t].get('task-clock', 0) * 1000 / max(wrk[t][1]['requests'], 1):.1f}" for t in targets) + " |")
EOF
echo "(raw: $OUT)"
