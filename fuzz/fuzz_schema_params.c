/* fuzz/fuzz_schema_params.c: libFuzzer target for the schema plugin's
 * request text readers (plugins/schema/schema_params.h): the query string
 * typed by declared properties, strict percent-decoding, Content-Type.
 *
 * Checks what the header promises: a query object has unique member names,
 * each a decoded, valid UTF-8 string; a declared integer is a number or a
 * string, never anything else; decoding never yields invalid UTF-8 or NUL.
 * Run: fuzz/run.sh builds it; ./fuzz_schema_params fuzz/corpus/schema_params */
#include "schema_params.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

/* A bump arena over one buffer per input, freed at the end. */
typedef struct fz_arena {
    char *buf;
    size_t cap, used;
} fz_arena_t;

static void *fz_alloc(void *ud, size_t n)
{
    fz_arena_t *a = ud;
    n = (n + 15) & ~(size_t)15;
    if (a->cap - a->used < n)
        return NULL;
    void *p = a->buf + a->used;
    a->used += n;
    return p;
}

static const pc_pdecl_t decls[] = {
    {"limit", 5, PC_PT_INTEGER, PC_PT_STRING},
    {"ids", 3, PC_PT_ARRAY, PC_PT_INTEGER},
    {"full", 4, PC_PT_BOOLEAN, PC_PT_STRING},
    {"x", 1, PC_PT_NUMBER, PC_PT_STRING},
};

static void check_query(const char *q, size_t len)
{
    fz_arena_t a = {.cap = 64 * len + 65536};
    a.buf = malloc(a.cap);
    size_t bad = 0;
    const pc_json_t *o = pc_query_object(q, decls, 4, fz_alloc, &a, &bad);
    if (o) {
        FUZZ_CHECK(o->type == PC_JSON_OBJECT);
        for (uint32_t i = 0; i < o->len; i++) {
            const pc_json_member_t *m = &o->u.members[i];
            FUZZ_CHECK(m->klen > 0 && pc_utf8_valid(m->key, m->klen));
            FUZZ_CHECK(pc_json_get(o, m->key, m->klen) == m->value);
            for (uint32_t j = 0; j < i; j++)
                FUZZ_CHECK(o->u.members[j].klen != m->klen ||
                           memcmp(o->u.members[j].key, m->key, m->klen) != 0);
            const pc_json_t *v = m->value;
            if (v->type == PC_JSON_STRING)
                FUZZ_CHECK(pc_utf8_valid(v->u.str, v->len) && strlen(v->u.str) == v->len);
            if (m->klen == 5 && memcmp(m->key, "limit", 5) == 0)
                FUZZ_CHECK(v->type == PC_JSON_NUMBER || v->type == PC_JSON_STRING ||
                           v->type == PC_JSON_ARRAY);
        }
    } else {
        FUZZ_CHECK(bad <= len);
    }
    free(a.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    size_t len = strlen(s); /* what a request can carry: no NUL */
    check_query(s, len);
    char *out = malloc(len + 1);
    long n = pc_pct_decode(s, len, true, out);
    if (n >= 0)
        FUZZ_CHECK((size_t)n <= len && strlen(out) == (size_t)n && pc_utf8_valid(out, (size_t)n));
    const char *list[] = {"application/json", "text/plain"};
    bool json;
    pc_ctype_verdict_t v = pc_ctype_match(s, list, 2, &json);
    FUZZ_CHECK(v == PC_CTYPE_OK || v == PC_CTYPE_UNLISTED || v == PC_CTYPE_CHARSET);
    free(out);
    free(s);
    return 0;
}
