/* plugins/allowlist/al_decide.c: the decision for one request.
 *
 * One walk of the trie visits, in precedence order, every entry whose
 * path template matches; each one that allows the method is taken as far
 * as it goes: its list applies to the consumer, then the token has its
 * scopes, then the query meets its rules. The first entry that passes all
 * of them allows the request. Otherwise the refusal names the furthest
 * stage any entry reached (so a consumer who lacks a scope hears about the
 * scope, not that the path is unknown), with that entry for the log.
 */
#include "al_int.h"
#include "../jwt/jwt_claims.h"

#include <stdio.h>
#include <string.h>

/* How far an entry went; the refusal reason of each. */
typedef enum al_stage { AL_ST_NONE = 0, AL_ST_CONSUMER, AL_ST_SCOPE, AL_ST_QUERY, AL_ST_OK } al_stage_t;

static const char *const al_reasons[] = {
    [AL_ST_NONE] = "allowlist.not_listed",
    [AL_ST_CONSUMER] = "allowlist.consumer",
    [AL_ST_SCOPE] = "allowlist.scope",
    [AL_ST_QUERY] = "allowlist.query",
    [AL_ST_OK] = "allowlist.allowed",
};

static const char *const al_details[] = {
    [AL_ST_NONE] = "This request is not on the API allow-list.",
    [AL_ST_CONSUMER] = "This request is not on the allow-list of this client.",
    [AL_ST_SCOPE] = "The token lacks a scope this request requires.",
    [AL_ST_QUERY] = "The query string does not meet the allow-list's rules.",
    [AL_ST_OK] = NULL,
};

typedef struct al_eval {
    al_walk_t w;              /* first: the visitor gets it */
    pc_request_t *r;
    const pc_allowlist_t *al;
    unsigned mbit;
    const json_t *claims;
    const char *client_id;    /* "client_id", else "azp", else NULL */
    const json_t *groups;     /* the group claim, or NULL */
    signed char *applies;     /* per list: -1 not yet known, 0, 1 */
    char *scratch;            /* for query decoding */
    al_stage_t stage;         /* furthest so far */
    long best;                /* its entry, -1 none */
} al_eval_t;

static int al_in(const pc_conf_strings_t *s, const char *v)
{
    for (size_t i = 0; v && i < s->n; i++)
        if (strcmp(s->v[i], v) == 0)
            return 1;
    return 0;
}

/* The group claim may be a string or an array of strings; anything else
 * (absent, a number, an object) matches no group. */
static int al_in_groups(const pc_conf_strings_t *s, const json_t *groups)
{
    size_t i;
    const json_t *g;
    if (json_is_string(groups))
        return al_in(s, json_string_value(groups));
    json_array_foreach(groups, i, g) {
        if (json_is_string(g) && al_in(s, json_string_value(g)))
            return 1;
    }
    return 0;
}

static int al_list_applies(al_eval_t *ev, size_t li)
{
    if (ev->applies[li] < 0) {
        const al_list_t *l = &ev->al->lists[li];
        ev->applies[li] = (signed char)(l->everyone || al_in(&l->client_id, ev->client_id) ||
                                        al_in(&l->subject, pc_request_subject(ev->r)) ||
                                        al_in_groups(&l->group, ev->groups));
    }
    return ev->applies[li];
}

static al_stage_t al_entry_stage(al_eval_t *ev, const al_entry_t *e)
{
    if (!al_list_applies(ev, e->list))
        return AL_ST_CONSUMER;
    if (!pc_jwt_scopes_has_all(ev->claims, (const char *const *)e->scopes.v, e->scopes.n))
        return AL_ST_SCOPE;
    if (e->query && al_query_check(e->query, pc_request_query(ev->r), &ev->w.rx, ev->scratch) < 0)
        return AL_ST_QUERY;
    return AL_ST_OK;
}

static int al_visit(al_walk_t *w, const al_node_t *node)
{
    al_eval_t *ev = (al_eval_t *)w;
    size_t n;
    const size_t *c = al_node_cands(node, &n);
    for (size_t i = 0; i < n; i++) {
        const al_entry_t *e = &ev->al->entries[c[i]];
        if (!(e->methods & ev->mbit))
            continue;
        al_stage_t st = al_entry_stage(ev, e);
        if (st > ev->stage || ev->best < 0) {
            ev->stage = st;
            ev->best = (long)c[i];
        }
        if (st == AL_ST_OK)
            return 1;
    }
    return 0;
}

/* PCRE2's match data and backtracking frames come from the request's
 * arena: no malloc per request, and nothing to free. */
static void *al_arena_malloc(size_t n, void *r)
{
    return pc_alloc(r, n);
}

static void al_arena_free(void *p, void *r)
{
}

static void al_eval_init(al_eval_t *ev, pc_request_t *r, const pc_allowlist_t *al)
{
    memset(ev, 0, sizeof(*ev));
    ev->w.visit = al_visit;
    ev->w.rx.gc = pcre2_general_context_create(al_arena_malloc, al_arena_free, r);
    ev->r = r;
    ev->al = al;
    ev->best = -1;
    ev->mbit = al_method_bit(pc_request_method(r));
    ev->claims = pc_request_claims(r);
    const json_t *cid = json_object_get(ev->claims, "client_id");
    if (!json_is_string(cid))
        cid = json_object_get(ev->claims, "azp");
    ev->client_id = json_string_value(cid); /* NULL unless a string */
    ev->groups = pc_jwt_claim_get(ev->claims, al->group_claim);
    ev->applies = pc_alloc(r, al->nlists + 1);
    memset(ev->applies, -1, al->nlists + 1);
    const char *q = pc_request_query(r);
    ev->scratch = pc_alloc(r, (q ? strlen(q) : 0) + 2);
}

static void al_fill_hit(const al_eval_t *ev, pc_allowlist_hit_t *hit)
{
    memset(hit, 0, sizeof(*hit));
    hit->entry = ev->best;
    if (ev->best < 0)
        return;
    const al_entry_t *e = &ev->al->entries[ev->best];
    hit->id = e->id;
    hit->list = ev->al->lists[e->list].name;
    for (size_t i = 0; i < e->tmpl.n && hit->nparams < PC_ALLOWLIST_MAX_PARAMS; i++) {
        const al_seg_t *g = &e->tmpl.segs[i];
        if (g->kind == AL_SEG_LITERAL)
            continue;
        char *v = pc_alloc(ev->r, ev->w.segs[i].len + 1);
        memcpy(v, ev->w.segs[i].p, ev->w.segs[i].len);
        v[ev->w.segs[i].len] = '\0';
        hit->params[hit->nparams].name = g->name;
        hit->params[hit->nparams++].value = v;
    }
}

static void al_count(const pc_allowlist_t *al, const char *list, const char *decision,
                     const char *reason)
{
    const char *values[] = {list ? list : "", decision, reason};
    pc_metric_add(al->requests, values, 1);
}

/* Logs, counts and (in enforce mode) answers a refusal. */
static pc_status_t al_refuse(pc_request_t *r, const pc_allowlist_t *al, const char *reason,
                             const char *detail, const al_entry_t *e)
{
    const char *list = e ? al->lists[e->list].name : NULL;
    const char *decision = al->report ? "report_deny" : "deny";
    al_count(al, list, decision, reason);
    pc_rlog(r, PC_LOG_INFO, "%s %s %s: %s, list=%s entry=%s", decision,
            pc_request_method(r), pc_request_path(r), reason, list ? list : "-",
            e && e->id ? e->id : e ? e->path : "-");
    if (al->report)
        return PC_CONTINUE;
    if (al->hide) /* the core's own answer for an unknown route, byte for byte */
        return pc_deny(r, 404, "route.not_found", NULL);
    if (e && strcmp(reason, al_reasons[AL_ST_SCOPE]) == 0) {
        char h[1200];
        snprintf(h, sizeof(h), "Bearer error=\"insufficient_scope\", scope=\"%s\"",
                 e->scope_str);
        pc_response_header_set(r, "WWW-Authenticate", h);
    }
    return pc_deny(r, 403, reason, detail);
}

/* Never acted on by us, and never seen by an upstream that might. */
static void al_strip_overrides(pc_request_t *r)
{
    static const char *const names[] = {"X-HTTP-Method-Override", "X-HTTP-Method",
                                        "X-Method-Override"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (pc_request_header_count(r, names[i]))
            pc_upstream_header_remove(r, names[i]);
}

pc_status_t pc_allowlist_decide(pc_request_t *r, const pc_allowlist_t *al,
                                pc_allowlist_hit_t *hit)
{
    al_eval_t ev;

    al_strip_overrides(r);
    al_eval_init(&ev, r, al);
    al_trie_walk(&al->trie, pc_request_path(r), &ev.w);
    if (ev.w.rx.limit_hit && pc_log_every((_Atomic long *)&al->limit_log, 60))
        pc_rlog(r, PC_LOG_WARN, "a pattern hit its match limit on %s (counted as "
                "no match)", pc_request_path(r));
    if (hit)
        al_fill_hit(&ev, hit);
    const al_entry_t *e = ev.best >= 0 ? &al->entries[ev.best] : NULL;
    if (al_query_has_method(pc_request_query(r)))
        return al_refuse(r, al, "allowlist.method_override",
                         "A \"_method\" query parameter is not accepted.", e);
    if (ev.stage != AL_ST_OK)
        return al_refuse(r, al, al_reasons[ev.stage], al_details[ev.stage], e);
    al_count(al, al->lists[e->list].name, "allow", "allowed");
    return PC_CONTINUE;
}
