/* gateway/conf/fields.c: the table-driven scalar options of the core's own
 * sections. A field_t table {key, type, offset, flags, range, default}
 * describes an object; pc_ld_obj refuses unknown keys (with a "did you
 * mean" for near misses), checks types and ranges, applies defaults and
 * stores into the section's struct. Structure (arrays, maps, cross
 * references) stays code in the section files. Plugins get the same idea
 * through pc_conf_parse (plugin_fields.c). */
#include "conf/conf_int.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

size_t pc_ld_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SHOW_MAX || lb > SHOW_MAX)
        return SIZE_MAX;
    size_t row[SHOW_MAX + 1];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static void unknown_key(ld_t *l, const char *path, const char *key, const field_t *f, size_t n)
{
    jp_t p;
    const char *best = NULL;
    size_t bestd = 3;
    for (size_t i = 0; i < n; i++) {
        size_t dist = pc_ld_distance(key, f[i].key);
        if (dist < bestd) {
            bestd = dist;
            best = f[i].key;
        }
    }
    if (best)
        pc_ld_err(l, pc_ld_key(&p, path, key), "unknown key (did you mean \"%s\"?)", best);
    else
        pc_ld_err(l, pc_ld_key(&p, path, key), "unknown key");
}

bool pc_ld_str_ok(ld_t *l, const char *path, const json_t *v, bool empty_ok)
{
    if (!json_is_string(v)) {
        pc_ld_err(l, path, "must be a string");
        return false;
    }
    size_t n = json_string_length(v);
    if (strlen(json_string_value(v)) != n) {
        pc_ld_err(l, path, "must not contain NUL characters");
        return false;
    }
    if (n == 0 && !empty_ok) {
        pc_ld_err(l, path, "must not be empty");
        return false;
    }
    if (n > CONF_MAX_STRING) {
        pc_ld_err(l, path, "longer than %d bytes", CONF_MAX_STRING);
        return false;
    }
    return true;
}

/* Checks v against f and stores it into dst. false after reporting. */
static bool field_value(ld_t *l, const char *path, const field_t *f, const json_t *v, void *dst)
{
    bool store = dst && f->off != NOOFF;
    switch (f->type) {
    case FT_UINT:
    case FT_SIZE: {
        if (!json_is_integer(v)) {
            pc_ld_err(l, path, "must be an integer");
            return false;
        }
        long long x = json_integer_value(v);
        if (x < f->min || x > f->max) {
            pc_ld_err(l, path, "must be between %lld and %lld", f->min, f->max);
            return false;
        }
        if (store && f->type == FT_UINT)
            *(unsigned *)pc_ld_at(dst, f->off) = (unsigned)x;
        else if (store)
            *(size_t *)pc_ld_at(dst, f->off) = (size_t)x;
        return true;
    }
    case FT_BOOL:
        if (!json_is_boolean(v)) {
            pc_ld_err(l, path, "must be true or false");
            return false;
        }
        if (store)
            *(bool *)pc_ld_at(dst, f->off) = json_is_true(v);
        return true;
    case FT_STR:
        if (!pc_ld_str_ok(l, path, v, f->flags & F_EMPTY_OK))
            return false;
        if (store) {
            char **sp = pc_ld_at(dst, f->off);
            free(*sp);
            *sp = pc_xstrdup(json_string_value(v));
        }
        return true;
    case FT_OBJ:
        if (!json_is_object(v)) {
            pc_ld_err(l, path, "must be an object");
            return false;
        }
        return true;
    case FT_ARR:
        if (!json_is_array(v)) {
            pc_ld_err(l, path, "must be an array");
            return false;
        }
        return true;
    case FT_ANY:
        return true;
    }
    return false;
}

void pc_ld_defaults(const field_t *f, size_t n, void *dst)
{
    for (size_t i = 0; i < n; i++) {
        if (f[i].off == NOOFF)
            continue;
        switch (f[i].type) {
        case FT_UINT:
            *(unsigned *)pc_ld_at(dst, f[i].off) = (unsigned)f[i].dflt;
            break;
        case FT_SIZE:
            *(size_t *)pc_ld_at(dst, f[i].off) = (size_t)f[i].dflt;
            break;
        case FT_BOOL:
            *(bool *)pc_ld_at(dst, f[i].off) = f[i].dflt != 0;
            break;
        case FT_STR: {
            char **sp = pc_ld_at(dst, f[i].off);
            if (f[i].sdflt && !*sp)
                *sp = pc_xstrdup(f[i].sdflt);
            break;
        }
        default:
            break;
        }
    }
}

/* Parses the object v at path against the table: unknown keys, required
 * keys, types, ranges; stores scalars into dst (may be NULL). With
 * defaults, absent fields get their default first. only_flag: fields
 * without it are refused with "only at listener level" (route limits).
 * Returns the mask of fields present and valid (bit i = f[i]); 0 with an
 * error when v is not an object. */
uint64_t pc_ld_obj(ld_t *l, const json_t *v, const char *path, const field_t *f, size_t n,
                   void *dst, bool defaults, unsigned only_flag)
{
    PC_ASSERT(n <= 64);
    if (dst && defaults)
        pc_ld_defaults(f, n, dst);
    if (!json_is_object(v)) {
        pc_ld_err(l, path, "must be an object");
        return 0;
    }
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        size_t i = 0;
        while (i < n && strcmp(f[i].key, key) != 0)
            i++;
        if (i == n)
            unknown_key(l, path, key, f, n);
    }
    uint64_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        jp_t p;
        val = json_object_get(v, f[i].key);
        if (!val) {
            if (f[i].flags & F_REQ)
                pc_ld_err(l, pc_ld_key(&p, path, f[i].key), "required");
            continue;
        }
        if (only_flag && !(f[i].flags & only_flag)) {
            pc_ld_err(l, pc_ld_key(&p, path, f[i].key),
                      "only at listener level (or in the global limits)");
            continue;
        }
        if (field_value(l, pc_ld_key(&p, path, f[i].key), &f[i], val, dst))
            mask |= (uint64_t)1 << i;
    }
    return mask;
}

/* The value of a field that parse_obj accepted (mask bit set), else NULL. */
const json_t *pc_ld_valid(const json_t *obj, uint64_t mask, const field_t *f, size_t i)
{
    return mask & ((uint64_t)1 << i) ? json_object_get(obj, f[i].key) : NULL;
}
