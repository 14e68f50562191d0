/* tests/unit/test_store.c: gateway/store/store.c and the "store" config section.
 * The config (every redis field, errors with their JSON paths, reload
 * refusal), the Redis key layout, the memory store behind pc_store_*, and,
 * against a real redis-server started here (skipped when missing), the
 * Redis store through the blocking client (this thread is no worker): the same answers
 * as the memory store, keys and expiries in Redis, and both on_error
 * policies once Redis is gone. */
#include "conf/conf.h"
#include "store/redis_reply.h"
#include "store/store.h"
#include "store/store_ctx.h"
#include "store/store_ns.h"
#include "base/thread.h"
#include "base/util.h"
#include "ops/metric.h"

#include <portcullis/plugin.h>

#include <hiredis/hiredis.h>

#include "redis_server.h"

#include <check.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BASE                                                                                       \
    "{\"listen\": [{\"address\": \"127.0.0.1\", \"port\": 18080}],"                                \
    " \"upstreams\": {\"u\": {\"targets\": [{\"url\": \"http://127.0.0.1:9\"}]}},"                 \
    " \"routes\": [{\"name\": \"r\", \"match\": {\"path_prefix\": \"/\"}, \"upstream\": \"u\"}]"

static pc_conf_t *load(const char *store_json, pc_diag_t *d)
{
    char doc[4096];
    snprintf(doc, sizeof(doc), BASE "%s%s}", store_json ? ", \"store\": " : "",
             store_json ? store_json : "");
    return pc_conf_load_buffer(doc, strlen(doc), "test.json", d);
}

static bool has_error(const pc_diag_t *d, const char *want)
{
    for (size_t i = 0; i < d->nerrors; i++)
        if (strstr(d->errors[i], want))
            return true;
    return false;
}

/* ---- config ---------------------------------------------------------------- */

START_TEST(test_conf_defaults_and_fields)
{
    pc_diag_t d = {0};
    pc_conf_t *c = load(NULL, &d);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->store_type, "memory");
    ck_assert_ptr_null(c->store_url);
    pc_conf_free(c);
    pc_diag_free(&d);

    c = load("{\"type\": \"redis\", \"url\": \"redis://gw:pa%24s@10.1.2.3:6380/4\","
             " \"prefix\": \"edge:\", \"on_error\": \"fail_open\", \"command_timeout_ms\": 50}",
             &d);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->store_type, "redis");
    ck_assert_str_eq(c->store_host, "10.1.2.3");
    ck_assert_uint_eq(c->store_port, 6380);
    ck_assert_uint_eq(c->store_db, 4);
    ck_assert_str_eq(c->store_username, "gw");
    ck_assert_str_eq(c->store_password, "pa$s");
    ck_assert_str_eq(c->store_prefix, "edge:");
    ck_assert_str_eq(c->store_on_error, "fail_open");
    ck_assert_uint_eq(c->store_connect_timeout_ms, 500);
    ck_assert_uint_eq(c->store_command_timeout_ms, 50);
    ck_assert(c->store_batch); /* the default */
    ck_assert_uint_eq(c->store_lease_ms, 1000); /* the default */
    ck_assert_uint_ge(d.nwarnings, 1); /* password inline in the URL */
    pc_conf_free(c);
    pc_diag_free(&d);

    char pw[] = "/tmp/pc-test-pw-XXXXXX";
    int fd = mkstemp(pw);
    ck_assert(write(fd, "from-file\n", 10) == 10);
    close(fd);
    char js[512];
    snprintf(js, sizeof(js),
             "{\"type\": \"redis\", \"url\": \"unix:///run/r.sock?db=2\", \"username\": \"u\","
             " \"password\": {\"file\": \"%s\"}}",
             pw);
    c = load(js, &d);
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(c->store_host);
    ck_assert_str_eq(c->store_unix_path, "/run/r.sock");
    ck_assert_uint_eq(c->store_db, 2);
    ck_assert_str_eq(c->store_password, "from-file");
    ck_assert_str_eq(c->store_on_error, "fail_closed"); /* the default */
    ck_assert_str_eq(c->store_prefix, "pc:");
    pc_conf_free(c);
    pc_diag_free(&d);
    unlink(pw);

    c = load("{\"type\": \"redis\", \"url\": \"redis://[::1]:7000\", \"batch\": false, "
             "\"lease_ms\": 0}",
             &d);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(c->store_host, "::1");
    ck_assert(!c->store_batch);
    ck_assert_uint_eq(c->store_lease_ms, 0);
    pc_conf_free(c);
    pc_diag_free(&d);
}
END_TEST

START_TEST(test_conf_errors)
{
    static const struct {
        const char *store, *want;
    } cases[] = {
        {"{\"type\": \"redis\"}", "store.url: required for type redis"},
        {"{\"type\": \"redis\", \"url\": \"rediss://10.0.0.1\"}", "store.url: rediss:// (TLS)"},
        {"{\"type\": \"redis\", \"url\": \"redis://10.0.0.1:99999\"}", "store.url: port must be"},
        {"{\"type\": \"redis\", \"url\": \"redis://cache.local\"}",
         "store.url: cannot resolve cache.local: name resolution is disabled"},
        {"{\"type\": \"redis\", \"url\": \"redis://:a@10.0.0.1\", \"password\": \"b\"}",
         "store.password: given twice"},
        {"{\"type\": \"redis\", \"url\": \"redis://10.0.0.1\", \"username\": \"u\"}",
         "store.username: needs a password"},
        {"{\"type\": \"redis\", \"url\": \"redis://10.0.0.1\", \"password\": {\"env\": "
         "\"PC_TEST_NO_SUCH_VAR\"}}",
         "store.password: environment variable PC_TEST_NO_SUCH_VAR is not set"},
        {"{\"type\": \"redis\", \"url\": \"redis://10.0.0.1\", \"on_error\": \"ignore\"}",
         "store.on_error: must be \"fail_open\" or \"fail_closed\""},
        {"{\"type\": \"redis\", \"url\": \"redis://10.0.0.1\", \"prefix\": \"a{b}\"}",
         "store.prefix: must not contain { or }"},
        {"{\"type\": \"redis\", \"url\": \"redis://10.0.0.1\", \"command_timeout_ms\": 0}",
         "store.command_timeout_ms: must be between 1 and 60000"},
        {"{\"type\": \"redis\", \"url\": \"redis://10.0.0.1\", \"pool\": 4}", "store.pool"},
        {"{\"type\": \"memory\", \"url\": \"redis://10.0.0.1\"}", "store.url: only for type redis"},
        {"{\"type\": \"memory\", \"on_error\": \"fail_open\"}", "store.on_error: only for type redis"},
        {"{\"type\": \"memory\", \"batch\": false}", "store.batch: only for type redis"},
        {"{\"type\": \"memory\", \"lease_ms\": 500}", "store.lease_ms: only for type redis"},
        {"{\"type\": \"redis\", \"url\": \"redis://10.0.0.1\", \"lease_ms\": 10001}",
         "store.lease_ms: must be between 0 and 10000"},
        {"{\"type\": \"redis\", \"url\": \"redis://10.0.0.1\", \"lease_ms\": \"1s\"}",
         "store.lease_ms"},
        {"{\"type\": \"disk\"}", "store.type: must be \"memory\" or \"redis\""},
    };
    for (size_t i = 0; i < PC_ARRAY_LEN(cases); i++) {
        pc_diag_t d = {0};
        pc_conf_t *c = load(cases[i].store, &d);
        ck_assert_msg(c == NULL, "%s: accepted", cases[i].store);
        ck_assert_msg(has_error(&d, cases[i].want), "%s: want \"%s\", got \"%s\"", cases[i].store,
                      cases[i].want, d.nerrors ? d.errors[0] : "");
        pc_diag_free(&d);
    }
}
END_TEST

START_TEST(test_conf_reload_cannot_change_the_store)
{
    pc_diag_t d = {0};
    pc_conf_t *a = load("{\"type\": \"redis\", \"url\": \"redis://10.0.0.1/1\"}", &d);
    pc_conf_t *b = load("{\"type\": \"redis\", \"url\": \"redis://10.0.0.1/1\"}", &d);
    pc_conf_t *c = load("{\"type\": \"redis\", \"url\": \"redis://10.0.0.1/2\"}", &d);
    pc_conf_t *m = load(NULL, &d);
    pc_conf_t *l = load("{\"type\": \"redis\", \"url\": \"redis://10.0.0.1/1\", \"lease_ms\": 0}",
                        &d);
    ck_assert(a && b && c && m && l);
    ck_assert_int_eq(pc_conf_reload_compatible(a, b, &d), 0);
    ck_assert_int_eq(pc_conf_reload_compatible(a, c, &d), -1);
    ck_assert(has_error(&d, "store: changing the store requires a restart"));
    ck_assert_int_eq(pc_conf_reload_compatible(m, a, &d), -1);
    ck_assert_int_eq(pc_conf_reload_compatible(a, l, &d), -1);
    pc_conf_free(l);
    pc_conf_free(a);
    pc_conf_free(b);
    pc_conf_free(c);
    pc_conf_free(m);
    pc_diag_free(&d);
}
END_TEST

START_TEST(test_redis_key_layout)
{
    char out[PC_STORE_RKEY_MAX];
    size_t n = pc_store_redis_key(out, "pc:", "rl:x:*:s5:alice", 15, ":l0");
    ck_assert_str_eq(out, "pc:{rl:x:*:s5:alice}:l0");
    ck_assert_uint_eq(n, strlen(out));
    /* braces and % inside a key cannot move the hash tag */
    n = pc_store_redis_key(out, "p:", "a}b{c%", 6, ":f");
    ck_assert_str_eq(out, "p:{a%7Db%7Bc%25}:f");
    /* binary-safe */
    n = pc_store_redis_key(out, "", "a\0b", 3, "");
    ck_assert_uint_eq(n, 5);
    ck_assert(memcmp(out, "{a\0b}", 5) == 0);
    /* the longest key fits */
    char key[256];
    memset(key, '}', sizeof(key));
    char prefix[65];
    memset(prefix, 'p', 64);
    prefix[64] = '\0';
    n = pc_store_redis_key(out, prefix, key, sizeof(key), ":l7");
    ck_assert_uint_eq(n, 64 + 2 + 3 * 256 + 3);
    ck_assert_uint_lt(n, PC_STORE_RKEY_MAX);
}
END_TEST

START_TEST(test_namespace_keys)
{
    char out[PC_STORE_KEY_MAX];
    const pc_store_ns_t *rev = pc_store_ns_named(PC_STORE_NS_REVOKED_JTI);
    ck_assert_ptr_nonnull(rev);
    ck_assert_ptr_eq(pc_store_ns_named("revoked:jti"), rev); /* one handle per name */
    ck_assert_ptr_eq(pc_store_ns(NULL, "revoked:jti"), rev);
    /* the spelling revocations always had: "revoked:jti:" + jti up to 200 bytes */
    size_t n = pc_store_ns_key(rev, "jti-123", 7, out);
    ck_assert_uint_eq(n, 19);
    ck_assert(memcmp(out, "revoked:jti:jti-123", 19) == 0);
    char jti[700];
    memset(jti, 'j', sizeof(jti));
    n = pc_store_ns_key(rev, jti, 200 - 12, out);
    ck_assert_uint_eq(n, 200);
    ck_assert(memcmp(out, "revoked:jti:jjj", 15) == 0);
    /* one byte more and the key is "revoked:jti#" + hex(SHA-256(jti)) */
    n = pc_store_ns_key(rev, jti, 200 - 11, out);
    ck_assert_uint_eq(n, 12 + 64);
    ck_assert(memcmp(out, "revoked:jti#c18fe9f11e2b00449394318b3150d75c7746551dda0e7767a69a65ea97e09093", 12 + 64) == 0); /* hashlib's answer */
    char again[PC_STORE_KEY_MAX];
    ck_assert_uint_eq(pc_store_ns_key(rev, jti, 200 - 11, again), n);
    ck_assert(memcmp(out, again, n) == 0);
    ck_assert_uint_eq(pc_store_ns_key(rev, jti, 700, again), n);
    ck_assert(memcmp(out, again, n) != 0); /* another key, another digest */
    const pc_store_ns_t *t = pc_store_ns_named("t");
    n = pc_store_ns_key(t, "a", 1, out);
    ck_assert(n == 3 && memcmp(out, "t:a", 3) == 0);
    /* namespaces differ even for the same key */
    ck_assert(pc_store_ns_key(pc_store_ns_named("rl"), "k", 1, out) == 4 &&
              memcmp(out, "rl:k", 4) == 0);
    /* bad names */
    ck_assert_ptr_null(pc_store_ns_named(""));
    ck_assert_ptr_null(pc_store_ns_named("a b"));
    ck_assert_ptr_null(pc_store_ns_named("x{y}"));
    char big[PC_STORE_NS_NAME_MAX + 2];
    memset(big, 'n', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_ptr_null(pc_store_ns_named(big));
    big[PC_STORE_NS_NAME_MAX] = '\0';
    ck_assert_ptr_nonnull(pc_store_ns_named(big));
}
END_TEST

/* ---- the store calls -------------------------------------------------------------- */

typedef struct got {
    int calls, rc, present;
    uint64_t count;
    pc_limit_result_t res;
} got_t;

static void limit_cb(void *data, int rc, const pc_limit_result_t *res)
{
    got_t *g = data;
    g->calls++;
    g->rc = rc;
    g->res = *res;
}

static void flag_cb(void *data, int rc, int present)
{
    got_t *g = data;
    g->calls++;
    g->rc = rc;
    g->present = present;
}

static void count_cb(void *data, int rc, uint64_t count)
{
    got_t *g = data;
    g->calls++;
    g->rc = rc;
    g->count = count;
}

static void done_cb(void *data, int rc)
{
    got_t *g = data;
    g->calls++;
    g->rc = rc;
}

/* key: "<namespace>:<key>" */
static const pc_store_ns_t *ns_of(const char **key)
{
    char name[32];
    const char *colon = strchr(*key, ':');
    ck_assert_ptr_nonnull(colon);
    snprintf(name, sizeof(name), "%.*s", (int)(colon - *key), *key);
    *key = colon + 1;
    return pc_store_ns_named(name);
}

static got_t limit(const char *key, const pc_limit_spec_t *l, size_t n)
{
    got_t g = {0};
    const pc_store_ns_t *ns = ns_of(&key);
    pc_store_limit(ns, key, strlen(key), l, n, limit_cb, &g);
    ck_assert_int_eq(g.calls, 1);
    return g;
}

/* The same script of calls against whichever store is configured. */
static void exercise(const char *tag)
{
    char k[64];
    pc_limit_spec_t two[2] = {{.period_ms = 1000, .rate = 3, .alg = PC_LIMIT_ALG_GCRA},
                              {.period_ms = 3600000, .rate = 5, .alg = PC_LIMIT_ALG_SLIDING}};
    snprintf(k, sizeof(k), "rl:%s:u1", tag);
    for (int i = 0; i < 3; i++) {
        got_t g = limit(k, two, 2);
        ck_assert_int_eq(g.rc, 0);
        ck_assert_int_eq(g.res.allowed, 1);
        ck_assert_uint_eq(g.res.remaining, (uint64_t)(2 - i));
        ck_assert_uint_eq(g.res.index, 0);
        ck_assert_int_eq(g.res.local, 0);
    }
    got_t g = limit(k, two, 2);
    ck_assert_int_eq(g.res.allowed, 0);
    ck_assert_uint_eq(g.res.index, 0);
    ck_assert_uint_ge(g.res.retry_after_ms, 300);
    ck_assert_uint_le(g.res.retry_after_ms, 334);
    usleep(700000); /* two more per-second tokens; then the hourly window stops at 5 */
    ck_assert_int_eq(limit(k, two, 2).res.allowed, 1);
    ck_assert_int_eq(limit(k, two, 2).res.allowed, 1);
    usleep(400000);
    g = limit(k, two, 2);
    ck_assert_int_eq(g.res.allowed, 0);
    ck_assert_uint_eq(g.res.index, 1);
    /* invalid limits are refused, never sent */
    pc_limit_spec_t bad = {.period_ms = 0, .rate = 1};
    g = limit(k, &bad, 1);
    ck_assert_int_eq(g.rc, -1);

    const pc_store_ns_t *bf = pc_store_ns_named("bf");
    snprintf(k, sizeof(k), "%s:L:x", tag);
    got_t f = {0};
    pc_store_flag_check(bf, k, strlen(k), flag_cb, &f);
    ck_assert(f.calls == 1 && f.rc == 0 && f.present == 0);
    got_t s = {0};
    pc_store_flag_set(bf, k, strlen(k), 300, done_cb, &s);
    ck_assert(s.calls == 1 && s.rc == 0);
    pc_store_flag_set(bf, k, strlen(k), 300, NULL, NULL); /* no callback: fine */
    f = (got_t){0};
    pc_store_flag_check(bf, k, strlen(k), flag_cb, &f);
    ck_assert(f.rc == 0 && f.present == 1);
    usleep(350000);
    f = (got_t){0};
    pc_store_flag_check(bf, k, strlen(k), flag_cb, &f);
    ck_assert(f.rc == 0 && f.present == 0);

    snprintf(k, sizeof(k), "%s:N:x", tag);
    for (uint64_t i = 1; i <= 3; i++) {
        got_t c = {0};
        pc_store_count(bf, k, strlen(k), 300, count_cb, &c);
        ck_assert(c.calls == 1 && c.rc == 0);
        ck_assert_uint_eq(c.count, i);
    }
    usleep(350000);
    got_t c = {0};
    pc_store_count(bf, k, strlen(k), 300, count_cb, &c);
    ck_assert_uint_eq(c.count, 1); /* a new window */
}

START_TEST(test_memory_store)
{
    pc_diag_t d = {0};
    pc_conf_t *c = load("{\"type\": \"memory\", \"max_bytes\": 1048576}", &d);
    pc_metric_reset();
    ck_assert_int_eq(pc_store_init(c), 0);
    exercise("mem");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pc_metric_render(f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "portcullis_store_info{type=\"memory\",on_error=\"none\"} 1"));
    ck_assert_ptr_nonnull(strstr(buf, "portcullis_store_memory_max_bytes 1048576"));
    ck_assert_ptr_nonnull(strstr(buf, "portcullis_store_memory_entries "));
    free(buf);
    pc_store_shutdown();
    pc_conf_free(c);
    pc_diag_free(&d);
}
END_TEST

/* ---- with a real Redis ------------------------------------------------------------ */

static pc_conf_t *redis_conf_timeout(const char *on_error, unsigned command_timeout_ms)
{
    char js[256];
    snprintf(js, sizeof(js),
             "{\"type\": \"redis\", \"url\": \"redis://127.0.0.1:%u/5\", \"prefix\": \"t:\","
             " \"on_error\": \"%s\", \"connect_timeout_ms\": 300, \"command_timeout_ms\": %u}",
             test_redis_port, on_error, command_timeout_ms);
    pc_diag_t d = {0};
    pc_conf_t *c = load(js, &d);
    ck_assert_ptr_nonnull(c);
    pc_diag_free(&d);
    return c;
}

static pc_conf_t *redis_conf(const char *on_error)
{
    return redis_conf_timeout(on_error, 300);
}

START_TEST(test_redis_store_same_answers_and_layout)
{
    pc_conf_t *c = redis_conf("fail_closed");
    ck_assert_int_eq(pc_store_init(c), 0);
    exercise("redis");
    redisContext *a = test_redis_admin();
    redisReply *r = redisCommand(a, "SELECT 5");
    freeReplyObject(r);
    /* the per-second state has expired by now; the hourly window's has not
     * (a window's state lives two periods) */
    r = redisCommand(a, "PTTL t:{rl:redis:u1}:l1");
    ck_assert(r->integer > 3600000 && r->integer <= 2 * 3600000);
    freeReplyObject(r);
    r = redisCommand(a, "EXISTS t:{bf:redis:N:x}:c");
    ck_assert_int_eq(r->integer, 1);
    freeReplyObject(r);
    redisFree(a);
    pc_store_shutdown();
    pc_conf_free(c);
}
END_TEST

START_TEST(test_redis_gone_fail_open_and_closed)
{
    pc_limit_spec_t l = {.period_ms = 60000, .rate = 2, .alg = PC_LIMIT_ALG_GCRA};
    pc_conf_t *c = redis_conf("fail_open");
    pc_metric_reset(); /* counts start at 0 */
    ck_assert_int_eq(pc_store_init(c), 0);
    const pc_store_ns_t *t = pc_store_ns_named("t");
    ck_assert_int_eq(limit("rl:gone:a", &l, 1).res.local, 0);
    test_redis_kill();
    got_t g = limit("rl:gone:b", &l, 1);
    ck_assert_int_eq(g.rc, 0);
    ck_assert_int_eq(g.res.local, 1);
    ck_assert_int_eq(g.res.allowed, 1);
    ck_assert_int_eq(limit("rl:gone:b", &l, 1).res.allowed, 1);
    g = limit("rl:gone:b", &l, 1);
    ck_assert_int_eq(g.res.allowed, 0); /* local limits still limit */
    ck_assert_int_eq(g.res.local, 1);
    got_t f = {0};
    pc_store_flag_set(t, "x", 1, 10000, done_cb, &f);
    ck_assert_int_eq(f.rc, 0);
    f = (got_t){0};
    pc_store_flag_check(t, "x", 1, flag_cb, &f);
    ck_assert(f.rc == 0 && f.present == 1);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    pc_metric_render(out);
    fclose(out);
    ck_assert_ptr_nonnull(strstr(buf, "portcullis_store_fallbacks_total 5"));
    ck_assert_ptr_nonnull(strstr(buf, "portcullis_store_errors_total 5"));
    ck_assert_ptr_nonnull(strstr(buf, "on_error=\"fail_open\""));
    free(buf);
    pc_store_shutdown();
    pc_conf_free(c);

    c = redis_conf("fail_closed");
    ck_assert_int_eq(pc_store_init(c), 0);
    g = limit("rl:gone:c", &l, 1);
    ck_assert_int_eq(g.rc, -1);
    f = (got_t){0};
    pc_store_flag_check(t, "x", 1, flag_cb, &f);
    ck_assert_int_eq(f.rc, -1);
    got_t n = {0};
    pc_store_count(t, "y", 1, 1000, count_cb, &n);
    ck_assert_int_eq(n.rc, -1);
    pc_store_shutdown();
    pc_conf_free(c);
    ck_assert_int_eq(test_redis_start(NULL), 0);
}
END_TEST

/* ---- one worker's asynchronous checks ------------------------------------------- */

typedef struct tally {
    size_t answered, allowed;
} tally_t;

static void tally_cb(void *data, int rc, const pc_limit_result_t *res)
{
    tally_t *t = data;
    t->answered++;
    if (rc == 0 && res->allowed)
        t->allowed++;
}

static void tick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
}

/* Runs loop until *done (checked every 20 ms at least) or 30 s pass. */
static void run_until(struct ev_loop *loop, bool (*done)(void *), void *arg)
{
    ev_timer tick;
    ev_timer_init(&tick, tick_cb, 0.02, 0.02);
    ev_timer_start(loop, &tick);
    uint64_t deadline = pc_now_ms() + 30000;
    while (!done(arg) && pc_now_ms() < deadline)
        ev_run(loop, EVRUN_ONCE);
    ev_timer_stop(loop, &tick);
}

/* Worker 0's connection is up: its cell of the store's gauge (registering
 * the same metric again returns the store's). */
static bool is_up(void *arg)
{
    (void)arg;
    pc_metric_t *up =
        pc_metric_register(PC_METRIC_GAUGE, "portcullis_store_redis_connections_up", "", NULL);
    return pc_counter_get(pc_metric_cell(up, 0, NULL)) == 1;
}

typedef struct want {
    const tally_t *t;
    size_t n;
} want_t;

static bool all_answered(void *arg)
{
    const want_t *x = arg;
    return x->t->answered == x->n;
}

static long long evalsha_calls(redisContext *a)
{
    redisReply *r = redisCommand(a, "INFO commandstats");
    ck_assert_ptr_nonnull(r);
    const char *p = r->type == REDIS_REPLY_STRING ? strstr(r->str, "cmdstat_evalsha:calls=") : NULL;
    long long n = p ? atoll(p + strlen("cmdstat_evalsha:calls=")) : 0;
    freeReplyObject(r);
    return n;
}

START_TEST(test_redis_batch_larger_than_a_reply_is_split)
{
    /* More checks in one loop iteration than one reply may answer (8
     * integers each, PC_REDIS_REPLY_MAX_ELEMENTS in all): they go out in
     * several EVALSHAs, and every one is answered. In one, the reply would
     * cross the reader's bound and fail them all. A batch of 16384 checks
     * takes Redis more than 300 ms on a loaded machine: a timeout that
     * only a stalled Redis misses. */
    pc_conf_t *c = redis_conf_timeout("fail_closed", 5000);
    ck_assert_int_eq(pc_store_init(c), 0);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    ck_assert_ptr_nonnull(loop);
    pc_store_worker_start(0, loop);
    run_until(loop, is_up, NULL);
    ck_assert(is_up(NULL));
    pc_thread_set_worker(0); /* this thread plays worker 0 */
    redisContext *a = test_redis_admin();
    ck_assert_ptr_nonnull(a);
    long long before = evalsha_calls(a);

    size_t n = PC_REDIS_REPLY_MAX_ELEMENTS / 8 + 100;
    pc_limit_spec_t l = {.period_ms = 3600000, .rate = 100, .alg = PC_LIMIT_ALG_GCRA};
    tally_t t = {0};
    for (size_t i = 0; i < n; i++) {
        char k[32];
        int len = snprintf(k, sizeof(k), "split:%zu", i);
        pc_store_limit(pc_store_ns_named("rl"), k, (size_t)len, &l, 1, tally_cb, &t);
    }
    want_t x = {&t, n};
    run_until(loop, all_answered, &x);
    ck_assert_uint_eq(t.answered, n);
    ck_assert_uint_eq(t.allowed, n);
    ck_assert_int_ge(evalsha_calls(a) - before, 2);
    redisFree(a);

    pc_store_worker_stop(0);
    pc_thread_set_worker(PC_THREAD_NO_WORKER);
    ev_loop_destroy(loop);
    pc_store_shutdown();
    pc_conf_free(c);
}
END_TEST

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    pc_conf_resolve_hook = NULL; /* nothing here resolves names */
    Suite *s = suite_create("store");
    TCase *tc = tcase_create("offline");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_conf_defaults_and_fields);
    tcase_add_test(tc, test_conf_errors);
    tcase_add_test(tc, test_conf_reload_cannot_change_the_store);
    tcase_add_test(tc, test_redis_key_layout);
    tcase_add_test(tc, test_namespace_keys);
    tcase_add_test(tc, test_memory_store);
    suite_add_tcase(s, tc);
    if (test_redis_setup()) {
        TCase *lt = tcase_create("redis");
        tcase_set_timeout(lt, 60);
        tcase_add_test(lt, test_redis_store_same_answers_and_layout);
        tcase_add_test(lt, test_redis_gone_fail_open_and_closed);
        tcase_add_test(lt, test_redis_batch_larger_than_a_reply_is_split);
        suite_add_tcase(s, lt);
    } else {
        fprintf(stderr, "test_store: redis-server not available: live tests skipped\n");
        if (getenv("PC_NO_SKIP")) /* CI: a missing server is a failure */
            return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    test_redis_teardown();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
