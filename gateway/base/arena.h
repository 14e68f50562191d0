/* gateway/base/arena.h: per-request bump allocator with cleanup callbacks.
 * Everything a request allocates comes from its arena and is released at
 * once when the request ends; library-owned objects register a cleanup. */
#ifndef PC_ARENA_H
#define PC_ARENA_H

#include <stddef.h>

typedef struct pc_arena pc_arena_t;

/* first_block: bytes of the first block (the common request fits in it). */
pc_arena_t *pc_arena_new(size_t first_block);
/* Runs the cleanups in reverse order of registration, then frees all blocks. */
void pc_arena_free(pc_arena_t *a);
/* 16-byte aligned; aborts on OOM, never returns NULL. */
void *pc_arena_alloc(pc_arena_t *a, size_t n);
void *pc_arena_calloc(pc_arena_t *a, size_t n);
char *pc_arena_strndup(pc_arena_t *a, const char *s, size_t n);
char *pc_arena_strdup(pc_arena_t *a, const char *s);
/* Grows the last allocation in place when possible, else copies. */
void *pc_arena_realloc(pc_arena_t *a, void *p, size_t old, size_t n);
void pc_arena_on_cleanup(pc_arena_t *a, void (*fn)(void *), void *data);
/* Bytes handed out so far (for limits and metrics). */
size_t pc_arena_used(const pc_arena_t *a);

#endif
