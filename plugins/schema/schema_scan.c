/* plugins/schema/schema_scan.c: documents, identifiers and "$ref"
 * resolution for the compiler (see schema_cc.h).
 *
 * The scan only descends through keywords that hold schemas for the
 * draft in force, so identifiers inside "const", "enum" or unknown
 * keywords are data, as the specification says. Draft-07 ignores "$id"
 * beside "$ref" (everything beside "$ref" is ignored there) and uses
 * "$id": "#name" as an anchor; 2020-12 has "$anchor" and "$dynamicAnchor".
 */
#include "schema_cc.h"
#include "schema_uri.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_MAX_DEPTH 200u
#define MAX_LOADS 1000u

enum { D2020 = 1u << PC_SCHEMA_2020_12, D7 = 1u << PC_SCHEMA_DRAFT7, DBOTH = D2020 | D7 };
enum { SH_ONE, SH_MAP, SH_ARR, SH_ONE_OR_ARR };

static const struct {
    const char *k;
    uint8_t shape, drafts;
} subs[] = {
    {"additionalProperties", SH_ONE, DBOTH},
    {"propertyNames", SH_ONE, DBOTH},
    {"contains", SH_ONE, DBOTH},
    {"not", SH_ONE, DBOTH},
    {"if", SH_ONE, DBOTH},
    {"then", SH_ONE, DBOTH},
    {"else", SH_ONE, DBOTH},
    {"unevaluatedItems", SH_ONE, D2020},
    {"unevaluatedProperties", SH_ONE, D2020},
    {"additionalItems", SH_ONE, D7},
    {"items", SH_ONE, D2020},
    {"items", SH_ONE_OR_ARR, D7},
    {"properties", SH_MAP, DBOTH},
    {"patternProperties", SH_MAP, DBOTH},
    {"$defs", SH_MAP, D2020},
    {"definitions", SH_MAP, DBOTH},
    {"dependentSchemas", SH_MAP, D2020},
    {"dependencies", SH_MAP, DBOTH}, /* 2020-12 takes draft-07's spelling too */
    {"allOf", SH_ARR, DBOTH},
    {"anyOf", SH_ARR, DBOTH},
    {"oneOf", SH_ARR, DBOTH},
    {"prefixItems", SH_ARR, D2020},
};

static const pc_json_t *get(const pc_json_t *o, const char *k)
{
    return o->type == PC_JSON_OBJECT ? pc_json_get(o, k, strlen(k)) : NULL;
}

/* ---- the node map: tree node address -> what the scan knows ---- */

static size_t ptr_hash(const void *p)
{
    uintptr_t v = (uintptr_t)p;
    v ^= v >> 17;
    v *= 0x9e3779b97f4a7c15ull;
    return (size_t)(v ^ (v >> 29));
}

pc_rinfo_t *pc_cc_rinfo(pc_cc_t *c, const pc_json_t *raw)
{
    if (!c->rcap)
        return NULL;
    for (size_t i = ptr_hash(raw) & (c->rcap - 1);; i = (i + 1) & (c->rcap - 1)) {
        if (!c->rtab[i])
            return NULL;
        if (c->rtab[i]->raw == raw)
            return c->rtab[i];
    }
}

static int rinfo_put(pc_cc_t *c, pc_rinfo_t *ri)
{
    if ((c->rn + 1) * 2 > c->rcap) {
        size_t ncap = c->rcap ? c->rcap * 2 : 64;
        pc_rinfo_t **t = calloc(ncap, sizeof *t);
        if (!t)
            return -1;
        for (size_t i = 0; i < c->rcap; i++) {
            if (!c->rtab[i])
                continue;
            size_t j = ptr_hash(c->rtab[i]->raw) & (ncap - 1);
            while (t[j])
                j = (j + 1) & (ncap - 1);
            t[j] = c->rtab[i];
        }
        free(c->rtab);
        c->rtab = t;
        c->rcap = ncap;
    }
    size_t j = ptr_hash(ri->raw) & (c->rcap - 1);
    while (c->rtab[j])
        j = (j + 1) & (c->rcap - 1);
    c->rtab[j] = ri;
    c->rn++;
    return 0;
}

/* ---- the URI map: absolute URI (with "#anchor" for anchors) -> node ---- */

static size_t str_hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ull;
    return h;
}

static const pc_json_t *uri_get(pc_cc_t *c, const char *uri)
{
    if (!c->ucap)
        return NULL;
    for (size_t i = str_hash(uri) & (c->ucap - 1); c->utab[i].key; i = (i + 1) & (c->ucap - 1))
        if (!strcmp(c->utab[i].key, uri))
            return c->utab[i].raw;
    return NULL;
}

/* The first definition of a URI wins (a document's own "$id" equal to its
 * retrieval URI is the common case). */
static int uri_put(pc_cc_t *c, const char *uri, const pc_json_t *raw)
{
    if (uri_get(c, uri))
        return 0;
    if ((c->un + 1) * 2 > c->ucap) {
        size_t ncap = c->ucap ? c->ucap * 2 : 32;
        pc_udef_t *t = calloc(ncap, sizeof *t);
        if (!t)
            return -1;
        for (size_t i = 0; i < c->ucap; i++) {
            if (!c->utab[i].key)
                continue;
            size_t j = str_hash(c->utab[i].key) & (ncap - 1);
            while (t[j].key)
                j = (j + 1) & (ncap - 1);
            t[j] = c->utab[i];
        }
        free(c->utab);
        c->utab = t;
        c->ucap = ncap;
    }
    size_t j = str_hash(uri) & (c->ucap - 1);
    while (c->utab[j].key)
        j = (j + 1) & (c->ucap - 1);
    c->utab[j].key = strdup(uri);
    if (!c->utab[j].key)
        return -1;
    c->utab[j].raw = raw;
    c->un++;
    return 0;
}

static int anchor_put(pc_cc_t *c, const char *base, const char *name, const pc_json_t *raw)
{
    size_t n = strlen(base) + strlen(name) + 2;
    char *u = malloc(n);
    if (!u)
        return -1;
    snprintf(u, n, "%s#%s", base, name);
    int rc = uri_put(c, u, raw);
    free(u);
    return rc;
}

void pc_cc_maps_free(pc_cc_t *c)
{
    for (size_t i = 0; i < c->ucap; i++)
        free(c->utab[i].key);
    for (size_t i = 0; i < c->rcap; i++)
        free(c->rtab[i]);
    free(c->utab);
    free(c->rtab);
    free(c->dyn);
    free(c->dynref);
    free(c->work);
    free(c->all);
}

/* ---- "$schema": the draft, and the vocabularies of a custom metaschema ---- */

static int draft_of(const char *u)
{
    if (strstr(u, "json-schema.org/draft-07/") || strstr(u, "json-schema.org/draft-06/") ||
        strstr(u, "json-schema.org/draft-04/"))
        return PC_SCHEMA_DRAFT7;
    if (strstr(u, "json-schema.org/draft/2020-12/") || strstr(u, "json-schema.org/draft/2019-09/"))
        return PC_SCHEMA_2020_12;
    return -1;
}

static uint8_t vocab_of(const pc_json_t *voc)
{
    static const struct {
        const char *suffix;
        uint8_t bit;
    } v[] = {{"/vocab/applicator", PC_V_APPL},
             {"/vocab/validation", PC_V_VALID},
             {"/vocab/unevaluated", PC_V_UNEVAL},
             {"/vocab/format-assertion", PC_V_FORMAT}};
    uint8_t bits = 0;
    for (uint32_t i = 0; i < voc->len; i++) {
        const char *k = voc->u.members[i].key;
        size_t kl = voc->u.members[i].klen;
        for (size_t j = 0; j < sizeof v / sizeof v[0]; j++) {
            size_t sl = strlen(v[j].suffix);
            if (kl >= sl && !memcmp(k + kl - sl, v[j].suffix, sl))
                bits |= v[j].bit;
        }
    }
    return bits;
}

static void meta_schema(pc_cc_t *c, const char *uri, int *draft, uint8_t *vocab)
{
    int d = draft_of(uri);
    if (d >= 0) {
        *draft = d;
        *vocab = PC_V_ALL;
        return;
    }
    if (!c->opts->loader || c->loads >= MAX_LOADS)
        return;
    char *u = strdup(uri);
    if (!u)
        return;
    char *h = strchr(u, '#');
    if (h)
        *h = '\0';
    c->loads++;
    const pc_json_t *m = c->opts->loader(c->opts->loader_ud, u);
    free(u);
    if (!m || m->type != PC_JSON_OBJECT)
        return;
    const pc_json_t *ms = get(m, "$schema"), *voc = get(m, "$vocabulary");
    if (ms && ms->type == PC_JSON_STRING && (d = draft_of(ms->u.str)) >= 0)
        *draft = d;
    if (voc && voc->type == PC_JSON_OBJECT)
        *vocab = vocab_of(voc);
}

/* ---- the scan ---- */

typedef struct scan_at {
    const char *base;
    const char *path;
    int draft;
    uint8_t vocab;
    pc_sres_t *res;
    bool root;
} scan_at_t;

static int scan(pc_cc_t *c, const pc_json_t *x, scan_at_t at, unsigned depth);

static pc_sres_t *new_res(pc_cc_t *c, const char *uri)
{
    pc_sres_t *r = pc_sarena_alloc(&c->s->arena, sizeof *r);
    if (r)
        r->uri = uri;
    return r;
}

static int scan_children(pc_cc_t *c, const pc_json_t *x, const scan_at_t *at, unsigned depth)
{
    for (uint32_t i = 0; i < x->len; i++) {
        const pc_json_member_t *m = &x->u.members[i];
        for (size_t j = 0; j < sizeof subs / sizeof subs[0]; j++) {
            if (!(subs[j].drafts & (1u << at->draft)) || strcmp(subs[j].k, m->key))
                continue;
            scan_at_t ch = *at;
            ch.root = false;
            ch.path = pc_cc_path(c, at->path, m->key, m->klen);
            if (!ch.path)
                return -1;
            const pc_json_t *v = m->value;
            uint8_t shape = subs[j].shape;
            if (shape == SH_ONE_OR_ARR)
                shape = v->type == PC_JSON_ARRAY ? SH_ARR : SH_ONE;
            if (shape == SH_ONE) {
                if (scan(c, v, ch, depth + 1) < 0)
                    return -1;
                continue;
            }
            bool map = shape == SH_MAP;
            if (v->type != (map ? PC_JSON_OBJECT : PC_JSON_ARRAY))
                continue; /* the compiler reports it, if it is used */
            for (uint32_t k = 0; k < v->len; k++) {
                scan_at_t g = ch;
                char idx[16];
                int il = snprintf(idx, sizeof idx, "%u", k);
                g.path = map ? pc_cc_path(c, ch.path, v->u.members[k].key, v->u.members[k].klen)
                             : pc_cc_path(c, ch.path, idx, (size_t)il);
                if (!g.path || scan(c, map ? v->u.members[k].value : v->u.items[k], g, depth + 1) < 0)
                    return -1;
            }
        }
    }
    return 0;
}

static int scan_id(pc_cc_t *c, const pc_json_t *x, scan_at_t *at)
{
    const pc_json_t *id = get(x, "$id");
    if (!id || id->type != PC_JSON_STRING)
        return 0;
    if (at->draft == PC_SCHEMA_DRAFT7 && get(x, "$ref"))
        return 0;
    const char *ids = id->u.str;
    if (ids[0] == '#') {
        if (at->draft == PC_SCHEMA_DRAFT7 && ids[1])
            return anchor_put(c, at->base, ids + 1, x);
        return 0;
    }
    char *abs = pc_uri_resolve(at->base, ids);
    if (!abs)
        return -1;
    char *h = strchr(abs, '#');
    if (h)
        *h++ = '\0';
    const char *nb = pc_sarena_strndup(&c->s->arena, abs, strlen(abs));
    int rc = nb ? 0 : -1;
    if (!rc && !(at->res = new_res(c, nb)))
        rc = -1;
    if (!rc)
        rc = uri_put(c, nb, x);
    if (!rc && h && *h && at->draft == PC_SCHEMA_DRAFT7)
        rc = anchor_put(c, nb, h, x);
    at->base = nb;
    free(abs);
    return rc;
}

static int scan_anchors(pc_cc_t *c, const pc_json_t *x, const scan_at_t *at)
{
    const pc_json_t *a = get(x, "$anchor"), *d = get(x, "$dynamicAnchor");
    if (a && a->type == PC_JSON_STRING && anchor_put(c, at->base, a->u.str, x) < 0)
        return -1;
    if (!d || d->type != PC_JSON_STRING)
        return 0;
    if (anchor_put(c, at->base, d->u.str, x) < 0 ||
        pc_cc_grow((void **)&c->dyn, &c->capdyn, c->ndyn, sizeof *c->dyn) < 0)
        return -1;
    c->dyn[c->ndyn++] = (pc_dyndef_t){at->res, d->u.str, x};
    return 0;
}

static int scan(pc_cc_t *c, const pc_json_t *x, scan_at_t at, unsigned depth)
{
    if (depth > SCAN_MAX_DEPTH)
        return pc_cc_fail(c, at.path, NULL, "schema nested too deeply");
    if (x->type != PC_JSON_OBJECT && x->type != PC_JSON_TRUE && x->type != PC_JSON_FALSE)
        return 0;
    if (pc_cc_rinfo(c, x))
        return 0;
    if (x->type == PC_JSON_OBJECT) {
        const pc_json_t *sch = get(x, "$schema"), *id = get(x, "$id");
        if (sch && sch->type == PC_JSON_STRING && (at.root || (id && id->type == PC_JSON_STRING)))
            meta_schema(c, sch->u.str, &at.draft, &at.vocab);
        if (scan_id(c, x, &at) < 0)
            return -1;
    }
    if (!at.res && !(at.res = new_res(c, at.base)))
        return -1;
    pc_rinfo_t *ri = calloc(1, sizeof *ri);
    if (!ri)
        return -1;
    *ri = (pc_rinfo_t){x, at.base, at.path, (uint8_t)at.draft, at.vocab, at.res, NULL};
    if (rinfo_put(c, ri) < 0) {
        free(ri);
        return -1;
    }
    if (x->type != PC_JSON_OBJECT)
        return 0;
    if (at.draft == PC_SCHEMA_2020_12 && scan_anchors(c, x, &at) < 0)
        return -1;
    return scan_children(c, x, &at, depth);
}

int pc_cc_scan_doc(pc_cc_t *c, const pc_json_t *doc, const char *uri, int draft)
{
    const char *u = pc_sarena_strndup(&c->s->arena, uri, strlen(uri));
    const char *path = u;
    if (u && strcmp(uri, c->root_uri)) {
        size_t n = strlen(uri) + 2;
        char *p = pc_sarena_alloc(&c->s->arena, n);
        if (p)
            snprintf(p, n, "%s#", uri);
        path = p;
    } else {
        path = "";
    }
    if (!u || !path || uri_put(c, u, doc) < 0)
        return -1;
    scan_at_t at = {u, path, draft, PC_V_ALL, NULL, true};
    return scan(c, doc, at, 0);
}

/* ---- "$ref" ---- */

static const pc_json_t *doc_for(pc_cc_t *c, const char *uri)
{
    const pc_json_t *raw = uri_get(c, uri);
    if (raw || !c->opts->loader || c->loads >= MAX_LOADS)
        return raw;
    c->loads++;
    const pc_json_t *doc = c->opts->loader(c->opts->loader_ud, uri);
    if (!doc || pc_cc_scan_doc(c, doc, uri, c->opts->default_draft) < 0)
        return NULL;
    return uri_get(c, uri);
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch |= 0x20;
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Percent-decodes s in place. */
static void pct_decode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        int h, l;
        if (*s == '%' && (h = hexval(s[1])) >= 0 && (l = hexval(s[2])) >= 0) {
            *o++ = (char)(h * 16 + l);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

/* Follows the JSON pointer ptr (percent-decoded, starts with '/') from x;
 * *last is the deepest scanned subschema on the way. */
static const pc_json_t *walk(pc_cc_t *c, const pc_json_t *x, char *ptr, pc_rinfo_t **last)
{
    *last = pc_cc_rinfo(c, x);
    while (x && *ptr == '/') {
        char *tok = ++ptr, *o = tok;
        while (*ptr && *ptr != '/') {
            if (*ptr == '~' && (ptr[1] == '0' || ptr[1] == '1')) {
                *o++ = ptr[1] == '0' ? '~' : '/';
                ptr += 2;
            } else {
                *o++ = *ptr++;
            }
        }
        size_t tl = (size_t)(o - tok);
        char save = *ptr;
        if (x->type == PC_JSON_OBJECT) {
            x = pc_json_get(x, tok, tl);
        } else if (x->type == PC_JSON_ARRAY) {
            char *end;
            *o = '\0';
            unsigned long i = strtoul(tok, &end, 10);
            x = (end != tok && !*end && i < x->len) ? x->u.items[i] : NULL;
        } else {
            x = NULL;
        }
        *ptr = save;
        pc_rinfo_t *r = x ? pc_cc_rinfo(c, x) : NULL;
        if (r)
            *last = r;
    }
    return x;
}

pc_snode_t *pc_cc_resolve(pc_cc_t *c, const pc_rinfo_t *ri, const char *kwpath, const char *ref)
{
    char *abs = pc_uri_resolve(ri->base, ref);
    if (!abs) {
        pc_cc_fail(c, ri->path, kwpath, "out of memory");
        return NULL;
    }
    char *h = strchr(abs, '#');
    const pc_json_t *raw;
    pc_rinfo_t *last = NULL;
    char *tpath = NULL; /* the target's location, for a target not scanned */
    if (!h || !h[1] || h[1] == '/') {
        if (h)
            *h++ = '\0';
        raw = doc_for(c, abs);
        const pc_rinfo_t *rr = raw ? pc_cc_rinfo(c, raw) : NULL;
        if (rr && h && *h) {
            pct_decode(h);
            size_t n = strlen(rr->path) + strlen(h) + 1;
            if ((tpath = pc_sarena_alloc(&c->s->arena, n)))
                snprintf(tpath, n, "%s%s", rr->path, h);
            raw = walk(c, raw, h, &last);
        }
    } else {
        *h = '\0';
        doc_for(c, abs); /* loads the document the anchor is in */
        *h = '#';
        raw = uri_get(c, abs);
    }
    free(abs);
    if (!raw) {
        pc_cc_fail(c, ri->path, kwpath, "cannot resolve \"%.60s\"", ref);
        return NULL;
    }
    pc_rinfo_t *t = pc_cc_rinfo(c, raw);
    if (!t && last && tpath) {
        /* a pointer into a place the scan did not visit (an unknown
         * keyword): a schema there, in the enclosing resource */
        scan_at_t at = {last->base, tpath, last->draft, last->vocab, last->res, false};
        if (scan(c, raw, at, 0) < 0)
            return NULL;
        t = pc_cc_rinfo(c, raw);
    }
    if (!t) {
        pc_cc_fail(c, ri->path, kwpath, "\"%.60s\" is not a schema", ref);
        return NULL;
    }
    return pc_cc_node(c, t);
}

const char *pc_cc_dyn_anchor(pc_cc_t *c, const pc_rinfo_t *ri, const char *ref)
{
    char *abs = pc_uri_resolve(ri->base, ref);
    if (!abs)
        return NULL;
    const char *h = strchr(abs, '#');
    const pc_json_t *raw = h && h[1] && h[1] != '/' ? uri_get(c, abs) : NULL;
    const pc_json_t *d = raw ? get(raw, "$dynamicAnchor") : NULL;
    const char *name = NULL;
    if (d && d->type == PC_JSON_STRING && !strcmp(d->u.str, h + 1))
        name = pc_sarena_strndup(&c->s->arena, h + 1, strlen(h + 1));
    free(abs);
    if (name && pc_cc_grow((void **)&c->dynref, &c->capdynref, c->ndynref, sizeof *c->dynref) == 0)
        c->dynref[c->ndynref++] = name;
    return name;
}
