/* tests/unit/test_chain_loop.c: the plugin chain runner (gateway/lifecycle/chain.c)
 * on a real libev loop and a real worker generation, without sockets: the
 * orderings of tests/unit/test_chain.c (which uses the harness's fake front
 * end and clock) once more end to end through request references. */
#include <check.h>
#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle/chain.h"
#include "lifecycle/generation.h"
#include "lifecycle/request.h"
#include "worker.h"

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

int main(void)
{
    Suite *s = suite_create("chain");
    TCase *tc = tcase_create("chain");
    tcase_add_test(tc, chain_all_continue);
    tcase_add_test(tc, chain_deny_stops);
    tcase_add_test(tc, chain_sync_completion_does_not_suspend);
    tcase_add_test(tc, chain_async_resumes_after_suspended_plugin);
    tcase_add_test(tc, chain_async_timeout_then_late_end);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
