/* plugins/allowlist/al_template.h: typed path templates and the segment
 * trie that matches a canonical path against all of them at once.
 *
 * A template is an absolute path cut at '/' into segments, each one either
 *   literal          bytes compared exactly with the canonical segment
 *                    (so written in canonical form: "%20" not " ", and
 *                    never "%2D" since '-' is unreserved and decoded);
 *   {name}           any one non-empty segment;
 *   {name:int}       1 to 19 ASCII digits, no sign, no leading zero (but
 *                    "0" itself), value at most INT64_MAX;
 *   {name:uuid}      8-4-4-4-12 hex digits, either case, no braces;
 *   {name:PATTERN}   a PCRE2 pattern matched against the whole segment
 *                    (anchored at both ends, UTF mode, bounded by match,
 *                    depth and heap limits) in its canonical, still
 *                    percent-encoded form ("a%20b", not "a b").
 * A parameter is always a whole, non-empty segment. "int" and "uuid" are
 * type names; a pattern spelt like one is written "(?:int)". The canonical
 * path keeps a trailing '/', which is an empty last segment: "/a/" and "/a"
 * are different templates, and "/" is one empty segment.
 *
 * The trie has one node per distinct prefix shape. A node's children are
 * tried in a fixed precedence: the literal child (a hash lookup), then
 * int, then uuid, then the regex children in config order, then any; when
 * a child's subtree yields nothing (or the visitor asks to go on), the
 * next child is tried. Every node is visited at most once per walk, so the
 * cost depends on the path and on the shapes along it, not on how many
 * templates the trie holds.
 *
 * Build on one thread (load time); walk from any number of threads.
 */
#ifndef PC_AL_TEMPLATE_H
#define PC_AL_TEMPLATE_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <stdbool.h>
#include <stddef.h>

#define AL_MAX_SEGS 64        /* segments in a template (and walked in a path) */
#define AL_MAX_PARAMS 8       /* typed parameters in one template */
#define AL_NAME_MAX 64        /* bytes of a parameter name */
#define AL_RX_MATCH_LIMIT 20000u /* pcre2_set_match_limit: a few ms at worst */
#define AL_RX_DEPTH_LIMIT 1000u  /* pcre2_set_depth_limit */
#define AL_RX_HEAP_LIMIT 256u    /* pcre2_set_heap_limit, KiB */

/* In precedence order: the trie tries a node's children in this order. */
typedef enum al_seg_kind {
    AL_SEG_LITERAL = 0,
    AL_SEG_INT,
    AL_SEG_UUID,
    AL_SEG_REGEX,
    AL_SEG_ANY,
} al_seg_kind_t;

typedef struct al_seg {
    al_seg_kind_t kind;
    char *text;       /* LITERAL: the bytes; REGEX: the pattern source */
    size_t len;       /* of text */
    char *name;       /* parameter name; NULL for a literal */
    pcre2_code *re;   /* REGEX: compiled, owned here */
} al_seg_t;

typedef struct al_tmpl {
    al_seg_t *segs;
    size_t n;
    unsigned nparams;
} al_tmpl_t;

/* Parses s into t. Returns 0, or -1 with a message in err (t is then
 * freed and zeroed). */
int al_tmpl_parse(const char *s, al_tmpl_t *t, char *err, size_t errlen);
void al_tmpl_free(al_tmpl_t *t);

/* The typed checks, also used for query values. */
bool al_is_int(const char *p, size_t len);
bool al_is_uuid(const char *p, size_t len);
/* The value of a hex digit (either case), -1 for any other byte. */
int al_hex_val(char c);
/* Compiles pattern (NUL-terminated) anchored at both ends, UTF mode.
 * NULL with a message in err. */
pcre2_code *al_rx_compile(const char *pattern, char *err, size_t errlen);
/* What a pattern match needs besides the pattern: the limits, where its
 * match data (with PCRE2's backtracking frames) comes from, and whether a
 * limit ended a match. One per thread at a time. */
typedef struct al_rx_env {
    const pcre2_match_context *mc; /* from al_rx_context */
    pcre2_general_context *gc;     /* allocates md; NULL: malloc */
    pcre2_match_data *md;          /* made on first use, kept for the next */
    int limit_hit;                 /* a limit ended a match (counted as no match) */
} al_rx_env_t;

/* 1 match, 0 no match (a limit hit included; see env->limit_hit). */
int al_rx_match(const pcre2_code *re, al_rx_env_t *env, const char *p, size_t len);
/* Frees env->md. */
void al_rx_env_done(al_rx_env_t *env);
/* A match context carrying the AL_RX_* limits; never NULL. */
pcre2_match_context *al_rx_context(void);

typedef struct al_node al_node_t;

typedef struct al_trie {
    al_node_t *root;
    pcre2_match_context *mc;
    size_t nodes;
} al_trie_t;

void al_trie_init(al_trie_t *tr);
void al_trie_free(al_trie_t *tr);
/* Adds t (which must outlive the trie: regex children borrow its compiled
 * patterns) with candidate id cand; returns its terminal node. */
const al_node_t *al_trie_insert(al_trie_t *tr, const al_tmpl_t *t, size_t cand);
/* The candidates (insertion order) that end at node. */
const size_t *al_node_cands(const al_node_t *node, size_t *n);

typedef struct al_span {
    const char *p;
    size_t len;
} al_span_t;

/* A walk. visit is called for each node where the whole path ends and
 * that holds candidates, in precedence order; it returns nonzero to stop
 * the walk there. segs are the path's segments while the walk runs. */
typedef struct al_walk {
    int (*visit)(struct al_walk *w, const al_node_t *node);
    void *ctx;
    al_span_t segs[AL_MAX_SEGS];
    size_t nsegs;
    al_rx_env_t rx;           /* the caller may set rx.gc; the walk sets the rest */
} al_walk_t;

/* Walks path (canonical, starting with '/'); returns what the last visit
 * returned, or 0. A path with more than AL_MAX_SEGS segments matches
 * nothing. */
int al_trie_walk(const al_trie_t *tr, const char *path, al_walk_t *w);

#endif
