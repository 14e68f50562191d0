/* tests/unit/json_diff.c: the differential check of json_diff.h.
 *
 * Explained differences, where jansson refuses and we accept (each is
 * confirmed in our tree before it is forgiven):
 *   - integers beyond int64 ("too big integer"): we keep the literal and a
 *     double, without PC_JSON_NUM_I64;
 *   - reals beyond the double range ("real number overflow"): our double is
 *     +-inf and the literal is exact;
 *   - a NUL byte in a key ("NUL byte in object key not supported"): ours
 *     keeps it, klen says how long the key is.
 * Where we refuse and jansson accepts: our own limits (TOO_DEEP, TOO_MANY,
 * TOO_LONG), which jansson does not have or has elsewhere; and a NUL byte
 * right after a number or true/false/null ("[1\0]", "true\0"), which
 * jansson's lexer drops (found by fuzz_json_read; after a string, a
 * bracket or a space it refuses the NUL). Such a refusal is checked by
 * dropping the byte ourselves and comparing again. */
#include "json_diff.h"
#include "schema/json_read.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bump allocation in 64 KiB blocks: one malloc per block, like the
 * request arena (a malloc per call makes glibc trim its heap on every
 * free of a run of them). */
struct json_diff_arena {
    struct block *head;
    char *cur, *end;
};
struct block {
    struct block *next;
    max_align_t data[];
};

json_diff_arena_t *json_diff_arena_new(void)
{
    return calloc(1, sizeof(json_diff_arena_t));
}

/* Under AddressSanitizer every allocation gets a block of its own, exactly
 * its size, so that a write past what the reader asked for is caught. */
#if defined(__SANITIZE_ADDRESS__)
#define JD_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define JD_ASAN 1
#endif
#endif
#ifndef JD_ASAN
#define JD_ASAN 0
#endif

void *json_diff_arena_alloc(void *arena, size_t size)
{
    json_diff_arena_t *a = arena;
    if (JD_ASAN) {
        struct block *b = malloc(sizeof *b + size);
        if (!b)
            return NULL;
        b->next = a->head;
        a->head = b;
        return b->data;
    }
    size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if ((size_t)(a->end - a->cur) < size) {
        size_t n = size > 65536 ? size : 65536;
        struct block *b = malloc(sizeof *b + n);
        if (!b)
            return NULL;
        b->next = a->head;
        a->head = b;
        a->cur = (char *)b->data;
        a->end = a->cur + n;
    }
    void *r = a->cur;
    a->cur += size;
    return r;
}

void json_diff_arena_free(json_diff_arena_t *a)
{
    if (!a)
        return;
    while (a->head) {
        struct block *n = a->head->next;
        free(a->head);
        a->head = n;
    }
    free(a);
}

/* Does the tree hold something jansson cannot represent (so that its
 * refusal is explained)? what: 'i' big integer, 'r' overflowing real,
 * 'k' key with NUL. */
static bool has_unrepresentable(const pc_json_t *v, char what)
{
    switch (v->type) {
    case PC_JSON_NUMBER:
        if (what == 'i')
            return (v->num_flags & PC_JSON_NUM_INT) && !(v->num_flags & PC_JSON_NUM_I64);
        if (what == 'r')
            return !(v->num_flags & PC_JSON_NUM_INT) && isinf(v->u.num.d);
        return false;
    case PC_JSON_ARRAY:
        for (uint32_t i = 0; i < v->len; i++)
            if (has_unrepresentable(v->u.items[i], what))
                return true;
        return false;
    case PC_JSON_OBJECT:
        for (uint32_t i = 0; i < v->len; i++) {
            const pc_json_member_t *m = &v->u.members[i];
            if (what == 'k' && memchr(m->key, '\0', m->klen))
                return true;
            if (has_unrepresentable(m->value, what))
                return true;
        }
        return false;
    default:
        return false;
    }
}

static const char *same(const pc_json_t *a, const json_t *j, char *why, size_t whylen)
{
    switch (a->type) {
    case PC_JSON_NULL:
        return json_is_null(j) ? NULL : "null vs other";
    case PC_JSON_TRUE:
        return json_is_true(j) ? NULL : "true vs other";
    case PC_JSON_FALSE:
        return json_is_false(j) ? NULL : "false vs other";
    case PC_JSON_STRING:
        if (!json_is_string(j) || json_string_length(j) != a->len ||
            memcmp(json_string_value(j), a->u.str, a->len) != 0 || a->u.str[a->len] != '\0')
            return "string differs";
        return NULL;
    case PC_JSON_NUMBER:
        if (json_is_integer(j)) {
            if (!(a->num_flags & PC_JSON_NUM_I64) || a->u.num.i != json_integer_value(j))
                return "integer differs";
            if (a->u.num.d != (double)json_integer_value(j))
                return "integer's double differs";
            return NULL;
        }
        if (json_is_real(j)) {
            double r = json_real_value(j);
            if ((a->num_flags & PC_JSON_NUM_INT) || memcmp(&r, &a->u.num.d, sizeof r) != 0) {
                snprintf(why, whylen, "real differs: %.17g vs jansson %.17g (%.*s)", a->u.num.d, r,
                         (int)a->len, a->u.num.text);
                return why;
            }
            return NULL;
        }
        return "number vs other";
    case PC_JSON_ARRAY:
        if (!json_is_array(j) || json_array_size(j) != a->len)
            return "array differs";
        for (uint32_t i = 0; i < a->len; i++) {
            const char *w = same(a->u.items[i], json_array_get(j, i), why, whylen);
            if (w)
                return w;
        }
        return NULL;
    case PC_JSON_OBJECT:
        if (!json_is_object(j) || json_object_size(j) != a->len)
            return "object differs";
        for (uint32_t i = 0; i < a->len; i++) {
            const pc_json_member_t *m = &a->u.members[i];
            json_t *jv = json_object_getn(j, m->key, m->klen);
            if (!jv)
                return "key missing in jansson's object";
            if (pc_json_get(a, m->key, m->klen) != m->value)
                return "pc_json_get misses a member";
            const char *w = same(m->value, jv, why, whylen);
            if (w)
                return w;
        }
        return NULL;
    }
    return "bad type";
}

const char *json_diff_jansson(const char *buf, size_t len, char *why, size_t whylen)
{
    pc_json_limits_t lim = {.max_depth = JSON_PARSER_MAX_DEPTH, .max_members = UINT32_MAX,
                            .max_nodes = UINT32_MAX, .max_string = UINT32_MAX};
    json_diff_arena_t *arena = json_diff_arena_new();
    pc_json_error_t err;
    const pc_json_t *ours = pc_json_parse(buf, len, &lim, json_diff_arena_alloc, arena, &err);
    json_error_t jerr;
    json_t *theirs = json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    const char *w = NULL;
    if (ours && theirs) {
        w = same(ours, theirs, why, whylen);
    } else if (ours) {
        bool explained = (strstr(jerr.text, "too big") && has_unrepresentable(ours, 'i')) ||
                         (strstr(jerr.text, "real number overflow") && has_unrepresentable(ours, 'r')) ||
                         (strstr(jerr.text, "NUL byte in object key") && has_unrepresentable(ours, 'k'));
        if (!explained) {
            snprintf(why, whylen, "jansson refuses (%s at %d), we accept", jerr.text, jerr.position);
            w = why;
        }
    } else if (theirs) {
        bool limit = err.code == PC_JSON_TOO_DEEP || err.code == PC_JSON_TOO_MANY || err.code == PC_JSON_TOO_LONG;
        size_t o = err.offset;
        bool nul = err.code == PC_JSON_SYNTAX && o > 0 && o < len && buf[o] == '\0' &&
                   ((buf[o - 1] >= '0' && buf[o - 1] <= '9') || buf[o - 1] == 'e' || buf[o - 1] == 'l');
        if (nul) {
            char *copy = malloc(len);
            memcpy(copy, buf, o);
            memcpy(copy + o, buf + o + 1, len - o - 1);
            w = json_diff_jansson(copy, len - 1, why, whylen);
            free(copy);
        } else if (!limit) {
            snprintf(why, whylen, "we refuse (%s at %zu), jansson accepts", err.msg, err.offset);
            w = why;
        }
    } else if (!err.msg || err.code == PC_JSON_OK || err.offset > len) {
        w = "refusal without a message or with a bad offset";
    }
    if (theirs)
        json_decref(theirs);
    json_diff_arena_free(arena);
    return w;
}
