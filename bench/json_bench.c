/* bench/json_bench.c: ns per request body for pc_json_parse against
 * jansson (json_loadb) and, when configure found it, json-c
 * (json_tokener_parse_ex), on the schema workload's bodies.
 *
 * Each reader builds and frees a whole tree per body, as the gateway
 * would. Ours twice: "portcullis" into a fresh request arena per body
 * (pc_arena_new(4096)/pc_arena_free, as lifecycle/request.c makes them,
 * so the arena's block growth and glibc giving memory back to the kernel
 * are in the figure), and "pc-warm" into a bump buffer that is reset per
 * body (the reader alone, as with an arena whose blocks are recycled);
 * jansson with JSON_REJECT_DUPLICATES
 * (what a strict gateway would have to ask of it) and json_decref,
 * json-c with a reused tokener and json_object_put. Rounds interleave the
 * readers (a, b, c, a, b, c, ...) so that machine noise falls on all of
 * them; the figure is the median of the rounds, and ratios are taken
 * between medians.
 *
 * Build: make bench/json_bench (built by make, never run by make check)
 * Data:  /usr/bin/python3 /work/shared/bench/schema/make_workload.py /tmp/wl
 * Run:   bench/json_bench /tmp/wl [rounds, default 15] */
#include "base/arena.h"
#include "schema/json_read.h"

#include "json_bench.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_BODIES = 8, MAX_ROUNDS = 101 };

typedef struct body {
    char *buf;
    size_t len;
} body_t;

typedef bool (*reader_fn)(const body_t *b);

static void *arena_alloc(void *ud, size_t n)
{
    return pc_arena_alloc(ud, n);
}

static bool read_ours(const body_t *b)
{
    pc_arena_t *a = pc_arena_new(4096);
    pc_json_error_t err;
    const pc_json_t *v = pc_json_parse(b->buf, b->len, NULL, arena_alloc, a, &err);
    pc_arena_free(a);
    return v != NULL;
}

/* A bump buffer, reset per body: big enough for a 256 KiB body's tree. */
static struct {
    max_align_t *mem;
    size_t size, used;
} warm;

static void *warm_alloc(void *ud, size_t n)
{
    (void)ud;
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (warm.size - warm.used < n)
        return NULL;
    void *p = (char *)warm.mem + warm.used;
    warm.used += n;
    return p;
}

static bool read_warm(const body_t *b)
{
    warm.used = 0;
    pc_json_error_t err;
    return pc_json_parse(b->buf, b->len, NULL, warm_alloc, NULL, &err) != NULL;
}

static bool read_jansson(const body_t *b)
{
    json_error_t err;
    json_t *v = json_loadb(b->buf, b->len, JSON_REJECT_DUPLICATES, &err);
    json_decref(v);
    return v != NULL;
}

#ifdef PC_BENCH_JSONC
static bool read_jsonc(const body_t *b)
{
    return bench_jsonc_read(b->buf, b->len);
}
#endif

static const struct {
    const char *name;
    reader_fn fn;
} readers[] = {
    {"portcullis", read_ours},
    {"pc-warm", read_warm},
    {"jansson", read_jansson},
#ifdef PC_BENCH_JSONC
    {"json-c", read_jsonc},
#endif
};
#define NREADERS (sizeof readers / sizeof *readers)

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static size_t load(const char *dir, const char *size, body_t *out)
{
    static const char *const kinds[] = {"order", "profile", "events"};
    size_t n = 0;
    for (size_t k = 0; k < 3; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s-%s-valid.json", dir, kinds[k], size);
        FILE *f = fopen(path, "rb");
        if (!f) {
            fprintf(stderr, "json_bench: %s missing (run make_workload.py first)\n", path);
            exit(2);
        }
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        out[n].buf = malloc((size_t)len);
        out[n].len = fread(out[n].buf, 1, (size_t)len, f);
        fclose(f);
        n++;
    }
    return n;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s WORKLOAD_DIR [rounds]\n", argv[0]);
        return 2;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 15;
    if (rounds < 1 || rounds > MAX_ROUNDS)
        rounds = 15;
    warm.size = 16u << 20;
    warm.mem = malloc(warm.size);
#ifdef PC_BENCH_JSONC
    bench_jsonc_init();
#endif
    static const char *const sizes[] = {"1k", "16k", "256k"};
    printf("%-6s %-11s %12s %10s %12s\n", "size", "reader", "ns/body", "MB/s", "x portcullis");
    for (size_t s = 0; s < 3; s++) {
        body_t bodies[MAX_BODIES];
        size_t nb = load(argv[1], sizes[s], bodies), bytes = 0;
        for (size_t i = 0; i < nb; i++) {
            bytes += bodies[i].len;
            for (size_t r = 0; r < NREADERS; r++)
                if (!readers[r].fn(&bodies[i])) {
                    fprintf(stderr, "json_bench: %s refuses body %zu of %s\n", readers[r].name, i, sizes[s]);
                    return 1;
                }
        }
        /* about 20 ms of work per reader and round */
        int iters = (int)(40e6 / (double)bytes) + 1;
        double per[NREADERS][MAX_ROUNDS];
        for (int round = 0; round < rounds; round++)
            for (size_t r = 0; r < NREADERS; r++) {
                double t0 = now_ns();
                for (int it = 0; it < iters; it++)
                    for (size_t i = 0; i < nb; i++)
                        readers[r].fn(&bodies[i]);
                per[r][round] = (now_ns() - t0) / ((double)iters * (double)nb);
            }
        double med[NREADERS];
        for (size_t r = 0; r < NREADERS; r++) {
            qsort(per[r], (size_t)rounds, sizeof(double), cmp_double);
            med[r] = per[r][rounds / 2];
        }
        for (size_t r = 0; r < NREADERS; r++)
            printf("%-6s %-11s %12.0f %10.0f %12.2f\n", sizes[s], readers[r].name, med[r],
                   (double)bytes / (double)nb / med[r] * 1e3, med[r] / med[0]);
        for (size_t i = 0; i < nb; i++)
            free(bodies[i].buf);
    }
#ifdef PC_BENCH_JSONC
    bench_jsonc_done();
#endif
    free(warm.mem);
    return 0;
}
