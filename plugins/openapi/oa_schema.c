/* plugins/openapi/oa_schema.c: Schema Objects to bundled 2020-12 schemas;
 * the rules are in oa_schema.h. */
#include "oa_schema.h"
#include "oa_import.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMPONENTS "#/components/schemas/"

int pc_oas_fail(pc_oas_t *c, const char *ptr, const char *fmt, ...)
{
    int n = snprintf(c->err, c->errlen, "%s: ", *ptr ? ptr : "/");
    if (n < 0 || (size_t)n >= c->errlen)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* The value at a "#/..." pointer in the document, or NULL. */
static const json_t *oas_pointer(const json_t *doc, const char *ref)
{
    if (ref[0] != '#')
        return NULL;
    const json_t *v = doc;
    const char *p = ref + 1;
    while (v && *p == '/') {
        p++;
        char tok[256];
        size_t n = 0;
        for (; *p && *p != '/' && n < sizeof(tok) - 1; p++) {
            if (*p == '~' && (p[1] == '0' || p[1] == '1'))
                tok[n++] = *++p == '0' ? '~' : '/';
            else
                tok[n++] = *p;
        }
        tok[n] = '\0';
        if (*p && *p != '/')
            return NULL;
        if (json_is_object(v)) {
            v = json_object_get(v, tok);
        } else if (json_is_array(v)) {
            char *end;
            unsigned long i = strtoul(tok, &end, 10);
            v = *tok && !*end ? json_array_get(v, i) : NULL;
        } else {
            v = NULL;
        }
    }
    return *p ? NULL : v;
}

const json_t *pc_oas_deref(pc_oas_t *c, const json_t *v, char *ptr, size_t len)
{
    for (int hops = 0; json_is_object(v) && json_object_get(v, "$ref"); hops++) {
        const char *ref = json_string_value(json_object_get(v, "$ref"));
        pc_oa_ptr_push(ptr, len, "$ref");
        if (!ref)
            return pc_oas_fail(c, ptr, "must be a string"), NULL;
        if (ref[0] != '#')
            return pc_oas_fail(c, ptr, "external reference \"%.200s\" is not supported", ref), NULL;
        if (hops == 16)
            return pc_oas_fail(c, ptr, "more than 16 references in a row"), NULL;
        const json_t *t = oas_pointer(c->doc, ref);
        if (!t)
            return pc_oas_fail(c, ptr, "\"%.200s\" does not exist in the document", ref), NULL;
        snprintf(ptr, len, "%s", ref + 1);
        v = t;
    }
    return v;
}

/* ---- translation ---------------------------------------------------------- */

typedef struct oas_walk {
    pc_oas_t *c;
    json_t *used;
} oas_walk_t;

static json_t *oas_schema(oas_walk_t *w, const json_t *s, char *ptr, size_t plen, unsigned depth);

static bool oas_in(const char *k, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(k, *set) == 0)
            return true;
    return false;
}

static const char *const oas_one[] = {
    "items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
    "unevaluatedItems", "unevaluatedProperties", "additionalItems", "contentSchema", NULL};
static const char *const oas_map[] = {"properties", "patternProperties", "$defs", "definitions",
                                      "dependentSchemas", NULL};
static const char *const oas_list[] = {"allOf", "anyOf", "oneOf", "prefixItems", NULL};
static const char *const oas_dropped[] = {"example", "discriminator", "xml", "externalDocs", NULL};
static const char *const oas_refused31[] = {"$id", "$anchor", "$dynamicAnchor", "$dynamicRef",
                                            NULL};

/* Translates the subschemas held by keyword k (value v) into out[k]. */
static int oas_sub(oas_walk_t *w, const char *k, const json_t *v, json_t *out, char *ptr,
                   size_t plen, unsigned depth)
{
    size_t mark = strlen(ptr);
    pc_oa_ptr_push(ptr, plen, k);
    json_t *r = NULL;
    if (oas_in(k, oas_one) && (json_is_object(v) || json_is_boolean(v))) {
        r = oas_schema(w, v, ptr, plen, depth + 1);
    } else if ((oas_in(k, oas_list) || strcmp(k, "items") == 0) && json_is_array(v)) {
        r = json_array();
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            size_t m2 = strlen(ptr);
            char idx[24];
            snprintf(idx, sizeof(idx), "%zu", i);
            pc_oa_ptr_push(ptr, plen, idx);
            json_t *t = oas_schema(w, e, ptr, plen, depth + 1);
            ptr[m2] = '\0';
            if (!t)
                return json_decref(r), -1;
            json_array_append_new(r, t);
        }
    } else if (oas_in(k, oas_map) && json_is_object(v)) {
        r = json_object();
        const char *name;
        const json_t *e;
        json_object_foreach((json_t *)v, name, e) {
            size_t m2 = strlen(ptr);
            pc_oa_ptr_push(ptr, plen, name);
            json_t *t = oas_schema(w, e, ptr, plen, depth + 1);
            ptr[m2] = '\0';
            if (!t)
                return json_decref(r), -1;
            json_object_set_new(r, name, t);
        }
    } else {
        r = json_deep_copy(v); /* data (enum, const, default) or a malformed keyword */
    }
    ptr[mark] = '\0';
    if (!r)
        return -1;
    json_object_set_new(out, k, r);
    return 0;
}

static json_t *oas_ref(oas_walk_t *w, const json_t *ref, const char *ptr)
{
    const char *s = json_string_value(ref);
    if (!s)
        return pc_oas_fail(w->c, ptr, "must be a string"), NULL;
    if (s[0] != '#')
        return pc_oas_fail(w->c, ptr, "external reference \"%.200s\" is not supported", s), NULL;
    if (strncmp(s, COMPONENTS, strlen(COMPONENTS)) != 0)
        return pc_oas_fail(w->c, ptr, "\"%.200s\": only references to #/components/schemas/ are "
                           "supported in schemas", s), NULL;
    if (!oas_pointer(w->c->doc, s))
        return pc_oas_fail(w->c, ptr, "\"%.200s\" does not exist in the document", s), NULL;
    const char *name = s + strlen(COMPONENTS);
    size_t n = strcspn(name, "/");
    char decoded[256];
    size_t d = 0;
    for (size_t i = 0; i < n && d < sizeof(decoded) - 1; i++) {
        if (name[i] == '~' && i + 1 < n && (name[i + 1] == '0' || name[i + 1] == '1'))
            decoded[d++] = name[++i] == '0' ? '~' : '/';
        else
            decoded[d++] = name[i];
    }
    decoded[d] = '\0';
    json_object_set_new(w->used, decoded, json_true());
    char *out = malloc(strlen(s) + 8);
    if (!out)
        abort();
    sprintf(out, "#/$defs/%s", name);
    json_t *r = json_pack("{s:s}", "$ref", out);
    free(out);
    return r;
}

/* 3.0: nullable and boolean exclusive bounds, on the translated object. */
static void oas_fix30(json_t *out)
{
    static const char *const bound[][2] = {{"exclusiveMinimum", "minimum"},
                                           {"exclusiveMaximum", "maximum"}};
    for (int i = 0; i < 2; i++) {
        json_t *ex = json_object_get(out, bound[i][0]);
        json_t *lim = json_object_get(out, bound[i][1]);
        if (!json_is_boolean(ex))
            continue;
        if (json_is_true(ex) && json_is_number(lim)) {
            json_object_set(out, bound[i][0], lim);
            json_object_del(out, bound[i][1]);
        } else {
            json_object_del(out, bound[i][0]);
        }
    }
}

/* 3.0: required readOnly properties are required in responses only. */
static void oas_readonly30(oas_walk_t *w, json_t *out, const json_t *s)
{
    if (w->c->response)
        return;
    json_t *req = json_object_get(out, "required");
    const json_t *props = json_object_get(s, "properties");
    if (!json_is_array(req) || !json_is_object(props))
        return;
    for (size_t i = json_array_size(req); i-- > 0;) {
        const json_t *p = json_object_get(props, json_string_value(json_array_get(req, i)));
        char tmp[512] = "";
        char saved[1024];
        snprintf(saved, sizeof(saved), "%s", w->c->err); /* deref may write err */
        const json_t *t = p ? pc_oas_deref(w->c, p, tmp, sizeof(tmp)) : NULL;
        snprintf(w->c->err, w->c->errlen, "%s", saved);
        if (json_is_true(json_object_get(t, "readOnly")))
            json_array_remove(req, i);
    }
}

static json_t *oas_nullable30(json_t *out)
{
    json_t *nl = json_object_get(out, "nullable");
    bool on = json_is_true(nl);
    json_object_del(out, "nullable");
    if (!on)
        return out;
    json_t *type = json_object_get(out, "type");
    if (json_is_string(type)) {
        json_object_set_new(out, "type", json_pack("[O,s]", type, "null"));
        json_t *en = json_object_get(out, "enum");
        bool has_null = false;
        size_t i;
        json_t *e;
        json_array_foreach(en, i, e) has_null |= json_is_null(e);
        if (json_is_array(en) && !has_null)
            json_array_append_new(en, json_null());
        return out;
    }
    return json_pack("{s:[o,{s:s}]}", "anyOf", out, "type", "null");
}

static json_t *oas_schema(oas_walk_t *w, const json_t *s, char *ptr, size_t plen, unsigned depth)
{
    pc_oas_t *c = w->c;
    if (depth > PC_OAS_MAX_DEPTH)
        return pc_oas_fail(c, ptr, "schemas nested deeper than %d levels", PC_OAS_MAX_DEPTH), NULL;
    if (json_is_boolean(s) && !c->v30)
        return json_incref((json_t *)s);
    if (!json_is_object(s))
        return pc_oas_fail(c, ptr, "must be a schema object"), NULL;
    const json_t *ref = json_object_get(s, "$ref");
    if (ref && c->v30) {
        size_t m = strlen(ptr);
        pc_oa_ptr_push(ptr, plen, "$ref");
        json_t *r = oas_ref(w, ref, ptr);
        ptr[m] = '\0';
        return r;
    }
    json_t *out = json_object();
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)s, k, v) {
        size_t m = strlen(ptr);
        pc_oa_ptr_push(ptr, plen, k);
        int bad = 0;
        if (strncmp(k, "x-", 2) == 0 || oas_in(k, oas_dropped)) {
            ptr[m] = '\0';
            continue;
        }
        if (!c->v30 && oas_in(k, oas_refused31))
            bad = pc_oas_fail(c, ptr, "is not supported");
        else if (!c->v30 && strcmp(k, "$schema") == 0) {
            const char *d = json_string_value(v);
            if (!d || strcmp(d, "https://json-schema.org/draft/2020-12/schema") != 0)
                bad = pc_oas_fail(c, ptr, "only the 2020-12 dialect is supported");
            ptr[m] = '\0';
            if (bad)
                return json_decref(out), NULL;
            continue;
        } else if (strcmp(k, "$ref") == 0) {
            json_t *r = oas_ref(w, v, ptr);
            if (r)
                json_object_set(out, "$ref", json_object_get(r, "$ref"));
            json_decref(r);
            bad = r ? 0 : -1;
        }
        ptr[m] = '\0';
        if (!bad && strcmp(k, "$ref") != 0)
            bad = oas_sub(w, k, v, out, ptr, plen, depth);
        if (bad)
            return json_decref(out), NULL;
    }
    if (!c->v30)
        return out;
    oas_fix30(out);
    oas_readonly30(w, out, s);
    return oas_nullable30(out);
}

json_t *pc_oas_translate(pc_oas_t *c, const json_t *s, const char *ptr, json_t *used)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s", ptr);
    oas_walk_t w = {c, used};
    return oas_schema(&w, s, p, sizeof(p), 0);
}

/* ---- bundling --------------------------------------------------------------- */

/* The cached translation of component Name: {"schema", "deps"}. */
static const json_t *oas_component(pc_oas_t *c, const char *name)
{
    json_t *cache = c->response ? c->rcache : c->cache;
    const json_t *hit = json_object_get(cache, name);
    if (hit)
        return hit;
    const json_t *s = json_object_get(json_object_get(json_object_get(c->doc, "components"),
                                                      "schemas"), name);
    char ptr[512] = "/components/schemas";
    pc_oa_ptr_push(ptr, sizeof(ptr), name);
    if (!s)
        return pc_oas_fail(c, ptr, "does not exist"), NULL;
    json_t *deps = json_object();
    json_t *t = pc_oas_translate(c, s, ptr, deps);
    if (!t)
        return json_decref(deps), NULL;
    json_object_set_new(cache, name, json_pack("{s:o,s:o}", "schema", t, "deps", deps));
    return json_object_get(cache, name);
}

int pc_oas_bundle(pc_oas_t *c, json_t *root, const json_t *used)
{
    if (!json_object_size(used))
        return 0;
    if (json_object_get(root, "$defs"))
        return pc_oas_fail(c, "", "a schema with its own $defs cannot reference components");
    json_t *defs = json_object();
    json_t *pending = json_deep_copy(used);
    while (json_object_size(pending)) {
        const char *name = json_object_iter_key(json_object_iter(pending));
        char *n = strdup(name);
        json_object_del(pending, n);
        if (json_object_get(defs, n)) {
            free(n);
            continue;
        }
        const json_t *comp = oas_component(c, n);
        if (!comp) {
            free(n);
            json_decref(pending);
            json_decref(defs);
            return -1;
        }
        json_object_set(defs, n, json_object_get(comp, "schema"));
        json_object_set_new(c->all_used, n, json_true());
        const char *d;
        const json_t *x;
        json_object_foreach(json_object_get(comp, "deps"), d, x)
            if (!json_object_get(defs, d))
                json_object_set_new(pending, d, json_true());
        free(n);
    }
    json_decref(pending);
    json_object_set_new(root, "$defs", defs);
    return 0;
}
