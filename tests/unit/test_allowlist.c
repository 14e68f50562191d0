/* tests/unit/test_allowlist.c: the allowlist plugin (plugins/allowlist/).
 *
 * First its template parser, typed checks and trie on their own (parse
 * errors, precedence, backtracking, regex limits), then the real plugin in
 * a harness chain (tests/unit/harness.h) with request paths made by the
 * real canonicaliser (gateway/http/path.c), so that escapes reach the
 * matcher as they would in the gateway: deny by default, typed parameter
 * tricks, consumers, scopes, query rules, method overrides, HEAD, hide
 * and report modes, the hit given to openapi, and config errors. */
#include "harness.h"

#include "al_int.h"
#include "http/path.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern const pc_plugin_t pc_plugin_allowlist;

/* ---- templates ------------------------------------------------------------------- */

START_TEST(tmpl_parse_errors)
{
    static const struct {
        const char *in, *msg;
    } cases[] = {
        {"", "starts with '/'"},
        {"v1/x", "starts with '/'"},
        {"/a//b", "empty segment"},
        {"/{id", "unclosed"},
        {"/{id}x", "whole segment"},
        {"/x{id}", "0x7b"},
        {"/{1d}", "parameter names"},
        {"/{}", "parameter names"},
        {"/{a-b}", "parameter names"},
        {"/{id}/{id:int}", "appears twice"},
        {"/{x:(}", "missing closing parenthesis"},
        {"/{x:}", "1 to 1024 bytes"},
        {"/a b", "0x20"},
        {"/%2D", "never in a canonical path"},
        {"/%2F", "never in a canonical path"},
        {"/%2f", "uppercase hex"},
        {"/%zz", "uppercase hex"},
        {"/%4", "uppercase hex"},
        {"/.", "\".\" and \"..\""},
        {"/a/../b", "\".\" and \"..\""},
        {"/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", "more than 8 parameters"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        al_tmpl_t t;
        char err[256] = "";
        ck_assert_msg(al_tmpl_parse(cases[i].in, &t, err, sizeof(err)) == -1, "%s", cases[i].in);
        ck_assert_msg(strstr(err, cases[i].msg), "%s: %s", cases[i].in, err);
        ck_assert_ptr_null(t.segs);
    }
    char deep[400] = "";
    for (int i = 0; i < AL_MAX_SEGS + 1; i++)
        strcat(deep, "/s");
    al_tmpl_t t;
    char err[256];
    ck_assert_int_eq(al_tmpl_parse(deep, &t, err, sizeof(err)), -1);
    ck_assert(strstr(err, "more than 64 segments"));
}
END_TEST

START_TEST(tmpl_parse_shapes)
{
    al_tmpl_t t;
    char err[256];
    ck_assert_int_eq(al_tmpl_parse("/", &t, err, sizeof(err)), 0);
    ck_assert_uint_eq(t.n, 1); /* one empty segment */
    ck_assert_int_eq(t.segs[0].kind, AL_SEG_LITERAL);
    ck_assert_uint_eq(t.segs[0].len, 0);
    al_tmpl_free(&t);
    ck_assert_int_eq(al_tmpl_parse("/v1/o/{id:uuid}/i/{n:int}/{s:[a-z0-9-]{1,64}}/{x}/a%20b/",
                                   &t, err, sizeof(err)), 0);
    ck_assert_uint_eq(t.n, 9);
    ck_assert_uint_eq(t.nparams, 4);
    ck_assert_int_eq(t.segs[2].kind, AL_SEG_UUID);
    ck_assert_str_eq(t.segs[2].name, "id");
    ck_assert_int_eq(t.segs[4].kind, AL_SEG_INT);
    ck_assert_int_eq(t.segs[5].kind, AL_SEG_REGEX);
    ck_assert_str_eq(t.segs[5].text, "[a-z0-9-]{1,64}");
    ck_assert_int_eq(t.segs[6].kind, AL_SEG_ANY);
    ck_assert_str_eq(t.segs[7].text, "a%20b");
    ck_assert_uint_eq(t.segs[8].len, 0); /* the trailing '/' */
    al_tmpl_free(&t);
}
END_TEST

START_TEST(typed_int_and_uuid)
{
    static const struct {
        const char *s;
        bool ok;
    } ints[] = {
        {"0", true}, {"7", true}, {"1234567890", true}, {"9223372036854775807", true},
        {"9223372036854775808", false}, {"99999999999999999999", false}, {"", false},
        {"-1", false}, {"+1", false}, {"01", false}, {"00", false}, {"1e3", false},
        {"1.0", false}, {" 1", false}, {"0x1", false}, {"%31", false},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++)
        ck_assert_msg(al_is_int(ints[i].s, strlen(ints[i].s)) == ints[i].ok, "%s", ints[i].s);
    ck_assert(al_is_uuid("0b7f3c6e-1d2a-4c5b-9e8f-7a6b5c4d3e2f", 36));
    ck_assert(al_is_uuid("0B7F3C6E-1D2A-4C5B-9E8F-7A6B5C4D3E2F", 36));
    ck_assert(!al_is_uuid("{0b7f3c6e-1d2a-4c5b-9e8f-7a6b5c4d3e2f}", 38));
    ck_assert(!al_is_uuid("0b7f3c6e1d2a4c5b9e8f7a6b5c4d3e2f", 32));
    ck_assert(!al_is_uuid("0b7f3c6e-1d2a-4c5b-9e8f-7a6b5c4d3e2g", 36));
    ck_assert(!al_is_uuid("0b7f3c6e-1d2a-4c5b-9e8f+7a6b5c4d3e2f", 36));
}
END_TEST

typedef struct t_walk {
    al_walk_t w;
    long first;
    int visits;
    bool go_on;        /* ask the walk to continue after a visit */
} t_walk_t;

static int t_visit(al_walk_t *w, const al_node_t *node)
{
    t_walk_t *t = (t_walk_t *)w;
    size_t n;
    const size_t *c = al_node_cands(node, &n);
    if (t->visits++ == 0)
        t->first = (long)c[0];
    return !t->go_on;
}

/* The first candidate the walk reaches for path, -1 for none. */
static long t_first(const al_trie_t *tr, const char *path, int *limit_hit)
{
    t_walk_t t = {.w.visit = t_visit, .first = -1};
    al_trie_walk(tr, path, &t.w);
    if (limit_hit)
        *limit_hit = t.w.rx.limit_hit;
    return t.first;
}

static void t_build(al_trie_t *tr, al_tmpl_t *t, const char *const *tmpls, size_t n)
{
    char err[256];
    al_trie_init(tr);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(al_tmpl_parse(tmpls[i], &t[i], err, sizeof(err)) == 0, "%s", err);
        al_trie_insert(tr, &t[i], i);
    }
}

static void t_free(al_trie_t *tr, al_tmpl_t *t, size_t n)
{
    al_trie_free(tr);
    for (size_t i = 0; i < n; i++)
        al_tmpl_free(&t[i]);
}

START_TEST(trie_precedence)
{
    /* Inserted in reverse precedence, so the order comes from the trie. */
    static const char *const tm[] = {
        "/a/{any}", "/a/{r:[0-9a-f-]+}", "/a/{u:uuid}", "/a/{i:int}", "/a/lit", "/a/", "/",
        "/a/{z:[a-z]+}",
    };
    al_trie_t tr;
    al_tmpl_t t[8];
    t_build(&tr, t, tm, 8);
    ck_assert_int_eq(t_first(&tr, "/a/lit", NULL), 4);
    ck_assert_int_eq(t_first(&tr, "/a/5", NULL), 3);
    ck_assert_int_eq(t_first(&tr, "/a/0b7f3c6e-1d2a-4c5b-9e8f-7a6b5c4d3e2f", NULL), 2);
    ck_assert_int_eq(t_first(&tr, "/a/05", NULL), 1);      /* not an int: the first regex */
    ck_assert_int_eq(t_first(&tr, "/a/abc", NULL), 1);     /* regexes in config order */
    ck_assert_int_eq(t_first(&tr, "/a/xyz", NULL), 7);
    ck_assert_int_eq(t_first(&tr, "/a/XY", NULL), 0);
    ck_assert_int_eq(t_first(&tr, "/a/", NULL), 5);        /* the empty segment: literal only */
    ck_assert_int_eq(t_first(&tr, "/", NULL), 6);
    ck_assert_int_eq(t_first(&tr, "/a", NULL), -1);
    ck_assert_int_eq(t_first(&tr, "/a/5/6", NULL), -1);
    ck_assert_int_eq(t_first(&tr, "/b/5", NULL), -1);
    ck_assert_int_eq(t_first(&tr, "a/5", NULL), -1);
    /* Every match is visited, in precedence order, when the visitor goes on. */
    t_walk_t w = {.w.visit = t_visit, .first = -1, .go_on = true};
    al_trie_walk(&tr, "/a/5", &w.w);
    ck_assert_int_eq(w.visits, 3); /* int, the hex regex, any */
    t_free(&tr, t, 8);
}
END_TEST

START_TEST(trie_backtracks)
{
    static const char *const tm[] = {"/x/{id:int}/a", "/x/{any}/b", "/x/lit/{n:int}",
                                     "/x/{any}/{n:int}"};
    al_trie_t tr;
    al_tmpl_t t[4];
    t_build(&tr, t, tm, 4);
    ck_assert_int_eq(t_first(&tr, "/x/5/a", NULL), 0);
    ck_assert_int_eq(t_first(&tr, "/x/5/b", NULL), 1);     /* int matched, then failed deeper */
    ck_assert_int_eq(t_first(&tr, "/x/lit/7", NULL), 2);
    ck_assert_int_eq(t_first(&tr, "/x/lit/b", NULL), 1);   /* literal failed deeper */
    ck_assert_int_eq(t_first(&tr, "/x/lit/b7", NULL), -1);
    ck_assert_int_eq(t_first(&tr, "/x/q/7", NULL), 3);
    t_free(&tr, t, 4);
    /* The same shape twice: one node, both candidates. */
    static const char *const same[] = {"/o/{id:int}", "/o/{oid:int}"};
    t_build(&tr, t, same, 2);
    t_walk_t w = {.w.visit = t_visit, .first = -1};
    ck_assert_uint_eq(tr.nodes, 3);
    al_trie_walk(&tr, "/o/1", &w.w);
    ck_assert_int_eq(w.visits, 1);
    t_free(&tr, t, 2);
    /* More segments than any template can have: nothing, and no overflow. */
    char deep[1000] = "";
    for (int i = 0; i < 200; i++)
        strcat(deep, "/x");
    static const char *const one[] = {"/x"};
    t_build(&tr, t, one, 1);
    ck_assert_int_eq(t_first(&tr, deep, NULL), -1);
    t_free(&tr, t, 1);
}
END_TEST

static double t_ms(struct timespec a, struct timespec b)
{
    return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

START_TEST(regex_limits)
{
    /* Exponential backtracking (Fibonacci in the input length) with no
     * required character for PCRE2 to give up early on. */
    static const char *const tm[] = {"/r/{x:(?:a|aa)+(?:b|c)}", "/s/{y:(a+)+$}"};
    al_trie_t tr;
    al_tmpl_t t[2];
    t_build(&tr, t, tm, 2);
    char path[256] = "/r/";
    memset(path + 3, 'a', 60);
    int limit = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(t_first(&tr, path, &limit), -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_eq(limit, 1);
    ck_assert_msg(t_ms(t0, t1) < 200, "%.1f ms", t_ms(t0, t1));
    ck_assert_int_eq(t_first(&tr, "/r/aab", &limit), 0);
    ck_assert_int_eq(limit, 0);
    /* The classic one, on a long input that fails at its very end. */
    snprintf(path, sizeof(path), "/s/");
    memset(path + 3, 'a', 200);
    path[203] = '!';
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(t_first(&tr, path, NULL), -1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_msg(t_ms(t0, t1) < 200, "%.1f ms", t_ms(t0, t1));
    ck_assert_int_eq(t_first(&tr, "/s/aaaa", NULL), 1);
    t_free(&tr, t, 2);
    /* Anchored at both ends: no partial match. */
    char err[128];
    pcre2_code *re = al_rx_compile("[a-z]+", err, sizeof(err));
    pcre2_match_context *mc = al_rx_context();
    al_rx_env_t rx = {.mc = mc};
    ck_assert_int_eq(al_rx_match(re, &rx, "abc", 3), 1);
    ck_assert_int_eq(al_rx_match(re, &rx, "abc1", 4), 0);
    ck_assert_int_eq(al_rx_match(re, &rx, "1abc", 4), 0);
    ck_assert_int_eq(al_rx_match(re, &rx, "ab\xff", 3), 0); /* not UTF-8 */
    ck_assert_int_eq(rx.limit_hit, 0);
    al_rx_env_done(&rx);
    pcre2_code_free(re);
    pcre2_match_context_free(mc);
}
END_TEST

/* ---- the plugin in a chain ----------------------------------------------------------- */

static harness_t *h;
static char last_reason[128];
static char last_www[256];
static bool last_stripped;   /* an upstream remove of X-HTTP-Method-Override */

static void plug(const char *json)
{
    h = h_new(0, NULL);
    ck_assert_uint_eq(h_add_plugin(h, &pc_plugin_allowlist, json), 0);
    ck_assert_uint_eq(h_add_scripted(h, H_CONTINUE), 1);
}

static void unplug(void)
{
    h_free(h);
    h = NULL;
}

/* A request for "METHOD target" (target may hold a query) by the token
 * with these claims (JSON text, NULL: anonymous). */
static pc_request_t *t_req(const char *method, const char *target, const char *claims)
{
    pc_request_t *r = h_request(h);
    r->method = pc_strdup(r, method);
    const char *q = strchr(target, '?');
    size_t len = q ? (size_t)(q - target) : strlen(target);
    char *out = pc_alloc(r, PC_PATH_OUT_SIZE(len));
    size_t olen;
    ck_assert_msg(pc_path_canonicalize(target, len, out, &olen) == PC_PATH_OK, "%s", target);
    r->path = out;
    r->path_len = olen;
    r->query = q ? pc_strdup(r, q + 1) : NULL;
    if (claims) {
        json_error_t je;
        json_t *c = json_loads(claims, 0, &je);
        ck_assert_msg(c != NULL, "%s", claims);
        const json_t *sub = json_object_get(c, "sub");
        pc_request_set_identity(r, json_string_value(sub), c);
        json_decref(c);
    }
    return r;
}

/* Runs the headers chain; 0 when the request went on to the upstream, else
 * the status. Keeps the reason and the WWW-Authenticate header. */
static int t_run(pc_request_t *r)
{
    pc_chain_result_t res = pc_chain_run(r, PC_PHASE_HEADERS);
    int st = res == PC_CHAIN_DONE ? 0 : r->status;
    snprintf(last_reason, sizeof(last_reason), "%s", r->reason ? r->reason : "");
    const char *www = h_response_header(r, "WWW-Authenticate");
    snprintf(last_www, sizeof(last_www), "%s", www ? www : "");
    last_stripped = false;
    for (const pc_hdr_op_t *op = r->up_ops.head; op; op = op->next)
        if (op->kind == PC_HOP_REMOVE && strcasecmp(op->name, "X-HTTP-Method-Override") == 0)
            last_stripped = true;
    if (st)
        ck_assert_int_eq(h->plugins[1].calls, 0); /* the chain stopped here */
    h->plugins[1].calls = 0;
    h_complete(h, r);
    return st;
}

static int t_do(const char *method, const char *target, const char *claims)
{
    return t_run(t_req(method, target, claims));
}

#define ALLOWED(m, t, c) ck_assert_msg(t_do(m, t, c) == 0, "%s %s: %s", m, t, last_reason)
#define REFUSED(m, t, c, st, why)                                                            \
    do {                                                                                     \
        ck_assert_msg(t_do(m, t, c) == (st), "%s %s: not %d", m, t, st);                     \
        ck_assert_str_eq(last_reason, why);                                                  \
    } while (0)

START_TEST(deny_by_default_and_typed_params)
{
    plug("{\"lists\": [{\"name\": \"public\", \"entries\": ["
         " {\"methods\": [\"GET\"], \"path\": \"/v1/items/{id:int}\"},"
         " {\"methods\": [\"GET\"], \"path\": \"/v1/orders/{id:uuid}\"},"
         " {\"methods\": [\"GET\"], \"path\": \"/v1/tags/{t:[a-z]+%20[a-z]+}\"},"
         " {\"methods\": [\"GET\", \"POST\"], \"path\": \"/v1/notes/{n}\"}]}]}");
    ALLOWED("GET", "/v1/items/42", NULL);
    ALLOWED("GET", "/v1/items/0", NULL);
    ALLOWED("GET", "/v1/items/%31", NULL);          /* the canonicaliser decodes it to "1" */
    ALLOWED("GET", "/v1/./items/../items/7", NULL); /* dot segments are gone */
    ALLOWED("GET", "/v1//items/7", NULL);
    REFUSED("GET", "/v1/items/-1", NULL, 403, "allowlist.not_listed");
    REFUSED("GET", "/v1/items/+1", NULL, 403, "allowlist.not_listed");
    REFUSED("GET", "/v1/items/01", NULL, 403, "allowlist.not_listed");
    REFUSED("GET", "/v1/items/1e3", NULL, 403, "allowlist.not_listed");
    REFUSED("GET", "/v1/items/99999999999999999999", NULL, 403, "allowlist.not_listed");
    REFUSED("GET", "/v1/items/9223372036854775808", NULL, 403, "allowlist.not_listed");
    REFUSED("GET", "/v1/items/", NULL, 403, "allowlist.not_listed");
    REFUSED("GET", "/v1/items", NULL, 403, "allowlist.not_listed");
    REFUSED("GET", "/v1/items/1/", NULL, 403, "allowlist.not_listed");
    REFUSED("GET", "/v1/items/%2B1", NULL, 403, "allowlist.not_listed"); /* stays "%2B1" */
    REFUSED("POST", "/v1/items/1", NULL, 403, "allowlist.not_listed");
    REFUSED("BREW", "/v1/items/1", NULL, 403, "allowlist.not_listed");
    REFUSED("GET", "/v2/items/1", NULL, 403, "allowlist.not_listed");
    ALLOWED("GET", "/v1/orders/0b7f3c6e-1d2a-4c5b-9e8f-7a6b5c4d3e2f", NULL);
    ALLOWED("GET", "/v1/orders/0B7F3C6E-1D2A-4C5B-9E8F-7A6B5C4D3E2F", NULL);
    REFUSED("GET", "/v1/orders/{0b7f3c6e-1d2a-4c5b-9e8f-7a6b5c4d3e2f}", NULL, 403,
            "allowlist.not_listed");
    REFUSED("GET", "/v1/orders/0b7f3c6e1d2a4c5b9e8f7a6b5c4d3e2f", NULL, 403,
            "allowlist.not_listed");
    /* Patterns see the canonical, still encoded segment. */
    ALLOWED("GET", "/v1/tags/red%20shoe", NULL);
    ALLOWED("GET", "/v1/tags/red shoe", NULL);      /* a raw space is encoded first */
    REFUSED("GET", "/v1/tags/redshoe", NULL, 403, "allowlist.not_listed");
    ALLOWED("POST", "/v1/notes/%E2%82%AC", NULL);
    REFUSED("GET", "/v1/notes/", NULL, 403, "allowlist.not_listed");
    unplug();
}
END_TEST

START_TEST(pattern_limit_refuses_quickly)
{
    plug("{\"lists\": [{\"name\": \"l\", \"entries\": ["
         " {\"methods\": \"GET\", \"path\": \"/r/{x:(?:a|aa)+(?:b|c)}\"},"
         " {\"methods\": \"GET\", \"path\": \"/q\", \"query\": {\"params\": "
         "   {\"s\": {\"pattern\": \"(?:a|aa)+(?:b|c)\"}}}}]}]}");
    char path[128] = "/r/", query[128] = "/q?s=";
    memset(path + 3, 'a', 60);
    memset(query + 5, 'a', 60);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    REFUSED("GET", path, NULL, 403, "allowlist.not_listed");
    REFUSED("GET", query, NULL, 403, "allowlist.query");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_msg(t_ms(t0, t1) < 400, "%.1f ms", t_ms(t0, t1));
    ALLOWED("GET", "/r/aaab", NULL);
    ALLOWED("GET", "/q?s=aac", NULL);
    unplug();
}
END_TEST

#define PARTNER_CONF                                                                         \
    "{\"group_claim\": \"realm_access.roles\", \"lists\": ["                                 \
    " {\"name\": \"public\", \"entries\": ["                                                 \
    "   {\"id\": \"listItems\", \"methods\": \"GET\", \"path\": \"/items\"}]},"              \
    " {\"name\": \"a\", \"consumers\": {\"client_id\": [\"app-a\"]}, \"entries\": ["         \
    "   {\"id\": \"getItemA\", \"methods\": [\"GET\"], \"path\": \"/items/{id:int}\"}]},"    \
    " {\"name\": \"b\", \"consumers\": {\"client_id\": [\"app-b\"], \"subject\": [\"bob\"]," \
    "  \"group\": [\"ops\"]}, \"entries\": ["                                                \
    "   {\"id\": \"itemB\", \"methods\": [\"GET\", \"DELETE\"], \"path\": \"/items/{id:int}\"," \
    "    \"scopes\": [\"items:write\", \"items:read\"]}]}]}"

START_TEST(consumers_and_lists)
{
    plug(PARTNER_CONF);
    ALLOWED("GET", "/items", NULL); /* no consumers: everybody, anonymous too */
    REFUSED("GET", "/items/1", NULL, 403, "allowlist.consumer");
    REFUSED("GET", "/items/1", "{\"sub\": \"x\"}", 403, "allowlist.consumer");
    REFUSED("GET", "/items/1", "{\"client_id\": 5}", 403, "allowlist.consumer");
    ALLOWED("GET", "/items/1", "{\"client_id\": \"app-a\"}");
    ALLOWED("GET", "/items/1", "{\"azp\": \"app-a\"}");     /* client_id falls back to azp */
    REFUSED("GET", "/items/1", "{\"client_id\": \"app-c\", \"azp\": \"app-a\"}", 403,
            "allowlist.consumer");
    /* The same path in two lists: a may read, only b may delete. */
    REFUSED("DELETE", "/items/1", "{\"client_id\": \"app-a\"}", 403, "allowlist.consumer");
    const char *b = "{\"client_id\": \"app-b\", \"scope\": \"items:read items:write\"}";
    ALLOWED("DELETE", "/items/1", b);
    ALLOWED("DELETE", "/items/1", "{\"sub\": \"bob\", \"scp\": [\"items:write\", \"items:read\"]}");
    ALLOWED("DELETE", "/items/1", "{\"realm_access\": {\"roles\": [\"dev\", \"ops\"]},"
                                  " \"scope\": \"items:read items:write\"}");
    ALLOWED("DELETE", "/items/1", "{\"realm_access\": {\"roles\": \"ops\"},"
                                  " \"scope\": \"items:read items:write\"}");
    /* Group claims of the wrong shape match nothing and break nothing. */
    REFUSED("DELETE", "/items/1", "{\"realm_access\": {\"roles\": {\"ops\": true}}}", 403,
            "allowlist.consumer");
    REFUSED("DELETE", "/items/1", "{\"realm_access\": 7}", 403, "allowlist.consumer");
    REFUSED("DELETE", "/items/1", "{\"realm_access\": {\"roles\": [1, null, \"op\"]}}", 403,
            "allowlist.consumer");
    unplug();
}
END_TEST

START_TEST(scopes)
{
    plug(PARTNER_CONF);
    const char *want = "Bearer error=\"insufficient_scope\", scope=\"items:write items:read\"";
    REFUSED("DELETE", "/items/1", "{\"client_id\": \"app-b\"}", 403, "allowlist.scope");
    ck_assert_str_eq(last_www, want);
    REFUSED("DELETE", "/items/1", "{\"client_id\": \"app-b\", \"scope\": \"items:read\"}", 403,
            "allowlist.scope");
    REFUSED("DELETE", "/items/1",
            "{\"client_id\": \"app-b\", \"scope\": \"items:readitems:write\"}", 403,
            "allowlist.scope");
    /* The furthest stage wins: app-a's list has GET only, so for a DELETE
     * by a member of b without scopes the answer is about the scope. */
    REFUSED("DELETE", "/items/1", "{\"client_id\": \"app-a\", \"sub\": \"bob\"}", 403,
            "allowlist.scope");
    /* A GET by b lacks b's scopes, but a's list does not apply: scope. */
    REFUSED("GET", "/items/1", "{\"client_id\": \"app-b\"}", 403, "allowlist.scope");
    ALLOWED("GET", "/items/1", "{\"client_id\": \"app-b\", \"scp\": \"items:read items:write\"}");
    ck_assert_str_eq(last_www, "");
    unplug();
}
END_TEST

START_TEST(query_rules)
{
    plug("{\"lists\": [{\"name\": \"q\", \"entries\": ["
         " {\"methods\": \"GET\", \"path\": \"/s\", \"query\": {\"params\": {"
         "   \"limit\": \"int\", \"q\": \"string\", \"f\": \"bool\", \"id\": \"uuid\","
         "   \"tag\": {\"type\": \"string\", \"repeat\": true},"
         "   \"sort\": {\"pattern\": \"(asc|desc)\"}}}},"
         " {\"methods\": \"GET\", \"path\": \"/open\", \"query\": {\"params\": {\"n\": \"int\"},"
         "   \"unknown\": \"allow\"}},"
         " {\"methods\": \"GET\", \"path\": \"/any\"}]}]}");
    ALLOWED("GET", "/s", NULL);
    ALLOWED("GET", "/s?", NULL);
    ALLOWED("GET", "/s?limit=10&q=red+shoes&f=true&sort=desc", NULL);
    ALLOWED("GET", "/s?q=%E2%82%AC&tag=a&tag=b&id=0b7f3c6e-1d2a-4c5b-9e8f-7a6b5c4d3e2f", NULL);
    ALLOWED("GET", "/s?limit=%31%32", NULL);         /* decoded: 12 */
    ALLOWED("GET", "/s?q=&&limit=1&", NULL);         /* empty pieces are skipped */
    REFUSED("GET", "/s?limit=abc", NULL, 403, "allowlist.query");
    REFUSED("GET", "/s?limit=-1", NULL, 403, "allowlist.query");
    REFUSED("GET", "/s?limit=+1", NULL, 403, "allowlist.query"); /* '+' is a space */
    REFUSED("GET", "/s?limit=01", NULL, 403, "allowlist.query");
    REFUSED("GET", "/s?limit=99999999999999999999", NULL, 403, "allowlist.query");
    REFUSED("GET", "/s?limit=1&limit=2", NULL, 403, "allowlist.query");
    REFUSED("GET", "/s?f=yes", NULL, 403, "allowlist.query");
    REFUSED("GET", "/s?sort=descending", NULL, 403, "allowlist.query");
    REFUSED("GET", "/s?id=%7B0b7f3c6e-1d2a-4c5b-9e8f-7a6b5c4d3e2f%7D", NULL, 403,
            "allowlist.query");
    REFUSED("GET", "/s?debug=1", NULL, 403, "allowlist.query");
    REFUSED("GET", "/s?q=%zz", NULL, 403, "allowlist.query");
    REFUSED("GET", "/s?q=%4", NULL, 403, "allowlist.query");
    REFUSED("GET", "/s?q=a%00b", NULL, 403, "allowlist.query");
    REFUSED("GET", "/s?%6Cimit=x", NULL, 403, "allowlist.query"); /* the name is decoded */
    ALLOWED("GET", "/open?n=1&whatever=x&whatever=y", NULL);
    REFUSED("GET", "/open?n=x", NULL, 403, "allowlist.query");
    ALLOWED("GET", "/any?what=ever&%zz", NULL);      /* no rules: not checked */
    unplug();
}
END_TEST

START_TEST(method_override)
{
    plug("{\"lists\": [{\"name\": \"l\", \"entries\": ["
         " {\"methods\": \"GET\", \"path\": \"/r\"}]}]}");
    pc_request_t *r = t_req("GET", "/r", NULL);
    h_header(r, "X-HTTP-Method-Override", "DELETE");
    ck_assert_int_eq(t_run(r), 0);
    ck_assert(last_stripped);
    ALLOWED("GET", "/r", NULL);
    ck_assert(!last_stripped);
    /* POST with an override to GET is still a POST, which is not listed. */
    r = t_req("POST", "/r", NULL);
    h_header(r, "x-http-method-override", "GET");
    ck_assert_int_eq(t_run(r), 403);
    REFUSED("GET", "/r?_method=DELETE", NULL, 403, "allowlist.method_override");
    REFUSED("GET", "/r?a=1&_METHOD=put", NULL, 403, "allowlist.method_override");
    REFUSED("GET", "/r?%5Fmethod=put", NULL, 403, "allowlist.method_override");
    ALLOWED("GET", "/r?_methods=1", NULL);
    unplug();
    /* Report mode: headers still go, the parameter is only reported. */
    plug("{\"mode\": \"report\", \"lists\": [{\"name\": \"l\", \"entries\": ["
         " {\"methods\": \"GET\", \"path\": \"/r\"}]}]}");
    r = t_req("GET", "/r?_method=DELETE", NULL);
    h_header(r, "X-HTTP-Method-Override", "DELETE");
    ck_assert_int_eq(t_run(r), 0);
    ck_assert(last_stripped);
    unplug();
}
END_TEST

START_TEST(head_rules)
{
    plug("{\"lists\": [{\"name\": \"l\", \"entries\": ["
         " {\"methods\": \"GET\", \"path\": \"/g\"},"
         " {\"methods\": \"GET\", \"path\": \"/gh\", \"get_implies_head\": true},"
         " {\"methods\": [\"GET\", \"HEAD\"], \"path\": \"/both\"},"
         " {\"methods\": \"HEAD\", \"path\": \"/h\"}]}]}");
    REFUSED("HEAD", "/g", NULL, 403, "allowlist.not_listed");
    ALLOWED("HEAD", "/gh", NULL);
    ALLOWED("HEAD", "/both", NULL);
    ALLOWED("HEAD", "/h", NULL);
    REFUSED("GET", "/h", NULL, 403, "allowlist.not_listed");
    unplug();
    plug("{\"get_implies_head\": true, \"lists\": [{\"name\": \"l\", \"entries\": ["
         " {\"methods\": \"GET\", \"path\": \"/g\"},"
         " {\"methods\": \"GET\", \"path\": \"/no\", \"get_implies_head\": false}]}]}");
    ALLOWED("HEAD", "/g", NULL);
    REFUSED("HEAD", "/no", NULL, 403, "allowlist.not_listed");
    unplug();
}
END_TEST

START_TEST(hide_and_report)
{
    plug("{\"on_deny\": \"hide\", \"lists\": [{\"name\": \"l\", \"entries\": ["
         " {\"methods\": \"GET\", \"path\": \"/r\", \"scopes\": \"s\"}]}]}");
    pc_request_t *r = t_req("GET", "/nope", NULL);
    pc_chain_run(r, PC_PHASE_HEADERS);
    ck_assert_int_eq(r->status, 404);
    ck_assert_str_eq(r->reason, "route.not_found"); /* the core's own 404 */
    ck_assert_ptr_nonnull(strstr(r->resp_body, "\"type\":\"urn:portcullis:problem:route.not_found\""));
    ck_assert_ptr_nonnull(strstr(r->resp_body, "\"title\":\"Not Found\""));
    ck_assert_ptr_null(strstr(r->resp_body, "allowlist"));
    h_complete(h, r);
    REFUSED("GET", "/r", NULL, 404, "route.not_found");
    ck_assert_str_eq(last_www, ""); /* nothing hints at the API */
    unplug();
    plug("{\"mode\": \"report\", \"lists\": [{\"name\": \"l\", \"entries\": ["
         " {\"methods\": \"GET\", \"path\": \"/r\"}]}]}");
    ALLOWED("GET", "/nope", NULL);
    ALLOWED("DELETE", "/r", NULL);
    unplug();
}
END_TEST

START_TEST(hit_for_openapi)
{
    plug("{\"lists\": [{\"name\": \"l0\", \"entries\": ["
         " {\"methods\": \"GET\", \"path\": \"/x\"}]},"
         " {\"name\": \"l1\", \"entries\": ["
         " {\"id\": \"getItem\", \"methods\": \"GET\","
         "  \"path\": \"/o/{oid:uuid}/i/{n:int}/{s:[a-z%0-9]+}\"}]}]}");
    const pc_allowlist_t *al = h->insts[0].conf;
    pc_request_t *r = t_req("GET", "/o/0b7f3c6e-1d2a-4c5b-9e8f-7a6b5c4d3e2f/i/7/a%20b", NULL);
    pc_allowlist_hit_t hit;
    ck_assert_int_eq(pc_allowlist_decide(r, al, &hit), PC_CONTINUE);
    ck_assert_int_eq(hit.entry, 1);
    ck_assert_str_eq(hit.id, "getItem");
    ck_assert_str_eq(hit.list, "l1");
    ck_assert_uint_eq(hit.nparams, 3);
    ck_assert_str_eq(hit.params[0].name, "oid");
    ck_assert_str_eq(hit.params[0].value, "0b7f3c6e-1d2a-4c5b-9e8f-7a6b5c4d3e2f");
    ck_assert_str_eq(hit.params[1].value, "7");
    ck_assert_str_eq(hit.params[2].name, "s");
    ck_assert_str_eq(hit.params[2].value, "a%20b");
    h_complete(h, r);
    r = t_req("GET", "/nothing", NULL);
    ck_assert_int_eq(pc_allowlist_decide(r, al, &hit), PC_RESPOND);
    ck_assert_int_eq(hit.entry, -1);
    ck_assert_ptr_null(hit.list);
    h_complete(h, r);
    unplug();
}
END_TEST

/* ---- config errors ---------------------------------------------------------------------- */

static void conf_fails(const char *json, const char *msg)
{
    json_error_t je;
    json_t *node = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(node != NULL, "bad test JSON: %s", je.text);
    pc_diag_t d = {0};
    pc_err_t err = {&d, "plugins.al", 0};
    pc_allowlist_t *al = NULL;
    ck_assert_msg(pc_allowlist_create(node, &al, &err) == -1, "accepted: %s", json);
    ck_assert_uint_gt(d.nerrors, 0);
    ck_assert_msg(strstr(d.errors[0], msg), "%s: got \"%s\"", json, d.errors[0]);
    pc_allowlist_free(al);
    pc_diag_free(&d);
    json_decref(node);
}

#define L(entries) "{\"lists\": [{\"name\": \"l\", \"entries\": [" entries "]}]}"

START_TEST(conf_errors)
{
    conf_fails("{}", "plugins.al.lists: ");
    conf_fails("{\"lists\": []}", "at least one list");
    conf_fails("{\"lists\": [{\"entries\": []}]}", "lists[0].name");
    conf_fails("{\"mode\": \"audit\", \"lists\": []}", "plugins.al.mode");
    conf_fails(L("{\"methods\": \"GET\", \"path\": \"/a/{id:int}\"},"
                 "{\"methods\": [\"POST\", \"GET\"], \"path\": \"/a/{n:int}\"}"),
               "lists[0].entries[1].path: same methods and path shape");
    conf_fails("{\"get_implies_head\": true, \"lists\": [{\"name\": \"l\", \"entries\": ["
               "{\"methods\": \"GET\", \"path\": \"/a\"},{\"methods\": \"HEAD\", \"path\": \"/a\"}]}]}",
               "same methods");
    conf_fails(L("{\"methods\": \"get\", \"path\": \"/a\"}"), "entries[0].methods: \"get\"");
    conf_fails(L("{\"methods\": \"GET\", \"path\": \"/a/{x:(}\"}"), "entries[0].path: pattern");
    conf_fails(L("{\"methods\": \"GET\", \"path\": \"/a\", \"scopes\": [\"a\\\"b\"]}"),
               "scope \"a\"b\"");
    conf_fails(L("{\"methods\": \"GET\", \"path\": \"/a\", \"get_implies_head\": 1}"),
               "get_implies_head: must be true or false");
    conf_fails(L("{\"methods\": \"GET\", \"path\": \"/a\", \"query\": {\"params\": {\"n\": \"float\"}}}"),
               "entries[0].query.params.n: must be");
    conf_fails(L("{\"methods\": \"GET\", \"path\": \"/a\", \"query\": {\"params\": {\"n\": "
                 "{\"type\": \"int\", \"pattern\": \"1\"}}}}"), "exclude each other");
    conf_fails(L("{\"methods\": \"GET\", \"path\": \"/a\", \"query\": {\"params\": {\"_method\": \"string\"}}}"),
               "not a parameter name");
    conf_fails(L("{\"methods\": \"GET\", \"path\": \"/a\", \"query\": {\"unknown\": \"maybe\"}}"),
               "query.unknown");
    conf_fails(L("{\"methods\": \"GET\", \"path\": \"/a\", \"verbs\": 1}"), "verbs");
    conf_fails("{\"lists\": [{\"name\": \"l\", \"consumers\": {}, \"entries\": []}]}",
               "lists[0].consumers: names no consumer");
    conf_fails("{\"lists\": [{\"name\": \"l\", \"consumers\": {\"client\": [\"a\"]}, \"entries\": []}]}",
               "lists[0].consumers");
    conf_fails("{\"lists\": [{\"name\": \"l\", \"entries\": []}, {\"name\": \"l\", \"entries\": []}]}",
               "named twice");
    conf_fails("{\"lists\": [{\"name\": \"a b\", \"entries\": []}]}", "lists[0].name");
}
END_TEST

START_TEST(conf_same_path_in_two_lists_is_fine)
{
    json_t *node = json_loads(
        "{\"lists\": [{\"name\": \"a\", \"entries\": [{\"methods\": \"GET\", \"path\": \"/x/{i:int}\"}]},"
        "{\"name\": \"b\", \"entries\": [{\"methods\": \"GET\", \"path\": \"/x/{j:int}\"},"
        "{\"methods\": \"POST\", \"path\": \"/x/{j:int}\"}]}]}", 0, NULL);
    pc_diag_t d = {0};
    pc_err_t err = {&d, "plugins.al", 0};
    pc_allowlist_t *al = NULL;
    ck_assert_int_eq(pc_allowlist_create(node, &al, &err), 0);
    ck_assert_uint_eq(al->nentries, 3);
    ck_assert_uint_eq(al->trie.nodes, 3); /* root, "x", one int node */
    pc_allowlist_free(al);
    pc_diag_free(&d);
    json_decref(node);
}
END_TEST

static Suite *allowlist_suite(void)
{
    Suite *s = suite_create("allowlist");
    TCase *t = tcase_create("template");
    tcase_add_test(t, tmpl_parse_errors);
    tcase_add_test(t, tmpl_parse_shapes);
    tcase_add_test(t, typed_int_and_uuid);
    tcase_add_test(t, trie_precedence);
    tcase_add_test(t, trie_backtracks);
    tcase_add_test(t, regex_limits);
    suite_add_tcase(s, t);
    TCase *p = tcase_create("plugin");
    tcase_add_test(p, deny_by_default_and_typed_params);
    tcase_add_test(p, pattern_limit_refuses_quickly);
    tcase_add_test(p, consumers_and_lists);
    tcase_add_test(p, scopes);
    tcase_add_test(p, query_rules);
    tcase_add_test(p, method_override);
    tcase_add_test(p, head_rules);
    tcase_add_test(p, hide_and_report);
    tcase_add_test(p, hit_for_openapi);
    tcase_add_test(p, conf_errors);
    tcase_add_test(p, conf_same_path_in_two_lists_is_fine);
    suite_add_tcase(s, p);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(allowlist_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
