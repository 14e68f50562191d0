/* tests/unit/test_chain.c: the plugin chain and the wait module, one
 * ordering at a time: suspend then resume, synchronous completion,
 * timeout then late end, double end, parking, the client-gone sweep; and
 * the timers and wake-ups of plugin.h. Driven
 * by tests/unit/harness.h: no sockets, a fake front end, a clock stepped by
 * hand. */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "base/clock.h"

/* ---- no waiting -------------------------------------------------------------------- */

START_TEST(every_plugin_continues_once)
{
    const h_mode_t m[] = {H_CONTINUE, H_CONTINUE, H_CONTINUE};
    harness_t *h = h_new(3, m);
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_DONE);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(h->plugins[i].calls, 1);
    ck_assert_uint_eq(r->chain_pos, 0); /* ready for the next phase */
    ck_assert_uint_eq(r->refs, 1);
    ck_assert_int_eq(h->front.suspends, 0);
    h_complete(h, r);
    h_free(h);
}
END_TEST

START_TEST(a_deny_stops_the_chain_there)
{
    const h_mode_t m[] = {H_CONTINUE, H_DENY, H_CONTINUE};
    harness_t *h = h_new(3, m);
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    ck_assert_int_eq(r->status, 429);
    ck_assert_str_eq(r->stopped_by, "harness");
    ck_assert_int_eq(h->plugins[2].calls, 0);
    h_complete(h, r);
    h_free(h);
}
END_TEST

/* ---- suspend and resume ----------------------------------------------------------- */

START_TEST(suspend_then_resume_runs_the_rest_once)
{
    const h_mode_t m[] = {H_CONTINUE, H_SUSPEND, H_CONTINUE};
    harness_t *h = h_new(3, m);
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_SUSPENDED);
    ck_assert_uint_eq(r->refs, 2);
    ck_assert_uint_eq(r->chain_pos, 1);
    ck_assert(ev_is_active(&h->plugins[1].pending->timer)); /* armed: the hook suspended */
    pc_wait_suspend(r);                                      /* what the front end does */
    ck_assert_int_eq(h->front.suspends, 1);
    ck_assert_uint_eq(h_waiting(h), 1);
    ck_assert_ptr_eq(pc_wait_first(&h->w), r);

    pc_async_end(h->plugins[1].pending, PC_CONTINUE);
    ck_assert_uint_eq(r->refs, 1);
    ck_assert_int_eq(h->front.resumes, 1);
    ck_assert_uint_eq(h_waiting(h), 0);
    ck_assert(h->wq.run_pending);
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_DONE);
    ck_assert_int_eq(h->plugins[1].calls, 1); /* never called again */
    ck_assert_int_eq(h->plugins[2].calls, 1);
    h_complete(h, r);
    h_free(h);
}
END_TEST

START_TEST(resume_with_a_deny_stops_the_chain)
{
    const h_mode_t m[] = {H_SUSPEND, H_CONTINUE};
    harness_t *h = h_new(2, m);
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_SUSPENDED);
    pc_async_t *a = h->plugins[0].pending;
    pc_deny(pc_async_request(a), 451, "test.later", NULL);
    pc_async_end(a, PC_RESPOND);
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    ck_assert_int_eq(r->status, 451);
    ck_assert_str_eq(r->stopped_by, "harness");
    ck_assert_int_eq(h->plugins[1].calls, 0);
    h_complete(h, r);
    h_free(h);
}
END_TEST

/* ---- synchronous completion ------------------------------------------------------------ */

START_TEST(sync_completion_never_arms_a_timer_nor_suspends)
{
    const h_mode_t m[] = {H_SYNC_CONTINUE, H_CONTINUE};
    harness_t *h = h_new(2, m);
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_DONE);
    ck_assert(!ev_is_active(&h->plugins[0].last->timer));
    ck_assert_ptr_null(r->async);
    ck_assert_uint_eq(r->refs, 1);
    ck_assert_int_eq(h->front.suspends, 0);
    ck_assert_int_eq(h->plugins[1].calls, 1);
    h_complete(h, r);
    h_free(h);
}
END_TEST

START_TEST(sync_deny_responds_at_once)
{
    const h_mode_t m[] = {H_SYNC_DENY, H_CONTINUE};
    harness_t *h = h_new(2, m);
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    ck_assert_int_eq(r->status, 403);
    ck_assert_str_eq(r->reason, "test.sync_deny");
    ck_assert(!ev_is_active(&h->plugins[0].last->timer));
    ck_assert_int_eq(h->plugins[1].calls, 0);
    h_complete(h, r);
    h_free(h);
}
END_TEST

/* ---- timeout and late end --------------------------------------------------------------- */

START_TEST(timeout_answers_then_late_end_only_drops_the_reference)
{
    const h_mode_t m[] = {H_SUSPEND, H_CONTINUE};
    harness_t *h = h_new(2, m);
    h->plugins[0].timeout_ms = 20;
    h->plugins[0].timeout_status = 504;
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_SUSPENDED);
    pc_wait_suspend(r);
    h_run_once(h); /* the token's timer fires */
    pc_async_t *a = h->plugins[0].pending;
    ck_assert_ptr_null(pc_async_request(a));
    ck_assert_int_eq(h->front.resumes, 1);
    ck_assert(!pc_list_empty(&h->w.abandoned));
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    ck_assert_int_eq(r->status, 504);
    ck_assert_str_eq(r->reason, "plugin.timeout");
    ck_assert_int_eq(h->plugins[1].calls, 0);

    h_complete(h, r);
    ck_assert_uint_eq(h->w.live_requests, 0); /* answered: no longer in flight */
    ck_assert_uint_eq(r->refs, 1);            /* the token keeps the memory */
    ck_assert_uint_eq(h->gen.inflight, 1);
    pc_async_end(a, PC_CONTINUE);             /* late: frees r, token included */
    ck_assert(pc_list_empty(&h->w.abandoned));
    ck_assert_uint_eq(h->gen.inflight, 0);
    h_free(h);
}
END_TEST

START_TEST(abandoned_tokens_are_freed_at_the_worker_end)
{
    const h_mode_t m[] = {H_SUSPEND};
    harness_t *h = h_new(1, m);
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_SUSPENDED);
    pc_chain_abandon(r, "shutdown");
    ck_assert_int_eq(r->status, 503);
    h_complete(h, r);
    ck_assert_uint_eq(h->gen.inflight, 1);
    pc_chain_free_abandoned(&h->w); /* the plugin never ends it */
    ck_assert_uint_eq(h->gen.inflight, 0);
    h_free(h);
}
END_TEST

/* ---- misuse aborts ---------------------------------------------------------------------- */

START_TEST(double_end_aborts)
{
    const h_mode_t m[] = {H_END_TWICE};
    harness_t *h = h_new(1, m);
    pc_request_t *r = h_request(h);
    pc_chain_run(r, PC_PHASE_HEADERS);
}
END_TEST

START_TEST(open_token_without_suspend_aborts)
{
    const h_mode_t m[] = {H_OPEN_CONTINUE};
    harness_t *h = h_new(1, m);
    pc_request_t *r = h_request(h);
    pc_chain_run(r, PC_PHASE_HEADERS);
}
END_TEST

/* ---- parking ------------------------------------------------------------------------------ */

START_TEST(parked_request_is_suspended_after_eight_looks)
{
    const h_mode_t m[] = {H_SUSPEND};
    harness_t *h = h_new(1, m);
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_SUSPENDED);
    pc_wait_park(r);
    ck_assert(r->parked);
    ck_assert_uint_eq(h->wq.nparked, 1);
    ck_assert_uint_eq(h_waiting(h), 1);
    for (int i = 0; i < 7; i++)
        pc_wait_look(r);
    ck_assert(r->parked);
    ck_assert_int_eq(h->front.suspends, 0);
    pc_wait_look(r);
    ck_assert(!r->parked && r->suspended);
    ck_assert_int_eq(h->front.suspends, 1);
    ck_assert_uint_eq(h->wq.nparked, 0);
    ck_assert_uint_eq(h_waiting(h), 1);
    pc_async_end(h->plugins[0].pending, PC_CONTINUE);
    ck_assert_int_eq(h->front.resumes, 1);
    ck_assert_uint_eq(h_waiting(h), 0);
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_DONE);
    h_complete(h, r);
    h_free(h);
}
END_TEST

START_TEST(resuming_a_parked_request_costs_no_front_call)
{
    const h_mode_t m[] = {H_SUSPEND};
    harness_t *h = h_new(1, m);
    pc_request_t *r = h_request(h);
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_SUSPENDED);
    pc_wait_park(r);
    pc_async_end(h->plugins[0].pending, PC_CONTINUE);
    ck_assert(!r->parked && !r->suspended);
    ck_assert_int_eq(h->front.suspends + h->front.resumes, 0);
    ck_assert_uint_eq(h->wq.nparked, 0);
    ck_assert(h->wq.run_pending);
    pc_wait_resume(r); /* not waiting: a no-op */
    ck_assert_int_eq(h->front.resumes, 0);
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_DONE);
    h_complete(h, r);
    h_free(h);
}
END_TEST

/* ---- the client-gone sweep ------------------------------------------------------------------ */

static int gone_calls;

static void gone(pc_request_t *r)
{
    gone_calls++;
    pc_chain_abandon(r, "client gone");
    pc_wait_resume(r);
}

START_TEST(sweep_looks_only_after_a_second_and_only_at_gone_clients)
{
    const h_mode_t m[] = {H_SUSPEND};
    harness_t *h = h_new(1, m);
    pc_request_t *r = h_request(h);
    ck_assert_uint_eq(r->start_ns, pc_clock_mono_ns()); /* the injected clock */
    ck_assert_int_eq(pc_chain_run(r, PC_PHASE_HEADERS), PC_CHAIN_SUSPENDED);
    pc_wait_suspend(r);
    gone_calls = 0;
    h->front.client_gone = true;
    h_clock_step(h, 500000000ull);
    pc_wait_sweep(&h->w, pc_clock_mono_ns(), gone);
    ck_assert_int_eq(gone_calls, 0); /* a short wait is never peeked at */
    h->front.client_gone = false;
    h_clock_step(h, 600000000ull);
    pc_wait_sweep(&h->w, pc_clock_mono_ns(), gone);
    ck_assert_int_eq(gone_calls, 0); /* the client is still there */
    h->front.client_gone = true;
    pc_wait_sweep(&h->w, pc_clock_mono_ns(), gone);
    ck_assert_int_eq(gone_calls, 1);
    ck_assert_int_eq(r->status, 503); /* the abandoned token's answer */
    ck_assert_uint_eq(h_waiting(h), 0);
    ck_assert_ptr_null(pc_async_request(h->plugins[0].pending));
    ck_assert_int_eq(pc_chain_resume(r, PC_PHASE_HEADERS), PC_CHAIN_RESPONDED);
    h_complete(h, r);
    pc_async_end(h->plugins[0].pending, PC_CONTINUE);
    h_free(h);
}
END_TEST

/* ---- timers and wake-ups (plugin.h) ------------------------------------------------------ */

static void count_cb(void *data)
{
    (*(int *)data)++;
}

static void *signal_thrice(void *k)
{
    for (int i = 0; i < 3; i++)
        pc_wake_signal(k);
    return NULL;
}

START_TEST(wake_from_another_thread_runs_on_the_loop)
{
    harness_t *h = h_new(0, NULL);
    int woken = 0, ticks = 0;
    pc_wake_t *k = pc_wake_new(&h->w, count_cb, &woken);
    ck_assert_ptr_nonnull(k);
    pc_timer_t *guard = pc_timer_new(&h->w, count_cb, &ticks); /* bounds the wait */
    pc_timer_start(guard, 2000, 0);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, signal_thrice, k), 0);
    pthread_join(t, NULL);
    ck_assert_int_eq(woken, 0); /* nothing runs outside the loop */
    h_run_once(h);
    ck_assert_int_eq(woken, 1); /* three signals, one call */
    ck_assert_int_eq(ticks, 0);
    pc_timer_free(guard);
    pc_wake_free(k);
    h_free(h);
}
END_TEST

START_TEST(timer_fires_once_or_repeats_until_stopped)
{
    harness_t *h = h_new(0, NULL);
    int fired = 0;
    pc_timer_t *t = pc_timer_new(&h->w, count_cb, &fired);
    ck_assert(!pc_timer_active(t));
    pc_timer_start(t, 5, 0);
    ck_assert(pc_timer_active(t));
    h_run_once(h);
    ck_assert_int_eq(fired, 1);
    ck_assert(!pc_timer_active(t));
    pc_timer_start(t, 1, 1);
    while (fired < 3)
        h_run_once(h);
    ck_assert(pc_timer_active(t));
    pc_timer_stop(t);
    pc_timer_stop(t); /* idempotent */
    ck_assert(!pc_timer_active(t));
    pc_timer_free(t);
    ck_assert_ptr_null(pc_timer_new(NULL, count_cb, &fired)); /* no main loop here */
    ck_assert_ptr_null(pc_wake_new(NULL, count_cb, &fired));
    h_free(h);
}
END_TEST

static Suite *chain_suite(void)
{
    Suite *s = suite_create("chain");
    TCase *tc = tcase_create("chain");
    tcase_add_test(tc, every_plugin_continues_once);
    tcase_add_test(tc, a_deny_stops_the_chain_there);
    tcase_add_test(tc, suspend_then_resume_runs_the_rest_once);
    tcase_add_test(tc, resume_with_a_deny_stops_the_chain);
    tcase_add_test(tc, sync_completion_never_arms_a_timer_nor_suspends);
    tcase_add_test(tc, sync_deny_responds_at_once);
    tcase_add_test(tc, timeout_answers_then_late_end_only_drops_the_reference);
    tcase_add_test(tc, abandoned_tokens_are_freed_at_the_worker_end);
    tcase_add_test_raise_signal(tc, double_end_aborts, SIGABRT);
    tcase_add_test_raise_signal(tc, open_token_without_suspend_aborts, SIGABRT);
    tcase_add_test(tc, parked_request_is_suspended_after_eight_looks);
    tcase_add_test(tc, resuming_a_parked_request_costs_no_front_call);
    tcase_add_test(tc, sweep_looks_only_after_a_second_and_only_at_gone_clients);
    tcase_add_test(tc, wake_from_another_thread_runs_on_the_loop);
    tcase_add_test(tc, timer_fires_once_or_repeats_until_stopped);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(chain_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
