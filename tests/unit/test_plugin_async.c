/* tests/unit/test_plugin_async.c: the real rate_limit and brute_force
 * plugins in a harness chain (tests/unit/harness.h), one ordering of their
 * store call at a time: answered inside the call (no suspend, no timer),
 * answered later (suspend, then resume with the verdict), never answered
 * (the token's timer answers 503; the late answer only drops the
 * reference), answered with an error (on_error deny or allow), and the
 * client gone while waiting (the sweep) before the late answer. Each
 * plugin is followed by a scripted one that counts whether the chain went
 * on; h_free asserts that every request and every store call is gone. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "base/clock.h"

extern const pc_plugin_t pc_plugin_rate_limit;
extern const pc_plugin_t pc_plugin_brute_force;

/* The store's answers. */
static const h_answer_t ANS_ERROR = {.rc = -1};
static const h_answer_t ANS_ALLOWED = {
    .limit = {.allowed = 1, .remaining = 9, .reset_ms = 100}};
static const h_answer_t ANS_LIMITED = {
    .limit = {.allowed = 0, .remaining = 0, .reset_ms = 1000, .retry_after_ms = 1500}};
static const h_answer_t ANS_ABSENT = {.present = 0};
static const h_answer_t ANS_PRESENT = {.present = 1};

/* The long timeouts never fire during a test, however slow the machine. */
#define RL_CONF(extra) \
    "{\"limits\": [{\"rate\": 10, \"period\": \"1s\"}], \"key\": [\"client_ip\"]" extra "}"
#define RL_SLOW RL_CONF(", \"timeout_ms\": 60000")
#define RL_FAST RL_CONF(", \"timeout_ms\": 20")
#define BF_CONF(extra) \
    "{\"max_failures\": 3, \"window\": \"1m\", \"lockout\": \"90s\"" extra "}"
#define BF_SLOW BF_CONF(", \"timeout_ms\": 60000")
#define BF_FAST BF_CONF(", \"timeout_ms\": 20")
#define BF_IP_LOCK "default:L:i9:" H_CLIENT_IP

#define RL_LIMITED "portcullis_ratelimit_limited_total"
#define BF_DENIED "portcullis_bruteforce_denied_total"
#define BF_FAILURES "portcullis_bruteforce_failures_total"
#define BF_LOCKOUTS "portcullis_bruteforce_lockouts_total"

/* The plugin at position 0, a counting scripted plugin at position 1. */
static harness_t *h_with(const pc_plugin_t *type, const char *json)
{
    harness_t *h = h_new(0, NULL);
    ck_assert_uint_eq(h_add_plugin(h, type, json), 0);
    ck_assert_uint_eq(h_add_scripted(h, H_CONTINUE), 1);
    return h;
}

/* The front end's reaction to a headers chain that went async. */
static pc_request_t *run_suspended(harness_t *h)
{
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_SUSPENDED);
    ck_assert_uint_eq(r->refs, 2);                  /* the token's */
    ck_assert(ev_is_active(&r->async->timer));      /* its timer is armed */
    pc_wait_suspend(r);
    ck_assert_int_eq(h->front.suspends, 1);
    ck_assert_int_eq(h->front.resumes, 0);
    return r;
}

/* Nothing async happened: no suspend, no timer, no extra reference. */
static void assert_stayed_sync(harness_t *h, pc_request_t *r)
{
    ck_assert_int_eq(h->front.suspends + h->front.resumes, 0);
    ck_assert(!h_loop_alive(h));
    ck_assert_ptr_null(r->async);
    ck_assert_uint_eq(r->refs, 1);
}

static void assert_denied(pc_request_t *r, int status, const char *reason, const char *by)
{
    ck_assert_int_eq(r->status, status);
    ck_assert_str_eq(r->reason, reason);
    ck_assert_str_eq(r->stopped_by, by);
}

/* What the front end does with a client found gone by the sweep. */
static void gone(pc_request_t *r)
{
    pc_chain_abandon(r, "client gone");
    pc_wait_resume(r);
}

/* ---- rate_limit ---------------------------------------------------------------------- */

static void rl_assert_call(const harness_t *h)
{
    ck_assert_uint_eq(h->store.ncalls, 1);
    const h_store_call_t *c = &h->store.calls[0];
    ck_assert_int_eq(c->op, H_ST_LIMIT);
    ck_assert_str_eq(c->ns, "rl");
    const char *tail = ":*:i9:" H_CLIENT_IP; /* "<instance>:<route *>:<client ip>" */
    ck_assert_uint_gt(c->klen, strlen(tail));
    ck_assert_str_eq(c->key + c->klen - strlen(tail), tail);
    ck_assert_uint_eq(c->nlimits, 1);
    ck_assert_uint_eq(c->limits[0].rate, 10);
    ck_assert_uint_eq(c->limits[0].period_ms, 1000);
}

static void rl_assert_limited(pc_request_t *r)
{
    assert_denied(r, 429, "rate_limit.exceeded", "rate_limit");
    ck_assert_str_eq(h_response_header(r, "Retry-After"), "2"); /* 1.5 s, rounded up */
    ck_assert_str_eq(h_response_header(r, "RateLimit"), "\"default\";r=0;t=1");
    ck_assert_str_eq(h_response_header(r, "RateLimit-Policy"), "\"default\";q=10;w=1");
}

START_TEST(rl_answered_in_the_call_never_suspends)
{
    harness_t *h = h_with(&pc_plugin_rate_limit, RL_SLOW);
    h->store.at_once = true;
    h->store.now = ANS_ALLOWED;
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_DONE);
    assert_stayed_sync(h, r);
    rl_assert_call(h);
    ck_assert_int_eq(h->plugins[1].calls, 1);
    ck_assert_ptr_null(h_response_header(r, "RateLimit")); /* "headers" is off */
    h_complete(h, r);
    h_free(h);
}
END_TEST

START_TEST(rl_limited_in_the_call_answers_429_at_once)
{
    harness_t *h = h_with(&pc_plugin_rate_limit, RL_SLOW);
    h->store.at_once = true;
    h->store.now = ANS_LIMITED;
    long long limited = h_metric(RL_LIMITED);
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    assert_stayed_sync(h, r);
    rl_assert_limited(r);
    ck_assert_int_eq(h->plugins[1].calls, 0);
    ck_assert_int_eq(h_metric(RL_LIMITED), limited + 1);
    h_complete(h, r);
    h_free(h);
}
END_TEST

START_TEST(rl_answered_later_resumes_with_429)
{
    harness_t *h = h_with(&pc_plugin_rate_limit, RL_SLOW);
    pc_request_t *r = run_suspended(h);
    rl_assert_call(h);
    h_store_answer(h, 0, &ANS_LIMITED);
    ck_assert_int_eq(h->front.resumes, 1);
    ck_assert(h->wq.run_pending);
    ck_assert_uint_eq(r->refs, 1);
    ck_assert(!h_loop_alive(h)); /* the timer went with the token */
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    rl_assert_limited(r);
    ck_assert_int_eq(h->plugins[1].calls, 0);
    ck_assert_uint_eq(h->store.ncalls, 1); /* a suspended plugin is never called again */
    h_complete(h, r);
    h_free(h);
}
END_TEST

START_TEST(rl_allowed_later_runs_the_rest_with_headers)
{
    harness_t *h = h_with(&pc_plugin_rate_limit, RL_CONF(", \"headers\": true"));
    pc_request_t *r = run_suspended(h);
    h_store_answer(h, 0, &ANS_ALLOWED);
    ck_assert_int_eq(h->front.resumes, 1);
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_DONE);
    ck_assert_int_eq(h->plugins[1].calls, 1);
    ck_assert_int_eq(r->status, 0);
    ck_assert_str_eq(h_response_header(r, "RateLimit"), "\"default\";r=9;t=1");
    ck_assert_ptr_null(h_response_header(r, "Retry-After"));
    ck_assert_uint_eq(h->store.ncalls, 1);
    h_complete(h, r);
    h_free(h);
}
END_TEST

START_TEST(rl_never_answered_times_out_and_the_late_answer_only_unrefs)
{
    harness_t *h = h_with(&pc_plugin_rate_limit, RL_FAST);
    pc_request_t *r = run_suspended(h);
    h_run_once(h); /* the token's timer fires */
    ck_assert_int_eq(h->front.resumes, 1);
    ck_assert(!pc_list_empty(&h->w.abandoned));
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    assert_denied(r, 503, "plugin.timeout", "rate_limit");
    ck_assert_int_eq(h->plugins[1].calls, 0);
    h_complete(h, r);
    ck_assert_uint_eq(r->refs, 1); /* the plugin's token keeps its ctx */
    ck_assert_uint_eq(h->gen.inflight, 1);
    long long limited = h_metric(RL_LIMITED);
    h_store_answer(h, 0, &ANS_LIMITED); /* frees r */
    ck_assert_int_eq(h_metric(RL_LIMITED), limited); /* no verdict on a gone request */
    ck_assert(pc_list_empty(&h->w.abandoned));
    ck_assert_uint_eq(h->gen.inflight, 0);
    h_free(h);
}
END_TEST

/* _i: bit 0 the error comes inside the call (else later), bit 1 on_error allow. */
START_TEST(rl_store_error_applies_on_error)
{
    bool at_once = _i & 1, allow = _i & 2;
    harness_t *h = h_with(&pc_plugin_rate_limit, allow ? RL_CONF(", \"on_error\": \"allow\"")
                                                       : RL_CONF(", \"on_error\": \"deny\""));
    pc_request_t *r;
    pc_chain_result_t res;
    if (at_once) {
        h->store.at_once = true;
        h->store.now = ANS_ERROR;
        r = h_request(h);
        res = pc_chain_run(r, PC_PHASE_HEADERS);
        assert_stayed_sync(h, r);
    } else {
        r = run_suspended(h);
        h_store_answer(h, 0, &ANS_ERROR);
        ck_assert_int_eq(h->front.resumes, 1);
        res = pc_chain_resume(r, PC_PHASE_HEADERS);
    }
    if (allow) {
        ck_assert_int_eq(res, PC_CHAIN_DONE);
        ck_assert_int_eq(h->plugins[1].calls, 1);
        ck_assert_int_eq(r->status, 0);
    } else {
        ck_assert_int_eq(res, PC_CHAIN_RESPONDED);
        assert_denied(r, 503, "rate_limit.store_unavailable", "rate_limit");
        ck_assert_str_eq(h_response_header(r, "Retry-After"), "1");
        ck_assert_int_eq(h->plugins[1].calls, 0);
    }
    h_complete(h, r);
    h_free(h);
}
END_TEST

START_TEST(rl_client_gone_while_waiting_then_the_late_answer)
{
    harness_t *h = h_with(&pc_plugin_rate_limit, RL_SLOW);
    pc_request_t *r = run_suspended(h);
    h->front.client_gone = true;
    h_clock_step(h, 1500000000ull);
    pc_wait_sweep(&h->w, pc_clock_mono_ns(), gone);
    ck_assert_int_eq(h->front.resumes, 1);
    ck_assert_uint_eq(h_waiting(h), 0);
    ck_assert(!h_loop_alive(h)); /* the abandoned token's timer is stopped */
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    assert_denied(r, 503, "plugin.timeout", "rate_limit");
    h_complete(h, r);
    ck_assert_uint_eq(h->gen.inflight, 1);
    h_store_answer(h, 0, &ANS_ALLOWED);
    ck_assert_uint_eq(h->gen.inflight, 0);
    h_free(h);
}
END_TEST

/* ---- brute_force ------------------------------------------------------------------------ */

static void bf_assert_check(const harness_t *h, size_t i, const char *key)
{
    const h_store_call_t *c = &h->store.calls[i];
    ck_assert_int_eq(c->op, H_ST_FLAG_CHECK);
    ck_assert_str_eq(c->ns, "bf");
    if (key)
        ck_assert_str_eq(c->key, key);
}

static void bf_assert_locked(pc_request_t *r)
{
    assert_denied(r, 429, "brute_force.locked_out", "brute_force");
    ck_assert_str_eq(h_response_header(r, "Retry-After"), "90");
}

START_TEST(bf_answered_in_the_call_never_suspends)
{
    harness_t *h = h_with(&pc_plugin_brute_force, BF_SLOW);
    h->store.at_once = true;
    h->store.now = ANS_ABSENT;
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_DONE);
    assert_stayed_sync(h, r);
    ck_assert_uint_eq(h->store.ncalls, 1); /* no credential: the client IP's lock only */
    bf_assert_check(h, 0, BF_IP_LOCK);
    ck_assert_int_eq(h->plugins[1].calls, 1);
    h_complete(h, r);
    h_free(h);
}
END_TEST

START_TEST(bf_locked_in_the_call_answers_429_at_once)
{
    harness_t *h = h_with(&pc_plugin_brute_force, BF_SLOW);
    h->store.at_once = true;
    h->store.now = ANS_PRESENT;
    long long denied = h_metric(BF_DENIED);
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    assert_stayed_sync(h, r);
    bf_assert_locked(r);
    ck_assert_int_eq(h->plugins[1].calls, 0);
    ck_assert_int_eq(h_metric(BF_DENIED), denied + 1);
    h_complete(h, r);
    h_free(h);
}
END_TEST

START_TEST(bf_answered_later_resumes_with_429)
{
    harness_t *h = h_with(&pc_plugin_brute_force, BF_SLOW);
    pc_request_t *r = run_suspended(h);
    bf_assert_check(h, 0, BF_IP_LOCK);
    h_store_answer(h, 0, &ANS_PRESENT);
    ck_assert_int_eq(h->front.resumes, 1);
    ck_assert_uint_eq(r->refs, 1);
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    bf_assert_locked(r);
    ck_assert_int_eq(h->plugins[1].calls, 0);
    h_complete(h, r);
    h_free(h);
}
END_TEST

/* A password attempt on a login route: the client IP's lock and the
 * subject's, two calls; only the last answer, in either order (_i),
 * resumes the request. */
START_TEST(bf_two_checks_resume_on_the_last_answer)
{
    harness_t *h = h_with(&pc_plugin_brute_force, BF_CONF(", \"login_routes\": [\"r\"]"));
    pc_request_t *r = h_request(h);
    h_header(r, "Authorization", "Basic YWxpY2U6cHc="); /* alice:pw */
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_SUSPENDED);
    pc_wait_suspend(r);
    ck_assert_uint_eq(h->store.ncalls, 2);
    bf_assert_check(h, 0, BF_IP_LOCK);
    bf_assert_check(h, 1, NULL);
    ck_assert_ptr_nonnull(strstr(h->store.calls[1].key, "alice"));
    size_t first = _i ? 1 : 0;
    h_store_answer(h, first, first == 1 ? &ANS_PRESENT : &ANS_ABSENT);
    ck_assert_int_eq(h->front.resumes, 0);
    ck_assert_ptr_nonnull(r->async); /* still waiting */
    h_store_answer(h, 1 - first, first == 1 ? &ANS_ABSENT : &ANS_PRESENT);
    ck_assert_int_eq(h->front.resumes, 1);
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    bf_assert_locked(r); /* the subject's lock, whichever answered last */
    ck_assert_int_eq(h->plugins[1].calls, 0);
    h_complete(h, r);
    h_free(h);
}
END_TEST

START_TEST(bf_never_answered_times_out_and_the_late_answer_only_unrefs)
{
    harness_t *h = h_with(&pc_plugin_brute_force, BF_FAST);
    pc_request_t *r = run_suspended(h);
    h_run_once(h); /* the token's timer fires */
    ck_assert_int_eq(h->front.resumes, 1);
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    assert_denied(r, 503, "plugin.timeout", "brute_force");
    ck_assert_int_eq(h->plugins[1].calls, 0);
    h_complete(h, r);
    ck_assert_uint_eq(r->refs, 1);
    ck_assert_uint_eq(h->gen.inflight, 1);
    long long denied = h_metric(BF_DENIED);
    h_store_answer(h, 0, &ANS_PRESENT); /* frees r */
    ck_assert_int_eq(h_metric(BF_DENIED), denied);
    ck_assert(pc_list_empty(&h->w.abandoned));
    ck_assert_uint_eq(h->gen.inflight, 0);
    h_free(h);
}
END_TEST

/* _i: bit 0 the error comes inside the call (else later), bit 1 on_error allow. */
START_TEST(bf_store_error_applies_on_error)
{
    bool at_once = _i & 1, allow = _i & 2;
    harness_t *h = h_with(&pc_plugin_brute_force, allow ? BF_CONF(", \"on_error\": \"allow\"")
                                                        : BF_CONF(", \"on_error\": \"deny\""));
    pc_request_t *r;
    pc_chain_result_t res;
    if (at_once) {
        h->store.at_once = true;
        h->store.now = ANS_ERROR;
        r = h_request(h);
        res = pc_chain_run(r, PC_PHASE_HEADERS);
        assert_stayed_sync(h, r);
    } else {
        r = run_suspended(h);
        h_store_answer(h, 0, &ANS_ERROR);
        ck_assert_int_eq(h->front.resumes, 1);
        res = pc_chain_resume(r, PC_PHASE_HEADERS);
    }
    if (allow) {
        ck_assert_int_eq(res, PC_CHAIN_DONE);
        ck_assert_int_eq(h->plugins[1].calls, 1);
        ck_assert_int_eq(r->status, 0);
    } else {
        ck_assert_int_eq(res, PC_CHAIN_RESPONDED);
        assert_denied(r, 503, "brute_force.store_unavailable", "brute_force");
        ck_assert_str_eq(h_response_header(r, "Retry-After"), "1");
        ck_assert_int_eq(h->plugins[1].calls, 0);
    }
    h_complete(h, r);
    h_free(h);
}
END_TEST

START_TEST(bf_client_gone_while_waiting_then_the_late_answer)
{
    harness_t *h = h_with(&pc_plugin_brute_force, BF_SLOW);
    pc_request_t *r = run_suspended(h);
    h->front.client_gone = true;
    h_clock_step(h, 1500000000ull);
    pc_wait_sweep(&h->w, pc_clock_mono_ns(), gone);
    ck_assert_int_eq(h->front.resumes, 1);
    ck_assert_uint_eq(h_waiting(h), 0);
    ck_assert(!h_loop_alive(h));
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    assert_denied(r, 503, "plugin.timeout", "brute_force");
    h_complete(h, r);
    ck_assert_uint_eq(h->gen.inflight, 1);
    h_store_answer(h, 0, &ANS_ABSENT);
    ck_assert_uint_eq(h->gen.inflight, 0);
    h_free(h);
}
END_TEST

/* on_log counts a refused credential; the count and the lockout it may
 * start answer after the request is gone. _i: the count's answer is
 * below the threshold (0), at it (1), an error (2). */
START_TEST(bf_failure_counted_after_the_request_is_gone)
{
    harness_t *h = h_new(0, NULL);
    h_add_plugin(h, &pc_plugin_brute_force, BF_SLOW);
    h_add_scripted(h, H_DENY_AUTH);
    h->store.at_once = true;
    h->store.now = ANS_ABSENT;
    pc_request_t *r = h_request(h);
    h_header(r, "Authorization", "Bearer not-a-token");
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    ck_assert_int_eq(r->status, 401);
    h->store.at_once = false;
    long long failures = h_metric(BF_FAILURES), lockouts = h_metric(BF_LOCKOUTS);
    h_complete(h, r); /* on_log, then r is freed */
    ck_assert_uint_eq(h->gen.inflight, 0);
    ck_assert_int_eq(h_metric(BF_FAILURES), failures + 1);
    ck_assert_uint_eq(h->store.ncalls, 2); /* the check, then one count: the IP's */
    const h_store_call_t *c = &h->store.calls[1];
    ck_assert_int_eq(c->op, H_ST_COUNT);
    ck_assert_str_eq(c->ns, "bf");
    ck_assert_str_eq(c->key, "default:N:i9:" H_CLIENT_IP);
    ck_assert_uint_eq(c->arg, 60000);
    h_answer_t count = {.rc = _i == 2 ? -1 : 0, .count = _i == 0 ? 2 : 3};
    h_store_answer(h, 1, &count);
    if (_i != 1) {
        ck_assert_uint_eq(h->store.ncalls, 2); /* no lockout */
    } else {
        ck_assert_uint_eq(h->store.ncalls, 3);
        c = &h->store.calls[2];
        ck_assert_int_eq(c->op, H_ST_FLAG_SET);
        ck_assert_str_eq(c->key, BF_IP_LOCK);
        ck_assert_uint_eq(c->arg, 90000);
        h_store_answer(h, 2, &(h_answer_t){.rc = 0});
    }
    ck_assert_int_eq(h_metric(BF_LOCKOUTS), lockouts + (_i == 1));
    h_free(h);
}
END_TEST

static Suite *plugin_async_suite(void)
{
    Suite *s = suite_create("plugin_async");
    TCase *rl = tcase_create("rate_limit");
    tcase_add_test(rl, rl_answered_in_the_call_never_suspends);
    tcase_add_test(rl, rl_limited_in_the_call_answers_429_at_once);
    tcase_add_test(rl, rl_answered_later_resumes_with_429);
    tcase_add_test(rl, rl_allowed_later_runs_the_rest_with_headers);
    tcase_add_test(rl, rl_never_answered_times_out_and_the_late_answer_only_unrefs);
    tcase_add_loop_test(rl, rl_store_error_applies_on_error, 0, 4);
    tcase_add_test(rl, rl_client_gone_while_waiting_then_the_late_answer);
    suite_add_tcase(s, rl);
    TCase *bf = tcase_create("brute_force");
    tcase_add_test(bf, bf_answered_in_the_call_never_suspends);
    tcase_add_test(bf, bf_locked_in_the_call_answers_429_at_once);
    tcase_add_test(bf, bf_answered_later_resumes_with_429);
    tcase_add_loop_test(bf, bf_two_checks_resume_on_the_last_answer, 0, 2);
    tcase_add_test(bf, bf_never_answered_times_out_and_the_late_answer_only_unrefs);
    tcase_add_loop_test(bf, bf_store_error_applies_on_error, 0, 4);
    tcase_add_test(bf, bf_client_gone_while_waiting_then_the_late_answer);
    tcase_add_loop_test(bf, bf_failure_counted_after_the_request_is_gone, 0, 3);
    suite_add_tcase(s, bf);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(plugin_async_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
