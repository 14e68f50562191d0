/* tests/unit/test_core.c: arena, problem details, metrics, access log,
 * header filtering, and the plugin chain runner with its async orderings
 * (synchronous completion, late completion, timeout, abandon), driven
 * without sockets on a real libev loop. */
#include <check.h>
#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ops/accesslog.h"
#include "base/arena.h"
#include "lifecycle/chain.h"
#include "lifecycle/generation.h"
#include "ops/metrics.h"
#include "base/problem.h"
#include "upstream/proxy.h"
#include "lifecycle/request.h"
#include "worker.h"

/* ---- arena ------------------------------------------------------------------ */

static int cleanup_order[4];
static int cleanup_n;
static void note_cleanup(void *p) { cleanup_order[cleanup_n++] = *(int *)p; }

START_TEST(arena_alloc_align_grow)
{
    pc_arena_t *a = pc_arena_new(64);
    for (int i = 0; i < 1000; i++) {
        char *p = pc_arena_alloc(a, (size_t)(i % 37) + 1);
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
        memset(p, 0xab, (size_t)(i % 37) + 1);
    }
    char *big = pc_arena_alloc(a, 1 << 20);
    memset(big, 1, 1 << 20);
    ck_assert_uint_ge(pc_arena_used(a), (1u << 20));
    pc_arena_free(a);
}
END_TEST

START_TEST(arena_realloc_in_place_and_copy)
{
    pc_arena_t *a = pc_arena_new(256);
    char *p = pc_arena_alloc(a, 8);
    memcpy(p, "abcdefg", 8);
    char *q = pc_arena_realloc(a, p, 8, 64);
    ck_assert_ptr_eq(p, q); /* last allocation grows in place */
    ck_assert_str_eq(q, "abcdefg");
    char *other = pc_arena_alloc(a, 8);
    (void)other;
    char *r = pc_arena_realloc(a, q, 64, 4096);
    ck_assert_ptr_ne(r, q);
    ck_assert_str_eq(r, "abcdefg");
    pc_arena_free(a);
}
END_TEST

START_TEST(arena_cleanups_reverse_order)
{
    static int one = 1, two = 2, three = 3;
    cleanup_n = 0;
    pc_arena_t *a = pc_arena_new(0);
    pc_arena_on_cleanup(a, note_cleanup, &one);
    pc_arena_on_cleanup(a, note_cleanup, &two);
    pc_arena_on_cleanup(a, note_cleanup, &three);
    pc_arena_free(a);
    ck_assert_int_eq(cleanup_n, 3);
    ck_assert_int_eq(cleanup_order[0], 3);
    ck_assert_int_eq(cleanup_order[2], 1);
}
END_TEST

/* ---- problem+json ------------------------------------------------------------- */

START_TEST(problem_render_escapes)
{
    char buf[512];
    size_t n = pc_problem_render(buf, sizeof(buf), 429, "rate_limit.exceeded",
                                 "quote \" and \\ and \n", "abc");
    ck_assert_uint_eq(n, strlen(buf));
    ck_assert_ptr_nonnull(strstr(buf, "\"status\":429"));
    ck_assert_ptr_nonnull(strstr(buf, "\"title\":\"Too Many Requests\""));
    ck_assert_ptr_nonnull(strstr(buf, "quote \\\" and \\\\ and \\u000a"));
    ck_assert_ptr_nonnull(strstr(buf, "urn:portcullis:problem:rate_limit.exceeded"));
    ck_assert_ptr_nonnull(strstr(buf, "\"request_id\":\"abc\""));
}
END_TEST

START_TEST(problem_render_truncates_safely)
{
    char buf[40];
    size_t n = pc_problem_render(buf, sizeof(buf), 400, "x", "y", "z");
    ck_assert_uint_lt(n, sizeof(buf));
    ck_assert_uint_eq(strlen(buf), n);
}
END_TEST

/* ---- metrics -------------------------------------------------------------------- */

START_TEST(metrics_render_sums_workers)
{
    static pc_metrics_t m1, m2;
    unsigned id = pc_stable_id("route", "test-metrics-route");
    ck_assert_uint_eq(pc_stable_id("route", "test-metrics-route"), id);
    ck_assert_str_eq(pc_stable_name("route", id), "test-metrics-route");
    pc_metrics_ensure_route(&m1, id);
    pc_metrics_ensure_route(&m2, id);
    pc_metrics_request(&m1, id, 200, 300);
    pc_metrics_request(&m2, id, 200, 3000);
    pc_metrics_request(&m2, id, 418, 10);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pc_metrics_t *w[2] = {&m1, &m2};
    pc_metrics_render(f, w, 2, 7);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "portcullis_requests_total{route=\"test-metrics-route\",status=\"200\"} 2"));
    ck_assert_ptr_nonnull(strstr(buf, "status=\"4xx\"} 1"));
    ck_assert_ptr_nonnull(strstr(buf, "le=\"0.0005\"} 2"));
    ck_assert_ptr_nonnull(strstr(buf, "_count{route=\"test-metrics-route\"} 3"));
    ck_assert_ptr_nonnull(strstr(buf, "portcullis_config_generation 7"));
    free(buf);
    pc_metrics_free(&m1);
    pc_metrics_free(&m2);
}
END_TEST

/* ---- access log ------------------------------------------------------------------ */

START_TEST(accesslog_writes_and_drops_when_full)
{
    char path[] = "/tmp/pc-test-accesslog-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    pc_accesslog_t *al = pc_accesslog_open(path, 2, 4096);
    ck_assert_ptr_nonnull(al);
    ck_assert(pc_accesslog_push(al, 0, "{\"a\":1}\n", 8));
    ck_assert(pc_accesslog_push(al, 1, "{\"b\":2}\n", 8));
    char big[5000];
    memset(big, 'x', sizeof(big));
    ck_assert(!pc_accesslog_push(al, 0, big, sizeof(big)));
    pc_accesslog_close(al);
    FILE *f = fopen(path, "r");
    char buf[64] = {0};
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    unlink(path);
    ck_assert_uint_eq(n, 16);
    ck_assert_ptr_nonnull(strstr(buf, "{\"a\":1}"));
    ck_assert_ptr_nonnull(strstr(buf, "{\"b\":2}"));
}
END_TEST

START_TEST(accesslog_formats_a_record)
{
    char path[] = "/tmp/pc-test-accesslog-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    pc_accesslog_t *al = pc_accesslog_open(path, 1, 65536);
    ck_assert_ptr_nonnull(al);
    const pc_access_rec_t rec = {
        .request_id = "abc", .client = "10.0.0.1", .method = "GET", .path = "/a\"b",
        .route = "r1", .status = 429, .bytes = 12, .upstream = "127.0.0.1:9",
        .upstream_ns = 1500000, .total_ns = 2500000, .reason = "rate_limit.exceeded",
    };
    ck_assert(pc_accesslog_write(al, 0, &rec));
    const pc_access_rec_t bare = {.status = 400};
    ck_assert(pc_accesslog_write(al, 0, &bare));
    pc_accesslog_close(al);
    FILE *f = fopen(path, "r");
    char buf[1024] = {0};
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    unlink(path);
    ck_assert_uint_gt(n, 0);
    ck_assert_ptr_nonnull(strstr(buf, "\"request_id\":\"abc\",\"client\":\"10.0.0.1\","
                                      "\"method\":\"GET\",\"path\":\"/a\\\"b\",\"route\":\"r1\","
                                      "\"status\":429,\"bytes\":12,\"upstream\":\"127.0.0.1:9\","
                                      "\"upstream_ms\":1.500,\"total_ms\":2.500,"
                                      "\"reason\":\"rate_limit.exceeded\"}\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\"method\":\"\",\"path\":\"\",\"route\":\"\",\"status\":400,"
                                      "\"bytes\":0,\"upstream\":\"\",\"upstream_ms\":0.000,"
                                      "\"total_ms\":0.000}\n"));
    ck_assert_ptr_nonnull(strstr(buf, "{\"time\":\"20"));
}
END_TEST

/* ---- header rules ----------------------------------------------------------------- */

START_TEST(log_every_gates_per_call_site)
{
    static _Atomic long a, b;
    ck_assert(pc_log_every(&a, 10));
    ck_assert(!pc_log_every(&a, 10)); /* within 10 s of the last */
    ck_assert(pc_log_every(&b, 10));  /* another call site */
    a = (long)time(NULL) - 11;
    ck_assert(pc_log_every(&a, 10));
}
END_TEST

START_TEST(hop_by_hop_headers)
{
    ck_assert(pc_proxy_hop_by_hop("Connection", 10));
    ck_assert(pc_proxy_hop_by_hop("TRANSFER-ENCODING", 17));
    ck_assert(pc_proxy_hop_by_hop("keep-alive", 10));
    ck_assert(pc_proxy_hop_by_hop("Upgrade", 7));
    ck_assert(pc_proxy_hop_by_hop("TE", 2));
    ck_assert(!pc_proxy_hop_by_hop("Authorization", 13));
    ck_assert(!pc_proxy_hop_by_hop("Content-Type", 12));
}
END_TEST

/* ---- chain runner ------------------------------------------------------------------- */

typedef struct fake_conf {
    int mode;        /* 0 continue, 1 deny, 2 async later, 3 async sync, 4 async never */
    int calls;
    pc_async_t *pending;
} fake_conf_t;

static pc_status_t fake_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    fake_conf_t *c = conf;
    c->calls++;
    switch (c->mode) {
    case 1:
        return pc_deny(r, 429, "test.deny", NULL);
    case 2:
        c->pending = pc_async_begin(r, 1000, 503);
        return PC_SUSPEND;
    case 3: {
        pc_async_t *a = pc_async_begin(r, 1000, 503);
        pc_async_end(a, PC_CONTINUE);
        return PC_SUSPEND;
    }
    case 4:
        c->pending = pc_async_begin(r, 50, 504);
        return PC_SUSPEND;
    }
    return PC_CONTINUE;
}

static const pc_plugin_t fake_plugin = {
    .abi = PC_PLUGIN_ABI, .name = "fake", .on_headers = fake_on_headers,
};

typedef struct chain_fixture {
    pc_worker_t w;
    pc_wgen_t gen;
    pc_conf_t conf;
    pc_route_conf_t route;
    pc_plugin_inst_t insts[3];
    pc_plugin_inst_t *chain[3];
    fake_conf_t confs[3];
} chain_fixture_t;

static chain_fixture_t *fixture_new(int m0, int m1, int m2)
{
    chain_fixture_t *f = calloc(1, sizeof(*f));
    f->w.loop = ev_loop_new(0);
    pc_list_init(&f->w.waiting);
    pc_list_init(&f->w.abandoned);
    f->gen.conf = &f->conf;
    f->w.gen = &f->gen;
    int modes[3] = {m0, m1, m2};
    for (int i = 0; i < 3; i++) {
        f->confs[i].mode = modes[i];
        f->insts[i] = (pc_plugin_inst_t){.name = "fake", .type = &fake_plugin, .conf = &f->confs[i]};
        f->chain[i] = &f->insts[i];
    }
    f->route.name = "r";
    f->route.chain = f->chain;
    f->route.nchain = 3;
    return f;
}

static pc_request_t *fixture_request(chain_fixture_t *f)
{
    pc_request_t *r = pc_request_new(&f->w);
    r->gen = pc_wgen_acquire(&f->w);
    r->conf = &f->conf;
    r->route = &f->route;
    r->request_id = "test";
    f->w.live_requests++;
    return r;
}

static void fixture_free(chain_fixture_t *f)
{
    ev_loop_destroy(f->w.loop);
    free(f);
}

START_TEST(chain_all_continue)
{
    chain_fixture_t *f = fixture_new(0, 0, 0);
    pc_request_t *r = fixture_request(f);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_DONE);
    ck_assert_int_eq(f->confs[2].calls, 1);
    ck_assert_uint_eq(r->chain_pos, 0);
    pc_request_unref(r);
    fixture_free(f);
}
END_TEST

START_TEST(chain_deny_stops)
{
    chain_fixture_t *f = fixture_new(0, 1, 0);
    pc_request_t *r = fixture_request(f);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    ck_assert_int_eq(r->status, 429);
    ck_assert_int_eq(f->confs[2].calls, 0);
    ck_assert_ptr_nonnull(strstr(r->resp_body, "test.deny"));
    pc_request_unref(r);
    fixture_free(f);
}
END_TEST

START_TEST(chain_sync_completion_does_not_suspend)
{
    chain_fixture_t *f = fixture_new(3, 0, 0);
    pc_request_t *r = fixture_request(f);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_DONE);
    ck_assert_int_eq(f->confs[1].calls, 1);
    ck_assert_uint_eq(r->refs, 1);
    pc_request_unref(r);
    fixture_free(f);
}
END_TEST

START_TEST(chain_async_resumes_after_suspended_plugin)
{
    chain_fixture_t *f = fixture_new(0, 2, 0);
    pc_request_t *r = fixture_request(f);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_SUSPENDED);
    ck_assert_uint_eq(r->refs, 2);
    pc_async_end(f->confs[1].pending, PC_CONTINUE);
    ck_assert_uint_eq(r->refs, 1);
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_DONE);
    ck_assert_int_eq(f->confs[1].calls, 1); /* never called again */
    ck_assert_int_eq(f->confs[2].calls, 1);
    pc_request_unref(r);
    fixture_free(f);
}
END_TEST

START_TEST(chain_async_timeout_then_late_end)
{
    chain_fixture_t *f = fixture_new(4, 0, 0);
    pc_request_t *r = fixture_request(f);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_SUSPENDED);
    ev_run(f->w.loop, EVRUN_ONCE); /* the 50 ms core timer fires */
    ck_assert_ptr_null(pc_async_request(f->confs[0].pending));
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    ck_assert_int_eq(r->status, 504);
    ck_assert_int_eq(f->confs[1].calls, 0);
    ck_assert(!pc_list_empty(&f->w.abandoned));
    r->completed = true;                      /* as MHD's completion does */
    f->w.live_requests--;
    pc_request_unref(r);                      /* MHD's reference */
    ck_assert_uint_eq(r->refs, 1);            /* the token keeps the memory */
    pc_async_end(f->confs[0].pending, PC_CONTINUE); /* late: frees it */
    ck_assert(pc_list_empty(&f->w.abandoned));
    fixture_free(f);
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, arena_alloc_align_grow);
    tcase_add_test(tc, arena_realloc_in_place_and_copy);
    tcase_add_test(tc, arena_cleanups_reverse_order);
    tcase_add_test(tc, problem_render_escapes);
    tcase_add_test(tc, problem_render_truncates_safely);
    tcase_add_test(tc, metrics_render_sums_workers);
    tcase_add_test(tc, accesslog_writes_and_drops_when_full);
    tcase_add_test(tc, accesslog_formats_a_record);
    tcase_add_test(tc, log_every_gates_per_call_site);
    tcase_add_test(tc, hop_by_hop_headers);
    tcase_add_test(tc, chain_all_continue);
    tcase_add_test(tc, chain_deny_stops);
    tcase_add_test(tc, chain_sync_completion_does_not_suspend);
    tcase_add_test(tc, chain_async_resumes_after_suspended_plugin);
    tcase_add_test(tc, chain_async_timeout_then_late_end);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(core_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
