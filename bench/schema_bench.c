/* bench/schema_bench.c: the cost of checking a request body against a JSON
 * Schema from its bytes, the way the schema plugin does it: pc_json_parse
 * into a bump arena (reset for every body, as the request arena is new for
 * every request), then pc_schema_validate of the compiled schema (formats
 * on, stop at the first error). The runner of ../shared/bench/schema
 * (its README is the contract; compare.py reads the output):
 *
 *   bench/schema_bench WORKLOAD_DIR [--min-ms 300] [--runs 5]
 *
 * One JSON line per case of WORKLOAD_DIR/cases.json, as ajv_bench.js prints
 * them: {"validator":"portcullis","case","bytes","valid","expected",
 * "ns_per_op" (median of the runs),"runs"}. Each schema is compiled once. */
#include "schema.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct bump {
    char *buf;
    size_t cap, used;
} bump_t;

static void *bump_alloc(void *ud, size_t size)
{
    bump_t *b = ud;
    size = (size + 15) & ~(size_t)15;
    if (b->cap - b->used < size)
        return NULL;
    void *p = b->buf + b->used;
    b->used += size;
    return p;
}

static char *read_file(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        perror(path);
        exit(2);
    }
    fclose(f);
    buf[n] = '\0';
    *len = (size_t)n;
    return buf;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Schemas stay compiled for the whole run, their trees in never-freed bumps. */
static pc_schema_t *compile_file(const char *dir, const char *name)
{
    size_t len;
    char *text = read_file(dir, name, &len);
    bump_t *b = calloc(1, sizeof(*b));
    b->cap = 64 * len + (1u << 20);
    b->buf = malloc(b->cap);
    pc_json_error_t je;
    const pc_json_t *t = pc_json_parse(text, len, NULL, bump_alloc, b, &je);
    if (!t) {
        fprintf(stderr, "%s: %s at byte %zu\n", name, je.msg, je.offset);
        exit(2);
    }
    pc_schema_opts_t o = {.default_draft = PC_SCHEMA_2020_12, .formats = true};
    char err[512];
    pc_schema_t *s = pc_schema_compile(t, NULL, &o, err, sizeof(err));
    if (!s) {
        fprintf(stderr, "%s: %s\n", name, err);
        exit(2);
    }
    return s;
}

/* What the plugin does per body: parse, then validate (first error ends it). */
static bool once(const pc_schema_t *s, const char *body, size_t len, bump_t *arena)
{
    arena->used = 0;
    pc_json_error_t je;
    const pc_json_t *doc = pc_json_parse(body, len, NULL, bump_alloc, arena, &je);
    if (!doc) {
        if (je.code == PC_JSON_NOMEM) {
            fprintf(stderr, "bench arena too small for a body of %zu bytes\n", len);
            exit(2);
        }
        return false;
    }
    return pc_schema_validate(s, doc, NULL);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void run_case(const json_t *c, const char *dir, pc_schema_t *s, double min_ms, int runs)
{
    size_t len;
    char *body = read_file(dir, json_string_value(json_object_get(c, "body")), &len);
    bump_t arena = {.cap = 64 * len + (1u << 20)};
    arena.buf = malloc(arena.cap);
    bool verdict = once(s, body, len, &arena);
    /* calibrate to about min_ms per run, as ajv_bench.js does */
    uint64_t n = 1;
    for (;;) {
        uint64_t t0 = now_ns();
        for (uint64_t i = 0; i < n; i++)
            once(s, body, len, &arena);
        double ms = (double)(now_ns() - t0) / 1e6;
        if (ms >= min_ms / 4) {
            double k = (double)n * min_ms / (ms > 0.001 ? ms : 0.001);
            n = k < 1 ? 1 : (uint64_t)k + 1;
            break;
        }
        n *= 4;
    }
    uint64_t *per = calloc((size_t)runs, sizeof(*per)), *sorted = calloc((size_t)runs, sizeof(*per));
    for (int r = 0; r < runs; r++) {
        uint64_t t0 = now_ns();
        for (uint64_t i = 0; i < n; i++)
            once(s, body, len, &arena);
        per[r] = (now_ns() - t0) / n;
    }
    memcpy(sorted, per, (size_t)runs * sizeof(*per));
    qsort(sorted, (size_t)runs, sizeof(*sorted), cmp_u64);
    printf("{\"validator\":\"portcullis\",\"case\":\"%s\",\"bytes\":%lld,\"valid\":%s,"
           "\"expected\":%s,\"ns_per_op\":%llu,\"runs\":[",
           json_string_value(json_object_get(c, "name")),
           (long long)json_integer_value(json_object_get(c, "bytes")), verdict ? "true" : "false",
           json_is_true(json_object_get(c, "valid")) ? "true" : "false",
           (unsigned long long)sorted[runs / 2]);
    for (int r = 0; r < runs; r++)
        printf("%s%llu", r ? "," : "", (unsigned long long)per[r]);
    printf("]}\n");
    fflush(stdout);
    free(per);
    free(sorted);
    free(arena.buf);
    free(body);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s WORKLOAD_DIR [--min-ms N] [--runs N]\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    double min_ms = 300;
    int runs = 5;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--min-ms") == 0)
            min_ms = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
    }
    if (runs < 1)
        runs = 1;
    char path[4096];
    snprintf(path, sizeof(path), "%s/cases.json", dir);
    json_error_t je;
    json_t *cases = json_load_file(path, 0, &je);
    if (!json_is_array(cases)) {
        fprintf(stderr, "%s: %s\n", path, je.text);
        return 2;
    }
    /* one compiled schema per file, compiled before any timing */
    const char *names[64];
    pc_schema_t *compiled[64];
    size_t nc = 0, i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const char *sf = json_string_value(json_object_get(c, "schema"));
        size_t k = 0;
        while (k < nc && strcmp(names[k], sf) != 0)
            k++;
        if (k == nc && nc < 64) {
            names[nc] = sf;
            compiled[nc++] = compile_file(dir, sf);
        }
        run_case(c, dir, compiled[k < nc ? k : 0], min_ms, runs);
    }
    for (size_t k = 0; k < nc; k++)
        pc_schema_free(compiled[k]);
    json_decref(cases);
    return 0;
}
