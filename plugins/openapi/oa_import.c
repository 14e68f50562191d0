/* plugins/openapi/oa_import.c: the document walk: version, servers, paths
 * and operations, into allow-list entries and schema_op nodes (contract in
 * oa_import.h). Parameters, bodies and security live in oa_op.c. */
#include "oa_import.h"
#include "oa_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pc_oa_ptr_push(char *ptr, size_t len, const char *token)
{
    size_t n = strlen(ptr);
    if (n + 1 >= len)
        return;
    ptr[n++] = '/';
    for (; *token && n + 2 < len; token++) {
        if (*token == '~' || *token == '/') {
            ptr[n++] = '~';
            ptr[n++] = *token == '~' ? '0' : '1';
        } else {
            ptr[n++] = *token;
        }
    }
    ptr[n] = '\0';
}

const char *pc_oa_join(char *buf, size_t len, const char *ptr, const char *tok)
{
    snprintf(buf, len, "%s", ptr);
    pc_oa_ptr_push(buf, len, tok);
    return buf;
}

void pc_oa_note(oa_t *o, const char *ptr, const char *fmt, ...)
{
    char msg[768];
    int n = snprintf(msg, sizeof(msg), "%s: ", *ptr ? ptr : "/");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    if (json_object_get(o->noted, msg))
        return;
    json_object_set_new_nocheck(o->noted, msg, json_true());
    json_array_append_new(o->out->notes, json_string(msg));
}

void pc_oa_note_underscore(oa_t *o, const char *ptr, const char *name)
{
    if (strchr(name, '_'))
        pc_oa_note(o, ptr, "header \"%s\" holds '_': dropped before the upstream unless the "
                   "listener sets underscores_in_headers", name);
}

/* ---- version and servers --------------------------------------------------- */

static int oa_version(oa_t *o)
{
    const char *v = json_string_value(json_object_get(o->doc, "openapi"));
    if (!v)
        return pc_oas_fail(&o->s, "/openapi", json_object_get(o->doc, "swagger")
                               ? "Swagger 2.0 is not supported (OpenAPI 3.0 or 3.1 only)"
                               : "required: the document is not OpenAPI 3.0 or 3.1");
    if (strncmp(v, "3.0.", 4) != 0 && strncmp(v, "3.1.", 4) != 0)
        return pc_oas_fail(&o->s, "/openapi", "version \"%.20s\" is not supported (3.0.x, 3.1.x)", v);
    snprintf(o->out->version, sizeof(o->out->version), "%s", v);
    o->s.v30 = v[2] == '0';
    const json_t *d = json_object_get(o->doc, "jsonSchemaDialect");
    if (d && !o->s.v30 && (!json_is_string(d) ||
        strcmp(json_string_value(d), "https://json-schema.org/draft/2020-12/schema") != 0))
        return pc_oas_fail(&o->s, "/jsonSchemaDialect", "only the 2020-12 dialect is supported");
    return 0;
}

/* The path part of a server's url, variables replaced by their defaults,
 * without a trailing '/' ("" for the root). */
int pc_oa_server_path(oa_t *o, const json_t *server, const char *ptr, char *out, size_t len)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/url", ptr);
    const char *url = json_string_value(json_object_get(server, "url"));
    if (!url)
        return pc_oas_fail(&o->s, p, "must be a string");
    const json_t *vars = json_object_get(server, "variables");
    char full[1024];
    size_t n = 0;
    for (const char *c = url; *c && n < sizeof(full) - 1;) {
        if (*c != '{') {
            full[n++] = *c++;
            continue;
        }
        const char *end = strchr(c, '}');
        if (!end || end - c > 100)
            return pc_oas_fail(&o->s, p, "unbalanced { in \"%.200s\"", url);
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)(end - c - 1), c + 1);
        const char *def = json_string_value(json_object_get(json_object_get(vars, name),
                                                             "default"));
        if (!def)
            return pc_oas_fail(&o->s, p, "variable \"%s\" has no default", name);
        n += (size_t)snprintf(full + n, sizeof(full) - n, "%s", def);
        if (n >= sizeof(full))
            n = sizeof(full) - 1;
        c = end + 1;
    }
    full[n] = '\0';
    const char *path = full;
    const char *scheme = strstr(full, "://");
    if (scheme) {
        path = strchr(scheme + 3, '/');
        path = path ? path : "";
    } else if (strncmp(full, "//", 2) == 0) {
        path = strchr(full + 2, '/');
        path = path ? path : "";
    } else if (full[0] != '/' && full[0] != '\0') {
        return pc_oas_fail(&o->s, p, "a relative url other than an absolute path is not supported");
    }
    size_t q = strcspn(path, "?#");
    while (q && path[q - 1] == '/')
        q--;
    if (q >= len)
        return pc_oas_fail(&o->s, p, "too long");
    memcpy(out, path, q);
    out[q] = '\0';
    for (const char *c = out; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == '{' || *c == '}' || *c == '%')
            return pc_oas_fail(&o->s, p, "the base path \"%.200s\" is not a plain path", out);
    return 0;
}

static int oa_servers(oa_t *o)
{
    if (o->opts && o->opts->base_path) {
        snprintf(o->base, sizeof(o->base), "%s", o->opts->base_path);
        size_t n = strlen(o->base);
        while (n && o->base[n - 1] == '/')
            o->base[--n] = '\0';
        o->base_fixed = true;
        return 0;
    }
    const json_t *servers = json_object_get(o->doc, "servers");
    if (!json_array_size(servers))
        return 0;
    if (pc_oa_server_path(o, json_array_get(servers, 0), "/servers/0", o->base, sizeof(o->base)))
        return -1;
    for (size_t i = 1; i < json_array_size(servers); i++) {
        char ptr[64], other[512];
        snprintf(ptr, sizeof(ptr), "/servers/%zu", i);
        if (pc_oa_server_path(o, json_array_get(servers, i), ptr, other, sizeof(other)))
            return -1;
        if (strcmp(other, o->base) != 0)
            pc_oa_note(o, ptr, "base path \"%s\" not served: the first server's \"%s\" is used "
                       "(set \"base_path\" to choose)", other, o->base);
    }
    return 0;
}

/* "servers" on a path item or an operation must agree with the base path. */
int pc_oa_local_servers(oa_t *o, const json_t *node, const char *ptr)
{
    const json_t *servers = json_object_get(node, "servers");
    char p[1024];
    for (size_t i = 0; i < json_array_size(servers); i++) {
        snprintf(p, sizeof(p), "%s/servers/%zu", ptr, i);
        char path[512];
        if (pc_oa_server_path(o, json_array_get(servers, i), p, path, sizeof(path)))
            return -1;
        if (strcmp(path, o->base) == 0)
            continue;
        if (!o->base_fixed)
            return pc_oas_fail(&o->s, p, "a base path (\"%s\") other than the document's (\"%s\") "
                               "is not supported", path, o->base);
        pc_oa_note(o, p, "base path \"%s\" ignored: \"base_path\" is set", path);
    }
    return 0;
}

/* ---- paths -------------------------------------------------------------------- */

static const char *const oa_methods[] = {"get", "put", "post", "delete", "options", "head",
                                         "patch", "trace", NULL};
static const char *const oa_item_fields[] = {"summary", "description", "servers", "parameters",
                                             "$ref", NULL};

static bool oa_in(const char *k, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(k, *set) == 0)
            return true;
    return false;
}

static int oa_path_item(oa_t *o, const char *path, const json_t *item)
{
    char ptr[1024] = "/paths";
    pc_oa_ptr_push(ptr, sizeof(ptr), path);
    if (path[0] != '/')
        return pc_oas_fail(&o->s, ptr, "a path must start with '/'");
    item = pc_oas_deref(&o->s, item, ptr, sizeof(ptr));
    if (!item)
        return -1;
    if (!json_is_object(item))
        return pc_oas_fail(&o->s, ptr, "must be a Path Item object");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)item, k, v) {
        if (oa_in(k, oa_methods) || oa_in(k, oa_item_fields) || strncmp(k, "x-", 2) == 0)
            continue;
        char p[1100];
        snprintf(p, sizeof(p), "%s", ptr);
        pc_oa_ptr_push(p, sizeof(p), k);
        return pc_oas_fail(&o->s, p, "is not a Path Item field");
    }
    if (pc_oa_local_servers(o, item, ptr))
        return -1;
    for (const char *const *m = oa_methods; *m; m++) {
        const json_t *op = json_object_get(item, *m);
        if (op && pc_oa_operation(o, path, item, ptr, *m, op))
            return -1;
    }
    return 0;
}

/* The order of entries must not depend on jansson's hash order: the
 * allow-list reports entry indexes, and -t lists operations. */
static int oa_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int oa_paths(oa_t *o)
{
    const json_t *paths = json_object_get(o->doc, "paths");
    if (!paths && !o->s.v30)
        return 0; /* 3.1: webhooks-only documents have no paths */
    if (!json_is_object(paths))
        return pc_oas_fail(&o->s, "/paths", "must be an object");
    size_t n = json_object_size(paths), i = 0;
    const char **keys = calloc(n + 1, sizeof(*keys));
    if (!keys)
        abort();
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)paths, k, v) {
        if (strncmp(k, "x-", 2) != 0)
            keys[i++] = k;
    }
    qsort(keys, i, sizeof(*keys), oa_cmp);
    int rc = 0;
    for (size_t j = 0; j < i && rc == 0; j++)
        rc = oa_path_item(o, keys[j], json_object_get(paths, keys[j]));
    free(keys);
    return rc;
}

/* ---- results ---------------------------------------------------------------- */

void pc_oa_add_op(oa_t *o, pc_oa_op_t *op)
{
    pc_oa_t *r = o->out;
    r->ops = realloc(r->ops, (r->nops + 1) * sizeof(*r->ops));
    if (!r->ops)
        abort();
    r->ops[r->nops++] = *op;
}

void pc_oa_add_entry(oa_t *o, json_t *entry, size_t alt)
{
    json_array_append_new(o->raw, json_pack("[I,I,o]", (json_int_t)alt,
                                            (json_int_t)o->out->nops, entry));
}

/* The template without parameter names: "/a/{:int}/{}". */
static void oa_shape(const char *t, char *out, size_t len)
{
    size_t n = 0;
    for (; *t && n + 1 < len; t++) {
        out[n++] = *t;
        if (*t == '{')
            t += strcspn(t + 1, ":}");
    }
    out[n] = '\0';
}

/* Two operations of one shape and method (/pets/{id} and /pets/{name}):
 * OpenAPI calls them identical, the allow-list could not tell them apart. */
static int oa_distinct(oa_t *o)
{
    pc_oa_t *r = o->out;
    for (size_t i = 0; i < r->nops; i++) {
        char a[2048];
        oa_shape(r->ops[i].path, a, sizeof(a));
        for (size_t j = 0; j < i; j++) {
            char b[2048];
            oa_shape(r->ops[j].path, b, sizeof(b));
            if (strcmp(r->ops[i].method, r->ops[j].method) == 0 && strcmp(a, b) == 0)
                return pc_oas_fail(&o->s, r->ops[i].ptr, "the same method and path shape as %s",
                                   r->ops[j].ptr);
        }
    }
    return 0;
}

/* entries[], entry_op[] and lists[] from the raw entries, list by list. */
static void oa_lists(oa_t *o)
{
    pc_oa_t *r = o->out;
    size_t n = json_array_size(o->raw);
    r->entry_op = calloc(n + 1, sizeof(*r->entry_op));
    if (!r->entry_op)
        abort();
    r->lists = json_array();
    size_t done = 0;
    for (json_int_t alt = 0; done < n; alt++) {
        json_t *list = json_array();
        size_t i;
        json_t *e;
        json_array_foreach(o->raw, i, e) {
            if (json_integer_value(json_array_get(e, 0)) != alt)
                continue;
            r->entry_op[done++] = (size_t)json_integer_value(json_array_get(e, 1));
            json_array_append(list, json_array_get(e, 2));
            json_array_append(r->entries, json_array_get(e, 2));
        }
        json_array_append_new(r->lists, list);
    }
}

int pc_oa_import(const json_t *doc, const pc_oa_opts_t *opts, pc_oa_t *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->entries = json_array();
    out->notes = json_array();
    oa_t o = {.doc = doc, .opts = opts, .out = out, .op_ids = json_object(), .raw = json_array(),
             .noted = json_object()};
    o.s = (pc_oas_t){.doc = doc, .cache = json_object(), .rcache = json_object(),
                     .all_used = json_object(), .err = err,
                     .errlen = errlen};
    int rc = -1;
    if (!json_is_object(doc))
        pc_oas_fail(&o.s, "", "an OpenAPI document is an object");
    else if (oa_version(&o) == 0 && oa_servers(&o) == 0 && oa_paths(&o) == 0 &&
             oa_distinct(&o) == 0)
        rc = 0;
    if (rc == 0)
        oa_lists(&o);
    json_decref(o.raw);
    out->base_path = strdup(o.base);
    out->nschemas = json_object_size(o.s.all_used);
    if (rc)
        pc_oa_free(out); /* a refused document hands out nothing */
    json_decref(o.s.cache);
    json_decref(o.s.rcache);
    json_decref(o.s.all_used);
    json_decref(o.op_ids);
    json_decref(o.noted);
    return rc;
}

void pc_oa_free(pc_oa_t *oa)
{
    for (size_t i = 0; i < oa->nops; i++) {
        free(oa->ops[i].id);
        free(oa->ops[i].method);
        free(oa->ops[i].path);
        free(oa->ops[i].ptr);
        json_decref(oa->ops[i].sop);
        json_decref(oa->ops[i].responses);
    }
    free(oa->ops);
    free(oa->entry_op);
    free(oa->base_path);
    json_decref(oa->entries);
    json_decref(oa->lists);
    json_decref(oa->notes);
    memset(oa, 0, sizeof(*oa));
}
