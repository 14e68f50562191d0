/* plugins/schema/schema_problem.c: see schema_problem.h. */
#include "schema_problem.h"

#include <string.h>

/* The validator's strings are bounded and client-safe, but an excerpt cut
 * inside a UTF-8 sequence is not valid UTF-8: json_string refuses it and
 * the member is left out rather than mangled. */
static void set_str(json_t *o, const char *key, const char *s)
{
    json_t *v = s ? json_string(s) : NULL;
    if (v)
        json_object_set_new(o, key, v);
}

static const char *schema_location(const char *loc, const char *base_uri)
{
    size_t bl = base_uri ? strlen(base_uri) : 0;
    if (bl && strncmp(loc, base_uri, bl) == 0)
        return loc + bl;
    if (strncmp(loc, "file:", 5) == 0) {
        const char *hash = strchr(loc, '#');
        const char *slash = loc;
        for (const char *p = loc; *p && p != hash; p++)
            if (*p == '/')
                slash = p + 1;
        return slash;
    }
    return loc;
}

json_t *pc_sproblem_errors(const pc_schema_errors_t *errs, const char *in, const char *base_uri)
{
    json_t *list = json_array();
    for (unsigned i = 0; i < errs->n; i++) {
        const pc_schema_error_t *e = &errs->e[i];
        json_t *o = json_object();
        set_str(o, "in", in);
        set_str(o, "instance", e->instance);
        set_str(o, "schema", schema_location(e->schema, base_uri));
        set_str(o, "keyword", e->keyword);
        set_str(o, "message", e->message);
        if (e->excerpt[0])
            set_str(o, "excerpt", e->excerpt);
        json_array_append_new(list, o);
    }
    json_t *extra = json_object();
    json_object_set_new(extra, "errors", list);
    if (errs->truncated)
        json_object_set_new(extra, "errors_truncated", json_true());
    return extra;
}

const char *pc_sproblem_log_safe(char *buf, size_t len, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    buf[i] = '\0';
    return buf;
}
