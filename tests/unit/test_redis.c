/* tests/unit/test_redis.c: gateway/store/redis.c. URL parsing and script names
 * offline; then, against a real redis-server started here on a free
 * loopback port (skipped when redis-server is missing): the asynchronous
 * client on a libev loop (handshake, EVALSHA, NOSCRIPT recovery, command
 * deadlines with DEBUG SLEEP, failing fast while down, reconnection after a
 * restart, pending callbacks on free, a refused AUTH) and the blocking
 * client. */
#include "store/redis.h"
#include "store/redis_sync.h"
#include "base/util.h"

#include <hiredis/hiredis.h>

#include "redis_server.h"

#include <check.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- offline ------------------------------------------------------------- */

START_TEST(test_url_parse)
{
    static const struct {
        const char *url;
        const char *host, *user, *pass, *unix_path;
        unsigned port, db;
    } ok[] = {
        {"redis://127.0.0.1", "127.0.0.1", NULL, NULL, NULL, 6379, 0},
        {"redis://127.0.0.1:7000/5", "127.0.0.1", NULL, NULL, NULL, 7000, 5},
        {"redis://:s3cret@10.0.0.1:6380", "10.0.0.1", NULL, "s3cret", NULL, 6380, 0},
        {"redis://gw:p%40ss%3Aw@cache.internal/2", "cache.internal", "gw", "p@ss:w", NULL, 6379, 2},
        {"redis://[::1]:6390/1", "::1", NULL, NULL, NULL, 6390, 1},
        {"redis://[2001:db8::5]", "2001:db8::5", NULL, NULL, NULL, 6379, 0},
        {"redis://host/", "host", NULL, NULL, NULL, 6379, 0},
        {"unix:///run/redis/redis.sock", NULL, NULL, NULL, "/run/redis/redis.sock", 0, 0},
        {"unix:///tmp/r.sock?db=7", NULL, NULL, NULL, "/tmp/r.sock", 0, 7},
    };
    for (size_t i = 0; i < PC_ARRAY_LEN(ok); i++) {
        pc_redis_addr_t a;
        char err[256] = "";
        ck_assert_msg(pc_redis_url_parse(ok[i].url, &a, err, sizeof(err)) == 0, "%s: %s",
                      ok[i].url, err);
#define SEQ(x, y) ck_assert_msg((!(x) && !(y)) || ((x) && (y) && !strcmp((x), (y))), "%s: %s", ok[i].url, #x)
        SEQ(a.host, ok[i].host);
        SEQ(a.username, ok[i].user);
        SEQ(a.password, ok[i].pass);
        SEQ(a.unix_path, ok[i].unix_path);
#undef SEQ
        if (ok[i].host)
            ck_assert_uint_eq(a.port, ok[i].port);
        ck_assert_uint_eq(a.db, ok[i].db);
        pc_redis_addr_clear(&a);
    }
    static const struct {
        const char *url, *why;
    } bad[] = {
        {"http://127.0.0.1", "must start with redis://"},
        {"rediss://127.0.0.1", "TLS"},
        {"redis://", "missing host"},
        {"redis://127.0.0.1:0", "port"},
        {"redis://127.0.0.1:70000", "port"},
        {"redis://127.0.0.1:abc", "port"},
        {"redis://127.0.0.1/x", "database number"},
        {"redis://127.0.0.1/1?timeout=3", "query strings"},
        {"redis://user@127.0.0.1", "userinfo"},
        {"redis://user:@127.0.0.1", "needs a password"},
        {"redis://:p%4@127.0.0.1", "percent-escape"},
        {"redis://:p%00@127.0.0.1", "percent-escape"},
        {"redis://[::1", "IPv6"},
        {"redis://ho st", "bad character"},
        {"unix://relative.sock", "absolute"},
        {"unix:///tmp/r.sock?database=1", "db=N"},
    };
    for (size_t i = 0; i < PC_ARRAY_LEN(bad); i++) {
        pc_redis_addr_t a;
        char err[256] = "";
        ck_assert_msg(pc_redis_url_parse(bad[i].url, &a, err, sizeof(err)) == -1, "%s", bad[i].url);
        ck_assert_msg(strstr(err, bad[i].why), "%s: %s", bad[i].url, err);
        ck_assert_ptr_null(a.host);
        ck_assert_ptr_null(a.password);
    }
}
END_TEST

START_TEST(test_script_sha)
{
    pc_redis_script_t s;
    pc_redis_script_init(&s, "return 1", 8);
    ck_assert_str_eq(s.sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}
END_TEST

/* ---- a redis-server of our own ------------------------------------------- */

static void admin_cmd(const char *cmd)
{
    redisContext *c = test_redis_admin();
    ck_assert_ptr_nonnull(c);
    redisReply *r = redisCommand(c, cmd);
    ck_assert_ptr_nonnull(r);
    freeReplyObject(r);
    redisFree(c);
}

/* ---- the async client on a loop -------------------------------------------- */

typedef struct res {
    int calls;
    int rc;
    int type;
    long long integer;
    char str[128];
    double at;
} res_t;

static void cb(void *data, int rc, const redisReply *rep)
{
    res_t *r = data;
    r->calls++;
    r->rc = rc;
    r->type = rep ? rep->type : -1;
    r->integer = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
    snprintf(r->str, sizeof(r->str), "%s", rep && rep->str ? rep->str : "");
    r->at = ev_time();
}

/* Runs the loop until *flag is nonzero (or pc_redis_is_up when flag is
 * NULL and want_up) or seconds pass. */
static void run_until(struct ev_loop *loop, const int *flag, pc_redis_t *rd, bool want_up,
                      double seconds)
{
    double end = ev_time() + seconds;
    while (ev_time() < end) {
        if (flag && *flag)
            return;
        if (!flag && pc_redis_is_up(rd) == want_up)
            return;
        ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT);
        usleep(1000);
    }
}

static const char script_src[] = "return ARGV[1]";
static pc_redis_script_t script;
static pc_counter_t st_timeouts, st_reconnects, st_up;

static pc_redis_t *client(struct ev_loop *loop, const char *password, unsigned cmd_ms)
{
    pc_redis_opts_t o = {0};
    o.addr.host = "127.0.0.1";
    o.addr.port = test_redis_port;
    o.addr.password = (char *)password;
    o.addr.db = 2;
    o.connect_timeout_ms = 500;
    o.command_timeout_ms = cmd_ms;
    pc_redis_script_init(&script, script_src, sizeof(script_src) - 1);
    o.scripts = &script;
    o.nscripts = 1;
    o.name = "test";
    o.stat_timeouts = &st_timeouts;
    o.stat_reconnects = &st_reconnects;
    o.stat_up = &st_up;
    return pc_redis_new(loop, &o);
}

static void evalsha(pc_redis_t *rd, res_t *r, const char *arg)
{
    const char *argv[2] = {"k", arg};
    size_t len[2] = {1, strlen(arg)};
    pc_redis_evalsha(rd, cb, r, 0, 1, 2, argv, len);
}

START_TEST(test_async_commands_and_noscript)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    pc_redis_t *rd = client(loop, NULL, 500);
    run_until(loop, NULL, rd, true, 5);
    ck_assert(pc_redis_is_up(rd));
    ck_assert_uint_eq(pc_counter_get(&st_up), 1);

    res_t a = {0}, b = {0};
    const char *argv[3] = {"SET", "pc-test", "42"};
    size_t len[3] = {3, 7, 2};
    pc_redis_command(rd, cb, &a, 3, argv, len);
    evalsha(rd, &b, "hello");
    ck_assert_int_eq(a.calls + b.calls, 0); /* never before the call returns when up */
    run_until(loop, &b.calls, NULL, false, 5);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_str_eq(a.str, "OK");
    ck_assert_int_eq(b.rc, 0);
    ck_assert_str_eq(b.str, "hello");

    /* db 2 was selected by the handshake */
    redisContext *c = test_redis_admin();
    redisReply *r = redisCommand(c, "SELECT 2");
    freeReplyObject(r);
    r = redisCommand(c, "GET pc-test");
    ck_assert_str_eq(r->str, "42");
    freeReplyObject(r);
    redisFree(c);

    /* NOSCRIPT: reloaded and retried on the same connection */
    admin_cmd("SCRIPT FLUSH");
    res_t n = {0};
    evalsha(rd, &n, "again");
    run_until(loop, &n.calls, NULL, false, 5);
    ck_assert_int_eq(n.rc, 0);
    ck_assert_str_eq(n.str, "again");

    /* an error reply: rc -1 with the reply */
    res_t e = {0};
    const char *bad[2] = {"INCR", "pc-test-str"};
    size_t blen[2] = {4, 11};
    const char *set[3] = {"SET", "pc-test-str", "x"};
    size_t slen[3] = {3, 11, 1};
    res_t s0 = {0};
    pc_redis_command(rd, cb, &s0, 3, set, slen);
    pc_redis_command(rd, cb, &e, 2, bad, blen);
    run_until(loop, &e.calls, NULL, false, 5);
    ck_assert_int_eq(e.rc, -1);
    ck_assert_int_eq(e.type, REDIS_REPLY_ERROR);

    pc_redis_free(rd);
    ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_async_deadline_with_slow_redis)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    pc_redis_t *rd = client(loop, NULL, 200), *sleeper = client(loop, NULL, 5000);
    run_until(loop, NULL, rd, true, 5);
    run_until(loop, NULL, sleeper, true, 5);
    uint64_t timeouts = pc_counter_get(&st_timeouts);
    res_t z = {0}, a = {0}, b = {0};
    const char *argv[3] = {"DEBUG", "SLEEP", "1.5"};
    size_t len[3] = {5, 5, 3};
    pc_redis_command(sleeper, cb, &z, 3, argv, len);
    run_until(loop, &z.calls, NULL, false, 0.1); /* let it reach redis */
    double t0 = ev_time();
    evalsha(rd, &a, "a");
    run_until(loop, &a.calls, NULL, false, 0.1);
    evalsha(rd, &b, "b");
    run_until(loop, &b.calls, NULL, false, 5);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.rc, -1);
    /* 200 ms deadlines, Redis asleep for 1.5 s: both answered -1 long before
     * it wakes up (the bounds leave room for a loaded machine) */
    ck_assert_msg(a.at - t0 >= 0.19 && a.at - t0 < 1.0, "a answered after %.3f s", a.at - t0);
    ck_assert_int_eq(b.rc, -1);
    ck_assert_msg(b.at - t0 < 1.2, "b answered after %.3f s", b.at - t0);
    ck_assert_uint_ge(pc_counter_get(&st_timeouts), timeouts + 2);
    /* after the sleep: the late replies were dropped, new commands work */
    run_until(loop, &z.calls, NULL, false, 5);
    ck_assert_int_eq(z.rc, 0);
    run_until(loop, NULL, rd, true, 5);
    res_t c = {0};
    evalsha(rd, &c, "c");
    run_until(loop, &c.calls, NULL, false, 5);
    ck_assert_int_eq(c.rc, 0);
    ck_assert_str_eq(c.str, "c");
    ck_assert_int_eq(a.calls + b.calls, 2); /* exactly once each */
    pc_redis_free(sleeper);
    pc_redis_free(rd);
    ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_async_down_fails_fast_then_reconnects)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    pc_redis_t *rd = client(loop, NULL, 500);
    run_until(loop, NULL, rd, true, 5);
    uint64_t reconnects = pc_counter_get(&st_reconnects);
    test_redis_kill();
    run_until(loop, NULL, rd, false, 5);
    ck_assert(!pc_redis_is_up(rd));
    ck_assert_uint_eq(pc_counter_get(&st_up), 0);
    res_t a = {0};
    evalsha(rd, &a, "x");
    ck_assert_int_eq(a.calls, 1); /* before the call returned */
    ck_assert_int_eq(a.rc, -1);
    ck_assert_int_eq(test_redis_start(NULL), 0);
    run_until(loop, NULL, rd, true, 10); /* backoff: at most 5 s between attempts */
    ck_assert(pc_redis_is_up(rd));
    ck_assert_uint_eq(pc_counter_get(&st_reconnects), reconnects + 1);
    res_t b = {0};
    evalsha(rd, &b, "y"); /* a fresh server has no script: loaded by the handshake */
    run_until(loop, &b.calls, NULL, false, 5);
    ck_assert_int_eq(b.rc, 0);
    ck_assert_str_eq(b.str, "y");
    pc_redis_free(rd);
    ev_loop_destroy(loop);
}
END_TEST

START_TEST(test_free_answers_pending_commands)
{
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    pc_redis_t *rd = client(loop, NULL, 5000);
    run_until(loop, NULL, rd, true, 5);
    res_t z = {0}, a = {0};
    const char *argv[3] = {"DEBUG", "SLEEP", "0.3"};
    size_t len[3] = {5, 5, 3};
    pc_redis_command(rd, cb, &z, 3, argv, len);
    evalsha(rd, &a, "never");
    run_until(loop, &z.calls, NULL, false, 0.05);
    pc_redis_free(rd);
    ck_assert_int_eq(z.calls, 1);
    ck_assert_int_eq(z.rc, -1);
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.rc, -1);
    ev_loop_destroy(loop);
    usleep(400000); /* let the sleep end before the next test */
}
END_TEST

START_TEST(test_auth_refused_and_accepted)
{
    test_redis_kill();
    ck_assert_int_eq(test_redis_start("pw-right"), 0);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    pc_redis_t *bad = client(loop, "pw-wrong", 500), *good = client(loop, "pw-right", 500);
    run_until(loop, NULL, good, true, 5);
    ck_assert(pc_redis_is_up(good));
    run_until(loop, NULL, bad, true, 0.5);
    ck_assert(!pc_redis_is_up(bad));
    res_t a = {0};
    evalsha(bad, &a, "x");
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.rc, -1);
    pc_redis_free(bad);
    pc_redis_free(good);
    ev_loop_destroy(loop);
    test_redis_kill();
    ck_assert_int_eq(test_redis_start(NULL), 0);
}
END_TEST

/* ---- the blocking client ---------------------------------------------------------- */

START_TEST(test_sync_client)
{
    pc_redis_opts_t o = {0};
    o.addr.host = "127.0.0.1";
    o.addr.port = test_redis_port;
    o.addr.db = 3;
    o.connect_timeout_ms = 300;
    o.command_timeout_ms = 300;
    pc_redis_script_init(&script, script_src, sizeof(script_src) - 1);
    o.scripts = &script;
    o.nscripts = 1;
    pc_redis_sync_t *rs = pc_redis_sync_new(&o);
    res_t a = {0};
    const char *argv[2] = {"k", "sync"};
    size_t len[2] = {1, 4};
    pc_redis_sync_evalsha(rs, cb, &a, 0, 1, 2, argv, len); /* NOSCRIPT -> load -> retry */
    ck_assert_int_eq(a.calls, 1);
    ck_assert_int_eq(a.rc, 0);
    ck_assert_str_eq(a.str, "sync");
    res_t b = {0};
    const char *ping[1] = {"PING"};
    size_t plen[1] = {4};
    pc_redis_sync_command(rs, cb, &b, 1, ping, plen);
    ck_assert_int_eq(b.rc, 0);
    ck_assert_str_eq(b.str, "PONG");
    test_redis_kill();
    res_t c = {0};
    pc_redis_sync_command(rs, cb, &c, 1, ping, plen);
    ck_assert_int_eq(c.calls, 1);
    ck_assert_int_eq(c.rc, -1);
    double t0 = ev_time();
    res_t d = {0};
    pc_redis_sync_command(rs, cb, &d, 1, ping, plen); /* in backoff: at once */
    ck_assert_int_eq(d.rc, -1);
    ck_assert(ev_time() - t0 < 0.05);
    ck_assert_int_eq(test_redis_start(NULL), 0);
    usleep(450000);
    res_t e = {0};
    pc_redis_sync_command(rs, cb, &e, 1, ping, plen);
    ck_assert_int_eq(e.rc, 0);
    pc_redis_sync_free(rs);
}
END_TEST

static void live_setup(void)
{
    if (!test_redis_running())
        ck_assert_int_eq(test_redis_start(NULL), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    Suite *s = suite_create("redis");
    TCase *off = tcase_create("offline");
    tcase_add_test(off, test_url_parse);
    tcase_add_test(off, test_script_sha);
    suite_add_tcase(s, off);

    if (test_redis_setup()) {
        TCase *tc = tcase_create("live");
        tcase_set_timeout(tc, 60);
        tcase_add_checked_fixture(tc, live_setup, NULL);
        tcase_add_test(tc, test_async_commands_and_noscript);
        tcase_add_test(tc, test_async_deadline_with_slow_redis);
        tcase_add_test(tc, test_async_down_fails_fast_then_reconnects);
        tcase_add_test(tc, test_free_answers_pending_commands);
        tcase_add_test(tc, test_auth_refused_and_accepted);
        tcase_add_test(tc, test_sync_client);
        suite_add_tcase(s, tc);
    } else {
        fprintf(stderr, "test_redis: redis-server not available: live tests skipped\n");
        if (getenv("PC_NO_SKIP")) /* CI: a missing server is a failure */
            return EXIT_FAILURE;
    }
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK); /* one redis-server for every test */
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    test_redis_teardown();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
