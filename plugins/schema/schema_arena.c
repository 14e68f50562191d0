/* plugins/schema/schema_arena.c: the compiled schema's bump allocator and
 * the compiler's small helpers (schema_int.h, schema_cc.h). */
#include "schema_cc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pc_sarena_chunk {
    pc_sarena_chunk_t *next;
    max_align_t data[];
};

#define CHUNK 16384u

void *pc_sarena_alloc(pc_sarena_t *a, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (!a->head || a->used + size > a->cap) {
        size_t cap = size > CHUNK ? size : CHUNK;
        pc_sarena_chunk_t *ch = malloc(sizeof *ch + cap);
        if (!ch)
            return NULL;
        ch->next = a->head;
        a->head = ch;
        a->used = 0;
        a->cap = cap;
    }
    void *p = (char *)a->head->data + a->used;
    a->used += size;
    memset(p, 0, size);
    return p;
}

char *pc_sarena_strndup(pc_sarena_t *a, const char *s, size_t len)
{
    char *p = pc_sarena_alloc(a, len + 1);
    if (p)
        memcpy(p, s, len);
    return p;
}

void pc_sarena_free(pc_sarena_t *a)
{
    while (a->head) {
        pc_sarena_chunk_t *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}

int pc_cc_fail(pc_cc_t *c, const char *path, const char *kw, const char *fmt, ...)
{
    if (c->failed)
        return -1;
    c->failed = true;
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (kw)
        snprintf(c->err, c->errlen, "%s/%s: %s", path ? path : "", kw, msg);
    else
        snprintf(c->err, c->errlen, "%s: %s", path && *path ? path : "(root)", msg);
    return -1;
}

int pc_cc_grow(void **v, size_t *cap, size_t n, size_t elem)
{
    if (n + 1 <= *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*v, ncap * elem);
    if (!p)
        return -1;
    *v = p;
    *cap = ncap;
    return 0;
}

const char *pc_cc_path(pc_cc_t *c, const char *parent, const char *key, size_t klen)
{
    size_t pl = strlen(parent), extra = 0;
    for (size_t i = 0; i < klen; i++)
        extra += key[i] == '~' || key[i] == '/';
    char *p = pc_sarena_alloc(&c->s->arena, pl + klen + extra + 2);
    if (!p)
        return NULL;
    memcpy(p, parent, pl);
    char *o = p + pl;
    *o++ = '/';
    for (size_t i = 0; i < klen; i++) {
        if (key[i] == '~' || key[i] == '/') {
            *o++ = '~';
            *o++ = key[i] == '~' ? '0' : '1';
        } else {
            *o++ = key[i];
        }
    }
    return p;
}
