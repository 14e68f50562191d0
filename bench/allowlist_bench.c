/* bench/allowlist_bench.c: ns per allow-list lookup (the trie walk that
 * pc_allowlist_decide makes, with its per-candidate method check) for
 * hits and misses, with 10, 1,000 and 10,000 entries. The configs are
 * generated: services with typed parameters (int, uuid, a pattern, any),
 * spread over 10 lists, each shape in two lists (the same path under
 * several consumers). Lookup cost should not depend on the entry count;
 * what differs is cache misses on a larger trie. "hot hit" cycles through
 * only 16 hit queries, so their trie paths stay in cache: when it is flat
 * across sizes, the growth of "hit" is cache effects.
 *
 * Built by `make` (noinst); run: ./bench/allowlist_bench [lookups, default
 * 1000000; best of 5 runs per size]. Not run by `make check`. */
#include "al_int.h"
#include "conf/conf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NQUERIES 4096
#define NLISTS 10

/* Each after "/api/svc<N>". */
static const char *const shapes[] = {
    "/items/{id:int}",
    "/items/{id:uuid}/parts/{part}",
    "/search/{q:[a-z0-9-]{1,32}}",
    "/health",
    "/users/{user}/orders/{order:int}",
};
#define NSHAPES (sizeof(shapes) / sizeof(shapes[0]))

static const char *const hits[] = {
    "/items/12345",
    "/items/0b7f3c6e-1d2a-4c5b-9e8f-7a6b5c4d3e2f/parts/wheel",
    "/search/red-shoes",
    "/health",
    "/users/alice/orders/42",
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t bench_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* n entries: shape k % NSHAPES of service k / NSHAPES, in lists k % NLISTS
 * and (k + 1) % NLISTS. */
static pc_allowlist_t *make(int n)
{
    json_t *lists = json_array();
    for (int l = 0; l < NLISTS; l++) {
        char name[16];
        snprintf(name, sizeof(name), "l%d", l);
        json_array_append_new(lists, json_pack("{s:s,s:[]}", "name", name, "entries"));
    }
    for (int k = 0; k < n; k++) {
        char path[128];
        snprintf(path, sizeof(path), "/api/svc%d%s", k / (int)NSHAPES, shapes[k % NSHAPES]);
        for (int c = 0; c < 2; c++) {
            json_t *entries = json_object_get(json_array_get(lists, (size_t)((k + c) % NLISTS)),
                                              "entries");
            json_array_append_new(entries, json_pack("{s:[s],s:s}", "methods", "GET", "path", path));
        }
    }
    json_t *node = json_pack("{s:o}", "lists", lists);
    pc_diag_t d = {0};
    pc_err_t err = {&d, "allowlist", 0};
    pc_allowlist_t *al = NULL;
    if (pc_allowlist_create(node, &al, &err) != 0) {
        pc_diag_print(&d, stderr);
        exit(1);
    }
    json_decref(node);
    pc_diag_free(&d);
    return al;
}

typedef struct bench_walk {
    al_walk_t w;
    const pc_allowlist_t *al;
    long found;
} bench_walk_t;

static int bench_visit(al_walk_t *w, const al_node_t *node)
{
    bench_walk_t *b = (bench_walk_t *)w;
    size_t n;
    const size_t *c = al_node_cands(node, &n);
    for (size_t i = 0; i < n; i++)
        if (b->al->entries[c[i]].methods & AL_M_GET)
            return b->found = (long)c[i], 1;
    return 0;
}

/* Best of 5 runs, ns per lookup; *nhit counts the lookups that matched. */
static double run(const pc_allowlist_t *al, char (*q)[128], size_t nq, long lookups, long *nhit)
{
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        bench_walk_t b = {.w.visit = bench_visit, .al = al};
        *nhit = 0;
        uint64_t t0 = now_ns();
        for (long i = 0; i < lookups; i++) {
            b.found = -1;
            al_trie_walk(&al->trie, q[(size_t)i % nq], &b.w);
            *nhit += b.found >= 0;
        }
        double ns = (double)(now_ns() - t0) / (double)lookups;
        if (ns < best)
            best = ns;
    }
    return best;
}

int main(int argc, char **argv)
{
    long lookups = argc > 1 ? atol(argv[1]) : 1000000;
    static const int sizes[] = {10, 1000, 10000};
    static char q[NQUERIES][128];
    double first_hit = 0, first_miss = 0, first_hot = 0;
    printf("%8s %8s %12s %12s %12s\n", "entries", "nodes", "hot hit ns", "hit ns", "miss ns");
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        pc_allowlist_t *al = make(sizes[s]);
        int services = (sizes[s] + (int)NSHAPES - 1) / (int)NSHAPES;
        uint64_t seed = 88172645463325252ull;
        for (int i = 0; i < NQUERIES; i++) {
            size_t k = (size_t)(bench_rand(&seed) % (uint64_t)sizes[s]);
            snprintf(q[i], sizeof(q[i]), "/api/svc%d%s", (int)(k / NSHAPES), hits[k % NSHAPES]);
        }
        long nhit;
        double hot = run(al, q, 16, lookups, &nhit);
        double hit = run(al, q, NQUERIES, lookups, &nhit);
        if (nhit != lookups) {
            fprintf(stderr, "allowlist_bench: %ld of %ld hits matched\n", nhit, lookups);
            return 1;
        }
        /* Misses: a known service with an unknown tail, or a bad typed value. */
        for (int i = 0; i < NQUERIES; i++)
            snprintf(q[i], sizeof(q[i]), "/api/svc%d%s", (int)(bench_rand(&seed) % (uint64_t)services),
                     i % 2 ? "/items/01" : "/nope/x");
        double miss = run(al, q, NQUERIES, lookups, &nhit);
        if (nhit != 0) {
            fprintf(stderr, "allowlist_bench: a miss matched\n");
            return 1;
        }
        if (s == 0)
            first_hit = hit, first_miss = miss, first_hot = hot;
        printf("%8d %8zu %12.1f %12.1f %12.1f\n", sizes[s], al->trie.nodes, hot, hit, miss);
        if (s == sizeof(sizes) / sizeof(sizes[0]) - 1)
            printf("ratio %d/%d: hot hit %.2f, hit %.2f, miss %.2f\n", sizes[s], sizes[0],
                   hot / first_hot, hit / first_hit, miss / first_miss);
        pc_allowlist_free(al);
    }
    return 0;
}
