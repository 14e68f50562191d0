#!/usr/bin/env python3
"""Summary of portcullis benchmark campaigns run by bench/run.sh.

usage: summarize.py [--title T] [--pair SUBJECT:REF]... results.jsonl...

Each results.jsonl is one campaign of the shared harness (one JSON line per
wrk run: target, round, rps, p50_us, p99_us, requests, srv_cpu_ms,
fix_cpu_ms, ...). Prints, per campaign, one row per target:

  req/s      median over rounds (min-max)
  p50, p99   medians over rounds, ms
  CPU us/req the target's own CPU time (all its processes and threads, from
             /proc, 10 ms ticks) divided by the requests it answered;
             median over rounds. For the direct upstream: "-" (the upstream
             column shows its cost)

then, for every --pair SUBJECT:REF found in the same campaign, the ratios
SUBJECT/REF of req/s, p99 and CPU us/req computed within each round (both
targets ran in that round, minutes apart at most), as median (min-max) over
rounds. req/s > 1 is better for the subject; p99 and CPU/req < 1 are better.
Standard library only.
"""
import argparse
import json
import statistics
from collections import defaultdict

ERR_KEYS = ("err_connect", "err_read", "err_write", "err_status", "err_timeout")


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def ms(us):
    if us != us:
        return "-"
    return f"{us / 1000:.2f}" if us < 100000 else f"{us / 1000:.0f}"


def per_req(r, key):
    if not r.get("requests") or key not in r:
        return float("nan")
    return r[key] * 1000.0 / r["requests"]


def rng(xs, fmt):
    xs = [x for x in xs if x == x]
    if not xs:
        return "-"
    return f"{fmt.format(med(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def load(path):
    runs = [json.loads(l) for l in open(path) if l.strip()]
    by_t, order, by_round = defaultdict(list), [], defaultdict(dict)
    for r in runs:
        if r["target"] not in by_t:
            order.append(r["target"])
        by_t[r["target"]].append(r)
        by_round[r["round"]][r["target"]] = r
    return runs, by_t, order, by_round


def campaign_table(path, pairs):
    runs, by_t, order, by_round = load(path)
    if not runs:
        print(f"{path}: no runs\n")
        return []
    c = runs[0]
    print(f"**{c['campaign']}**: wrk -t{c['threads']} -c{c['conns']} -d{c['dur_s']}s, "
          f"{len(by_round)} interleaved rounds ({path})\n")
    print("| target | req/s median (min–max) | p50 ms | p99 ms | CPU µs/req (target) "
          "| upstream CPU µs/req | errors |")
    print("|---|---|---|---|---|---|---|")
    for t in order:
        rs = by_t[t]
        srv = [per_req(r, "srv_cpu_ms") for r in rs]
        cpu = "-" if all(r.get("srv_cpu_ms", 0) == 0 for r in rs) else rng(srv, "{:.1f}")
        errs = sum(r.get(k, 0) for r in rs for k in ERR_KEYS) + sum(1 for r in rs if r.get("failed"))
        print(f"| {t} | {rng([r.get('rps', 0) for r in rs], '{:.0f}')} "
              f"| {ms(med([r.get('p50_us', float('nan')) for r in rs]))} "
              f"| {ms(med([r.get('p99_us', float('nan')) for r in rs]))} | {cpu} "
              f"| {med([per_req(r, 'fix_cpu_ms') for r in rs]):.1f} | {errs} |")
    loads = [r.get("load1", 0) for r in runs]
    print(f"\nload1 during runs: median {med(loads):.2f}, max {max(loads):.2f}\n")

    out = []
    for subj, ref in pairs:
        if subj not in by_t or ref not in by_t:
            continue
        q_rps, q_p99, q_cpu = [], [], []
        for rnd, tr in sorted(by_round.items()):
            if subj not in tr or ref not in tr:
                continue
            a, b = tr[subj], tr[ref]
            if b.get("rps"):
                q_rps.append(a.get("rps", 0) / b["rps"])
            if b.get("p99_us") and a.get("p99_us"):
                q_p99.append(a["p99_us"] / b["p99_us"])
            ca, cb = per_req(a, "srv_cpu_ms"), per_req(b, "srv_cpu_ms")
            if cb == cb and cb > 0 and ca == ca:
                q_cpu.append(ca / cb)
        out.append((f"{subj} / {ref}", len(q_rps), rng(q_rps, "{:.2f}"),
                    rng(q_p99, "{:.2f}"), rng(q_cpu, "{:.2f}")))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl", nargs="+")
    ap.add_argument("--pair", action="append", default=[],
                    help="SUBJECT:REF, ratios SUBJECT/REF per round")
    ap.add_argument("--title", default="portcullis vs peers")
    a = ap.parse_args()
    pairs = [tuple(p.split(":", 1)) for p in a.pair]

    print(f"## {a.title}\n")
    ratios = []
    for path in a.jsonl:
        ratios += campaign_table(path, pairs)
    if ratios:
        print("Ratios within each round, then median (min–max) over rounds "
              "(req/s: higher is better for the left side; p99 and CPU/req: lower is better)\n")
        print("| ratio | rounds | req/s | p99 | CPU µs/req |")
        print("|---|---|---|---|---|")
        for name, n, r, p, c in ratios:
            print(f"| {name} | {n} | {r} | {p} | {c} |")
        print()


if __name__ == "__main__":
    main()
