/* plugins/schema/schema_validate.c: one walk of the instance against the
 * compiled nodes (schema_int.h).
 *
 * No allocation on the common path: the instance location is a chain of
 * frames on the C stack, and so is the dynamic scope. "unevaluated*"
 * need to know which members or items the other keywords looked at: a
 * node that has one passes a bitmap (one bit per member or item) down to
 * the subschemas applied to the same instance, which mark what they
 * evaluate; nodes without one pass NULL and mark nothing, so the cost is
 * paid only below such keywords. Bitmaps come from a 2 KiB buffer in the
 * context, or the heap for very large objects.
 *
 * With errs NULL the walk ends at the first failure. Otherwise failures
 * are recorded until errs->max, and subschemas that are only tried
 * (anyOf, oneOf, not, if, contains) run in the fast mode and are reported
 * as one failure of their keyword.
 */
#include "schema_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRATCH_WORDS 256u

typedef struct dscope {
    const struct dscope *up;
    const pc_sres_t *res;
} dscope_t;

typedef struct vctx {
    const pc_schema_t *s;
    pc_schema_errors_t *errs; /* NULL: fast mode (also while trying) */
    pc_schema_errors_t *report; /* where an abort is reported */
    bool stop;                /* errs is full */
    bool abort;               /* a limit was hit: invalid, whatever else */
    unsigned depth;
    const dscope_t *scope;
    size_t used;
    uint64_t buf[SCRATCH_WORDS];
} vctx_t;

#define BAIL(c) (!(c)->errs || (c)->stop || (c)->abort)

static bool v_node(vctx_t *c, const pc_snode_t *n, const pc_json_t *x, const pc_ipath_t *ip, uint64_t *ev);

/* ---- scratch bitmaps, released in reverse order ---- */

static uint64_t *bits_get(vctx_t *c, uint32_t len)
{
    size_t w = (len + 63u) / 64u;
    if (w == 0)
        w = 1;
    if (c->used + w <= SCRATCH_WORDS) {
        uint64_t *p = c->buf + c->used;
        c->used += w;
        memset(p, 0, w * sizeof *p);
        return p;
    }
    return calloc(w, sizeof(uint64_t));
}

static void bits_put(vctx_t *c, uint64_t *p, uint32_t len)
{
    size_t w = (len + 63u) / 64u;
    if (w == 0)
        w = 1;
    if (p >= c->buf && p < c->buf + SCRATCH_WORDS)
        c->used -= w;
    else
        free(p);
}

static void bits_or(uint64_t *dst, const uint64_t *src, uint32_t len)
{
    for (size_t i = 0; i < (len + 63u) / 64u; i++)
        dst[i] |= src[i];
}

static void bits_all(uint64_t *dst, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        dst[i / 64] |= 1ull << (i % 64);
}

#define BIT_SET(b, i) ((b)[(i) / 64] |= 1ull << ((i) % 64))
#define BIT_GET(b, i) (((b)[(i) / 64] >> ((i) % 64)) & 1u)

/* ---- failures ---- */

/* Failures are off the hot path: kept out of line, so the checks stay
 * small. */
#define COLD __attribute__((cold, noinline))

static bool fail(vctx_t *c, const pc_snode_t *n, const char *kw, const pc_ipath_t *ip, const pc_json_t *x,
                 const char *fmt, ...) __attribute__((format(printf, 6, 7))) COLD;

static COLD bool record(vctx_t *c, pc_schema_errors_t *e, const pc_snode_t *n, const char *kw, const pc_ipath_t *ip,
                   const pc_json_t *x, const char *msg)
{
    if (e->n >= e->max) {
        e->truncated = true;
        c->stop = true;
        return false;
    }
    pc_schema_err_fill(&e->e[e->n++], n, kw, ip, x, msg);
    return false;
}

static bool fail(vctx_t *c, const pc_snode_t *n, const char *kw, const pc_ipath_t *ip, const pc_json_t *x,
                 const char *fmt, ...)
{
    if (!c->errs || c->stop)
        return false;
    char msg[96];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return record(c, c->errs, n, kw, ip, x, msg);
}

/* A limit was hit: the instance is invalid even where this failure was
 * only being tried (under "not"). */
static COLD bool abort_walk(vctx_t *c, const pc_snode_t *n, const char *kw, const pc_ipath_t *ip, const pc_json_t *x,
                       const char *msg)
{
    if (!c->abort && c->report && !c->stop)
        record(c, c->report, n, kw, ip, x, msg);
    c->abort = true;
    return false;
}

/* Runs n on x without reporting (anyOf, oneOf, not, if, contains). */
static bool try_node(vctx_t *c, const pc_snode_t *n, const pc_json_t *x, const pc_ipath_t *ip, uint64_t *ev)
{
    pc_schema_errors_t *saved = c->errs;
    c->errs = NULL;
    bool ok = v_node(c, n, x, ip, ev);
    c->errs = saved;
    return ok && !c->abort;
}

/* ---- scalars ---- */

bool pc_dec_parse(const char *s, uint32_t len, uint64_t *m, int32_t *e)
{
    uint64_t v = 0;
    int32_t exp = 0;
    bool frac = false;
    unsigned digits = 0;
    uint32_t i = len && s[0] == '-';
    for (; i < len; i++) {
        char ch = s[i];
        if (ch >= '0' && ch <= '9') {
            if (frac)
                exp--;
            if (v == 0 && ch == '0')
                continue; /* a leading zero is no digit */
            if (++digits > 18)
                return false;
            v = v * 10 + (uint64_t)(ch - '0');
        } else if (ch == '.') {
            frac = true;
        } else if (ch == 'e' || ch == 'E') {
            bool neg = ++i < len && s[i] == '-';
            int32_t x = 0;
            for (i += (i < len && (s[i] == '-' || s[i] == '+')); i < len; i++) {
                if (s[i] < '0' || s[i] > '9' || x > 9999)
                    return false;
                x = x * 10 + (s[i] - '0');
            }
            exp += neg ? -x : x;
            break;
        } else {
            return false;
        }
    }
    *m = v;
    *e = exp;
    return true;
}

/* a = ma * 10^ea is a multiple of d = md * 10^ed (md > 0) when
 * ma * 10^(ea-ed) / md is an integer; in 64 bits, exactly. -1: too big
 * for this path. */
static int mulof_fast(const pc_skw_t *k, const pc_json_t *x)
{
    uint64_t ma, md = k->u.mul.m;
    int32_t ea;
    if (!k->u.mul.fast || !pc_dec_parse(x->u.num.text, x->len, &ma, &ea))
        return -1;
    if (ma == 0)
        return 1;
    int32_t sh = ea - k->u.mul.e;
    if (sh >= 0) {
        if (sh > 64)
            return -1;
        uint64_t r = ma % md; /* r * 10 < 10^19 < 2^64 as md <= 10^18 */
        while (sh-- > 0 && r)
            r = r * 10 % md;
        return r == 0;
    }
    uint64_t dd = md;
    while (sh++ < 0) {
        if (dd > ma / 10)
            return 0; /* the divisor outgrew a */
        dd *= 10;
    }
    return ma % dd == 0;
}

static bool multiple_of(const pc_skw_t *k, const pc_json_t *x)
{
    int r = mulof_fast(k, x);
    return r >= 0 ? r == 1 : pc_json_num_multiple_of(x, k->u.mul.v);
}

static uint64_t code_points(const pc_json_t *x)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < x->len; i++)
        n += ((unsigned char)x->u.str[i] & 0xC0) != 0x80;
    return n;
}

static bool type_ok(uint16_t types, unsigned cls, const pc_json_t *x)
{
    if (types & cls)
        return true;
    return cls == PC_T_NUM && (types & PC_T_INT) &&
           ((x->num_flags & PC_JSON_NUM_INT) || pc_json_num_is_integer(x));
}

static COLD bool fail_type(vctx_t *c, const pc_snode_t *n, const pc_ipath_t *ip, const pc_json_t *x)
{
    static const char *names[] = {"null", "boolean", "number", "string", "array", "object", "integer"};
    char msg[96] = "must be ";
    size_t o = strlen(msg);
    bool first = true;
    for (unsigned i = 0; i < 7; i++) {
        if (!(n->types & (1u << i)))
            continue;
        o += (size_t)snprintf(msg + o, sizeof msg - o, "%s%s", first ? "" : " or ", names[i]);
        first = false;
        if (o >= sizeof msg)
            break;
    }
    if (first)
        snprintf(msg, sizeof msg, "no type is allowed");
    return fail(c, n, "type", ip, x, "%s", msg);
}

static bool v_scalar(vctx_t *c, const pc_snode_t *n, const pc_skw_t *k, const pc_json_t *x, const pc_ipath_t *ip)
{
    int r;
    switch (k->op) {
    case PC_K_MULOF:
        return multiple_of(k, x) ||
               fail(c, n, k->kw, ip, x, "must be a multiple of %.*s", (int)k->u.num->len, k->u.num->u.num.text);
    case PC_K_MAX:
        return pc_json_num_cmp(x, k->u.num) <= 0 ||
               fail(c, n, k->kw, ip, x, "must be <= %.*s", (int)k->u.num->len, k->u.num->u.num.text);
    case PC_K_XMAX:
        return pc_json_num_cmp(x, k->u.num) < 0 ||
               fail(c, n, k->kw, ip, x, "must be < %.*s", (int)k->u.num->len, k->u.num->u.num.text);
    case PC_K_MIN:
        return pc_json_num_cmp(x, k->u.num) >= 0 ||
               fail(c, n, k->kw, ip, x, "must be >= %.*s", (int)k->u.num->len, k->u.num->u.num.text);
    case PC_K_XMIN:
        return pc_json_num_cmp(x, k->u.num) > 0 ||
               fail(c, n, k->kw, ip, x, "must be > %.*s", (int)k->u.num->len, k->u.num->u.num.text);
    case PC_K_MAXLEN:
        return x->len <= k->u.n || code_points(x) <= k->u.n ||
               fail(c, n, k->kw, ip, x, "must have at most %llu character%s", (unsigned long long)k->u.n,
                    k->u.n == 1 ? "" : "s");
    case PC_K_MINLEN:
        return (x->len >= k->u.n && code_points(x) >= k->u.n) ||
               fail(c, n, k->kw, ip, x, "must have at least %llu character%s", (unsigned long long)k->u.n,
                    k->u.n == 1 ? "" : "s");
    case PC_K_PATTERN:
        r = pc_regex_match(k->u.pat.re, x->u.str, x->len);
        if (r < 0)
            return abort_walk(c, n, k->kw, ip, x, "pattern too costly to match");
        return r == 1 || fail(c, n, k->kw, ip, x, "must match the pattern \"%.60s\"", k->u.pat.src);
    case PC_K_FORMAT:
        return pc_format_check(k->u.fmt.f, x->u.str, x->len) ||
               fail(c, n, k->kw, ip, x, "must be a valid %s", k->u.fmt.name);
    default:
        return true;
    }
}

/* ---- objects ---- */

/* Keys are short: a loop beats a call to memcmp. */
static inline bool key_eq(const char *a, const char *b, uint32_t n)
{
    if (n > 24)
        return !memcmp(a, b, n);
    for (uint32_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static const pc_sprop_t *prop_find(const pc_sprops_t *p, const pc_json_member_t *m)
{
    for (uint32_t i = m->khash & p->mask;; i = (i + 1) & p->mask) {
        const pc_sprop_t *e = &p->tab[i];
        if (!e->key)
            return NULL;
        if (e->khash == m->khash && e->klen == m->klen && key_eq(e->key, m->key, m->klen))
            return e;
    }
}

static bool v_member(vctx_t *c, const pc_snode_t *n, const pc_sprops_t *p, const pc_json_member_t *m,
                     const pc_ipath_t *mp, uint64_t *seen, bool *evald)
{
    bool ok = true, matched = false;
    const pc_sprop_t *e = p->tab ? prop_find(p, m) : NULL;
    if (e) {
        if (e->req >= 0)
            *seen |= 1ull << e->req;
        if (e->s) {
            matched = true;
            if (!v_node(c, e->s, m->value, mp, NULL))
                ok = false;
        }
    }
    for (uint32_t i = 0; i < p->npat && (ok || !BAIL(c)); i++) {
        int r = pc_regex_match(p->pat[i].re, m->key, m->klen);
        if (r < 0)
            return abort_walk(c, n, "patternProperties", mp, m->value, "pattern too costly to match");
        if (r == 1) {
            matched = true;
            if (!v_node(c, p->pat[i].s, m->value, mp, NULL))
                ok = false;
        }
    }
    if (!matched && p->addl && (ok || !BAIL(c))) {
        matched = true;
        if (!v_node(c, p->addl, m->value, mp, NULL))
            ok = false;
    }
    if (p->names && (ok || !BAIL(c))) {
        pc_json_t key = {.type = PC_JSON_STRING, .len = m->klen, .u.str = m->key};
        if (!v_node(c, p->names, &key, mp, NULL))
            ok = false;
    }
    *evald = matched;
    return ok;
}

static bool v_props(vctx_t *c, const pc_snode_t *n, const pc_sprops_t *p, const pc_json_t *x, const pc_ipath_t *ip,
                    uint64_t *ev)
{
    bool ok = true;
    uint64_t seen = 0;
    if (p->tab || p->npat || p->addl || p->names) {
        for (uint32_t i = 0; i < x->len; i++) {
            const pc_json_member_t *m = &x->u.members[i];
            pc_ipath_t mp = {ip, m->key, m->klen, 0};
            bool evald = false;
            if (!v_member(c, n, p, m, &mp, &seen, &evald)) {
                ok = false;
                if (BAIL(c))
                    return false;
            }
            if (ev && evald)
                BIT_SET(ev, i);
        }
    }
    for (uint32_t j = 0; j < p->nreq; j++) {
        bool present = j < 64 ? (seen >> j) & 1u : pc_json_get(x, p->req[j], p->reqlen[j]) != NULL;
        if (!present) {
            ok = fail(c, n, "required", ip, x, "must have property '%.60s'", p->req[j]);
            if (BAIL(c))
                return false;
        }
    }
    return ok;
}

static bool v_deps(vctx_t *c, const pc_snode_t *n, const pc_skw_t *k, const pc_json_t *x, const pc_ipath_t *ip,
                   uint64_t *ev)
{
    bool ok = true;
    for (uint32_t i = 0; i < k->u.deps.n; i++) {
        const pc_sdep_t *d = &k->u.deps.d[i];
        if (!pc_json_get(x, d->key, d->klen))
            continue;
        if (d->s && !v_node(c, d->s, x, ip, ev))
            ok = false;
        for (uint32_t j = 0; j < d->n && (ok || !BAIL(c)); j++)
            if (!pc_json_get(x, d->names[j], d->lens[j]))
                ok = fail(c, n, k->kw, ip, x, "must have property '%.40s' when '%.40s' is present", d->names[j],
                          d->key);
        if (!ok && BAIL(c))
            return false;
    }
    return ok;
}

/* ---- arrays ---- */

static bool v_items(vctx_t *c, const pc_sitems_t *it, const pc_json_t *x, const pc_ipath_t *ip, uint64_t *ev)
{
    bool ok = true;
    uint32_t np = it->nprefix < x->len ? it->nprefix : x->len;
    uint32_t end = it->rest ? x->len : np;
    for (uint32_t i = 0; i < end; i++) {
        pc_ipath_t p = {ip, NULL, 0, i};
        if (!v_node(c, i < np ? it->prefix[i] : it->rest, x->u.items[i], &p, NULL)) {
            ok = false;
            if (BAIL(c))
                return false;
        }
        if (ev)
            BIT_SET(ev, i);
    }
    return ok;
}

static bool v_contains(vctx_t *c, const pc_snode_t *n, const pc_scontains_t *ct, const pc_json_t *x,
                       const pc_ipath_t *ip, uint64_t *ev)
{
    uint64_t count = 0;
    for (uint32_t i = 0; i < x->len; i++) {
        pc_ipath_t p = {ip, NULL, 0, i};
        if (try_node(c, ct->s, x->u.items[i], &p, NULL)) {
            count++;
            if (ev)
                BIT_SET(ev, i);
            else if (count >= ct->min && ct->max == UINT64_MAX)
                return true;
            if (count > ct->max && !ev)
                break;
        }
        if (c->abort)
            return false;
    }
    if (count < ct->min)
        return fail(c, n, ct->min == 1 ? "contains" : "minContains", ip, x,
                    "must contain at least %llu matching item%s", (unsigned long long)ct->min, ct->min == 1 ? "" : "s");
    if (count > ct->max)
        return fail(c, n, "maxContains", ip, x, "must contain at most %llu matching item%s",
                    (unsigned long long)ct->max, ct->max == 1 ? "" : "s");
    return true;
}

/* A hash that equal values share (pc_json_equal): numbers by their
 * nearest double (1.0 and 1, -0 and 0 agree; values that only round alike
 * collide, and the exact comparison sorts them out), objects regardless
 * of member order. */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static uint64_t jhash(const pc_json_t *x)
{
    uint64_t h = x->type == PC_JSON_TRUE ? 3 : x->type;
    double d;
    switch (x->type) {
    case PC_JSON_NUMBER:
        d = x->u.num.d == 0 ? 0.0 : x->u.num.d;
        memcpy(&h, &d, sizeof h);
        return mix(h ^ 4);
    case PC_JSON_STRING:
        h = 1469598103934665603ull;
        for (uint32_t i = 0; i < x->len; i++)
            h = (h ^ (unsigned char)x->u.str[i]) * 1099511628211ull;
        return mix(h ^ 5);
    case PC_JSON_ARRAY:
        for (uint32_t i = 0; i < x->len; i++)
            h = mix(h * 31 + jhash(x->u.items[i]));
        return h;
    case PC_JSON_OBJECT:
        for (uint32_t i = 0; i < x->len; i++)
            h += mix(x->u.members[i].khash * 0x9e3779b97f4a7c15ull + jhash(x->u.members[i].value));
        return mix(h);
    default:
        return mix(h);
    }
}

static COLD bool dup_found(vctx_t *c, const pc_snode_t *n, const pc_json_t *x, const pc_ipath_t *ip, uint32_t j,
                      uint32_t i)
{
    return fail(c, n, "uniqueItems", ip, x, "must not have duplicate items (%u and %u)", j, i);
}

/* Pairs for short arrays; a hash table of item positions for long ones,
 * so a hostile body costs O(n), not O(n^2). */
static bool v_unique(vctx_t *c, const pc_snode_t *n, const pc_json_t *x, const pc_ipath_t *ip)
{
    if (x->len <= 16) {
        for (uint32_t i = 1; i < x->len; i++)
            for (uint32_t j = 0; j < i; j++)
                if (pc_json_equal(x->u.items[i], x->u.items[j]))
                    return dup_found(c, n, x, ip, j, i);
        return true;
    }
    uint32_t size = 32;
    while (size < 2 * x->len)
        size *= 2;
    /* slot: 32 bits of hash, 32 bits of position + 1 (0: empty) */
    uint64_t *tab = bits_get(c, size * 64u);
    if (!tab)
        return abort_walk(c, n, "uniqueItems", ip, x, "out of memory");
    bool ok = true;
    for (uint32_t i = 0; i < x->len && ok; i++) {
        uint64_t h = jhash(x->u.items[i]);
        uint32_t tag = (uint32_t)(h >> 32);
        for (uint32_t k = (uint32_t)h & (size - 1);; k = (k + 1) & (size - 1)) {
            if (!tab[k]) {
                tab[k] = (uint64_t)tag << 32 | (i + 1u);
                break;
            }
            uint32_t j = (uint32_t)tab[k] - 1u;
            if ((uint32_t)(tab[k] >> 32) == tag && pc_json_equal(x->u.items[i], x->u.items[j])) {
                ok = dup_found(c, n, x, ip, j, i);
                break;
            }
        }
    }
    bits_put(c, tab, size * 64u);
    return ok;
}

static bool v_uneval(vctx_t *c, const pc_skw_t *k, const pc_json_t *x, const pc_ipath_t *ip, const uint64_t *ev)
{
    bool ok = true;
    for (uint32_t i = 0; i < x->len; i++) {
        if (BIT_GET(ev, i))
            continue;
        const pc_json_t *v;
        pc_ipath_t p = {ip, NULL, 0, i};
        if (x->type == PC_JSON_OBJECT) {
            p.key = x->u.members[i].key;
            p.klen = x->u.members[i].klen;
            v = x->u.members[i].value;
        } else {
            v = x->u.items[i];
        }
        if (!v_node(c, k->u.one, v, &p, NULL)) {
            ok = false;
            if (BAIL(c))
                return false;
        }
    }
    return ok;
}

/* ---- applicators on the same instance ---- */

/* anyOf (one = false) or oneOf (one = true). With ev, every branch that
 * passes adds what it evaluated. */
static bool v_some(vctx_t *c, const pc_snode_t *n, const pc_skw_t *k, const pc_json_t *x, const pc_ipath_t *ip,
                   uint64_t *ev, bool one)
{
    unsigned pass = 0;
    uint32_t first = 0, second = 0;
    for (uint32_t i = 0; i < k->u.list.n; i++) {
        uint64_t *t = ev ? bits_get(c, x->len) : NULL;
        if (ev && !t)
            return abort_walk(c, n, k->kw, ip, x, "out of memory");
        bool ok = try_node(c, k->u.list.s[i], x, ip, t);
        if (ok && t && !(one && pass))
            bits_or(ev, t, x->len);
        if (t)
            bits_put(c, t, x->len);
        if (c->abort)
            return false;
        if (ok) {
            if (pass++ == 0)
                first = i;
            else
                second = i;
            if ((!one && !ev) || (one && pass > 1))
                break;
        }
    }
    if (!one)
        return pass > 0 || fail(c, n, k->kw, ip, x, "must match a schema in anyOf");
    if (pass == 1)
        return true;
    if (pass == 0)
        return fail(c, n, k->kw, ip, x, "must match exactly one schema in oneOf (matches none)");
    return fail(c, n, k->kw, ip, x, "must match exactly one schema in oneOf (matches %u and %u)", first, second);
}

static bool v_if(vctx_t *c, const pc_sif_t *f, const pc_json_t *x, const pc_ipath_t *ip, uint64_t *ev)
{
    uint64_t *t = ev ? bits_get(c, x->len) : NULL;
    if (ev && !t)
        return abort_walk(c, f->cond, "if", ip, x, "out of memory");
    bool cond = try_node(c, f->cond, x, ip, t);
    if (cond && t)
        bits_or(ev, t, x->len);
    if (t)
        bits_put(c, t, x->len);
    if (c->abort)
        return false;
    const pc_snode_t *b = cond ? f->then_ : f->else_;
    return !b || v_node(c, b, x, ip, ev);
}

static bool v_dynref(vctx_t *c, const pc_sdyn_t *d, const pc_json_t *x, const pc_ipath_t *ip, uint64_t *ev)
{
    const pc_snode_t *t = d->target;
    if (d->anchor)
        for (const dscope_t *s = c->scope; s; s = s->up)
            for (uint32_t i = 0; i < s->res->ndyn; i++)
                if (!strcmp(s->res->dyn_name[i], d->anchor))
                    t = s->res->dyn_node[i]; /* the outermost wins */
    return v_node(c, t, x, ip, ev);
}

static bool v_list(vctx_t *c, const pc_skw_t *k, const pc_json_t *x, const pc_ipath_t *ip, uint64_t *ev)
{
    bool ok = true;
    for (uint32_t i = 0; i < k->u.list.n; i++)
        if (!v_node(c, k->u.list.s[i], x, ip, ev)) {
            ok = false;
            if (BAIL(c))
                return false;
        }
    return ok;
}

static const char *count_noun(bool items, uint64_t n)
{
    return items ? (n == 1 ? "item" : "items") : (n == 1 ? "property" : "properties");
}

static bool v_kw(vctx_t *c, const pc_snode_t *n, const pc_skw_t *k, const pc_json_t *x, const pc_ipath_t *ip,
                 uint64_t *ev)
{
    uint32_t i;
    switch (k->op) {
    case PC_K_CONST:
    case PC_K_ENUM:
        for (i = 0; i < k->u.vals.n; i++)
            if (pc_json_equal(x, k->u.vals.v[i]))
                return true;
        return fail(c, n, k->kw, ip, x,
                    k->op == PC_K_CONST ? "must be equal to the constant" : "must be one of the allowed values");
    case PC_K_MAXITEMS:
    case PC_K_MAXPROPS:
        return x->len <= k->u.n || fail(c, n, k->kw, ip, x, "must have at most %llu %s", (unsigned long long)k->u.n,
                                        count_noun(k->op == PC_K_MAXITEMS, k->u.n));
    case PC_K_MINITEMS:
    case PC_K_MINPROPS:
        return x->len >= k->u.n || fail(c, n, k->kw, ip, x, "must have at least %llu %s",
                                        (unsigned long long)k->u.n, count_noun(k->op == PC_K_MINITEMS, k->u.n));
    case PC_K_PROPS:
        return v_props(c, n, k->u.props, x, ip, ev);
    case PC_K_DEPREQ:
    case PC_K_DEPSCH:
        return v_deps(c, n, k, x, ip, ev);
    case PC_K_ITEMS:
        return v_items(c, k->u.items, x, ip, ev);
    case PC_K_CONTAINS:
        return v_contains(c, n, k->u.contains, x, ip, ev);
    case PC_K_UNIQUE:
        return v_unique(c, n, x, ip);
    case PC_K_REF:
        return v_node(c, k->u.one, x, ip, ev);
    case PC_K_DYNREF:
        return v_dynref(c, k->u.dyn, x, ip, ev);
    case PC_K_ALLOF:
        return v_list(c, k, x, ip, ev);
    case PC_K_ANYOF:
    case PC_K_ONEOF:
        return v_some(c, n, k, x, ip, ev, k->op == PC_K_ONEOF);
    case PC_K_NOT:
        if (try_node(c, k->u.one, x, ip, NULL))
            return fail(c, n, "not", ip, x, "must not match the schema in not");
        return !c->abort;
    case PC_K_IF:
        return v_if(c, k->u.ifs, x, ip, ev);
    case PC_K_UNEVAL:
        return v_uneval(c, k, x, ip, ev);
    default:
        return v_scalar(c, n, k, x, ip);
    }
}

static unsigned class_of(const pc_json_t *x)
{
    static const uint8_t cls[] = {PC_T_NULL, PC_T_BOOL, PC_T_BOOL, PC_T_NUM, PC_T_STR, PC_T_ARR, PC_T_OBJ};
    return cls[x->type];
}

static bool v_node(vctx_t *c, const pc_snode_t *n, const pc_json_t *x, const pc_ipath_t *ip, uint64_t *ev)
{
    if (n->kind != PC_SN_NORMAL)
        return n->kind == PC_SN_TRUE || fail(c, n, n->fkw, ip, x, "%s", n->fmsg);
    unsigned cls = class_of(x);
    bool ok = true;
    if (n->types && !type_ok(n->types, cls, x)) {
        ok = fail_type(c, n, ip, x);
        if (BAIL(c))
            return false;
    }
    if (!n->nkw)
        return ok;
    if (c->depth >= PC_SCHEMA_MAX_DEPTH)
        return abort_walk(c, n, "$ref", ip, x, "schema recursion too deep");
    c->depth++;
    dscope_t fr;
    if (c->s->has_dyn && (!c->scope || c->scope->res != n->res)) {
        fr.up = c->scope;
        fr.res = n->res;
        c->scope = &fr;
    }
    uint64_t *my = ev;
    if (n->uneval & cls) {
        if (!(my = bits_get(c, x->len))) {
            ok = abort_walk(c, n, "unevaluatedProperties", ip, x, "out of memory");
            goto out;
        }
    }
    for (uint32_t i = 0; i < n->nkw; i++) {
        const pc_skw_t *k = &n->kw[i];
        if (k->on && k->on != cls)
            continue;
        if (!v_kw(c, n, k, x, ip, my)) {
            ok = false;
            if (BAIL(c))
                break;
        }
    }
    if (my != ev) {
        bits_put(c, my, x->len);
        if (ok && ev)
            bits_all(ev, x->len);
    }
out:
    if (c->scope == &fr)
        c->scope = fr.up;
    c->depth--;
    return ok;
}

bool pc_schema_validate(const pc_schema_t *s, const pc_json_t *instance, pc_schema_errors_t *errs)
{
    vctx_t c;
    c.s = s;
    c.errs = errs && errs->max ? errs : NULL;
    c.report = c.errs;
    c.stop = c.abort = false;
    c.depth = 0;
    c.scope = NULL;
    c.used = 0;
    if (errs) {
        errs->n = 0;
        errs->truncated = false;
    }
    bool ok = v_node(&c, s->root, instance, NULL, NULL) && !c.abort;
    if (errs && !errs->max && !ok)
        errs->truncated = true;
    return ok;
}
