/* gateway/base/arena.c: per-request bump allocator (see arena.h). */
#include "base/arena.h"
#include "base/util.h"

#include <string.h>

#define PC_ARENA_ALIGN 16u

typedef struct pc_arena_block {
    struct pc_arena_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} pc_arena_block_t;

typedef struct pc_arena_cleanup {
    struct pc_arena_cleanup *next;
    void (*fn)(void *);
    void *data;
} pc_arena_cleanup_t;

struct pc_arena {
    pc_arena_block_t *head;
    pc_arena_cleanup_t *cleanups;
    size_t total;
    void *last;
};

static pc_arena_block_t *arena_block_new(size_t size)
{
    pc_arena_block_t *b = pc_xmalloc(sizeof(*b) + size);
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

pc_arena_t *pc_arena_new(size_t first_block)
{
    pc_arena_t *a = pc_xmalloc(sizeof(*a));
    a->head = arena_block_new(first_block ? first_block : 1024);
    a->cleanups = NULL;
    a->total = 0;
    a->last = NULL;
    return a;
}

void pc_arena_free(pc_arena_t *a)
{
    if (!a)
        return;
    for (pc_arena_cleanup_t *c = a->cleanups; c; c = c->next)
        c->fn(c->data);
    pc_arena_block_t *b = a->head;
    while (b) {
        pc_arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void *pc_arena_alloc(pc_arena_t *a, size_t n)
{
    size_t need = (n + PC_ARENA_ALIGN - 1) & ~(size_t)(PC_ARENA_ALIGN - 1);
    if (need < n)
        abort();
    pc_arena_block_t *b = a->head;
    if (b->size - b->used < need) {
        size_t size = b->size * 2;
        if (size < need)
            size = need;
        pc_arena_block_t *nb = arena_block_new(size);
        nb->next = b;
        a->head = b = nb;
    }
    void *p = b->data + b->used;
    b->used += need;
    a->total += need;
    a->last = p;
    return p;
}

void *pc_arena_calloc(pc_arena_t *a, size_t n)
{
    void *p = pc_arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *pc_arena_strndup(pc_arena_t *a, const char *s, size_t n)
{
    char *d = pc_arena_alloc(a, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *pc_arena_strdup(pc_arena_t *a, const char *s)
{
    return pc_arena_strndup(a, s, strlen(s));
}

void *pc_arena_realloc(pc_arena_t *a, void *p, size_t old, size_t n)
{
    if (n <= old)
        return p;
    if (p && p == a->last) {
        pc_arena_block_t *b = a->head;
        size_t old_need = (old + PC_ARENA_ALIGN - 1) & ~(size_t)(PC_ARENA_ALIGN - 1);
        size_t need = (n + PC_ARENA_ALIGN - 1) & ~(size_t)(PC_ARENA_ALIGN - 1);
        if (b->used - old_need + need <= b->size) {
            b->used = b->used - old_need + need;
            a->total += need - old_need;
            return p;
        }
    }
    void *q = pc_arena_alloc(a, n);
    if (p && old)
        memcpy(q, p, old);
    return q;
}

void pc_arena_on_cleanup(pc_arena_t *a, void (*fn)(void *), void *data)
{
    pc_arena_cleanup_t *c = pc_arena_alloc(a, sizeof(*c));
    c->fn = fn;
    c->data = data;
    c->next = a->cleanups;
    a->cleanups = c;
}

size_t pc_arena_used(const pc_arena_t *a)
{
    return a->total;
}
