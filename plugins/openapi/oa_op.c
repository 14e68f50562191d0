/* plugins/openapi/oa_op.c: one OpenAPI operation into its schema_op node
 * (parameters, request body) and its allow-list entries (typed path
 * template, security alternatives). Rules in oa_import.h and
 * docs/filtering.md. */
#include "oa_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { IN_PATH, IN_QUERY, IN_HEADER, IN_BODY, IN_N };
static const char *const oa_in_names[] = {"path", "query", "header"};
static const char *const oa_sop_keys[] = {"path", "query", "headers"};

#define OA_MAX_PARAMS 64

typedef struct oa_param {
    const json_t *p;      /* the Parameter Object, references followed */
    char ptr[1024];       /* its pointer */
    const char *name;
    int in;
    bool used;            /* a path parameter found in the template */
} oa_param_t;

typedef struct oa_opb {
    oa_t *o;
    char ptr[1024];       /* the operation's pointer */
    oa_param_t params[OA_MAX_PARAMS];
    size_t nparams;
    json_t *props[3], *req[3];
    json_t *used[IN_N];   /* component schemas each part references */
} oa_opb_t;

/* ---- parameters --------------------------------------------------------------- */

static int oa_collect(oa_opb_t *b, const json_t *list, const char *ptr)
{
    if (!list)
        return 0;
    char lp[1024];
    pc_oa_join(lp, sizeof(lp), ptr, "parameters");
    if (!json_is_array(list))
        return pc_oas_fail(&b->o->s, lp, "must be an array");
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e) {
        oa_param_t pp = {0};
        char idx[24];
        snprintf(idx, sizeof(idx), "%zu", i);
        pc_oa_join(pp.ptr, sizeof(pp.ptr), lp, idx);
        pp.p = pc_oas_deref(&b->o->s, e, pp.ptr, sizeof(pp.ptr));
        if (!pp.p)
            return -1;
        pp.name = json_string_value(json_object_get(pp.p, "name"));
        const char *in = json_string_value(json_object_get(pp.p, "in"));
        char f[1100];
        if (!pp.name || !*pp.name)
            return pc_oas_fail(&b->o->s, pc_oa_join(f, sizeof(f), pp.ptr, "name"), "required");
        if (in && strcmp(in, "cookie") == 0)
            return pc_oas_fail(&b->o->s, pc_oa_join(f, sizeof(f), pp.ptr, "in"),
                               "\"cookie\" parameters are not supported");
        pp.in = !in ? -1 : !strcmp(in, "path") ? IN_PATH : !strcmp(in, "query") ? IN_QUERY
              : !strcmp(in, "header") ? IN_HEADER : -1;
        if (pp.in < 0)
            return pc_oas_fail(&b->o->s, pc_oa_join(f, sizeof(f), pp.ptr, "in"),
                               "must be path, query, header or cookie");
        size_t k = 0;
        while (k < b->nparams && !(b->params[k].in == pp.in &&
               (pp.in == IN_HEADER ? strcasecmp : strcmp)(b->params[k].name, pp.name) == 0))
            k++;
        if (k == OA_MAX_PARAMS)
            return pc_oas_fail(&b->o->s, pp.ptr, "more than %d parameters", OA_MAX_PARAMS);
        b->params[k] = pp; /* an operation's parameter overrides the path item's */
        if (k == b->nparams)
            b->nparams++;
    }
    return 0;
}

/* The type a parameter's schema declares ("integer", "array", ...) or NULL;
 * for 3.1 type lists, the first that is not "null". */
static const char *oa_type(oa_opb_t *b, const json_t *schema, const char *ptr,
                           const json_t **target)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s", ptr);
    char saved[1024];
    snprintf(saved, sizeof(saved), "%s", b->o->s.err);
    const json_t *t = pc_oas_deref(&b->o->s, schema, p, sizeof(p));
    snprintf(b->o->s.err, b->o->s.errlen, "%s", saved); /* translation reports it */
    *target = t;
    const json_t *type = json_object_get(t, "type");
    if (json_is_string(type))
        return json_string_value(type);
    size_t i;
    const json_t *e;
    json_array_foreach(type, i, e)
        if (json_is_string(e) && strcmp(json_string_value(e), "null") != 0)
            return json_string_value(e);
    return NULL;
}

static int oa_param_style(oa_opb_t *b, const oa_param_t *pp, const char *type)
{
    static const char *const styles[] = {"simple", "form", "simple"};
    const char *style = json_string_value(json_object_get(pp->p, "style"));
    char f[1100];
    if (style && strcmp(style, styles[pp->in]) != 0)
        return pc_oas_fail(&b->o->s, pc_oa_join(f, sizeof(f), pp->ptr, "style"),
                           "\"%.40s\" is not supported", style);
    if (json_object_get(pp->p, "content"))
        return pc_oas_fail(&b->o->s, pc_oa_join(f, sizeof(f), pp->ptr, "content"),
                           "parameters described by content are not supported (use schema)");
    if (json_is_true(json_object_get(pp->p, "allowEmptyValue")))
        return pc_oas_fail(&b->o->s, pc_oa_join(f, sizeof(f), pp->ptr, "allowEmptyValue"),
                           "is not supported");
    if (type && strcmp(type, "object") == 0)
        return pc_oas_fail(&b->o->s, pc_oa_join(f, sizeof(f), pp->ptr, "schema"),
                           "object parameters are not supported");
    if (type && strcmp(type, "array") == 0) {
        /* The query reader takes both forms: ?id=1&id=2 and ?id=1,2. */
        if (pp->in != IN_QUERY)
            return pc_oas_fail(&b->o->s, pc_oa_join(f, sizeof(f), pp->ptr, "schema"),
                               "array %s parameters are not supported", oa_in_names[pp->in]);
    }
    return 0;
}

static int oa_param(oa_opb_t *b, oa_param_t *pp)
{
    oa_t *o = b->o;
    char f[1100], name[256];
    snprintf(name, sizeof(name), "%s", pp->name);
    if (pp->in == IN_HEADER) {
        for (char *c = name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (!strcmp(name, "accept") || !strcmp(name, "content-type") ||
            !strcmp(name, "authorization")) {
            pc_oa_note(o, pp->ptr, "header \"%s\" ignored (OpenAPI says so)", pp->name);
            return 0;
        }
        pc_oa_note_underscore(o, pp->ptr, pp->name);
    }
    const json_t *schema = json_object_get(pp->p, "schema");
    json_t *empty = json_object();
    const json_t *target = NULL;
    const char *type = schema ? oa_type(b, schema, pc_oa_join(f, sizeof(f), pp->ptr, "schema"),
                                        &target) : NULL;
    int rc = oa_param_style(b, pp, type);
    json_t *tr = rc ? NULL : pc_oas_translate(&o->s, schema ? schema : empty,
                                              pc_oa_join(f, sizeof(f), pp->ptr, "schema"),
                                              b->used[pp->in]);
    json_decref(empty);
    if (!tr)
        return -1;
    bool required = json_is_true(json_object_get(pp->p, "required"));
    if (pp->in == IN_PATH && !required) {
        json_decref(tr);
        return pc_oas_fail(&o->s, pc_oa_join(f, sizeof(f), pp->ptr, "required"),
                           "a path parameter must be required: true");
    }
    json_object_set_new(b->props[pp->in], name, tr);
    if (required)
        json_array_append_new(b->req[pp->in], json_string(name));
    o->out->nparams[pp->in]++;
    return 0;
}

/* ---- the path template --------------------------------------------------------- */

static bool oa_name_ok(const char *s)
{
    if (!isalpha((unsigned char)*s) && *s != '_')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_')
            return false;
    return true;
}

/* "{name:int}", "{name:uuid}", "{name:-?[0-9]+}" or "{name}". */
static void oa_token(oa_opb_t *b, oa_param_t *pp, char *out, size_t len)
{
    const json_t *schema = json_object_get(pp->p, "schema"), *t = NULL;
    char f[1100];
    const char *type = schema ? oa_type(b, schema, pc_oa_join(f, sizeof(f), pp->ptr, "schema"), &t)
                              : NULL;
    const json_t *min = json_object_get(t, "minimum");
    const json_t *xmin = json_object_get(t, "exclusiveMinimum");
    bool natural = (json_is_number(min) && json_number_value(min) >= 0) ||
                   (json_is_number(xmin) && json_number_value(xmin) >= -1);
    const char *fmt = json_string_value(json_object_get(t, "format"));
    if (type && !strcmp(type, "integer"))
        snprintf(out, len, natural ? "{%s:int}" : "{%s:-?[0-9]+}", pp->name);
    else if (type && !strcmp(type, "string") && fmt && !strcmp(fmt, "uuid"))
        snprintf(out, len, "{%s:uuid}", pp->name);
    else
        snprintf(out, len, "{%s}", pp->name);
}

static int oa_template(oa_opb_t *b, const char *path, char *out, size_t len)
{
    oa_t *o = b->o;
    char ptr[1024] = "/paths";
    pc_oa_ptr_push(ptr, sizeof(ptr), path);
    size_t n = (size_t)snprintf(out, len, "%s", o->base);
    unsigned count = 0;
    for (const char *s = path; *s && n < len;) {
        const char *open = strchr(s, '{');
        if (!open) {
            if (strchr(s, '}'))
                return pc_oas_fail(&o->s, ptr, "unbalanced }");
            n += (size_t)snprintf(out + n, len - n, "%s", s);
            break;
        }
        const char *close = strchr(open, '}');
        if (!close || open[-1] != '/' || (close[1] && close[1] != '/'))
            return pc_oas_fail(&o->s, ptr, "a parameter must be a whole path segment");
        n += (size_t)snprintf(out + n, len - n, "%.*s", (int)(open - s), s);
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(close - open - 1), open + 1);
        oa_param_t *pp = NULL;
        for (size_t i = 0; i < b->nparams && !pp; i++)
            if (b->params[i].in == IN_PATH && !strcmp(b->params[i].name, name))
                pp = &b->params[i];
        if (!pp)
            return pc_oas_fail(&o->s, b->ptr, "path parameter \"%.100s\" is not declared", name);
        if (!oa_name_ok(name))
            return pc_oas_fail(&o->s, pp->ptr, "path parameter name \"%.100s\" is not supported "
                               "(letters, digits and _ only)", name);
        if (++count > PC_OA_MAX_PATH_PARAMS)
            return pc_oas_fail(&o->s, ptr, "more than %d path parameters",
                               PC_OA_MAX_PATH_PARAMS);
        pp->used = true;
        char tok[512];
        oa_token(b, pp, tok, sizeof(tok));
        n += (size_t)snprintf(out + n, len - n, "%s", tok);
        s = close + 1;
    }
    if (n >= len)
        return pc_oas_fail(&o->s, ptr, "too long");
    for (size_t i = 0; i < b->nparams; i++)
        if (b->params[i].in == IN_PATH && !b->params[i].used)
            return pc_oas_fail(&o->s, b->params[i].ptr, "\"%.100s\" is not in the path template",
                               b->params[i].name);
    return 0;
}

/* ---- request body ------------------------------------------------------------- */

/* "application/json; charset=utf-8" -> "application/json"; true for JSON. */
static bool oa_media(const char *key, char *out, size_t len)
{
    size_t n = strcspn(key, "; \t");
    snprintf(out, len, "%.*s", (int)n, key);
    for (char *c = out; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    size_t m = strlen(out);
    const char *slash = strchr(out, '/');
    return strcmp(out, "application/json") == 0 ||
           (slash && slash[1] != '*' && m > 5 && strcmp(out + m - 5, "+json") == 0);
}

static int oa_body(oa_opb_t *b, const json_t *op, pc_oa_op_t *res)
{
    oa_t *o = b->o;
    const json_t *rb = json_object_get(op, "requestBody");
    if (!rb)
        return 0;
    char ptr[1024], f[1100], cp[1100];
    pc_oa_join(ptr, sizeof(ptr), b->ptr, "requestBody");
    rb = pc_oas_deref(&o->s, rb, ptr, sizeof(ptr));
    if (!rb)
        return -1;
    const json_t *content = json_object_get(rb, "content");
    pc_oa_join(cp, sizeof(cp), ptr, "content");
    if (!json_is_object(content))
        return pc_oas_fail(&o->s, cp, "must be an object");
    json_t *types = json_array();
    const json_t *schema = NULL;
    char other[512] = "", sptr[1200] = "";
    const char *k;
    const json_t *media;
    json_object_foreach((json_t *)content, k, media) {
        char mt[128];
        if (!oa_media(k, mt, sizeof(mt))) {
            size_t n = strlen(other);
            snprintf(other + n, sizeof(other) - n, "%s%s", n ? ", " : "", mt);
            continue;
        }
        const json_t *s = json_object_get(media, "schema");
        json_t *empty = json_object();
        s = s ? s : empty;
        if (schema && !json_equal(schema, s)) {
            json_decref(empty);
            json_decref(types);
            return pc_oas_fail(&o->s, pc_oa_join(f, sizeof(f), cp, k),
                               "a second JSON media type with another schema is not supported");
        }
        if (!schema) {
            schema = s == empty ? NULL : s;
            pc_oa_join(sptr, sizeof(sptr), pc_oa_join(f, sizeof(f), cp, k), "schema");
        }
        json_decref(empty);
        size_t i;
        const json_t *t;
        bool dup = false;
        json_array_foreach(types, i, t) dup |= !strcmp(json_string_value(t), mt);
        if (!dup)
            json_array_append_new(types, json_string(mt));
    }
    if (!json_array_size(types)) {
        json_decref(types);
        pc_oa_note(o, cp, "accepted, not validated: %s", other);
        return 0;
    }
    if (*other)
        pc_oa_note(o, cp, "refused with 415, only JSON bodies are validated: %s", other);
    json_t *empty = json_object();
    json_t *body = pc_oas_translate(&o->s, schema ? schema : empty, sptr, b->used[IN_BODY]);
    json_decref(empty);
    if (!body || (json_is_object(body) && pc_oas_bundle(&o->s, body, b->used[IN_BODY]))) {
        json_decref(body);
        json_decref(types);
        return -1;
    }
    json_object_set_new(res->sop, "content_types", types);
    json_object_set_new(res->sop, "body", body);
    json_object_set_new(res->sop, "body_required", json_boolean(json_is_true(
                                                        json_object_get(rb, "required"))));
    res->body = true;
    o->out->nbodies++;
    return 0;
}

/* ---- the operation -------------------------------------------------------------- */

static const char *const oa_op_fields[] = {"tags", "summary", "description", "externalDocs",
    "operationId", "parameters", "requestBody", "responses", "callbacks", "deprecated",
    "security", "servers", NULL};

static int oa_fields(oa_opb_t *b, const json_t *op)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)op, k, v) {
        bool ok = strncmp(k, "x-", 2) == 0;
        for (const char *const *f = oa_op_fields; *f && !ok; f++)
            ok = strcmp(*f, k) == 0;
        char p[1100];
        if (!ok)
            return pc_oas_fail(&b->o->s, pc_oa_join(p, sizeof(p), b->ptr, k),
                               "is not an Operation field");
    }
    return 0;
}

static int oa_id(oa_opb_t *b, const json_t *op, const char *M, const char *path, pc_oa_op_t *res)
{
    const json_t *id = json_object_get(op, "operationId");
    char buf[1100];
    size_t n = json_string_length(id);
    if (id && (!json_is_string(id) || n == 0 || n > 256 || strlen(json_string_value(id)) != n))
        return pc_oas_fail(&b->o->s, pc_oa_join(buf, sizeof(buf), b->ptr, "operationId"),
                           "must be a string of 1 to 256 bytes");
    if (id && json_object_get(b->o->op_ids, json_string_value(id)))
        return pc_oas_fail(&b->o->s, pc_oa_join(buf, sizeof(buf), b->ptr, "operationId"),
                           "\"%.100s\" is used twice", json_string_value(id));
    if (id) {
        json_object_set_new(b->o->op_ids, json_string_value(id), json_true());
        res->id = strdup(json_string_value(id));
    } else {
        snprintf(buf, sizeof(buf), "%s %s", M, path);
        res->id = strdup(buf);
    }
    return 0;
}

/* {"type": "object", "properties": ..., "required": ..., "$defs": ...} */
static int oa_params_schema(oa_opb_t *b, int in, json_t *sop)
{
    if (!json_object_size(b->props[in]))
        return 0;
    json_t *s = json_pack("{s:s,s:O}", "type", "object", "properties", b->props[in]);
    if (json_array_size(b->req[in]))
        json_object_set(s, "required", b->req[in]);
    if (pc_oas_bundle(&b->o->s, s, b->used[in]))
        return json_decref(s), -1;
    json_object_set_new(sop, oa_sop_keys[in], s);
    return 0;
}

static int oa_build(oa_opb_t *b, const char *path, const json_t *item, const char *item_ptr,
                    const json_t *op, pc_oa_op_t *res)
{
    if (oa_fields(b, op) || pc_oa_local_servers(b->o, op, b->ptr) ||
        oa_id(b, op, res->method, path, res) ||
        oa_collect(b, json_object_get(item, "parameters"), item_ptr) ||
        oa_collect(b, json_object_get(op, "parameters"), b->ptr))
        return -1;
    for (size_t i = 0; i < b->nparams; i++)
        if (oa_param(b, &b->params[i]))
            return -1;
    char tmpl[2048];
    if (oa_template(b, path, tmpl, sizeof(tmpl)))
        return -1;
    res->path = strdup(tmpl);
    for (int in = IN_PATH; in <= IN_HEADER; in++)
        if (oa_params_schema(b, in, res->sop))
            return -1;
    if (oa_body(b, op, res))
        return -1;
    if (b->o->opts && b->o->opts->responses &&
        !(res->responses = pc_oa_responses(b->o, b->ptr, op)))
        return -1;
    json_t *alts = pc_oa_security(b->o, b->ptr, op);
    if (!alts)
        return -1;
    size_t i;
    json_t *a;
    json_array_foreach(alts, i, a) {
        json_t *e = json_pack("{s:s,s:[s],s:s}", "id", res->id, "methods", res->method,
                              "path", res->path);
        if (json_array_size(a))
            json_object_set(e, "scopes", a);
        pc_oa_add_entry(b->o, e, i);
    }
    json_decref(alts);
    return 0;
}

int pc_oa_operation(oa_t *o, const char *path, const json_t *item, const char *item_ptr,
                    const char *m, const json_t *op)
{
    oa_opb_t *b = calloc(1, sizeof(*b));
    if (!b)
        abort();
    b->o = o;
    pc_oa_join(b->ptr, sizeof(b->ptr), item_ptr, m);
    for (int i = 0; i < 3; i++) {
        b->props[i] = json_object();
        b->req[i] = json_array();
    }
    for (int i = 0; i < IN_N; i++)
        b->used[i] = json_object();
    pc_oa_op_t res = {.sop = json_object(), .method = strdup(m)};
    for (char *c = res.method; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    int rc = json_is_object(op) ? oa_build(b, path, item, item_ptr, op, &res)
                                : pc_oas_fail(&o->s, b->ptr, "must be an Operation object");
    if (rc == 0) {
        res.ptr = strdup(b->ptr);
        pc_oa_add_op(o, &res);
    } else {
        free(res.id);
        free(res.method);
        free(res.path);
        json_decref(res.sop);
        json_decref(res.responses);
    }
    for (int i = 0; i < 3; i++) {
        json_decref(b->props[i]);
        json_decref(b->req[i]);
    }
    for (int i = 0; i < IN_N; i++)
        json_decref(b->used[i]);
    free(b);
    return rc;
}
