/* bench/router_bench.c: ns per pc_router_match for hits, misses and 405s,
 * with 10, 1000 and 10000 routes. The lookup cost should not depend on the
 * route count; what differs is cache misses on a larger trie. "hot hit"
 * cycles through only 16 hit queries, so their trie paths stay in cache:
 * when it is flat across sizes, the growth of "hit" is cache effects.
 *
 * Build: gcc -std=c11 -D_GNU_SOURCE -O2 -Igateway bench/router_bench.c
 *        gateway/http/router.c gateway/base/util.c -o /tmp/router_bench
 * Run:   /tmp/router_bench [lookups per run, default 2000000; best of 5] */
#include "http/router.h"
#include "base/util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NQUERIES 4096 /* cycled through; large enough to defeat branch history */

typedef struct query {
    const char *host;
    char path[96];
    unsigned method;
} query_t;

static uint64_t bench_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The route shapes of one service; hosts rotate so a few tables exist. */
static const struct {
    pc_path_kind_t kind;
    const char *fmt;
    unsigned methods;
} shapes[] = {
    { PC_MATCH_TEMPLATE, "/api/svc%d/items/{id}", PC_M_GET | PC_M_PUT | PC_M_DELETE },
    { PC_MATCH_EXACT, "/api/svc%d/items", PC_M_GET | PC_M_POST },
    { PC_MATCH_TEMPLATE, "/api/svc%d/items/{id}/parts/{part}", PC_M_GET },
    { PC_MATCH_PREFIX, "/static/svc%d/", PC_M_GET },
    { PC_MATCH_EXACT, "/api/svc%d/health", PC_M_GET },
};

static const char *const route_hosts[] = { "api0.example.com", "api1.example.com",
                                           "*.example.com" };

static void add(pc_router_t *rt, const char *host, size_t shape, const char *path, int k)
{
    char err[256];
    pc_route_spec_t spec = { host, shapes[shape].kind, path, shapes[shape].methods,
                             (void *)(intptr_t)(k + 1) };
    if (pc_router_add(rt, &spec, err, sizeof(err)) != 0) {
        fprintf(stderr, "router_bench: %s\n", err);
        exit(1);
    }
}

/* n routes for any host; every 10th (and a few of the first, so that all
 * three host tables exist at every size) also gets a copy under a named
 * host: the host tables are real, yet every hit query has a route. */
static pc_router_t *build(int n, int *nsvc)
{
    pc_router_t *rt = pc_router_new();
    char path[96];
    int k = 0, h = 0;
    *nsvc = 1;
    for (int svc = 0; k < n; svc++) {
        size_t s;
        for (s = 0; s < PC_ARRAY_LEN(shapes) && k < n; s++) {
            snprintf(path, sizeof(path), shapes[s].fmt, svc);
            add(rt, NULL, s, path, k++);
            if ((k < 6 || k % 10 == 1) && k < n) {
                add(rt, route_hosts[h++ % 3], s, path, k);
                k++;
            }
        }
        if (s == PC_ARRAY_LEN(shapes))
            *nsvc = svc + 1; /* hit queries only use fully added services */
    }
    return rt;
}

static const char *const query_hosts[] = { NULL, "www.example.com", "api1.example.com:443",
                                           "other.org" };

/* kind 0: hits, 1: misses (404), 2: wrong method (405). */
static void make_query(query_t *q, int kind, int nsvc, uint64_t *seed)
{
    int svc = (int)(bench_rand(seed) % (uint64_t)nsvc);
    unsigned r = (unsigned)(bench_rand(seed) % 4);
    unsigned id = (unsigned)(bench_rand(seed) % 100000);
    q->host = query_hosts[bench_rand(seed) % PC_ARRAY_LEN(query_hosts)];
    q->method = PC_M_GET;
    if (kind == 0 && r == 0)
        snprintf(q->path, sizeof(q->path), "/api/svc%d/items/%u", svc, id);
    else if (kind == 0 && r == 1)
        snprintf(q->path, sizeof(q->path), "/api/svc%d/items/%u/parts/%u", svc, id, id % 7);
    else if (kind == 0 && r == 2)
        snprintf(q->path, sizeof(q->path), "/static/svc%d/css/app%u.css", svc, id);
    else if (kind == 0)
        snprintf(q->path, sizeof(q->path), "/api/svc%d/items", svc);
    else if (kind == 1 && r < 2)
        snprintf(q->path, sizeof(q->path), "/api/svc%d/unknown/%u", svc, id);
    else if (kind == 1)
        snprintf(q->path, sizeof(q->path), "/api/svc%dx/items/%u", svc, id);
    else {
        snprintf(q->path, sizeof(q->path), "/api/svc%d/items", svc);
        q->method = PC_M_PATCH;
    }
}

/* The machine may be shared: the best of a few runs is the least noisy. */
#define REPEATS 5

/* Returns ns per lookup over the first nq (a power of two) queries; counts
 * the results that came out as want. */
static double run(const pc_router_t *rt, const query_t *qs, size_t nq, long lookups, int want,
                  long *ok)
{
    size_t lens[NQUERIES], hlens[NQUERIES];
    for (int i = 0; i < NQUERIES; i++) {
        lens[i] = strlen(qs[i].path);
        hlens[i] = qs[i].host ? strlen(qs[i].host) : 0;
    }
    pc_route_result_t res;
    *ok = 0;
    uint64_t t0 = pc_now_ns();
    for (long i = 0; i < lookups; i++) {
        const query_t *q = &qs[i & (nq - 1)];
        pc_router_match(rt, q->host, hlens[i & (nq - 1)], q->path, lens[i & (nq - 1)], q->method,
                        &res);
        *ok += (int)res.status == want;
    }
    return (double)(pc_now_ns() - t0) / (double)lookups;
}

static double best(const pc_router_t *rt, const query_t *qs, size_t nq, long lookups, int want,
                   long *ok)
{
    double min = run(rt, qs, nq, lookups, want, ok);
    for (int i = 1; i < REPEATS; i++) {
        double t = run(rt, qs, nq, lookups, want, ok);
        min = t < min ? t : min;
    }
    return min;
}

int main(int argc, char **argv)
{
    long lookups = argc > 1 ? atol(argv[1]) : 2000000;
    static const int sizes[] = { 10, 1000, 10000 };
    static const pc_route_status_t wants[] = { PC_ROUTE_FOUND, PC_ROUTE_NOT_FOUND,
                                               PC_ROUTE_METHOD_NOT_ALLOWED };
    static query_t qs[3][NQUERIES];
    printf("%8s %10s %10s %10s %12s   %s\n", "routes", "hit ns", "miss ns", "405 ns", "hot hit ns",
           "expected status");
    for (size_t s = 0; s < PC_ARRAY_LEN(sizes); s++) {
        int nsvc = 0;
        pc_router_t *rt = build(sizes[s], &nsvc);
        uint64_t seed = 0x2545f4914f6cdd1dull;
        double ns[3], share[3];
        for (int kind = 0; kind < 3; kind++) {
            for (int i = 0; i < NQUERIES; i++)
                make_query(&qs[kind][i], kind, nsvc, &seed);
            long ok;
            run(rt, qs[kind], NQUERIES, lookups / 10, wants[kind], &ok); /* warm up */
            ns[kind] = best(rt, qs[kind], NQUERIES, lookups, wants[kind], &ok);
            share[kind] = 100.0 * (double)ok / (double)lookups;
        }
        long ok;
        double hot = best(rt, qs[0], 16, lookups, wants[0], &ok);
        printf("%8d %10.1f %10.1f %10.1f %12.1f   %.0f%%/%.0f%%/%.0f%%\n", sizes[s], ns[0], ns[1],
               ns[2], hot, share[0], share[1], share[2]);
        pc_router_free(rt);
    }
    return 0;
}
