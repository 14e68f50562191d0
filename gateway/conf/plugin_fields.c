/* gateway/conf/plugin_fields.c: the configuration helpers of the plugin SDK
 * (include/portcullis/plugin.h): pc_conf_parse, which reads a plugin's
 * options from a pc_conf_field_t table, and the single-value helpers
 * (durations, tokens, integers) it is made of. Messages are those of the
 * core's own tables (fields.c), with the same "did you mean" for unknown
 * keys; they go to the plugin's pc_err_t, which prefixes the instance's
 * JSON path. Main thread, load time. */
#include "conf/conf_int.h"
#include "base/util.h"

#include <portcullis/plugin.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PF_MAX_STRING 8192
#define PF_MAX_TOKEN 256
#define PF_KEY_LEN 256

/* ---- single values ------------------------------------------------------------ */

int pc_conf_duration_ms(const char *s, uint64_t *ms)
{
    uint64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > ((uint64_t)1 << 40))
            return -1;
    }
    uint64_t mul;
    if (!strcmp(p, "ms"))
        mul = 1;
    else if (!strcmp(p, "s"))
        mul = 1000;
    else if (!strcmp(p, "m"))
        mul = 60000;
    else if (!strcmp(p, "h"))
        mul = 3600000;
    else if (!strcmp(p, "d"))
        mul = 86400000;
    else
        return -1;
    *ms = v * mul;
    return *ms ? 0 : -1;
}

int pc_conf_token(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return 0;
    return 1;
}

int pc_conf_uint(const json_t *v, const char *key, uint64_t lo, uint64_t hi, uint64_t *out,
                   pc_err_t *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)lo ||
        (uint64_t)json_integer_value(v) > hi)
        return pc_err_set(err, key, "must be an integer between %llu and %llu",
                          (unsigned long long)lo, (unsigned long long)hi);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* ---- paths and messages ---------------------------------------------------- */

/* path + "." + key, or key alone at the top of the plugin's node; a path
 * too long for buf is cut (it only names the place in a message). */
static const char *pf_key(char *buf, size_t len, const char *path, const char *key)
{
    int w = path && *path ? snprintf(buf, len, "%s.%s", path, key) : snprintf(buf, len, "%s", key);
    if (w < 0)
        buf[0] = '\0';
    return buf;
}

static size_t pf_count(const pc_conf_field_t *f)
{
    size_t n = 0;
    while (f[n].key)
        n++;
    return n;
}

/* The key that a field accepts under name k: its own, or "<key>_ms". */
static bool pf_is_alias(const pc_conf_field_t *f, const char *k)
{
    size_t n = strlen(f->key);
    return (f->flags & PC_CONF_MS_ALIAS) && strncmp(k, f->key, n) == 0 &&
           strcmp(k + n, "_ms") == 0;
}

/* "unknown key (did you mean "x"?)" for a near miss, else the list of the
 * keys there are when it is short enough to read. */
static void pf_unknown(const char *key, const pc_conf_field_t *f, size_t n, const char *kpath,
                       pc_err_t *err)
{
    const char *best = NULL;
    size_t bestd = 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = pc_ld_distance(key, f[i].key);
        if (d < bestd) {
            bestd = d;
            best = f[i].key;
        }
    }
    if (best) {
        pc_err_set(err, kpath, "unknown key (did you mean \"%s\"?)", best);
        return;
    }
    char list[400];
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof(list); i++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", f[i].key);
    if (n && o < sizeof(list))
        pc_err_set(err, kpath, "unknown key (%s)", list);
    else
        pc_err_set(err, kpath, "unknown key");
}

/* "1h", "90s", "250ms": the largest unit that divides ms. */
static const char *pf_ms(char *buf, size_t len, uint64_t ms)
{
    static const struct {
        uint64_t ms;
        const char *unit;
    } units[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}};
    for (size_t i = 0; i < PC_ARRAY_LEN(units); i++) {
        if (ms && ms % units[i].ms == 0) {
            snprintf(buf, len, "%" PRIu64 "%s", ms / units[i].ms, units[i].unit);
            return buf;
        }
    }
    snprintf(buf, len, "%" PRIu64 "ms", ms);
    return buf;
}

/* ---- one value --------------------------------------------------------------- */

static int pf_int(const json_t *v, const char *kp, const pc_conf_field_t *f, uint64_t *out,
                  pc_err_t *err)
{
    return pc_conf_uint(v, kp, f->min, f->max, out, err);
}

static int pf_duration(const json_t *v, const char *kp, const pc_conf_field_t *f, uint64_t *out,
                       pc_err_t *err)
{
    char lo[32], hi[32];
    uint64_t ms;
    if (!json_is_string(v) || pc_conf_duration_ms(json_string_value(v), &ms) != 0)
        return pc_err_set(err, kp, "must be a duration such as \"500ms\", \"30s\", \"10m\", "
                                   "\"1h\" or \"1d\"");
    if (ms < f->min || ms > f->max)
        return pc_err_set(err, kp, "must be a duration from %s to %s",
                          pf_ms(lo, sizeof(lo), f->min), pf_ms(hi, sizeof(hi), f->max));
    *out = ms;
    return 0;
}

static int pf_string(const json_t *v, const char *kp, const pc_conf_field_t *f, char **out,
                     pc_err_t *err)
{
    size_t max = f->max ? (size_t)f->max : PF_MAX_STRING;
    if (!json_is_string(v))
        return pc_err_set(err, kp, "must be a string");
    size_t n = json_string_length(v);
    if (strlen(json_string_value(v)) != n)
        return pc_err_set(err, kp, "must not contain NUL characters");
    if (n == 0 && !(f->flags & PC_CONF_EMPTY_OK))
        return pc_err_set(err, kp, "must not be empty");
    if (n > max)
        return pc_err_set(err, kp, "longer than %zu bytes", max);
    free(*out);
    *out = pc_xstrdup(json_string_value(v));
    return 0;
}

static int pf_token(const json_t *v, const char *kp, const pc_conf_field_t *f, char **out,
                    pc_err_t *err)
{
    size_t max = f->max ? (size_t)f->max : PF_MAX_TOKEN;
    if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
        !pc_conf_token(json_string_value(v), max))
        return pc_err_set(err, kp, "must be a name of 1 to %zu token characters "
                                   "(A-Z a-z 0-9 and !#$%%&'*+-.^_`|~)", max);
    free(*out);
    *out = pc_xstrdup(json_string_value(v));
    return 0;
}

/* "must be "a", "b" or "c"". */
static int pf_enum(const json_t *v, const char *kp, const char *const *values, int *out,
                   pc_err_t *err)
{
    const char *s = json_is_string(v) ? json_string_value(v) : NULL;
    size_t n = 0;
    for (; values[n]; n++) {
        if (s && strcmp(s, values[n]) == 0) {
            *out = (int)n;
            return 0;
        }
    }
    char list[400];
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof(list); i++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s\"%s\"",
                              i == 0 ? "" : i + 1 == n ? " or " : ", ", values[i]);
    return pc_err_set(err, kp, "must be %s", list);
}

static int pf_strings(const json_t *v, const char *kp, const pc_conf_field_t *f,
                      pc_conf_strings_t *out, pc_err_t *err)
{
    bool single = (f->flags & PC_CONF_SINGLE) && json_is_string(v);
    if (!single && !json_is_array(v))
        return pc_err_set(err, kp, (f->flags & PC_CONF_SINGLE)
                                       ? "must be a string or a list of strings"
                                       : "must be a list of strings");
    size_t n = single ? 1 : json_array_size(v);
    if (n == 0 && (f->flags & PC_CONF_NONEMPTY))
        return pc_err_set(err, kp, "must not be empty");
    if (f->max && n > f->max)
        return pc_err_set(err, kp, "must hold at most %" PRIu64 " entries", f->max);
    pc_conf_strings_free(out);
    out->v = pc_xcalloc(n ? n : 1, sizeof(char *));
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = single ? v : json_array_get(v, i);
        if (!json_is_string(e) || json_string_length(e) == 0 ||
            strlen(json_string_value(e)) != json_string_length(e)) {
            char p[PF_KEY_LEN];
            snprintf(p, sizeof(p), single ? "%s" : "%s[%zu]", kp, i);
            rc = pc_err_set(err, p, "must be a non-empty string");
            continue;
        }
        out->v[out->n++] = pc_xstrdup(json_string_value(e));
    }
    return rc;
}

static int pf_value(const json_t *v, const char *kp, const pc_conf_field_t *f, void *field,
                    pc_err_t *err)
{
    uint64_t x;
    switch (f->type) {
    case PC_CONF_BOOL:
        if (!json_is_boolean(v))
            return pc_err_set(err, kp, "must be true or false");
        *(bool *)field = json_is_true(v);
        return 0;
    case PC_CONF_UINT:
        if (pf_int(v, kp, f, &x, err))
            return -1;
        *(unsigned *)field = (unsigned)x;
        return 0;
    case PC_CONF_U64:
        return pf_int(v, kp, f, field, err);
    case PC_CONF_DURATION:
        return pf_duration(v, kp, f, field, err);
    case PC_CONF_STRING:
        return pf_string(v, kp, f, field, err);
    case PC_CONF_TOKEN:
        return pf_token(v, kp, f, field, err);
    case PC_CONF_ENUM:
        return pf_enum(v, kp, f->values, field, err);
    case PC_CONF_ON_ERROR: {
        static const char *const policies[] = {"deny", "allow", NULL};
        int i;
        if (pf_enum(v, kp, policies, &i, err))
            return -1;
        *(bool *)field = i == 1;
        return 0;
    }
    case PC_CONF_SECRET: {
        pc_conf_secret_t *s = field;
        pc_conf_secret_free(s);
        s->s = pc_conf_secret_value(v, kp, &s->len, err);
        return s->s ? 0 : -1;
    }
    case PC_CONF_STRINGS:
        return pf_strings(v, kp, f, field, err);
    case PC_CONF_CUSTOM:
        return f->parse(v, kp, field, err);
    case PC_CONF_ANY:
        return 0;
    }
    return pc_err_set(err, kp, "field of an unknown type %d", (int)f->type);
}

static void pf_default(const pc_conf_field_t *f, void *field)
{
    switch (f->type) {
    case PC_CONF_BOOL:
    case PC_CONF_ON_ERROR:
        *(bool *)field = f->def != 0;
        break;
    case PC_CONF_UINT:
        *(unsigned *)field = (unsigned)f->def;
        break;
    case PC_CONF_U64:
    case PC_CONF_DURATION:
        *(uint64_t *)field = f->def;
        break;
    case PC_CONF_ENUM:
        *(int *)field = (int)f->def;
        break;
    case PC_CONF_STRING:
    case PC_CONF_TOKEN:
        if (f->def_str && !*(char **)field)
            *(char **)field = pc_xstrdup(f->def_str);
        break;
    default:
        break;
    }
}

/* A DURATION with PC_CONF_MS_ALIAS given as "<key>_ms". */
static int pf_alias(const json_t *node, const char *path, const pc_conf_field_t *f, void *field,
                    bool both, pc_err_t *err)
{
    char ms_key[PF_KEY_LEN], kp[PF_KEY_LEN];
    snprintf(ms_key, sizeof(ms_key), "%s_ms", f->key);
    if (both)
        return pc_err_set(err, pf_key(kp, sizeof(kp), path, f->key), "give %s or %s, not both",
                          f->key, ms_key);
    return pf_int(json_object_get(node, ms_key), pf_key(kp, sizeof(kp), path, ms_key), f, field,
                  err);
}

/* ---- the table ------------------------------------------------------------------- */

int pc_conf_parse(const json_t *node, const char *path, const pc_conf_field_t *fields, void *out,
                  pc_err_t *err)
{
    size_t n = pf_count(fields);
    int rc = 0;
    char kp[PF_KEY_LEN];
    for (size_t i = 0; i < n; i++)
        pf_default(&fields[i], pc_ld_at(out, fields[i].offset));
    if (!node)
        return 0;
    if (!json_is_object(node))
        return pc_err_set(err, path, "must be an object");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)node, k, v) {
        size_t i = 0;
        while (i < n && strcmp(fields[i].key, k) != 0 && !pf_is_alias(&fields[i], k))
            i++;
        if (i == n) {
            pf_unknown(k, fields, n, pf_key(kp, sizeof(kp), path, k), err);
            rc = -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const pc_conf_field_t *f = &fields[i];
        void *field = pc_ld_at(out, f->offset);
        char ms_key[PF_KEY_LEN];
        snprintf(ms_key, sizeof(ms_key), "%s_ms", f->key);
        const json_t *alias = (f->flags & PC_CONF_MS_ALIAS) ? json_object_get(node, ms_key) : NULL;
        v = json_object_get(node, f->key);
        if (alias) {
            rc |= pf_alias(node, path, f, field, v != NULL, err);
        } else if (v) {
            rc |= pf_value(v, pf_key(kp, sizeof(kp), path, f->key), f, field, err);
        } else if (f->flags & PC_CONF_REQUIRED) {
            rc = pc_err_set(err, pf_key(kp, sizeof(kp), path, f->key), "required");
        }
    }
    return rc ? -1 : 0;
}

void pc_conf_strings_free(pc_conf_strings_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

void pc_conf_secret_free(pc_conf_secret_t *s)
{
    if (s->s)
        explicit_bzero(s->s, s->len);
    free(s->s);
    s->s = NULL;
    s->len = 0;
}

void pc_conf_fields_free(const pc_conf_field_t *fields, void *out)
{
    for (const pc_conf_field_t *f = fields; f->key; f++) {
        void *field = pc_ld_at(out, f->offset);
        switch (f->type) {
        case PC_CONF_STRING:
        case PC_CONF_TOKEN:
            free(*(char **)field);
            *(char **)field = NULL;
            break;
        case PC_CONF_SECRET:
            pc_conf_secret_free(field);
            break;
        case PC_CONF_STRINGS:
            pc_conf_strings_free(field);
            break;
        default:
            break;
        }
    }
}
