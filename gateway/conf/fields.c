/* gateway/conf/fields.c: the table-driven options, for the core's own
 * sections and for plugins alike. A pc_conf_field_t table {key, type,
 * offset, flags, range, default} describes a JSON object; one engine
 * refuses unknown keys (with a "did you mean" for near misses), checks
 * required keys, types and ranges, applies defaults and stores into the
 * caller's struct. Structure (arrays, maps, cross references) stays code in
 * the section files, or CUSTOM callbacks in plugins.
 *
 * Two doors: pc_ld_obj for the loader's sections (messages into the
 * loader's diagnostics, the mask of valid fields, route-only limits) and
 * pc_conf_parse for plugins (messages through their pc_err_t). The two
 * speak slightly different dialects, both pinned by tests and documented
 * for users: the core says "must be an integer" and "must be between A
 * and B", plugins "must be an integer between A and B"; for an unknown key
 * without a near miss, plugins also list the keys there are. Main thread,
 * load time. */
#include "conf/conf_int.h"
#include "base/util.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the problems of one table go: the loader (l) or a plugin (err). */
typedef struct sink {
    ld_t *l;
    pc_err_t *err;
    bool failed;
} sink_t;

static void sk_err(sink_t *s, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void sk_err(sink_t *s, const char *path, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    s->failed = true;
    if (s->l)
        pc_ld_err(s->l, path, "%s", msg);
    else
        pc_err_set(s->err, path, "%s", msg);
}

/* The pc_err_t for a CUSTOM callback or a secret: the plugin's own, or one
 * on the loader's diagnostics. */
static pc_err_t sk_perr(const sink_t *s)
{
    if (s->err)
        return *s->err;
    return (pc_err_t){s->l->d, NULL, 0};
}

static void sk_done(sink_t *s, pc_err_t *e)
{
    if (!e->failed)
        return;
    s->failed = true;
    if (s->err)
        s->err->failed = 1;
    else
        s->l->nerr++;
}

/* ---- keys ---------------------------------------------------------------------- */

/* Edit distance of two keys of at most SHOW_MAX bytes (SIZE_MAX beyond). */
static size_t distance(const char *a, const char *b)
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

/* A DURATION with PC_CONF_MS_ALIAS also answers to "<key>_ms". */
static bool is_alias(const pc_conf_field_t *f, const char *k)
{
    size_t n = strlen(f->key);
    return (f->flags & PC_CONF_MS_ALIAS) && strncmp(k, f->key, n) == 0 &&
           strcmp(k + n, "_ms") == 0;
}

/* "unknown key (did you mean "x"?)" for a near miss; else, for plugins,
 * the list of the keys there are when it is short enough to read. */
static void unknown_key(sink_t *s, const char *path, const char *key, const pc_conf_field_t *f,
                        size_t n)
{
    jp_t p;
    const char *best = NULL;
    size_t bestd = 3;
    for (size_t i = 0; i < n; i++) {
        size_t dist = distance(key, f[i].key);
        if (dist < bestd) {
            bestd = dist;
            best = f[i].key;
        }
    }
    pc_ld_key(&p, path, key);
    if (best) {
        sk_err(s, p.s, "unknown key (did you mean \"%s\"?)", best);
        return;
    }
    char list[400];
    size_t o = 0;
    for (size_t i = 0; !s->l && i < n && o < sizeof(list); i++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", f[i].key);
    if (o && o < sizeof(list))
        sk_err(s, p.s, "unknown key (%s)", list);
    else
        sk_err(s, p.s, "unknown key");
}

/* ---- one value ------------------------------------------------------------------- */

static bool str_ok(sink_t *s, const char *path, const json_t *v, bool empty_ok, size_t max)
{
    if (!json_is_string(v)) {
        sk_err(s, path, "must be a string");
        return false;
    }
    size_t n = json_string_length(v);
    if (strlen(json_string_value(v)) != n) {
        sk_err(s, path, "must not contain NUL characters");
        return false;
    }
    if (n == 0 && !empty_ok) {
        sk_err(s, path, "must not be empty");
        return false;
    }
    if (n > max) {
        sk_err(s, path, "longer than %zu bytes", max);
        return false;
    }
    return true;
}

bool pc_ld_str_ok(ld_t *l, const char *path, const json_t *v, bool empty_ok)
{
    sink_t s = {l, NULL, false};
    return str_ok(&s, path, v, empty_ok, CONF_MAX_STRING);
}

static bool int_ok(sink_t *s, const char *path, const pc_conf_field_t *f, const json_t *v,
                   uint64_t *out)
{
    unsigned long long lo = f->min, hi = f->max;
    bool is_int = json_is_integer(v);
    json_int_t x = is_int ? json_integer_value(v) : 0;
    bool in = is_int && x >= 0 && (uint64_t)x >= f->min && (uint64_t)x <= f->max;
    if (!in && s->l && !is_int)
        sk_err(s, path, "must be an integer");
    else if (!in && s->l)
        sk_err(s, path, "must be between %llu and %llu", lo, hi);
    else if (!in)
        sk_err(s, path, "must be an integer between %llu and %llu", lo, hi);
    *out = in ? (uint64_t)x : 0;
    return in;
}

/* "1h", "90s", "250ms": the largest unit that divides ms. */
static const char *fmt_ms(char *buf, size_t len, uint64_t ms)
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

static bool duration_ok(sink_t *s, const char *path, const pc_conf_field_t *f, const json_t *v,
                        uint64_t *out)
{
    char lo[32], hi[32];
    uint64_t ms;
    if (!json_is_string(v) || pc_conf_duration_ms(json_string_value(v), &ms) != 0) {
        sk_err(s, path, "must be a duration such as \"500ms\", \"30s\", \"10m\", \"1h\" or "
                        "\"1d\"");
        return false;
    }
    if (ms < f->min || ms > f->max) {
        sk_err(s, path, "must be a duration from %s to %s", fmt_ms(lo, sizeof(lo), f->min),
               fmt_ms(hi, sizeof(hi), f->max));
        return false;
    }
    *out = ms;
    return true;
}

/* "must be "a", "b" or "c"". */
static bool enum_ok(sink_t *s, const char *path, const char *const *values, const json_t *v,
                    int *out)
{
    const char *str = json_is_string(v) ? json_string_value(v) : NULL;
    size_t n = 0;
    for (; values[n]; n++) {
        if (str && strcmp(str, values[n]) == 0) {
            *out = (int)n;
            return true;
        }
    }
    char list[400];
    size_t o = 0;
    for (size_t i = 0; i < n && o < sizeof(list); i++)
        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s\"%s\"",
                              i == 0 ? "" : i + 1 == n ? " or " : ", ", values[i]);
    sk_err(s, path, "must be %s", list);
    return false;
}

static bool token_ok(sink_t *s, const char *path, const pc_conf_field_t *f, const json_t *v)
{
    size_t max = f->max ? (size_t)f->max : 256;
    if (json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v) &&
        pc_conf_token(json_string_value(v), max))
        return true;
    sk_err(s, path, "must be a name of 1 to %zu token characters "
                    "(A-Z a-z 0-9 and !#$%%&'*+-.^_`|~)", max);
    return false;
}

static bool strings_ok(sink_t *s, const char *path, const pc_conf_field_t *f, const json_t *v,
                       pc_conf_strings_t *out)
{
    bool single = (f->flags & PC_CONF_SINGLE) && json_is_string(v);
    if (!single && !json_is_array(v)) {
        sk_err(s, path, (f->flags & PC_CONF_SINGLE) ? "must be a string or a list of strings"
                                                    : "must be a list of strings");
        return false;
    }
    size_t n = single ? 1 : json_array_size(v);
    if (n == 0 && (f->flags & PC_CONF_NONEMPTY)) {
        sk_err(s, path, "must not be empty");
        return false;
    }
    if (f->max && n > f->max) {
        sk_err(s, path, "must hold at most %" PRIu64 " entries", f->max);
        return false;
    }
    pc_conf_strings_free(out);
    out->v = pc_xcalloc(n ? n : 1, sizeof(char *));
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        const json_t *e = single ? v : json_array_get(v, i);
        if (!json_is_string(e) || json_string_length(e) == 0 ||
            strlen(json_string_value(e)) != json_string_length(e)) {
            jp_t p;
            sk_err(s, single ? path : pc_ld_idx(&p, path, i), "must be a non-empty string");
            ok = false;
            continue;
        }
        out->v[out->n++] = pc_xstrdup(json_string_value(e));
    }
    return ok;
}

static void set_str(void *field, const char *v)
{
    char **sp = field;
    free(*sp);
    *sp = pc_xstrdup(v);
}

/* BOOL: true or false; ON_ERROR: "deny" (false) or "allow" (true). */
static bool flag_value(sink_t *s, const char *path, const pc_conf_field_t *f, const json_t *v,
                       bool *field)
{
    static const char *const policies[] = {"deny", "allow", NULL};
    int i = json_is_true(v);
    if (f->type == PC_CONF_BOOL && !json_is_boolean(v)) {
        sk_err(s, path, "must be true or false");
        return false;
    }
    if (f->type == PC_CONF_ON_ERROR && !enum_ok(s, path, policies, v, &i))
        return false;
    if (field)
        *field = i == 1;
    return true;
}

/* UINT, U64, SIZE and DURATION, each stored in its own width. */
static bool number_value(sink_t *s, const char *path, const pc_conf_field_t *f, const json_t *v,
                         void *field)
{
    uint64_t x = 0;
    bool ok = f->type == PC_CONF_DURATION ? duration_ok(s, path, f, v, &x)
                                          : int_ok(s, path, f, v, &x);
    if (ok && field && f->type == PC_CONF_UINT)
        *(unsigned *)field = (unsigned)x;
    else if (ok && field && f->type == PC_CONF_SIZE)
        *(size_t *)field = (size_t)x;
    else if (ok && field)
        *(uint64_t *)field = x;
    return ok;
}

/* SECRET and CUSTOM report through a pc_err_t. */
static bool err_value(sink_t *s, const char *path, const pc_conf_field_t *f, const json_t *v,
                      void *field)
{
    pc_err_t e = sk_perr(s);
    e.failed = 0;
    if (f->type == PC_CONF_CUSTOM) {
        if (f->parse(v, path, field, &e) != 0 && !e.failed)
            pc_err_set(&e, path, "invalid value"); /* a callback that gave no reason */
    } else {
        pc_conf_secret_t tmp = {0}, *sec = field ? field : &tmp;
        pc_conf_secret_free(sec);
        sec->s = pc_conf_secret_value(v, path, &sec->len, &e);
        pc_conf_secret_free(&tmp);
    }
    sk_done(s, &e);
    return !e.failed;
}

/* Checks v against f and, with a place for it (field), stores it. false
 * after reporting. */
static bool field_value(sink_t *s, const char *path, const pc_conf_field_t *f, const json_t *v,
                        void *field)
{
    bool ok;
    switch (f->type) {
    case PC_CONF_BOOL:
    case PC_CONF_ON_ERROR:
        return flag_value(s, path, f, v, field);
    case PC_CONF_UINT:
    case PC_CONF_U64:
    case PC_CONF_SIZE:
    case PC_CONF_DURATION:
        return number_value(s, path, f, v, field);
    case PC_CONF_STRING:
    case PC_CONF_TOKEN:
        ok = f->type == PC_CONF_TOKEN
                 ? token_ok(s, path, f, v)
                 : str_ok(s, path, v, f->flags & PC_CONF_EMPTY_OK,
                          f->max ? f->max : CONF_MAX_STRING);
        if (ok && field)
            set_str(field, json_string_value(v));
        return ok;
    case PC_CONF_ENUM: {
        int i;
        ok = enum_ok(s, path, f->values, v, &i);
        if (ok && field)
            *(int *)field = i;
        return ok;
    }
    case PC_CONF_STRINGS: {
        pc_conf_strings_t tmp = {0};
        ok = strings_ok(s, path, f, v, field ? field : &tmp);
        pc_conf_strings_free(&tmp);
        return ok;
    }
    case PC_CONF_SECRET:
    case PC_CONF_CUSTOM:
        return err_value(s, path, f, v, field);
    case PC_CONF_OBJECT:
    case PC_CONF_ARRAY:
        if (f->type == PC_CONF_OBJECT ? !json_is_object(v) : !json_is_array(v)) {
            sk_err(s, path, f->type == PC_CONF_OBJECT ? "must be an object" : "must be an array");
            return false;
        }
        return true;
    case PC_CONF_ANY:
        return true;
    }
    sk_err(s, path, "field of an unknown type %d", (int)f->type);
    return false;
}

/* ---- the table ---------------------------------------------------------------------- */

static void *slot(const pc_conf_field_t *f, void *dst)
{
    return dst && f->offset != NOOFF ? pc_ld_at(dst, f->offset) : NULL;
}

void pc_ld_defaults(const pc_conf_field_t *f, size_t n, void *dst)
{
    for (size_t i = 0; i < n; i++) {
        void *field = slot(&f[i], dst);
        if (!field)
            continue;
        switch (f[i].type) {
        case PC_CONF_BOOL:
        case PC_CONF_ON_ERROR:
            *(bool *)field = f[i].def != 0;
            break;
        case PC_CONF_UINT:
            *(unsigned *)field = (unsigned)f[i].def;
            break;
        case PC_CONF_SIZE:
            *(size_t *)field = (size_t)f[i].def;
            break;
        case PC_CONF_U64:
        case PC_CONF_DURATION:
            *(uint64_t *)field = f[i].def;
            break;
        case PC_CONF_ENUM:
            *(int *)field = (int)f[i].def;
            break;
        case PC_CONF_STRING:
        case PC_CONF_TOKEN:
            if (f[i].def_str && !*(char **)field)
                *(char **)field = pc_xstrdup(f[i].def_str);
            break;
        default:
            break;
        }
    }
}

/* One present field, or its "<key>_ms" alias. */
static bool field_at(sink_t *s, const json_t *v, const char *path, const pc_conf_field_t *f,
                     void *dst, unsigned only_flag)
{
    jp_t p, q;
    const json_t *val = json_object_get(v, f->key);
    const json_t *alias = NULL;
    if (f->flags & PC_CONF_MS_ALIAS) {
        char ms_key[SHOW_MAX + 8];
        snprintf(ms_key, sizeof(ms_key), "%.*s_ms", SHOW_MAX, f->key);
        if ((alias = json_object_get(v, ms_key)) && val) {
            sk_err(s, pc_ld_key(&p, path, f->key), "give %s or %s, not both", f->key, ms_key);
            return false;
        }
        if (alias) {
            pc_conf_field_t ms = *f;
            ms.type = PC_CONF_U64;
            return field_value(s, pc_ld_key(&q, path, ms_key), &ms, alias, slot(f, dst));
        }
    }
    if (!val) {
        if (f->flags & PC_CONF_REQUIRED)
            sk_err(s, pc_ld_key(&p, path, f->key), "required");
        return false;
    }
    if (only_flag && !(f->flags & only_flag)) {
        sk_err(s, pc_ld_key(&p, path, f->key), "only at listener level (or in the global limits)");
        return false;
    }
    return field_value(s, pc_ld_key(&p, path, f->key), f, val, slot(f, dst));
}

/* Reads the object v at path against the table (v is an object). Returns
 * the mask of the first 64 fields present and valid. */
static uint64_t table(sink_t *s, const json_t *v, const char *path, const pc_conf_field_t *f,
                      size_t n, void *dst, unsigned only_flag)
{
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        size_t i = 0;
        while (i < n && strcmp(f[i].key, key) != 0 && !is_alias(&f[i], key))
            i++;
        if (i == n)
            unknown_key(s, path, key, f, n);
    }
    uint64_t mask = 0;
    for (size_t i = 0; i < n; i++)
        if (field_at(s, v, path, &f[i], dst, only_flag) && i < 64)
            mask |= (uint64_t)1 << i;
    return mask;
}

uint64_t pc_ld_obj(ld_t *l, const json_t *v, const char *path, const pc_conf_field_t *f, size_t n,
                   void *dst, bool defaults, unsigned only_flag)
{
    PC_ASSERT(n <= 64);
    sink_t s = {l, NULL, false};
    if (dst && defaults)
        pc_ld_defaults(f, n, dst);
    if (!json_is_object(v)) {
        sk_err(&s, path, "must be an object");
        return 0;
    }
    return table(&s, v, path, f, n, dst, only_flag);
}

/* The value of a field that pc_ld_obj accepted (mask bit set), else NULL. */
const json_t *pc_ld_valid(const json_t *obj, uint64_t mask, const pc_conf_field_t *f, size_t i)
{
    return mask & ((uint64_t)1 << i) ? json_object_get(obj, f[i].key) : NULL;
}

int pc_conf_parse(const json_t *node, const char *path, const pc_conf_field_t *fields, void *out,
                  pc_err_t *err)
{
    sink_t s = {NULL, err, false};
    size_t n = 0;
    while (fields[n].key)
        n++;
    pc_ld_defaults(fields, n, out);
    if (!node)
        return 0;
    if (!json_is_object(node)) {
        sk_err(&s, path, "must be an object");
        return -1;
    }
    table(&s, node, path, fields, n, out, 0);
    return s.failed ? -1 : 0;
}

void pc_conf_fields_free(const pc_conf_field_t *fields, void *out)
{
    for (const pc_conf_field_t *f = fields; f->key; f++) {
        void *field = slot(f, out);
        if (!field)
            continue;
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
