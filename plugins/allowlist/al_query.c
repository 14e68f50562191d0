/* plugins/allowlist/al_query.c: an entry's query rules, read from the
 * config and checked against the raw query.
 *
 * The query is split at '&' (empty pieces are skipped), each piece at its
 * first '=' (none: the value is empty); names and values are decoded as
 * application/x-www-form-urlencoded ('+' is a space), strictly: a '%' not
 * followed by two hex digits, or an encoded NUL, refuses the request. A
 * name without a rule refuses it unless "unknown" is "allow"; a name seen
 * twice refuses it unless its rule says "repeat": true.
 */
#include "al_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Decodes s[0..len) into out (NUL-terminated); returns the decoded length,
 * or -1 for a malformed escape or an encoded NUL. */
static long aq_decode(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < len ? al_hex_val(s[i + 1]) : -1;
            int lo = hi >= 0 ? al_hex_val(s[i + 2]) : -1;
            if (lo < 0 || (hi == 0 && lo == 0))
                return -1;
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    return (long)o;
}

int al_query_has_method(const char *raw)
{
    char name[32];
    while (raw && *raw) {
        size_t plen = strcspn(raw, "&");
        size_t nlen = strcspn(raw, "=&");
        /* "_method" is 7 bytes, at most 21 encoded */
        if (nlen <= 21 && aq_decode(raw, nlen, name) == 7 && strcasecmp(name, "_method") == 0)
            return 1;
        raw += plen + (raw[plen] == '&');
    }
    return 0;
}

static const al_qparam_t *aq_rule(const al_query_t *q, const char *name, size_t *idx)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->v[i].name, name) == 0)
            return *idx = i, &q->v[i];
    return NULL;
}

static int aq_value_ok(const al_qparam_t *p, const char *v, size_t len, al_rx_env_t *rx)
{
    switch (p->type) {
    case AL_Q_INT: return al_is_int(v, len);
    case AL_Q_UUID: return al_is_uuid(v, len);
    case AL_Q_BOOL: return strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
    case AL_Q_PATTERN: return al_rx_match(p->re, rx, v, len);
    default: return 1;
    }
}

int al_query_check(const al_query_t *q, const char *raw, al_rx_env_t *rx, char *scratch)
{
    unsigned char seen[AL_MAX_QUERY_PARAMS] = {0};
    while (raw && *raw) {
        size_t plen = strcspn(raw, "&");
        size_t nlen = strcspn(raw, "=&");
        if (plen == 0) {
            raw++;
            continue;
        }
        char *name = scratch;
        long n = aq_decode(raw, nlen, name);
        if (n < 0)
            return -1;
        char *val = name + n + 1;
        size_t vstart = nlen < plen ? nlen + 1 : plen;
        long vl = aq_decode(raw + vstart, plen - vstart, val);
        if (vl < 0)
            return -1;
        size_t idx;
        const al_qparam_t *p = aq_rule(q, name, &idx);
        if (!p) {
            if (!q->unknown)
                return -1;
        } else {
            if (seen[idx]++ && !p->repeat)
                return -1;
            if (!aq_value_ok(p, val, (size_t)vl, rx))
                return -1;
        }
        raw += plen + (raw[plen] == '&');
    }
    return 0;
}

/* ---- configuration ----------------------------------------------------------------- */

static const char *const aq_types[] = {"string", "int", "bool", "uuid", NULL};
static const char *const aq_unknown[] = {"refuse", "allow", NULL};

static const pc_conf_field_t aq_param_fields[] = {
    {.key = "type", .type = PC_CONF_ENUM, .offset = offsetof(al_qparam_t, type),
     .values = aq_types},
    {.key = "pattern", .type = PC_CONF_STRING, .offset = offsetof(al_qparam_t, pattern)},
    {.key = "repeat", .type = PC_CONF_BOOL, .offset = offsetof(al_qparam_t, repeat)},
    {0},
};

/* "int" | "string" | "bool" | "uuid" | {"type"|"pattern", "repeat"} */
static int aq_param(const json_t *v, const char *path, al_qparam_t *p, pc_err_t *err)
{
    if (json_is_string(v)) {
        for (int i = 0; aq_types[i]; i++)
            if (strcmp(json_string_value(v), aq_types[i]) == 0)
                return p->type = (al_qtype_t)i, 0;
        return pc_err_set(err, path, "must be \"string\", \"int\", \"bool\", \"uuid\" or an "
                          "object with \"type\" or \"pattern\" and \"repeat\"");
    }
    if (!json_is_object(v))
        return pc_err_set(err, path, "must be a type name or an object");
    if (pc_conf_parse(v, path, aq_param_fields, p, err))
        return -1;
    if (p->pattern) {
        char msg[256];
        if (json_object_get(v, "type"))
            return pc_err_set(err, path, "\"type\" and \"pattern\" exclude each other");
        p->type = AL_Q_PATTERN;
        if (!(p->re = al_rx_compile(p->pattern, msg, sizeof(msg))))
            return pc_err_set(err, path, "%s", msg);
    }
    return 0;
}

static const pc_conf_field_t aq_fields[] = {
    {.key = "params", .type = PC_CONF_OBJECT},
    {.key = "unknown", .type = PC_CONF_ENUM, .offset = offsetof(al_query_t, unknown),
     .values = aq_unknown},
    {0},
};

int al_query_parse(const json_t *v, const char *path, al_query_t **out, pc_err_t *err)
{
    al_query_t *q = *out = pc_xcalloc(1, sizeof(*q));
    if (!json_is_object(v))
        return pc_err_set(err, path, "must be an object with \"params\" and \"unknown\"");
    if (pc_conf_parse(v, path, aq_fields, q, err))
        return -1;
    const json_t *params = json_object_get(v, "params");
    size_t n = json_object_size(params);
    if (n > AL_MAX_QUERY_PARAMS)
        return pc_err_set(err, path, "at most %d params", AL_MAX_QUERY_PARAMS);
    q->v = pc_xcalloc(n + 1, sizeof(*q->v));
    const char *k;
    json_t *pv;
    json_object_foreach((json_t *)params, k, pv) {
        char p[512];
        snprintf(p, sizeof(p), "%.400s.params.%.64s", path, k);
        if (!*k || strcasecmp(k, "_method") == 0)
            return pc_err_set(err, p, "not a parameter name a rule can allow");
        al_qparam_t *qp = &q->v[q->n++];
        qp->name = pc_xstrdup(k);
        if (aq_param(pv, p, qp, err))
            return -1;
    }
    return 0;
}

void al_query_free(al_query_t *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->n; i++) {
        free(q->v[i].name);
        free(q->v[i].pattern);
        pcre2_code_free(q->v[i].re);
    }
    free(q->v);
    free(q);
}
