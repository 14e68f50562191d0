/* plugins/schema/schema_params.c: see schema_params.h. */
#include "schema_params.h"

#include <string.h>
#include <strings.h>

#define QUERY_MAX_PARAMS 256

/* json_read.h: an object of more members carries a sorted index after them. */
#ifndef PC_JSON_INDEX_MIN
#define PC_JSON_INDEX_MIN 16
#endif

/* ---- Content-Type ------------------------------------------------------------ */

static bool ows(char c) { return c == ' ' || c == '\t'; }

static bool ieq(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

static bool json_type(const char *t, size_t n)
{
    return ieq(t, n, "application/json") || (n > 5 && strncasecmp(t + n - 5, "+json", 5) == 0);
}

/* The charset parameter's value, unquoted, if any: p points after the type. */
static bool charset_utf8(const char *p)
{
    while (*p == ';') {
        p++;
        while (ows(*p))
            p++;
        const char *name = p;
        while (*p && *p != '=' && *p != ';')
            p++;
        size_t nlen = (size_t)(p - name);
        while (nlen && ows(name[nlen - 1]))
            nlen--;
        const char *val = p, *vend = p;
        if (*p == '=') {
            val = ++p;
            if (*p == '"') {
                val = ++p;
                while (*p && *p != '"')
                    p++;
                vend = p;
                if (*p)
                    p++;
            } else {
                while (*p && *p != ';')
                    p++;
                vend = p;
            }
        }
        while (vend > val && ows(vend[-1]))
            vend--;
        if (ieq(name, nlen, "charset") && !ieq(val, (size_t)(vend - val), "utf-8"))
            return false;
        while (*p && *p != ';')
            p++;
    }
    return true;
}

pc_ctype_verdict_t pc_ctype_match(const char *value, const char *const *list, size_t n,
                                  bool *is_json)
{
    *is_json = false;
    if (!value)
        return PC_CTYPE_UNLISTED;
    while (ows(*value))
        value++;
    size_t tlen = strcspn(value, ";");
    const char *rest = value + tlen;
    while (tlen && ows(value[tlen - 1]))
        tlen--;
    if (!memchr(value, '/', tlen))
        return PC_CTYPE_UNLISTED;
    for (size_t i = 0; i < n; i++) {
        if (!ieq(value, tlen, list[i]))
            continue;
        *is_json = json_type(value, tlen);
        if (*is_json && !charset_utf8(rest))
            return PC_CTYPE_CHARSET;
        return PC_CTYPE_OK;
    }
    return PC_CTYPE_UNLISTED;
}

/* ---- decoding ---------------------------------------------------------------------- */

bool pc_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        if (c < 0x80) {
            p++;
            continue;
        }
        size_t n;
        unsigned cp, min;
        if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; min = 0x10000; }
        else return false;
        if ((size_t)(end - p) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += n + 1;
    }
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

long pc_pct_decode(const char *s, size_t len, bool plus_space, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            if (c == '\0')
                return -1;
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return pc_utf8_valid(out, o) ? (long)o : -1;
}

/* ---- typed values ---------------------------------------------------------------------- */

static pc_ptype_t ptype_name(const pc_json_t *t)
{
    if (!t || t->type != PC_JSON_STRING)
        return PC_PT_STRING;
    static const struct { const char *n; pc_ptype_t t; } names[] = {
        {"integer", PC_PT_INTEGER}, {"number", PC_PT_NUMBER},
        {"boolean", PC_PT_BOOLEAN}, {"array", PC_PT_ARRAY},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(t->u.str, names[i].n) == 0)
            return names[i].t;
    return PC_PT_STRING;
}

pc_ptype_t pc_ptype_of(const pc_json_t *prop)
{
    if (!prop || prop->type != PC_JSON_OBJECT)
        return PC_PT_STRING;
    const pc_json_t *t = pc_json_get(prop, "type", 4);
    if (t && t->type == PC_JSON_ARRAY) {
        for (uint32_t i = 0; i < t->len; i++) {
            const pc_json_t *e = t->u.items[i];
            if (e->type == PC_JSON_STRING && strcmp(e->u.str, "null") != 0)
                return ptype_name(e);
        }
        return PC_PT_STRING;
    }
    return ptype_name(t);
}

static pc_json_t *node(pc_json_type_t type, pc_json_alloc_fn alloc, void *ud)
{
    pc_json_t *n = alloc(ud, sizeof(*n));
    if (n) {
        memset(n, 0, sizeof(*n));
        n->type = (uint8_t)type;
    }
    return n;
}

static const pc_json_t *string_value(const char *s, size_t len, pc_json_alloc_fn alloc, void *ud)
{
    pc_json_t *n = node(PC_JSON_STRING, alloc, ud);
    if (n) {
        n->len = (uint32_t)len;
        n->u.str = s;
    }
    return n;
}

/* A JSON number literal and nothing else: the strict reader decides, but
 * whitespace around it (which JSON allows) is not part of a parameter. */
static const pc_json_t *number_value(const char *s, size_t len, pc_json_alloc_fn alloc, void *ud)
{
    if (!len || !(s[0] == '-' || (s[0] >= '0' && s[0] <= '9')) || s[len - 1] < '0' ||
        s[len - 1] > '9')
        return NULL;
    pc_json_limits_t lim = {.max_depth = 1, .max_members = 1, .max_nodes = 1, .max_string = 1};
    pc_json_error_t err;
    const pc_json_t *v = pc_json_parse(s, len, &lim, alloc, ud, &err);
    return v && v->type == PC_JSON_NUMBER ? v : NULL;
}

const pc_json_t *pc_pvalue(const char *s, size_t len, pc_ptype_t t, pc_json_alloc_fn alloc,
                           void *ud)
{
    const pc_json_t *v = NULL;
    switch (t) {
    case PC_PT_INTEGER:
    case PC_PT_NUMBER:
        v = number_value(s, len, alloc, ud);
        break;
    case PC_PT_BOOLEAN:
        if (len == 4 && memcmp(s, "true", 4) == 0)
            v = node(PC_JSON_TRUE, alloc, ud);
        else if (len == 5 && memcmp(s, "false", 5) == 0)
            v = node(PC_JSON_FALSE, alloc, ud);
        break;
    case PC_PT_ARRAY:
        return pc_pvalue_csv(s, len, PC_PT_STRING, alloc, ud);
    case PC_PT_STRING:
        break;
    }
    return v ? v : string_value(s, len, alloc, ud);
}

static pc_json_t *array_of(const pc_json_t **items, uint32_t n, pc_json_alloc_fn alloc, void *ud)
{
    pc_json_t *a = node(PC_JSON_ARRAY, alloc, ud);
    const pc_json_t **v = alloc(ud, (n ? n : 1) * sizeof(*v));
    if (!a || !v)
        return NULL;
    memcpy(v, items, n * sizeof(*v));
    a->len = n;
    a->u.items = (const pc_json_t *const *)v;
    return a;
}

const pc_json_t *pc_pvalue_csv(const char *s, size_t len, pc_ptype_t item, pc_json_alloc_fn alloc,
                               void *ud)
{
    size_t parts = 1;
    for (size_t i = 0; i < len; i++)
        parts += s[i] == ',';
    const pc_json_t **items = alloc(ud, parts * sizeof(*items));
    if (!items)
        return NULL;
    uint32_t n = 0;
    for (size_t i = 0, start = 0; i <= len; i++) {
        if (i < len && s[i] != ',')
            continue;
        /* Each part gets its own NUL-terminated copy (strings are read as C strings). */
        char *part = alloc(ud, i - start + 1);
        if (!part)
            return NULL;
        memcpy(part, s + start, i - start);
        part[i - start] = '\0';
        if (!(items[n++] = pc_pvalue(part, i - start, item == PC_PT_ARRAY ? PC_PT_STRING : item,
                                     alloc, ud)))
            return NULL;
        start = i + 1;
    }
    if (len == 0)
        n = 0; /* "" is an empty list */
    return array_of(items, n, alloc, ud);
}

/* ---- objects ---------------------------------------------------------------------------- */

static const pc_pdecl_t *decl_find(const pc_pdecl_t *d, size_t nd, const char *name, size_t nlen)
{
    for (size_t i = 0; i < nd; i++)
        if (d[i].nlen == nlen && memcmp(d[i].name, name, nlen) == 0)
            return &d[i];
    return NULL;
}

/* Members for up to n entries, with room for the index after them. */
static pc_json_member_t *members_new(size_t n, pc_json_alloc_fn alloc, void *ud)
{
    if (!n)
        n = 1;
    return alloc(ud, n * sizeof(pc_json_member_t) + n * sizeof(uint32_t));
}

static bool member_before(const pc_json_member_t *a, const pc_json_member_t *b)
{
    if (a->khash != b->khash)
        return a->khash < b->khash;
    if (a->klen != b->klen)
        return a->klen < b->klen;
    return memcmp(a->key, b->key, a->klen) < 0;
}

/* m was made by members_new for at least n: the index (positions sorted
 * by hash, length, bytes) goes right after m[n-1], as the reader's. */
static pc_json_t *object_of(pc_json_member_t *m, uint32_t n, pc_json_alloc_fn alloc, void *ud)
{
    pc_json_t *o = node(PC_JSON_OBJECT, alloc, ud);
    if (!o)
        return NULL;
    for (uint32_t i = 0; i < n; i++)
        m[i].khash = pc_json_key_hash(m[i].key, m[i].klen);
    if (n > PC_JSON_INDEX_MIN) {
        uint32_t *idx = (uint32_t *)(m + n);
        for (uint32_t i = 0; i < n; i++) { /* insertion sort: n <= QUERY_MAX_PARAMS */
            uint32_t j = i;
            for (; j > 0 && member_before(&m[i], &m[idx[j - 1]]); j--)
                idx[j] = idx[j - 1];
            idx[j] = i;
        }
    }
    o->len = n;
    o->u.members = m;
    return o;
}

const pc_json_t *pc_params_object(const pc_pdecl_t *decls, const char *const *values, size_t n,
                                  pc_json_alloc_fn alloc, void *ud)
{
    pc_json_member_t *m = members_new(n, alloc, ud);
    if (!m)
        return NULL;
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!values[i])
            continue;
        size_t len = strlen(values[i]);
        const pc_json_t *v = decls[i].type == PC_PT_ARRAY
                                 ? pc_pvalue_csv(values[i], len, decls[i].item, alloc, ud)
                                 : pc_pvalue(values[i], len, decls[i].type, alloc, ud);
        if (!v)
            return NULL;
        m[k++] = (pc_json_member_t){decls[i].name, (uint32_t)decls[i].nlen, 0, v};
    }
    return object_of(m, k, alloc, ud);
}

/* One decoded name=value pair of the query. */
typedef struct qpair {
    const char *name, *value;
    size_t nlen, vlen;
    bool used;
} qpair_t;

static size_t query_split(const char *q, qpair_t *pairs, pc_json_alloc_fn alloc, void *ud,
                          size_t *bad_at, bool *bad)
{
    size_t n = 0, len = strlen(q);
    for (size_t start = 0; start <= len;) {
        size_t end = start;
        while (end < len && q[end] != '&')
            end++;
        if (end > start) {
            const char *eq = memchr(q + start, '=', end - start);
            size_t nraw = eq ? (size_t)(eq - (q + start)) : end - start;
            size_t vraw = eq ? end - start - nraw - 1 : 0;
            char *name = alloc(ud, nraw + 1), *val = alloc(ud, vraw + 1);
            long nl = name ? pc_pct_decode(q + start, nraw, true, name) : -1;
            long vl = val ? pc_pct_decode(eq ? eq + 1 : "", vraw, true, val) : -1;
            if (nl <= 0 || vl < 0 || n == QUERY_MAX_PARAMS) {
                *bad_at = start;
                *bad = true;
                return n;
            }
            pairs[n++] = (qpair_t){name, val, (size_t)nl, (size_t)vl, false};
        }
        start = end + 1;
    }
    return n;
}

static const pc_json_t *query_value(qpair_t *p, size_t np, size_t i, const pc_pdecl_t *d,
                                    pc_json_alloc_fn alloc, void *ud)
{
    size_t count = 0;
    for (size_t j = i; j < np; j++)
        count += p[j].nlen == p[i].nlen && memcmp(p[j].name, p[i].name, p[i].nlen) == 0;
    pc_ptype_t t = d ? d->type : PC_PT_STRING;
    if (count == 1 && t == PC_PT_ARRAY)
        return pc_pvalue_csv(p[i].value, p[i].vlen, d->item, alloc, ud);
    if (count == 1)
        return pc_pvalue(p[i].value, p[i].vlen, t, alloc, ud);
    /* Repeated: a list, typed as the array's items (or strings, so that a
     * repeated scalar fails its type). */
    pc_ptype_t item = t == PC_PT_ARRAY ? d->item : PC_PT_STRING;
    const pc_json_t **items = alloc(ud, count * sizeof(*items));
    if (!items)
        return NULL;
    uint32_t k = 0;
    for (size_t j = i; j < np; j++) {
        if (p[j].nlen != p[i].nlen || memcmp(p[j].name, p[i].name, p[i].nlen) != 0)
            continue;
        p[j].used = true;
        if (!(items[k++] = pc_pvalue(p[j].value, p[j].vlen, item, alloc, ud)))
            return NULL;
    }
    return array_of(items, k, alloc, ud);
}

const pc_json_t *pc_query_object(const char *query, const pc_pdecl_t *decls, size_t nd,
                                 pc_json_alloc_fn alloc, void *ud, size_t *bad_at)
{
    size_t cap = 1;
    for (const char *s = query ? query : ""; *s; s++)
        cap += *s == '&';
    if (cap > QUERY_MAX_PARAMS + 1)
        cap = QUERY_MAX_PARAMS + 1;
    qpair_t *pairs = alloc(ud, cap * sizeof(*pairs));
    pc_json_member_t *m = members_new(cap, alloc, ud);
    if (!pairs || !m)
        return NULL;
    bool bad = false;
    size_t np = query ? query_split(query, pairs, alloc, ud, bad_at, &bad) : 0;
    if (bad)
        return NULL;
    uint32_t k = 0;
    for (size_t i = 0; i < np; i++) {
        if (pairs[i].used)
            continue;
        const pc_json_t *v = query_value(pairs, np, i, decl_find(decls, nd, pairs[i].name,
                                                                 pairs[i].nlen), alloc, ud);
        if (!v)
            return NULL;
        pairs[i].used = true;
        m[k++] = (pc_json_member_t){pairs[i].name, (uint32_t)pairs[i].nlen, 0, v};
    }
    return object_of(m, k, alloc, ud);
}
