/* fuzz/schema_fuzz.h: what both schema targets share: a per-input arena
 * for pc_json_parse (everything is freed after the input) and the check
 * that the fast walk and the reporting walk agree. */
#ifndef PC_SCHEMA_FUZZ_H
#define PC_SCHEMA_FUZZ_H

#include "schema.h"

#include <stdlib.h>
#include <string.h>

typedef struct fz_chunk {
    struct fz_chunk *next;
    max_align_t data[];
} fz_chunk_t;

static fz_chunk_t *fz_chunks;

static void *fz_alloc(void *ud, size_t n)
{
    (void)ud;
    fz_chunk_t *c = malloc(sizeof *c + n);
    if (!c)
        return NULL;
    c->next = fz_chunks;
    fz_chunks = c;
    return c->data;
}

static void fz_free_all(void)
{
    while (fz_chunks) {
        fz_chunk_t *n = fz_chunks->next;
        free(fz_chunks);
        fz_chunks = n;
    }
}

static const pc_json_t *fz_parse(const char *buf, size_t len)
{
    pc_json_error_t err;
    pc_json_limits_t lim = {.max_depth = 128, .max_nodes = 20000};
    return pc_json_parse(buf, len, &lim, fz_alloc, NULL, &err);
}

/* Both walks must reach the same verdict; a failed reporting walk says
 * why (at least one error, or a truncated list), a passing one says
 * nothing; every string is terminated. */
static void fz_validate(const pc_schema_t *s, const pc_json_t *x)
{
    pc_schema_error_t e[3];
    pc_schema_errors_t errs = {.max = 3, .e = e};
    bool fast = pc_schema_validate(s, x, NULL);
    bool full = pc_schema_validate(s, x, &errs);
    if (fast != full || errs.n > errs.max || (full && (errs.n || errs.truncated)) ||
        (!full && !errs.n && !errs.truncated))
        abort();
    for (unsigned i = 0; i < errs.n; i++)
        if (!memchr(e[i].instance, 0, sizeof e[i].instance) || !memchr(e[i].schema, 0, sizeof e[i].schema) ||
            !memchr(e[i].message, 0, sizeof e[i].message) || !memchr(e[i].excerpt, 0, sizeof e[i].excerpt) ||
            !e[i].keyword)
            abort();
}

#endif
