/* plugins/openapi/oa_security.c: an operation's security requirements
 * (its own, else the document's) as the scope sets of its allow-list
 * entries. oauth2 and openIdConnect give scopes, http bearer none; apiKey,
 * basic and mutualTLS cannot be verified by the gateway, so an alternative
 * that needs one is dropped with a note, and an operation left with none
 * is refused, unless the operator named the scheme in "unverified_schemes"
 * (then it asks nothing of the gateway, noted once per place it is
 * required). Rules in docs/filtering.md, "Security". */
#include "oa_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 6750 scope-token, as the allow-list (and WWW-Authenticate) takes it. */
static bool oa_scope_ok(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\')
            return false;
    return true;
}

static int oa_scheme(oa_t *o, const char *name, const json_t *list, const char *rptr,
                     json_t *scopes, char *why, size_t wlen)
{
    char sp[1024] = "/components/securitySchemes", f[1100];
    pc_oa_ptr_push(sp, sizeof(sp), name);
    const json_t *s = json_object_get(json_object_get(json_object_get(o->doc, "components"),
                                                      "securitySchemes"), name);
    if (!s)
        return pc_oas_fail(&o->s, pc_oa_join(f, sizeof(f), rptr, name),
                           "\"%.100s\" is not in /components/securitySchemes", name);
    if (!(s = pc_oas_deref(&o->s, s, sp, sizeof(sp))))
        return -1;
    const char *type = json_string_value(json_object_get(s, "type"));
    const char *scheme = json_string_value(json_object_get(s, "scheme"));
    if (!json_is_array(list))
        return pc_oas_fail(&o->s, pc_oa_join(f, sizeof(f), rptr, name), "must be an array");
    if (type && (!strcmp(type, "oauth2") || !strcmp(type, "openIdConnect"))) {
        size_t i;
        const json_t *e;
        json_array_foreach(list, i, e) {
            if (!json_is_string(e) || !oa_scope_ok(json_string_value(e)))
                return pc_oas_fail(&o->s, pc_oa_join(f, sizeof(f), rptr, name),
                                   "a scope is printable ASCII without space, '\"' or '\\'");
            size_t j;
            const json_t *t;
            bool dup = false;
            json_array_foreach(scopes, j, t) dup |= json_equal(t, e);
            if (!dup)
                json_array_append(scopes, (json_t *)e);
        }
        return 1;
    }
    if (type && !strcmp(type, "http") && scheme && !strcasecmp(scheme, "bearer")) {
        if (json_array_size(list))
            return pc_oas_fail(&o->s, pc_oa_join(f, sizeof(f), rptr, name),
                               "roles on an http scheme are not supported");
        return 1;
    }
    for (size_t i = 0; o->opts && i < o->opts->nunverified; i++) {
        if (strcmp(o->opts->unverified[i], name) == 0) {
            pc_oa_note(o, pc_oa_join(f, sizeof(f), rptr, name),
                       "%s \"%s\" is not verified by the gateway (unverified_schemes): "
                       "the upstream must check it", type ? type : "?", name);
            const char *in = json_string_value(json_object_get(s, "in"));
            const char *header = json_string_value(json_object_get(s, "name"));
            if (type && !strcmp(type, "apiKey") && in && !strcmp(in, "header") && header)
                pc_oa_note_underscore(o, sp, header);
            return 1;
        }
    }
    snprintf(why, wlen, "%s \"%s\"", type ? type : "?", name);
    return 0;
}

static int oa_scope_cmp(const void *a, const void *b)
{
    return strcmp(json_string_value(*(json_t *const *)a), json_string_value(*(json_t *const *)b));
}

static json_t *oa_sorted(json_t *scopes)
{
    size_t n = json_array_size(scopes);
    json_t **v = calloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(scopes, i);
    qsort(v, n, sizeof(*v), oa_scope_cmp);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(out, v[i]);
    free(v);
    json_decref(scopes);
    return out;
}

json_t *pc_oa_security(oa_t *o, const char *op_ptr, const json_t *op)
{
    char ptr[1024];
    const json_t *reqs = json_object_get(op, "security");
    if (reqs)
        pc_oa_join(ptr, sizeof(ptr), op_ptr, "security");
    else
        snprintf(ptr, sizeof(ptr), "/security"), reqs = json_object_get(o->doc, "security");
    json_t *alts = json_array();
    if (!json_array_size(reqs)) {
        if (reqs && !json_is_array(reqs))
            return json_decref(alts), pc_oas_fail(&o->s, ptr, "must be an array"), NULL;
        json_array_append_new(alts, json_array());
        return alts;
    }
    char why[256] = "";
    size_t i;
    const json_t *r;
    json_array_foreach(reqs, i, r) {
        char rptr[1100];
        snprintf(rptr, sizeof(rptr), "%s/%zu", ptr, i);
        if (!json_is_object(r))
            return json_decref(alts), pc_oas_fail(&o->s, rptr, "must be an object"), NULL;
        if (json_object_size(r) == 0) { /* {} : anonymous is one of the ways in */
            json_array_clear(alts);
            json_array_append_new(alts, json_array());
            return alts;
        }
        json_t *scopes = json_array();
        int ok = 1;
        const char *name;
        const json_t *list;
        json_object_foreach((json_t *)r, name, list) {
            int rc = oa_scheme(o, name, list, rptr, scopes, why, sizeof(why));
            if (rc < 0)
                return json_decref(scopes), json_decref(alts), NULL;
            ok &= rc;
        }
        scopes = oa_sorted(scopes);
        bool dup = false;
        size_t j;
        const json_t *a;
        json_array_foreach(alts, j, a) dup |= json_equal(a, scopes);
        if (!ok)
            pc_oa_note(o, rptr, "refused: the gateway cannot verify %s", why);
        if (ok && !dup)
            json_array_append(alts, scopes);
        json_decref(scopes);
    }
    if (!json_array_size(alts)) {
        json_decref(alts);
        pc_oas_fail(&o->s, ptr, "no security requirement the gateway can verify (%s)", why);
        return NULL;
    }
    /* An alternative without scopes lets every request the others would
     * through: it is the only entry needed. */
    json_array_foreach(alts, i, r) {
        if (json_array_size(r) == 0) {
            json_array_clear(alts);
            json_array_append_new(alts, json_array());
            break;
        }
    }
    return alts;
}
