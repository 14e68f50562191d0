/* plugins/allowlist/al_template.c: typed path templates and their segment
 * trie. See al_template.h. */
#include "al_template.h"

#include <portcullis/plugin.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AL_RX_MAX_PATTERN 1024 /* bytes of one pattern */

/* ---- typed values ------------------------------------------------------------ */

bool al_is_int(const char *p, size_t len)
{
    static const char max[] = "9223372036854775807"; /* INT64_MAX */

    if (len == 0 || len > sizeof(max) - 1 || (p[0] == '0' && len > 1))
        return false;
    for (size_t i = 0; i < len; i++)
        if (p[i] < '0' || p[i] > '9')
            return false;
    /* Same length, digits only: byte order is numeric order. */
    return len < sizeof(max) - 1 || memcmp(p, max, len) <= 0;
}

int al_hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool al_is_uuid(const char *p, size_t len)
{
    if (len != 36)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? p[i] != '-' : al_hex_val(p[i]) < 0)
            return false;
    }
    return true;
}

/* ---- regular expressions ------------------------------------------------------ */

pcre2_code *al_rx_compile(const char *pattern, char *err, size_t errlen)
{
    int code;
    PCRE2_SIZE off;
    size_t len = strlen(pattern);

    if (len == 0 || len > AL_RX_MAX_PATTERN) {
        snprintf(err, errlen, "a pattern is 1 to %d bytes", AL_RX_MAX_PATTERN);
        return NULL;
    }
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, len,
                                   PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF |
                                       PCRE2_NEVER_BACKSLASH_C,
                                   &code, &off, NULL);
    if (!re) {
        char msg[160];
        pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof(msg));
        snprintf(err, errlen, "pattern \"%.64s\": %s at offset %zu", pattern, msg, (size_t)off);
    }
    return re;
}

pcre2_match_context *al_rx_context(void)
{
    pcre2_match_context *mc = pcre2_match_context_create(NULL);
    if (!mc) { /* as pc_xmalloc does; no pc_log, so the fuzzer links this file alone */
        fputs("portcullis: out of memory\n", stderr);
        abort();
    }
    pcre2_set_match_limit(mc, AL_RX_MATCH_LIMIT);
    pcre2_set_depth_limit(mc, AL_RX_DEPTH_LIMIT);
    pcre2_set_heap_limit(mc, AL_RX_HEAP_LIMIT);
    return mc;
}

int al_rx_match(const pcre2_code *re, al_rx_env_t *env, const char *p, size_t len)
{
    if (!env->md && !(env->md = pcre2_match_data_create(1, env->gc)))
        return 0; /* out of memory: no match, i.e. refused */
    int rc = pcre2_match(re, (PCRE2_SPTR)p, len, 0, 0, env->md, (pcre2_match_context *)env->mc);
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT)
        env->limit_hit = 1;
    return rc >= 0;
}

void al_rx_env_done(al_rx_env_t *env)
{
    pcre2_match_data_free(env->md);
    env->md = NULL;
}

/* ---- templates ----------------------------------------------------------------- */

static int tm_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int tm_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool tm_unreserved(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

static int tm_upper_hex(char c)
{
    return c >= 'a' && c <= 'f' ? -1 : al_hex_val(c);
}

/* A literal must be spelt as the canonicaliser writes it, or it could
 * never match: printable ASCII, the characters it encodes encoded, escapes
 * in uppercase hex and none of an unreserved character. */
static int tm_literal(const char *p, size_t len, bool last, al_seg_t *g, char *err, size_t errlen)
{
    if (len == 0 && !last)
        return tm_fail(err, errlen, "empty segment (\"//\")");
    if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
        return tm_fail(err, errlen, "\".\" and \"..\" segments never reach a plugin");
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '%') {
            int hi = i + 2 < len ? tm_upper_hex(p[i + 1]) : -1;
            int lo = hi >= 0 ? tm_upper_hex(p[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return tm_fail(err, errlen, "an escape is '%%' and two uppercase hex digits");
            int v = hi * 16 + lo;
            if (tm_unreserved(v) || v == 0 || v == '/' || v == '\\')
                return tm_fail(err, errlen,
                               "\"%%%c%c\" is never in a canonical path (write it decoded, "
                               "or not at all)", p[i + 1], p[i + 2]);
            i += 2;
        } else if (c <= 0x20 || c >= 0x7f || strchr("\"<>[]^`{|}?#\\", c)) {
            return tm_fail(err, errlen,
                           "character 0x%02x is percent-encoded in a canonical path: write "
                           "it as %%%02X", c, c);
        }
    }
    g->kind = AL_SEG_LITERAL;
    g->text = pc_xmalloc(len + 1);
    memcpy(g->text, p, len);
    g->text[len] = '\0';
    g->len = len;
    return 0;
}

/* The '}' closing the '{' at p: braces nest (so "{1,64}" quantifiers
 * fit), a backslash escapes the next byte. NULL if unclosed. */
static const char *tm_close(const char *p)
{
    size_t depth = 0;
    for (; *p; p++) {
        if (*p == '\\' && p[1])
            p++;
        else if (*p == '{')
            depth++;
        else if (*p == '}' && --depth == 0)
            return p;
    }
    return NULL;
}

static bool tm_name_ok(const char *s, size_t n)
{
    if (n == 0 || n > AL_NAME_MAX || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

/* "{name}", "{name:int}", "{name:uuid}" or "{name:pattern}" at p; *end is
 * set after the '}'. */
static int tm_param(const char *p, const char **end, al_seg_t *g, char *err, size_t errlen)
{
    const char *close = tm_close(p);
    if (!close)
        return tm_fail(err, errlen, "unclosed '{'");
    *end = close + 1;
    if (**end != '/' && **end != '\0')
        return tm_fail(err, errlen, "a parameter is a whole segment");
    const char *body = p + 1;
    size_t blen = (size_t)(close - body);
    const char *colon = memchr(body, ':', blen);
    size_t nlen = colon ? (size_t)(colon - body) : blen;
    if (!tm_name_ok(body, nlen))
        return tm_fail(err, errlen, "parameter names are 1 to %d of [A-Za-z0-9_], not "
                       "starting with a digit", AL_NAME_MAX);
    g->name = pc_xmalloc(nlen + 1);
    memcpy(g->name, body, nlen);
    g->name[nlen] = '\0';
    if (!colon) {
        g->kind = AL_SEG_ANY;
        return 0;
    }
    g->len = blen - nlen - 1;
    g->text = pc_xmalloc(g->len + 1);
    memcpy(g->text, colon + 1, g->len);
    g->text[g->len] = '\0';
    if (strcmp(g->text, "int") == 0)
        g->kind = AL_SEG_INT;
    else if (strcmp(g->text, "uuid") == 0)
        g->kind = AL_SEG_UUID;
    else {
        g->kind = AL_SEG_REGEX;
        if (memchr(colon + 1, '\0', g->len) || !(g->re = al_rx_compile(g->text, err, errlen)))
            return -1;
    }
    return 0;
}

static int tm_dup_name(const al_tmpl_t *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->segs[i].name && strcmp(t->segs[i].name, name) == 0)
            return 1;
    return 0;
}

int al_tmpl_parse(const char *s, al_tmpl_t *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    if (!s || s[0] != '/')
        return tm_fail(err, errlen, "a path template starts with '/'");
    t->segs = pc_xcalloc(AL_MAX_SEGS, sizeof(*t->segs));
    const char *p = s + 1, *end = p;
    int rc = 0;
    for (;;) {
        al_seg_t *g = &t->segs[t->n];
        if (t->n == AL_MAX_SEGS) {
            rc = tm_fail(err, errlen, "more than %d segments", AL_MAX_SEGS);
            break;
        }
        t->n++;
        if (*p == '{') {
            rc = tm_param(p, &end, g, err, errlen);
            if (rc == 0 && ++t->nparams > AL_MAX_PARAMS)
                rc = tm_fail(err, errlen, "more than %d parameters", AL_MAX_PARAMS);
            t->n--; /* not yet: the duplicate check reads the others */
            if (rc == 0 && tm_dup_name(t, g->name))
                rc = tm_fail(err, errlen, "parameter \"%s\" appears twice", g->name);
            t->n++;
        } else {
            end = p + strcspn(p, "/");
            rc = tm_literal(p, (size_t)(end - p), *end == '\0', g, err, errlen);
        }
        if (rc != 0 || *end == '\0')
            break;
        p = end + 1;
    }
    if (rc != 0)
        al_tmpl_free(t);
    return rc;
}

void al_tmpl_free(al_tmpl_t *t)
{
    for (size_t i = 0; t->segs && i < t->n; i++) {
        free(t->segs[i].text);
        free(t->segs[i].name);
        pcre2_code_free(t->segs[i].re);
    }
    free(t->segs);
    memset(t, 0, sizeof(*t));
}

/* ---- the trie -------------------------------------------------------------------- */

/* A slot of a node's literal table: 16 bytes, so a table of thousands of
 * children stays small; the key itself is in the child, which a match
 * reads next anyway (a 64-bit hash makes a wasted look rare). */
typedef struct al_lit {
    uint64_t hash;
    al_node_t *child;
} al_lit_t;

#define AL_KEY_INLINE 24

typedef struct al_rxc {
    const al_seg_t *seg; /* borrowed: its pattern and compiled code */
    al_node_t *child;
} al_rxc_t;

struct al_node {
    const char *key;      /* the literal segment that leads here: key_in or a template's */
    size_t klen;
    char key_in[AL_KEY_INLINE];
    al_lit_t *lit;        /* open addressing, lcap a power of two (or 0) */
    size_t nlit, lcap;
    al_node_t *ints, *uuids, *any;
    al_rxc_t *rx;         /* in config order */
    size_t nrx;
    size_t *cands;
    size_t ncands;
};

static uint64_t tr_hash(const char *p, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    /* FNV's low bits depend only on the inputs' low bits: mix the high
     * ones down before the table masks them off (murmur3's finaliser). */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

static al_lit_t *tr_slot(const al_lit_t *tab, size_t cap, uint64_t h, const char *p, size_t len)
{
    size_t i = (size_t)h & (cap - 1);
    while (tab[i].child && !(tab[i].hash == h && tab[i].child->klen == len &&
                             memcmp(tab[i].child->key, p, len) == 0))
        i = (i + 1) & (cap - 1);
    return (al_lit_t *)&tab[i];
}

static const al_node_t *tr_lit_find(const al_node_t *n, const char *p, size_t len)
{
    if (!n->lcap)
        return NULL;
    return tr_slot(n->lit, n->lcap, tr_hash(p, len), p, len)->child;
}

static al_node_t *tr_new(al_trie_t *tr)
{
    tr->nodes++;
    return pc_xcalloc(1, sizeof(al_node_t));
}

static al_node_t *tr_lit_child(al_trie_t *tr, al_node_t *n, const al_seg_t *g)
{
    uint64_t h = tr_hash(g->text, g->len);
    if (n->lcap && tr_slot(n->lit, n->lcap, h, g->text, g->len)->child)
        return tr_slot(n->lit, n->lcap, h, g->text, g->len)->child;
    if (2 * (n->nlit + 1) > n->lcap) { /* keep the load at most one half */
        size_t cap = n->lcap ? 2 * n->lcap : 4;
        al_lit_t *tab = pc_xcalloc(cap, sizeof(*tab));
        for (size_t i = 0; i < n->lcap; i++)
            if (n->lit[i].child)
                *tr_slot(tab, cap, n->lit[i].hash, n->lit[i].child->key, n->lit[i].child->klen) =
                    n->lit[i];
        free(n->lit);
        n->lit = tab;
        n->lcap = cap;
    }
    al_lit_t *s = tr_slot(n->lit, n->lcap, h, g->text, g->len);
    al_node_t *c = tr_new(tr);
    c->klen = g->len;
    c->key = g->len < AL_KEY_INLINE ? memcpy(c->key_in, g->text, g->len) : g->text;
    *s = (al_lit_t){h, c};
    n->nlit++;
    return s->child;
}

static al_node_t *tr_rx_child(al_trie_t *tr, al_node_t *n, const al_seg_t *g)
{
    for (size_t i = 0; i < n->nrx; i++)
        if (strcmp(n->rx[i].seg->text, g->text) == 0)
            return n->rx[i].child;
    n->rx = pc_xrealloc(n->rx, (n->nrx + 1) * sizeof(*n->rx));
    n->rx[n->nrx] = (al_rxc_t){g, tr_new(tr)};
    return n->rx[n->nrx++].child;
}

static al_node_t *tr_child(al_trie_t *tr, al_node_t *n, const al_seg_t *g)
{
    al_node_t **slot;
    switch (g->kind) {
    case AL_SEG_LITERAL: return tr_lit_child(tr, n, g);
    case AL_SEG_REGEX: return tr_rx_child(tr, n, g);
    case AL_SEG_INT: slot = &n->ints; break;
    case AL_SEG_UUID: slot = &n->uuids; break;
    default: slot = &n->any; break;
    }
    if (!*slot)
        *slot = tr_new(tr);
    return *slot;
}

void al_trie_init(al_trie_t *tr)
{
    memset(tr, 0, sizeof(*tr));
    tr->root = tr_new(tr);
    tr->mc = al_rx_context();
}

static void tr_free(al_node_t *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->lcap; i++)
        tr_free(n->lit[i].child);
    for (size_t i = 0; i < n->nrx; i++)
        tr_free(n->rx[i].child);
    tr_free(n->ints);
    tr_free(n->uuids);
    tr_free(n->any);
    free(n->lit);
    free(n->rx);
    free(n->cands);
    free(n);
}

void al_trie_free(al_trie_t *tr)
{
    tr_free(tr->root);
    pcre2_match_context_free(tr->mc);
    memset(tr, 0, sizeof(*tr));
}

const al_node_t *al_trie_insert(al_trie_t *tr, const al_tmpl_t *t, size_t cand)
{
    al_node_t *n = tr->root;
    for (size_t i = 0; i < t->n; i++)
        n = tr_child(tr, n, &t->segs[i]);
    n->cands = pc_xrealloc(n->cands, (n->ncands + 1) * sizeof(*n->cands));
    n->cands[n->ncands++] = cand;
    return n;
}

const size_t *al_node_cands(const al_node_t *node, size_t *n)
{
    *n = node->ncands;
    return node->cands;
}

/* Depth-first in precedence order; i is the segment to match below n. */
static int tr_walk(const al_trie_t *tr, const al_node_t *n, size_t i, al_walk_t *w)
{
    if (i == w->nsegs)
        return n->ncands ? w->visit(w, n) : 0;
    const al_span_t *s = &w->segs[i];
    const al_node_t *c = tr_lit_find(n, s->p, s->len);
    int rc;
    if (c && (rc = tr_walk(tr, c, i + 1, w)))
        return rc;
    if (s->len == 0) /* a parameter is never empty */
        return 0;
    if (n->ints && al_is_int(s->p, s->len) && (rc = tr_walk(tr, n->ints, i + 1, w)))
        return rc;
    if (n->uuids && al_is_uuid(s->p, s->len) && (rc = tr_walk(tr, n->uuids, i + 1, w)))
        return rc;
    for (size_t k = 0; k < n->nrx; k++)
        if (al_rx_match(n->rx[k].seg->re, &w->rx, s->p, s->len) &&
            (rc = tr_walk(tr, n->rx[k].child, i + 1, w)))
            return rc;
    if (n->any && (rc = tr_walk(tr, n->any, i + 1, w)))
        return rc;
    return 0;
}

int al_trie_walk(const al_trie_t *tr, const char *path, al_walk_t *w)
{
    w->nsegs = 0;
    w->rx.mc = tr->mc;
    w->rx.md = NULL;
    w->rx.limit_hit = 0;
    if (!path || path[0] != '/')
        return 0;
    const char *p = path + 1;
    for (;;) {
        if (w->nsegs == AL_MAX_SEGS)
            return 0;
        const char *end = strchrnul(p, '/');
        w->segs[w->nsegs++] = (al_span_t){p, (size_t)(end - p)};
        if (*end == '\0')
            break;
        p = end + 1;
    }
    int rc = tr_walk(tr, tr->root, 0, w);
    al_rx_env_done(&w->rx);
    return rc;
}
