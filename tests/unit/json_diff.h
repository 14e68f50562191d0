/* tests/unit/json_diff.h: pc_json_parse against jansson on one document,
 * shared by tests/unit/test_json_read.c and fuzz/fuzz_json_read.c.
 *
 * Both read the bytes (jansson with JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY | JSON_ALLOW_NUL, ours with jansson's depth limit and
 * otherwise wide limits). When both accept, the trees must hold the same
 * values (jansson's integers against our int64, its reals against our
 * doubles bit for bit, keys and strings byte for byte). When one refuses,
 * the other must too, except for the differences json_diff.c lists, each
 * of which is checked against the document, not assumed. */
#ifndef PC_TEST_JSON_DIFF_H
#define PC_TEST_JSON_DIFF_H

#include <stdbool.h>
#include <stddef.h>

/* NULL when the two readers agree (or differ only as explained), else a
 * description of the disagreement in why. */
const char *json_diff_jansson(const char *buf, size_t len, char *why, size_t whylen);

/* A malloc-backed arena for pc_json_parse (pc_json_alloc_fn). */
typedef struct json_diff_arena json_diff_arena_t;
json_diff_arena_t *json_diff_arena_new(void);
void *json_diff_arena_alloc(void *arena, size_t size);
void json_diff_arena_free(json_diff_arena_t *a);

#endif
