/* plugins/schema/schema_compile.c: keywords into compiled nodes (see
 * schema_int.h for the layout, schema_cc.h for the steps).
 *
 * Each keyword's value is checked here, once, and refused with its schema
 * location; the validator then trusts the compiled form. Keywords that
 * work together (properties/patternProperties/additionalProperties/
 * propertyNames/required; prefixItems/items; contains/minContains/
 * maxContains; if/then/else) become one compiled keyword each, so the
 * instance is walked once for them.
 */
#include "schema_cc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KW 48

typedef struct kb {
    pc_skw_t k[MAX_KW];
    unsigned n;
} kb_t;

static const pc_json_t *get(const pc_json_t *o, const char *k)
{
    return pc_json_get(o, k, strlen(k));
}

static pc_skw_t *kw_add(kb_t *b, uint8_t op, uint8_t on, const char *kw)
{
    if (b->n == MAX_KW)
        return NULL;
    pc_skw_t *k = &b->k[b->n++];
    memset(k, 0, sizeof *k);
    k->op = op;
    k->on = on;
    k->kw = kw;
    return k;
}

pc_snode_t *pc_cc_node(pc_cc_t *c, pc_rinfo_t *ri)
{
    if (ri->node)
        return ri->node;
    pc_snode_t *n = pc_sarena_alloc(&c->s->arena, sizeof *n);
    if (!n || pc_cc_grow((void **)&c->work, &c->capwork, c->nwork, sizeof *c->work) < 0 ||
        pc_cc_grow((void **)&c->all, &c->capall, c->nall, sizeof *c->all) < 0) {
        pc_cc_fail(c, ri->path, NULL, "out of memory");
        return NULL;
    }
    n->path = ri->path;
    n->res = ri->res;
    n->id = (uint32_t)c->nall;
    c->all[c->nall++] = n;
    c->work[c->nwork++] = ri;
    ri->node = n;
    return n;
}

/* The compiled subschema v found under keyword kw (kwpath for messages);
 * fkw/fmsg say what a false schema there reports. */
static const pc_snode_t *child(pc_cc_t *c, const pc_rinfo_t *ri, const char *kwpath, const pc_json_t *v,
                               const char *fkw, const char *fmsg)
{
    if (v->type != PC_JSON_OBJECT && v->type != PC_JSON_TRUE && v->type != PC_JSON_FALSE) {
        pc_cc_fail(c, ri->path, kwpath, "must be a schema (object or boolean)");
        return NULL;
    }
    pc_rinfo_t *r = pc_cc_rinfo(c, v);
    if (!r) {
        pc_cc_fail(c, ri->path, kwpath, "not reachable as a schema");
        return NULL;
    }
    pc_snode_t *n = pc_cc_node(c, r);
    if (n && v->type == PC_JSON_FALSE && !n->fkw) {
        n->fkw = fkw;
        n->fmsg = fmsg;
    }
    return n;
}

/* A deep copy into the arena (the caller's tree need not outlive us). */
static const pc_json_t *jcopy(pc_cc_t *c, const pc_json_t *x, unsigned depth)
{
    pc_sarena_t *a = &c->s->arena;
    pc_json_t *y = pc_sarena_alloc(a, sizeof *y);
    if (!y || depth > 256)
        return NULL;
    *y = *x;
    switch (x->type) {
    case PC_JSON_STRING:
        if (!(y->u.str = pc_sarena_strndup(a, x->u.str, x->len)))
            return NULL;
        break;
    case PC_JSON_NUMBER:
        if (!(y->u.num.text = pc_sarena_strndup(a, x->u.num.text, x->len)))
            return NULL;
        break;
    case PC_JSON_ARRAY: {
        const pc_json_t **it = pc_sarena_alloc(a, (x->len + 1) * sizeof *it);
        if (!it)
            return NULL;
        for (uint32_t i = 0; i < x->len; i++)
            if (!(it[i] = jcopy(c, x->u.items[i], depth + 1)))
                return NULL;
        y->u.items = it;
        break;
    }
    case PC_JSON_OBJECT: {
        /* a large object's sorted index follows its members (json_read.h) */
        size_t idx = x->len > PC_JSON_INDEX_MIN ? x->len * sizeof(uint32_t) : 0;
        pc_json_member_t *m = pc_sarena_alloc(a, (x->len + 1) * sizeof *m + idx);
        if (!m)
            return NULL;
        if (idx)
            memcpy(m + x->len, x->u.members + x->len, idx);
        for (uint32_t i = 0; i < x->len; i++) {
            m[i] = x->u.members[i];
            if (!(m[i].key = pc_sarena_strndup(a, m[i].key, m[i].klen)) ||
                !(m[i].value = jcopy(c, x->u.members[i].value, depth + 1)))
                return NULL;
        }
        y->u.members = m;
        break;
    }
    default:
        break;
    }
    return y;
}

static int oom(pc_cc_t *c, const pc_rinfo_t *ri)
{
    return pc_cc_fail(c, ri->path, NULL, "out of memory");
}

/* ---- simple keywords ---- */

static int get_count(pc_cc_t *c, const pc_rinfo_t *ri, const char *kw, const pc_json_t *v, uint64_t *out)
{
    if (v->type != PC_JSON_NUMBER || (v->num_flags & PC_JSON_NUM_NEG && v->u.num.d != 0) ||
        !pc_json_num_is_integer(v))
        return pc_cc_fail(c, ri->path, kw, "must be a non-negative integer");
    if (v->num_flags & PC_JSON_NUM_I64)
        *out = (uint64_t)v->u.num.i;
    else
        *out = v->u.num.d >= 1.8e19 ? UINT64_MAX : (uint64_t)v->u.num.d;
    return 0;
}

static int kw_type(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b, const pc_json_t *v, const char *kw)
{
    static const struct {
        const char *name;
        uint16_t bit;
    } t[] = {{"null", PC_T_NULL},   {"boolean", PC_T_BOOL}, {"number", PC_T_NUM}, {"integer", PC_T_INT},
             {"string", PC_T_STR},  {"array", PC_T_ARR},    {"object", PC_T_OBJ}};
    (void)b;
    uint32_t n = v->type == PC_JSON_ARRAY ? v->len : 1;
    uint16_t mask = PC_T_SET;
    for (uint32_t i = 0; i < n; i++) {
        const pc_json_t *e = v->type == PC_JSON_ARRAY ? v->u.items[i] : v;
        size_t j = 0;
        while (j < sizeof t / sizeof t[0] && (e->type != PC_JSON_STRING || strcmp(e->u.str, t[j].name)))
            j++;
        if (j == sizeof t / sizeof t[0])
            return pc_cc_fail(c, ri->path, kw, "must be a type name or a list of them");
        mask |= t[j].bit;
    }
    ri->node->types = mask;
    return 0;
}

static int kw_enum(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b, const pc_json_t *v, const char *kw)
{
    bool is_const = !strcmp(kw, "const");
    if (!is_const && v->type != PC_JSON_ARRAY)
        return pc_cc_fail(c, ri->path, kw, "must be an array");
    pc_skw_t *k = kw_add(b, is_const ? PC_K_CONST : PC_K_ENUM, 0, is_const ? "const" : "enum");
    const pc_json_t *cp = k ? jcopy(c, v, 0) : NULL;
    if (!cp)
        return oom(c, ri);
    k->u.vals.v = cp->u.items;
    if (is_const) {
        const pc_json_t **one = pc_sarena_alloc(&c->s->arena, sizeof *one);
        if (!one)
            return oom(c, ri);
        one[0] = cp;
        k->u.vals.v = one;
    }
    k->u.vals.n = is_const ? 1 : cp->len;
    return 0;
}

static bool num_positive(const pc_json_t *v)
{
    if (v->num_flags & PC_JSON_NUM_NEG)
        return false;
    for (uint32_t i = 0; i < v->len; i++) {
        char ch = v->u.num.text[i];
        if (ch == 'e' || ch == 'E')
            break;
        if (ch >= '1' && ch <= '9')
            return true;
    }
    return false;
}

static int kw_num(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b, const pc_json_t *v, const char *kw)
{
    static const struct {
        const char *name;
        uint8_t op;
    } t[] = {{"multipleOf", PC_K_MULOF}, {"maximum", PC_K_MAX},  {"exclusiveMaximum", PC_K_XMAX},
             {"minimum", PC_K_MIN},      {"exclusiveMinimum", PC_K_XMIN}};
    size_t j = 0;
    while (strcmp(t[j].name, kw))
        j++;
    if (v->type != PC_JSON_NUMBER)
        return pc_cc_fail(c, ri->path, kw, "must be a number");
    if (t[j].op == PC_K_MULOF && !num_positive(v))
        return pc_cc_fail(c, ri->path, kw, "must be a number > 0");
    pc_skw_t *k = kw_add(b, t[j].op, PC_T_NUM, t[j].name);
    if (!k || !(k->u.num = jcopy(c, v, 0)))
        return oom(c, ri);
    if (t[j].op == PC_K_MULOF)
        k->u.mul.fast = pc_dec_parse(v->u.num.text, v->len, &k->u.mul.m, &k->u.mul.e) && k->u.mul.m;
    return 0;
}

static int kw_count(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b, const pc_json_t *v, const char *kw)
{
    static const struct {
        const char *name;
        uint8_t op, on;
    } t[] = {{"maxLength", PC_K_MAXLEN, PC_T_STR},  {"minLength", PC_K_MINLEN, PC_T_STR},
             {"maxItems", PC_K_MAXITEMS, PC_T_ARR}, {"minItems", PC_K_MINITEMS, PC_T_ARR},
             {"maxProperties", PC_K_MAXPROPS, PC_T_OBJ}, {"minProperties", PC_K_MINPROPS, PC_T_OBJ}};
    size_t j = 0;
    while (strcmp(t[j].name, kw))
        j++;
    uint64_t n;
    if (get_count(c, ri, kw, v, &n) < 0)
        return -1;
    pc_skw_t *k = kw_add(b, t[j].op, t[j].on, t[j].name);
    if (!k)
        return oom(c, ri);
    k->u.n = n;
    return 0;
}

static pc_regex_t *regex(pc_cc_t *c, const pc_rinfo_t *ri, const char *kwpath, const pc_json_t *v)
{
    char e[128] = "";
    uint32_t ml = c->opts->regex_match_limit ? c->opts->regex_match_limit : 100000;
    uint32_t dl = c->opts->regex_depth_limit ? c->opts->regex_depth_limit : 1000;
    if (pc_cc_grow((void **)&c->s->regex, &c->capregex, c->s->nregex, sizeof *c->s->regex) < 0) {
        oom(c, ri);
        return NULL;
    }
    pc_regex_t *re = pc_regex_compile(v->u.str, v->len, ml, dl, e, sizeof e);
    if (!re) {
        pc_cc_fail(c, ri->path, kwpath, "invalid regular expression: %s", e);
        return NULL;
    }
    c->s->regex[c->s->nregex++] = re;
    return re;
}

static int kw_pattern(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b, const pc_json_t *v, const char *kw)
{
    if (v->type != PC_JSON_STRING)
        return pc_cc_fail(c, ri->path, kw, "must be a string");
    pc_skw_t *k = kw_add(b, PC_K_PATTERN, PC_T_STR, "pattern");
    if (!k || !(k->u.pat.src = pc_sarena_strndup(&c->s->arena, v->u.str, v->len)))
        return oom(c, ri);
    return (k->u.pat.re = regex(c, ri, kw, v)) ? 0 : -1;
}

static int kw_format(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b, const pc_json_t *v, const char *kw)
{
    if (v->type != PC_JSON_STRING)
        return pc_cc_fail(c, ri->path, kw, "must be a string");
    pc_format_t f = pc_format_lookup(v->u.str);
    if (!(c->opts->formats || (ri->vocab & PC_V_FORMAT)) || f == PC_FORMAT_UNKNOWN)
        return 0;
    pc_skw_t *k = kw_add(b, PC_K_FORMAT, PC_T_STR, "format");
    if (!k || !(k->u.fmt.name = pc_sarena_strndup(&c->s->arena, v->u.str, v->len)))
        return oom(c, ri);
    k->u.fmt.f = f;
    return 0;
}

static int kw_unique(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b, const pc_json_t *v, const char *kw)
{
    if (v->type != PC_JSON_TRUE && v->type != PC_JSON_FALSE)
        return pc_cc_fail(c, ri->path, kw, "must be a boolean");
    if (v->type == PC_JSON_TRUE && !kw_add(b, PC_K_UNIQUE, PC_T_ARR, "uniqueItems"))
        return oom(c, ri);
    return 0;
}

static int kw_not(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b, const pc_json_t *v, const char *kw)
{
    pc_skw_t *k = kw_add(b, PC_K_NOT, 0, "not");
    if (!k)
        return oom(c, ri);
    return (k->u.one = child(c, ri, kw, v, "false", "is not allowed")) ? 0 : -1;
}

static int kw_list(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b, const pc_json_t *v, const char *kw)
{
    uint8_t op = !strcmp(kw, "allOf") ? PC_K_ALLOF : !strcmp(kw, "anyOf") ? PC_K_ANYOF : PC_K_ONEOF;
    const char *name = op == PC_K_ALLOF ? "allOf" : op == PC_K_ANYOF ? "anyOf" : "oneOf";
    if (v->type != PC_JSON_ARRAY || v->len == 0)
        return pc_cc_fail(c, ri->path, kw, "must be a non-empty array of schemas");
    pc_skw_t *k = kw_add(b, op, 0, name);
    const pc_snode_t **s = k ? pc_sarena_alloc(&c->s->arena, v->len * sizeof *s) : NULL;
    if (!s)
        return oom(c, ri);
    for (uint32_t i = 0; i < v->len; i++) {
        char p[64];
        snprintf(p, sizeof p, "%s/%u", name, i);
        if (!(s[i] = child(c, ri, p, v->u.items[i], "false", "is not allowed")))
            return -1;
    }
    k->u.list.s = s;
    k->u.list.n = v->len;
    return 0;
}

static int kw_ref(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b, const pc_json_t *v, const char *kw)
{
    if (v->type != PC_JSON_STRING)
        return pc_cc_fail(c, ri->path, kw, "must be a string");
    bool dyn = !strcmp(kw, "$dynamicRef");
    pc_skw_t *k = kw_add(b, dyn ? PC_K_DYNREF : PC_K_REF, 0, dyn ? "$dynamicRef" : "$ref");
    if (!k)
        return oom(c, ri);
    const pc_snode_t *t = pc_cc_resolve(c, ri, kw, v->u.str);
    if (!t)
        return -1;
    if (!dyn) {
        k->u.one = t;
        return 0;
    }
    pc_sdyn_t *d = pc_sarena_alloc(&c->s->arena, sizeof *d);
    if (!d)
        return oom(c, ri);
    d->target = t;
    d->anchor = pc_cc_dyn_anchor(c, ri, v->u.str);
    if (d->anchor)
        c->s->has_dyn = true;
    k->u.dyn = d;
    return 0;
}

static int kw_uneval(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b, const pc_json_t *v, const char *kw)
{
    bool props = !strcmp(kw, "unevaluatedProperties");
    pc_skw_t *k = kw_add(b, PC_K_UNEVAL, props ? PC_T_OBJ : PC_T_ARR, props ? "unevaluatedProperties" : "unevaluatedItems");
    if (!k)
        return oom(c, ri);
    ri->node->uneval |= props ? PC_T_OBJ : PC_T_ARR;
    k->u.one = child(c, ri, kw, v, k->kw,
                     props ? "must not have unevaluated properties" : "must not have unevaluated items");
    return k->u.one ? 0 : -1;
}

/* ---- keywords that work together ---- */

static int string_list(pc_cc_t *c, const pc_rinfo_t *ri, const char *kw, const pc_json_t *v, const char ***names,
                       uint32_t **lens)
{
    if (v->type != PC_JSON_ARRAY)
        return pc_cc_fail(c, ri->path, kw, "must be an array of strings");
    *names = pc_sarena_alloc(&c->s->arena, (v->len + 1) * sizeof **names);
    *lens = pc_sarena_alloc(&c->s->arena, (v->len + 1) * sizeof **lens);
    if (!*names || !*lens)
        return oom(c, ri);
    for (uint32_t i = 0; i < v->len; i++) {
        const pc_json_t *e = v->u.items[i];
        if (e->type != PC_JSON_STRING)
            return pc_cc_fail(c, ri->path, kw, "must be an array of strings");
        if (!((*names)[i] = pc_sarena_strndup(&c->s->arena, e->u.str, e->len)))
            return oom(c, ri);
        (*lens)[i] = e->len;
    }
    return 0;
}

static pc_sprop_t *prop_slot(pc_sprops_t *p, const char *key, uint32_t klen)
{
    uint32_t h = pc_json_key_hash(key, klen);
    for (uint32_t i = h & p->mask;; i = (i + 1) & p->mask) {
        pc_sprop_t *e = &p->tab[i];
        if (!e->key) {
            e->khash = h;
            e->klen = klen;
            e->req = -1;
            return e;
        }
        if (e->khash == h && e->klen == klen && !memcmp(e->key, key, klen))
            return e;
    }
}

static int props_names(pc_cc_t *c, pc_rinfo_t *ri, pc_sprops_t *p, const pc_json_t *P, const pc_json_t *R)
{
    uint32_t n = (P ? P->len : 0) + (R ? R->len : 0), size = 4;
    while (size < 2 * n)
        size *= 2;
    if (!(p->tab = pc_sarena_alloc(&c->s->arena, size * sizeof *p->tab)))
        return oom(c, ri);
    p->mask = size - 1;
    for (uint32_t i = 0; P && i < P->len; i++) {
        const pc_json_member_t *m = &P->u.members[i];
        pc_sprop_t *e = prop_slot(p, m->key, m->klen);
        char kp[160];
        snprintf(kp, sizeof kp, "properties/%s", m->key);
        if (!e->key && !(e->key = pc_sarena_strndup(&c->s->arena, m->key, m->klen)))
            return oom(c, ri);
        if (!(e->s = child(c, ri, kp, m->value, "false", "is not allowed")))
            return -1;
    }
    if (R && string_list(c, ri, "required", R, &p->req, &p->reqlen) < 0)
        return -1;
    for (uint32_t i = 0; R && i < R->len; i++) {
        pc_sprop_t *e = prop_slot(p, p->req[i], p->reqlen[i]);
        if (!e->key)
            e->key = p->req[i];
        if (e->req < 0 && p->nreq < 64)
            e->req = (int32_t)p->nreq;
        else if (e->req >= 0)
            continue; /* a repeated name */
        p->req[p->nreq] = p->req[i];
        p->reqlen[p->nreq++] = p->reqlen[i];
    }
    return 0;
}

static int g_props(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b)
{
    const pc_json_t *x = ri->raw, *P = NULL, *PP = NULL, *A = NULL, *N = NULL, *R = NULL;
    if (ri->vocab & PC_V_APPL) {
        P = get(x, "properties");
        PP = get(x, "patternProperties");
        A = get(x, "additionalProperties");
        N = get(x, "propertyNames");
    }
    if (ri->vocab & PC_V_VALID)
        R = get(x, "required");
    if (!P && !PP && !A && !N && !R)
        return 0;
    if ((P && P->type != PC_JSON_OBJECT) || (PP && PP->type != PC_JSON_OBJECT))
        return pc_cc_fail(c, ri->path, P && P->type != PC_JSON_OBJECT ? "properties" : "patternProperties",
                          "must be an object of schemas");
    pc_sprops_t *p = pc_sarena_alloc(&c->s->arena, sizeof *p);
    pc_skw_t *k = p ? kw_add(b, PC_K_PROPS, PC_T_OBJ, "properties") : NULL;
    if (!k)
        return oom(c, ri);
    k->u.props = p;
    if ((P || R) && props_names(c, ri, p, P, R) < 0)
        return -1;
    if (PP && PP->len) {
        if (!(p->pat = pc_sarena_alloc(&c->s->arena, PP->len * sizeof *p->pat)))
            return oom(c, ri);
        for (uint32_t i = 0; i < PP->len; i++) {
            const pc_json_member_t *m = &PP->u.members[i];
            pc_json_t key = {.type = PC_JSON_STRING, .len = m->klen, .u.str = m->key};
            char kp[160];
            snprintf(kp, sizeof kp, "patternProperties/%s", m->key);
            if (!(p->pat[i].re = regex(c, ri, kp, &key)) ||
                !(p->pat[i].s = child(c, ri, kp, m->value, "false", "is not allowed")))
                return -1;
        }
        p->npat = PP->len;
    }
    if (A && !(p->addl = child(c, ri, "additionalProperties", A, "additionalProperties",
                               "must not have additional properties")))
        return -1;
    if (N && !(p->names = child(c, ri, "propertyNames", N, "propertyNames", "property name is not allowed")))
        return -1;
    return 0;
}

static int g_items(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b)
{
    const pc_json_t *x = ri->raw, *pre, *rest;
    if (!(ri->vocab & PC_V_APPL))
        return 0;
    const char *pre_kw = "prefixItems", *rest_kw = "items";
    if (ri->draft == PC_SCHEMA_DRAFT7) {
        pre = get(x, "items");
        rest = pre && pre->type == PC_JSON_ARRAY ? get(x, "additionalItems") : NULL;
        pre_kw = "items";
        rest_kw = "additionalItems";
        if (pre && pre->type != PC_JSON_ARRAY) {
            rest = pre;
            rest_kw = "items";
            pre = NULL;
        }
    } else {
        pre = get(x, "prefixItems");
        rest = get(x, "items");
        if (pre && (pre->type != PC_JSON_ARRAY || !pre->len))
            return pc_cc_fail(c, ri->path, "prefixItems", "must be a non-empty array of schemas");
    }
    if (!pre && !rest)
        return 0;
    pc_sitems_t *it = pc_sarena_alloc(&c->s->arena, sizeof *it);
    pc_skw_t *k = it ? kw_add(b, PC_K_ITEMS, PC_T_ARR, rest_kw) : NULL;
    if (!k)
        return oom(c, ri);
    k->u.items = it;
    if (pre) {
        if (!(it->prefix = pc_sarena_alloc(&c->s->arena, pre->len * sizeof *it->prefix)))
            return oom(c, ri);
        for (uint32_t i = 0; i < pre->len; i++) {
            char kp[64];
            snprintf(kp, sizeof kp, "%s/%u", pre_kw, i);
            if (!(it->prefix[i] = child(c, ri, kp, pre->u.items[i], "false", "is not allowed")))
                return -1;
        }
        it->nprefix = pre->len;
    }
    if (rest && !(it->rest = child(c, ri, rest_kw, rest, rest_kw, "must not have more items")))
        return -1;
    return 0;
}

static int g_contains(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b)
{
    const pc_json_t *x = ri->raw, *v = get(x, "contains"), *mn = NULL, *mx = NULL;
    if (!v || !(ri->vocab & PC_V_APPL))
        return 0;
    pc_scontains_t *ct = pc_sarena_alloc(&c->s->arena, sizeof *ct);
    pc_skw_t *k = ct ? kw_add(b, PC_K_CONTAINS, PC_T_ARR, "contains") : NULL;
    if (!k)
        return oom(c, ri);
    k->u.contains = ct;
    ct->min = 1;
    ct->max = UINT64_MAX;
    if (ri->draft == PC_SCHEMA_2020_12 && (ri->vocab & PC_V_VALID)) {
        mn = get(x, "minContains");
        mx = get(x, "maxContains");
    }
    if ((mn && get_count(c, ri, "minContains", mn, &ct->min) < 0) ||
        (mx && get_count(c, ri, "maxContains", mx, &ct->max) < 0))
        return -1;
    return (ct->s = child(c, ri, "contains", v, "false", "is not allowed")) ? 0 : -1;
}

static int g_if(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b)
{
    const pc_json_t *x = ri->raw, *v = get(x, "if"), *t = get(x, "then"), *e = get(x, "else");
    if (!v || !(ri->vocab & PC_V_APPL))
        return 0;
    pc_sif_t *f = pc_sarena_alloc(&c->s->arena, sizeof *f);
    pc_skw_t *k = f ? kw_add(b, PC_K_IF, 0, "if") : NULL;
    if (!k)
        return oom(c, ri);
    k->u.ifs = f;
    if (!(f->cond = child(c, ri, "if", v, "false", "is not allowed")) ||
        (t && !(f->then_ = child(c, ri, "then", t, "then", "is not allowed"))) ||
        (e && !(f->else_ = child(c, ri, "else", e, "else", "is not allowed"))))
        return -1;
    return 0;
}

/* dependentRequired, dependentSchemas, or draft-07 "dependencies" (both
 * kinds, told apart by their values). */
static int g_deps(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b, const char *kw, bool req, bool sch)
{
    const pc_json_t *v = get(ri->raw, kw);
    if (!v)
        return 0;
    if (v->type != PC_JSON_OBJECT)
        return pc_cc_fail(c, ri->path, kw, "must be an object");
    pc_sdep_t *r = pc_sarena_alloc(&c->s->arena, (v->len + 1) * sizeof *r);
    pc_sdep_t *s = pc_sarena_alloc(&c->s->arena, (v->len + 1) * sizeof *s);
    if (!r || !s)
        return oom(c, ri);
    uint32_t nr = 0, ns = 0;
    for (uint32_t i = 0; i < v->len; i++) {
        const pc_json_member_t *m = &v->u.members[i];
        char kp[160];
        snprintf(kp, sizeof kp, "%s/%s", kw, m->key);
        bool is_list = m->value->type == PC_JSON_ARRAY;
        if ((is_list && !req) || (!is_list && !sch))
            return pc_cc_fail(c, ri->path, kp, is_list ? "must be a schema" : "must be an array of strings");
        pc_sdep_t *d = is_list ? &r[nr++] : &s[ns++];
        if (!(d->key = pc_sarena_strndup(&c->s->arena, m->key, m->klen)))
            return oom(c, ri);
        d->klen = m->klen;
        if (is_list && string_list(c, ri, kp, m->value, &d->names, &d->lens) < 0)
            return -1;
        d->n = is_list ? m->value->len : 0;
        if (!is_list && !(d->s = child(c, ri, kp, m->value, "false", "is not allowed")))
            return -1;
    }
    pc_skw_t *k;
    if (nr) {
        if (!(k = kw_add(b, PC_K_DEPREQ, PC_T_OBJ, req && sch ? "dependencies" : "dependentRequired")))
            return oom(c, ri);
        k->u.deps.d = r;
        k->u.deps.n = nr;
    }
    if (ns) {
        if (!(k = kw_add(b, PC_K_DEPSCH, PC_T_OBJ, req && sch ? "dependencies" : "dependentSchemas")))
            return oom(c, ri);
        k->u.deps.d = s;
        k->u.deps.n = ns;
    }
    return 0;
}

/* ---- one node ---- */

enum { D2020 = 1u << PC_SCHEMA_2020_12, D7 = 1u << PC_SCHEMA_DRAFT7, DBOTH = D2020 | D7 };

typedef int (*kw_fn)(pc_cc_t *, pc_rinfo_t *, kb_t *, const pc_json_t *, const char *);

static const struct {
    const char *name;
    uint8_t drafts, vocab;
    kw_fn fn;
} simple[] = {
    {"type", DBOTH, PC_V_VALID, kw_type},
    {"enum", DBOTH, PC_V_VALID, kw_enum},
    {"const", DBOTH, PC_V_VALID, kw_enum},
    {"multipleOf", DBOTH, PC_V_VALID, kw_num},
    {"maximum", DBOTH, PC_V_VALID, kw_num},
    {"exclusiveMaximum", DBOTH, PC_V_VALID, kw_num},
    {"minimum", DBOTH, PC_V_VALID, kw_num},
    {"exclusiveMinimum", DBOTH, PC_V_VALID, kw_num},
    {"maxLength", DBOTH, PC_V_VALID, kw_count},
    {"minLength", DBOTH, PC_V_VALID, kw_count},
    {"maxItems", DBOTH, PC_V_VALID, kw_count},
    {"minItems", DBOTH, PC_V_VALID, kw_count},
    {"maxProperties", DBOTH, PC_V_VALID, kw_count},
    {"minProperties", DBOTH, PC_V_VALID, kw_count},
    {"pattern", DBOTH, PC_V_VALID, kw_pattern},
    {"format", DBOTH, 0, kw_format},
    {"uniqueItems", DBOTH, PC_V_VALID, kw_unique},
    {"not", DBOTH, PC_V_APPL, kw_not},
    {"allOf", DBOTH, PC_V_APPL, kw_list},
    {"anyOf", DBOTH, PC_V_APPL, kw_list},
    {"oneOf", DBOTH, PC_V_APPL, kw_list},
    {"$dynamicRef", D2020, 0, kw_ref},
    {"unevaluatedProperties", D2020, PC_V_UNEVAL, kw_uneval},
    {"unevaluatedItems", D2020, PC_V_UNEVAL, kw_uneval},
};

static int groups(pc_cc_t *c, pc_rinfo_t *ri, kb_t *b)
{
    bool d7 = ri->draft == PC_SCHEMA_DRAFT7;
    if (g_props(c, ri, b) < 0 || g_items(c, ri, b) < 0 || g_contains(c, ri, b) < 0 || g_if(c, ri, b) < 0)
        return -1;
    if (d7)
        return (ri->vocab & PC_V_APPL) ? g_deps(c, ri, b, "dependencies", true, true) : 0;
    if ((ri->vocab & PC_V_VALID) && g_deps(c, ri, b, "dependentRequired", true, false) < 0)
        return -1;
    /* draft-07's "dependencies", still common in 2020-12 schemas */
    if ((ri->vocab & PC_V_APPL) && g_deps(c, ri, b, "dependencies", true, true) < 0)
        return -1;
    return (ri->vocab & PC_V_APPL) ? g_deps(c, ri, b, "dependentSchemas", false, true) : 0;
}

static int fill(pc_cc_t *c, pc_rinfo_t *ri)
{
    pc_snode_t *n = ri->node;
    const pc_json_t *x = ri->raw;
    if (x->type != PC_JSON_OBJECT) {
        n->kind = x->type == PC_JSON_TRUE ? PC_SN_TRUE : PC_SN_FALSE;
        if (!n->fkw) {
            n->fkw = "false";
            n->fmsg = "is not allowed";
        }
        return 0;
    }
    kb_t b;
    b.n = 0;
    const pc_json_t *ref = get(x, "$ref");
    if (ref && kw_ref(c, ri, &b, ref, "$ref") < 0)
        return -1;
    if (!(ref && ri->draft == PC_SCHEMA_DRAFT7)) {
        uint8_t dbit = (uint8_t)(1u << ri->draft);
        for (uint32_t i = 0; i < x->len; i++) {
            const char *key = x->u.members[i].key;
            for (size_t j = 0; j < sizeof simple / sizeof simple[0]; j++) {
                if (!(simple[j].drafts & dbit) || (simple[j].vocab & ~ri->vocab) || strcmp(simple[j].name, key))
                    continue;
                if (simple[j].fn(c, ri, &b, x->u.members[i].value, simple[j].name) < 0)
                    return -1;
            }
        }
        if (groups(c, ri, &b) < 0)
            return -1;
    }
    /* cheapest first; unevaluated* last (they read what the others marked) */
    for (unsigned i = 1; i < b.n; i++)
        for (unsigned j = i; j > 0 && b.k[j - 1].op > b.k[j].op; j--) {
            pc_skw_t t = b.k[j];
            b.k[j] = b.k[j - 1];
            b.k[j - 1] = t;
        }
    if (b.n) {
        pc_skw_t *k = pc_sarena_alloc(&c->s->arena, b.n * sizeof *k);
        if (!k)
            return oom(c, ri);
        memcpy(k, b.k, b.n * sizeof *k);
        n->kw = k;
        n->nkw = b.n;
    }
    return 0;
}

/* ---- the whole schema ---- */

/* The i-th subschema applied to the same instance location, or NULL. */
static const pc_snode_t *inplace_edge(const pc_snode_t *n, size_t i)
{
    for (uint32_t j = 0; j < n->nkw; j++) {
        const pc_skw_t *k = &n->kw[j];
        size_t cnt = 0;
        switch (k->op) {
        case PC_K_REF:
        case PC_K_NOT:
            if (i == 0)
                return k->u.one;
            cnt = 1;
            break;
        case PC_K_DYNREF:
            if (i == 0)
                return k->u.dyn->target;
            cnt = 1;
            break;
        case PC_K_ALLOF:
        case PC_K_ANYOF:
        case PC_K_ONEOF:
            if (i < k->u.list.n)
                return k->u.list.s[i];
            cnt = k->u.list.n;
            break;
        case PC_K_IF: {
            const pc_snode_t *e[3] = {k->u.ifs->cond, k->u.ifs->then_, k->u.ifs->else_};
            if (i < 3)
                return e[i] ? e[i] : k->u.ifs->cond;
            cnt = 3;
            break;
        }
        case PC_K_DEPSCH:
            if (i < k->u.deps.n)
                return k->u.deps.d[i].s;
            cnt = k->u.deps.n;
            break;
        default:
            break;
        }
        i -= cnt;
    }
    return NULL;
}

/* A cycle of subschemas that never moves into the instance would recurse
 * for ever: refused here (iterative DFS, so a long chain cannot overflow
 * the stack). */
static int check_cycles(pc_cc_t *c)
{
    uint8_t *color = calloc(c->nall, 1);
    struct frame {
        const pc_snode_t *n;
        size_t next;
    } *st = malloc(c->nall * sizeof *st);
    int rc = 0;
    if (!color || !st) {
        rc = pc_cc_fail(c, "", NULL, "out of memory");
        goto out;
    }
    for (size_t r = 0; r < c->nall && !rc; r++) {
        if (color[r])
            continue;
        size_t sp = 0;
        st[sp++] = (struct frame){c->all[r], 0};
        color[r] = 1;
        while (sp && !rc) {
            struct frame *f = &st[sp - 1];
            const pc_snode_t *e = inplace_edge(f->n, f->next++);
            if (!e) {
                color[f->n->id] = 2;
                sp--;
            } else if (color[e->id] == 1) {
                rc = pc_cc_fail(c, e->path, NULL, "a $ref cycle that never moves into the instance");
            } else if (!color[e->id]) {
                color[e->id] = 1;
                st[sp++] = (struct frame){e, 0};
            }
        }
    }
out:
    free(color);
    free(st);
    return rc;
}

static bool dyn_wanted(const pc_cc_t *c, const char *name)
{
    for (size_t i = 0; i < c->ndynref; i++)
        if (!strcmp(c->dynref[i], name))
            return true;
    return false;
}

/* Compiles the worklist; then every "$dynamicAnchor" that some dynamic
 * reference may land on (they can bring more work), until nothing is left. */
static int compile_all(pc_cc_t *c)
{
    bool more = true;
    while (more) {
        while (c->nwork)
            if (fill(c, c->work[--c->nwork]) < 0 || c->failed)
                return -1;
        more = false;
        for (size_t i = 0; i < c->ndyn; i++) {
            pc_rinfo_t *r = pc_cc_rinfo(c, c->dyn[i].raw);
            if (r && !r->node && dyn_wanted(c, c->dyn[i].name)) {
                if (!pc_cc_node(c, r))
                    return -1;
                more = true;
            }
        }
    }
    for (size_t i = 0; i < c->ndyn; i++) {
        pc_rinfo_t *r = pc_cc_rinfo(c, c->dyn[i].raw);
        if (r && r->node)
            c->dyn[i].res->ndyn++;
    }
    for (size_t i = 0; i < c->ndyn; i++) {
        pc_sres_t *res = c->dyn[i].res;
        pc_rinfo_t *r = pc_cc_rinfo(c, c->dyn[i].raw);
        if (!r || !r->node)
            continue;
        if (!res->dyn_name) {
            res->dyn_name = pc_sarena_alloc(&c->s->arena, res->ndyn * sizeof *res->dyn_name);
            res->dyn_node = pc_sarena_alloc(&c->s->arena, res->ndyn * sizeof *res->dyn_node);
            if (!res->dyn_name || !res->dyn_node)
                return oom(c, r);
            res->ndyn = 0;
        }
        res->dyn_name[res->ndyn] = pc_sarena_strndup(&c->s->arena, c->dyn[i].name, strlen(c->dyn[i].name));
        res->dyn_node[res->ndyn++] = r->node;
    }
    return check_cycles(c);
}

pc_schema_t *pc_schema_compile(const pc_json_t *root, const char *base_uri, const pc_schema_opts_t *opts, char *err,
                               size_t errlen)
{
    static const pc_schema_opts_t defaults = {0};
    char dummy[8];
    pc_cc_t c = {0};
    c.opts = opts ? opts : &defaults;
    c.err = errlen ? err : dummy;
    c.errlen = errlen ? errlen : sizeof dummy;
    c.err[0] = '\0';
    c.root_uri = base_uri ? base_uri : "pc:///schema.json";
    if (!root || !(c.s = calloc(1, sizeof *c.s))) {
        snprintf(c.err, c.errlen, "%s", root ? "out of memory" : "no schema");
        return NULL;
    }
    pc_rinfo_t *ri;
    int draft = c.opts->default_draft == PC_SCHEMA_DRAFT7 ? PC_SCHEMA_DRAFT7 : PC_SCHEMA_2020_12;
    if (pc_cc_scan_doc(&c, root, c.root_uri, draft) < 0 || !(ri = pc_cc_rinfo(&c, root))) {
        if (!c.failed)
            snprintf(c.err, c.errlen, "%s", root->type == PC_JSON_OBJECT || root->type == PC_JSON_TRUE ||
                                                    root->type == PC_JSON_FALSE
                                                ? "out of memory"
                                                : "a schema must be an object or a boolean");
        goto fail;
    }
    if (!(c.s->root = pc_cc_node(&c, ri)) || compile_all(&c) < 0)
        goto fail;
    pc_cc_maps_free(&c);
    return c.s;
fail:
    if (!c.failed && !c.err[0])
        snprintf(c.err, c.errlen, "out of memory");
    pc_cc_maps_free(&c);
    pc_schema_free(c.s);
    return NULL;
}

void pc_schema_free(pc_schema_t *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->nregex; i++)
        pc_regex_free(s->regex[i]);
    free(s->regex);
    pc_sarena_free(&s->arena);
    free(s);
}
