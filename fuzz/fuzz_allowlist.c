/* fuzz/fuzz_allowlist.c: libFuzzer target for the allow-list's typed path
 * templates and segment trie (plugins/allowlist/al_template.c).
 *
 * Input: lines. Every line but the last is a template (at most 16; those
 * that do not parse are skipped, which exercises the parser's error
 * paths); the last line is the request path, walked as is (the walk takes
 * any bytes, canonical or not).
 * Checks, beyond no crash, leak or undefined behaviour: the walk visits
 * exactly the templates that a naive segment-by-segment matcher says
 * match (none missing, none extra; a regex limit hit excuses a missing
 * one), each node once, and the first visit is the most specific one in
 * the documented precedence (literal > int > uuid > regex > any, compared
 * segment by segment from the left).
 * Build and run: fuzz/run.sh (links PCRE2). */
#include "al_template.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

#define FZ_MAX_TMPL 16

typedef struct fz_walk {
    al_walk_t w;
    unsigned char seen[FZ_MAX_TMPL];
    const al_node_t *nodes[FZ_MAX_TMPL];
    size_t nnodes;
    long first;
} fz_walk_t;

static int fz_visit(al_walk_t *w, const al_node_t *node)
{
    fz_walk_t *f = (fz_walk_t *)w;
    size_t n;
    const size_t *c = al_node_cands(node, &n);
    FUZZ_CHECK(n > 0);
    for (size_t i = 0; i < f->nnodes; i++)
        FUZZ_CHECK(f->nodes[i] != node); /* each node once */
    f->nodes[f->nnodes++] = node;
    if (f->first < 0)
        f->first = (long)c[0];
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(c[i] < FZ_MAX_TMPL && !f->seen[c[i]]);
        f->seen[c[i]] = 1;
    }
    return 0; /* go on: every match is wanted */
}

/* The naive matcher: 1 match, 0 not, -1 a regex hit a limit. */
static int fz_naive(const al_tmpl_t *t, const al_walk_t *w, al_rx_env_t *rx)
{
    if (t->n != w->nsegs)
        return 0;
    rx->limit_hit = 0;
    for (size_t i = 0; i < t->n; i++) {
        const al_seg_t *g = &t->segs[i];
        const al_span_t *s = &w->segs[i];
        int ok;
        switch (g->kind) {
        case AL_SEG_LITERAL: ok = g->len == s->len && memcmp(g->text, s->p, s->len) == 0; break;
        case AL_SEG_INT: ok = s->len && al_is_int(s->p, s->len); break;
        case AL_SEG_UUID: ok = s->len && al_is_uuid(s->p, s->len); break;
        case AL_SEG_REGEX: ok = s->len && al_rx_match(g->re, rx, s->p, s->len); break;
        default: ok = s->len > 0; break;
        }
        if (!ok)
            return rx->limit_hit ? -1 : 0;
    }
    return 1;
}

/* Negative when a is more specific than b at the first segment where their
 * kinds differ (regexes of the same kind: the earlier inserted wins, which
 * the caller settles by index). */
static int fz_cmp(const al_tmpl_t *a, const al_tmpl_t *b)
{
    for (size_t i = 0; i < a->n && i < b->n; i++) {
        if (a->segs[i].kind != b->segs[i].kind)
            return (int)a->segs[i].kind - (int)b->segs[i].kind;
        if (a->segs[i].kind == AL_SEG_REGEX && strcmp(a->segs[i].text, b->segs[i].text) != 0)
            return 0; /* config order of distinct patterns: not checked here */
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *lines[FZ_MAX_TMPL + 1];
    size_t nl = 0;
    char *p = buf;
    for (;;) {
        char *nlp = memchr(p, '\n', (size_t)(buf + size - p));
        if (nl == FZ_MAX_TMPL + 1)
            break;
        lines[nl++] = p;
        if (!nlp)
            break;
        *nlp = '\0';
        p = nlp + 1;
    }
    const char *path = lines[nl - 1];
    al_tmpl_t t[FZ_MAX_TMPL];
    int ok[FZ_MAX_TMPL] = {0};
    al_trie_t tr;
    al_trie_init(&tr);
    for (size_t i = 0; i + 1 < nl; i++) {
        char err[256];
        ok[i] = al_tmpl_parse(lines[i], &t[i], err, sizeof(err)) == 0;
        if (!ok[i]) {
            FUZZ_CHECK(t[i].segs == NULL && err[0]);
            continue;
        }
        FUZZ_CHECK(t[i].n >= 1 && t[i].n <= AL_MAX_SEGS && t[i].nparams <= AL_MAX_PARAMS);
        al_trie_insert(&tr, &t[i], i);
    }
    fz_walk_t f = {.w.visit = fz_visit, .first = -1};
    al_trie_walk(&tr, path, &f.w);
    /* segs are still the path's after the walk */
    size_t slashes = 0;
    for (const char *q = path; *q; q++)
        slashes += *q == '/';
    al_rx_env_t rx = {.mc = tr.mc};
    for (size_t i = 0; i + 1 < nl; i++) {
        if (!ok[i] || path[0] != '/' || slashes > AL_MAX_SEGS)
            continue; /* not walked at all */
        int want = fz_naive(&t[i], &f.w, &rx);
        if (want >= 0 && !(want == 0 && f.w.rx.limit_hit))
            FUZZ_CHECK(want == f.seen[i]);
        if (f.seen[i] && f.first >= 0)
            FUZZ_CHECK(fz_cmp(&t[f.first], &t[i]) <= 0);
    }
    al_rx_env_done(&rx);
    al_trie_free(&tr);
    for (size_t i = 0; i + 1 < nl; i++)
        if (ok[i])
            al_tmpl_free(&t[i]);
    free(buf);
    return 0;
}
