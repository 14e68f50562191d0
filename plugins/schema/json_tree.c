/* plugins/schema/json_tree.c: looking into a read tree: member lookup and
 * JSON equality (rules in json_read.h). Lookups in objects above
 * PC_JSON_INDEX_MIN members binary-search the sorted index json_read.c
 * leaves after the members, so equality of two large objects is
 * O(n log n) whatever their keys, never quadratic. */
#include "json_read.h"

#include <string.h>

static inline uint64_t pj_load32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Eight bytes per multiply (keys are short: one or two rounds); a tail of
 * 4..7 bytes as two overlapping 4-byte reads, of 1..3 as its first,
 * middle and last byte (with the length mixed in, these are unambiguous);
 * a final avalanche so that the low bits are usable as is. Its quality
 * only affects speed: lookups and duplicate checks compare keys by
 * (hash, length, bytes) in sorted order, never by hash alone. */
uint32_t pc_json_key_hash(const char *key, size_t klen)
{
    const uint64_t k = 0x9E3779B97F4A7C15ull;
    uint64_t h = ((uint64_t)klen + 1) * k, w;
    while (klen >= 8) {
        memcpy(&w, key, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
        key += 8;
        klen -= 8;
    }
    if (klen >= 4)
        w = pj_load32(key) | pj_load32(key + klen - 4) << 32;
    else if (klen)
        w = (uint64_t)(unsigned char)key[0] | (uint64_t)(unsigned char)key[klen / 2] << 8 |
            (uint64_t)(unsigned char)key[klen - 1] << 16 | (uint64_t)klen << 24;
    else
        w = 0;
    h = (h ^ w) * k;
    h ^= h >> 32;
    h *= 0xD6E8FEB86659FD93ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* Orders (hash, len, bytes) like the index: <0, 0, >0. */
static int pj_key_order(const pc_json_member_t *m, uint32_t h, const char *key, size_t klen)
{
    if (m->khash != h)
        return m->khash < h ? -1 : 1;
    if (m->klen != klen)
        return m->klen < klen ? -1 : 1;
    return memcmp(m->key, key, klen);
}

static const pc_json_member_t *pj_find(const pc_json_t *obj, uint32_t h, const char *key, size_t klen)
{
    const pc_json_member_t *m = obj->u.members;
    if (obj->len <= PC_JSON_INDEX_MIN) {
        for (uint32_t i = 0; i < obj->len; i++)
            if (m[i].khash == h && m[i].klen == klen && memcmp(m[i].key, key, klen) == 0)
                return &m[i];
        return NULL;
    }
    const uint32_t *idx = (const uint32_t *)(const void *)(m + obj->len);
    uint32_t lo = 0, hi = obj->len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = pj_key_order(&m[idx[mid]], h, key, klen);
        if (c == 0)
            return &m[idx[mid]];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const pc_json_t *pc_json_get(const pc_json_t *obj, const char *key, size_t klen)
{
    if (!obj || obj->type != PC_JSON_OBJECT)
        return NULL;
    const pc_json_member_t *m = pj_find(obj, pc_json_key_hash(key, klen), key, klen);
    return m ? m->value : NULL;
}

static bool pj_objects_equal(const pc_json_t *a, const pc_json_t *b)
{
    const pc_json_member_t *ma = a->u.members, *mb = b->u.members;
    for (uint32_t i = 0; i < a->len; i++) {
        const pc_json_member_t *x = &ma[i], *y = &mb[i];
        /* Same order is the common case: try the same position first. */
        if (!(y->khash == x->khash && y->klen == x->klen && memcmp(y->key, x->key, x->klen) == 0))
            y = pj_find(b, x->khash, x->key, x->klen);
        if (!y || !pc_json_equal(x->value, y->value))
            return false;
    }
    return true;
}

bool pc_json_equal(const pc_json_t *a, const pc_json_t *b)
{
    if (a == b)
        return true;
    if (a->type != b->type)
        return false;
    switch (a->type) {
    case PC_JSON_NUMBER:
        return pc_json_num_cmp(a, b) == 0;
    case PC_JSON_STRING:
        return a->len == b->len && memcmp(a->u.str, b->u.str, a->len) == 0;
    case PC_JSON_ARRAY:
        if (a->len != b->len)
            return false;
        for (uint32_t i = 0; i < a->len; i++)
            if (!pc_json_equal(a->u.items[i], b->u.items[i]))
                return false;
        return true;
    case PC_JSON_OBJECT:
        return a->len == b->len && pj_objects_equal(a, b);
    default:
        return true;
    }
}
