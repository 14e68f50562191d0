/* tests/unit/test_lease.c: gateway/store/lease.c on a fake clock, against a
 * fake Redis that runs gateway/store/ratelimit.c's pc_rl_giveback + pc_rl_take
 * on one state per key (what ratelimit.lua does; test_ratelimit_lua.py
 * checks that the two agree). */
#include "store/lease.h"
#include "base/util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(c)                                                             \
    do {                                                                       \
        if (!(c))                                                              \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c);                 \
    } while (0)

/* ---- a fake Redis and a fake store ----------------------------------------- */

typedef struct fake {
    pc_lease_table_t *t;
    pc_rl_limit_t limits[2];
    size_t n;
    pc_rl_state_t state[2];        /* "Redis": one key */
    uint64_t checks, renewals, given_back;
    uint64_t admitted, refused;    /* verdicts delivered to requests */
    pc_lease_t *gave[16];          /* entries handed to the give callback */
    size_t ngave;
} fake_t;

static fake_t *cur; /* the deliver callback has no argument */

static void on_give(void *arg, pc_lease_t *e)
{
    fake_t *f = arg;
    REQUIRE(f->ngave < 16);
    f->gave[f->ngave++] = e;
}

static void deliver(pc_lease_waiter_t *wt, const pc_limit_result_t *res)
{
    if (res->allowed)
        cur->admitted++;
    else
        cur->refused++;
    free(wt);
}

static void fake_init(fake_t *f, unsigned lease_ms, pc_rl_limit_t l)
{
    memset(f, 0, sizeof(*f));
    f->t = pc_lease_table_new(lease_ms, on_give, f);
    f->limits[0] = l;
    f->n = 1;
    cur = f;
}

static void fake_free(fake_t *f)
{
    pc_lease_table_free(f->t);
}

/* Runs e's planned check in "Redis" and hands the answer back. Returns 1
 * if waiters are left for another check. */
static int fake_answer(fake_t *f, pc_lease_t *e, uint64_t now)
{
    pc_rl_result_t res = {0}, over = {0};
    uint64_t g = 0;
    f->checks++;
    f->renewals += e->sent_need == 0 && e->sent_extra > 0;
    f->given_back += e->sent_give;
    if (e->sent_give)
        pc_rl_giveback(f->limits, f->state, f->n, now, e->sent_give);
    if (e->sent_need || e->sent_extra)
        g = pc_rl_take(f->limits, f->state, f->n, now, e->sent_need, e->sent_extra, &res, &over);
    pc_limit_result_t r = {res.allowed, res.limit, res.remaining, res.reset_ms,
                           res.retry_after_ms, 0};
    pc_limit_result_t o = {0, over.limit, 0, over.reset_ms, over.retry_after_ms, 0};
    if (!e->sent_need && !g)
        r = o = (pc_limit_result_t){0};
    return pc_lease_granted(f->t, e, now, g, &r, &o, deliver);
}

/* One request at now, the way store_check.c handles it, with a Redis that
 * answers at once. Returns PC_LEASE_* of the first look. */
static int fake_request(fake_t *f, const char *key, uint64_t now)
{
    pc_lease_t *e = pc_lease_get(f->t, key, strlen(key), f->limits, f->n, now);
    pc_limit_result_t res;
    int how = pc_lease_local(f->t, e, now, &res);
    if (how != PC_LEASE_WAIT) {
        if (res.allowed)
            f->admitted++;
        else
            f->refused++;
        if (how == PC_LEASE_RENEW) {
            pc_lease_plan(f->t, e, now);
            fake_answer(f, e, now);
        }
        return how;
    }
    pc_lease_waiter_t *wt = pc_xmalloc(sizeof(*wt));
    pc_lease_wait(e, wt);
    do
        pc_lease_plan(f->t, e, now);
    while (fake_answer(f, e, now));
    return how;
}

#define GCRA(r, p, b) ((pc_rl_limit_t){.alg = PC_RL_GCRA, .rate = (r), .period_ms = (p), .burst = (b)})

/* ---- tests ----------------------------------------------------------------------- */

START_TEST(waiters_coalesce_into_one_exact_check)
{
    fake_t f;
    fake_init(&f, 0, GCRA(5, 3600000, 0));
    pc_lease_t *e = pc_lease_get(f.t, "k", 1, f.limits, 1, 1000);
    for (int i = 0; i < 8; i++) {
        pc_limit_result_t res;
        ck_assert_int_eq(pc_lease_local(f.t, e, 1000, &res), PC_LEASE_WAIT);
        pc_lease_waiter_t *wt = pc_xmalloc(sizeof(*wt));
        pc_lease_wait(e, wt);
    }
    pc_lease_plan(f.t, e, 1000);
    ck_assert_uint_eq(e->sent_need, 8);
    ck_assert_uint_eq(e->sent_extra, 0);
    ck_assert_int_eq(fake_answer(&f, e, 1000), 0);
    ck_assert_uint_eq(f.checks, 1);
    ck_assert_uint_eq(f.admitted, 5); /* the first five, in order */
    ck_assert_uint_eq(f.refused, 3);
    ck_assert_uint_eq(e->tokens, 0);
    fake_free(&f);
}
END_TEST

START_TEST(exact_mode_never_answers_locally)
{
    fake_t f;
    fake_init(&f, 0, GCRA(100000, 1000, 0));
    for (uint64_t now = 0; now < 2000; now++)
        ck_assert_int_eq(fake_request(&f, "k", 1000000 + now), PC_LEASE_WAIT);
    ck_assert_uint_eq(f.checks, 2000);
    ck_assert_uint_eq(f.admitted, 2000);
    /* refusals too: over the limit, every request asks Redis */
    fake_t g;
    fake_init(&g, 0, GCRA(1, 3600000, 0));
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(fake_request(&g, "k", 1000000), PC_LEASE_WAIT);
    ck_assert_uint_eq(g.checks, 10);
    ck_assert_uint_eq(g.admitted, 1);
    fake_free(&f);
    fake_free(&g);
}
END_TEST

/* A steady 30 requests a second on one key: after a short ramp, almost
 * every request is answered from the lease, renewed ahead of time. */
START_TEST(steady_traffic_is_answered_locally)
{
    fake_t f;
    fake_init(&f, 1000, GCRA(10000000, 10000, 0));
    uint64_t t0 = 1000000, waits = 0, n = 0;
    for (uint64_t now = t0; now < t0 + 20000; now += 33, n++)
        waits += fake_request(&f, "k", now) == PC_LEASE_WAIT;
    ck_assert_uint_eq(f.admitted, n);
    ck_assert_uint_le(waits, 6);                 /* the ramp */
    ck_assert_uint_le(f.checks, n / 8);          /* a check per lease, not per request */
    ck_assert_uint_ge(f.renewals, f.checks / 2); /* most of them ahead of time */
    fake_free(&f);
}
END_TEST


/* A limit with a burst under PC_LEASE_BURST_SHARE is never leased: every
 * request is an exact check. */
START_TEST(small_limits_are_never_leased)
{
    fake_t f;
    fake_init(&f, 1000, GCRA(255, 1000, 0));
    for (uint64_t now = 1000000; now < 1002000; now += 5)
        fake_request(&f, "k", now);
    ck_assert_uint_eq(f.checks, 400);
    ck_assert_uint_eq(f.renewals, 0);
    fake_free(&f);
    /* a sliding window is never leased, whatever its size */
    fake_init(&f, 1000, ((pc_rl_limit_t){.alg = PC_RL_SLIDING, .rate = 1000000, .period_ms = 1000}));
    for (uint64_t now = 1000000; now < 1002000; now += 5)
        fake_request(&f, "k", now);
    ck_assert_uint_eq(f.checks, 400);
    fake_free(&f);
}
END_TEST

/* What a worker holds ahead never exceeds burst / 256, and near the limit
 * it shrinks to nothing: the total admitted is the limit exactly. */
START_TEST(leases_are_bounded_and_exact_at_the_limit)
{
    fake_t f;
    /* cap 25600 / 256 = 100; a 30-day period: no refill to speak of */
    fake_init(&f, 1000, GCRA(25600, 30ull * 86400000, 0));
    uint64_t now = 1000000;
    for (int i = 0; i < 40000; i++, now += (i % 4 == 0)) {
        fake_request(&f, "k", now);
        pc_lease_t *e = pc_lease_get(f.t, "k", 1, f.limits, 1, now);
        REQUIRE(e->tokens <= 100);
        REQUIRE(f.admitted + e->tokens <= 25600);
    }
    ck_assert_uint_gt(f.renewals, 0); /* it did lease */
    /* Redis ran out while this worker held nothing ahead: it got it all */
    ck_assert_uint_eq(f.admitted, 25600);
    ck_assert_uint_eq(f.refused, 40000 - 25600);
    fake_free(&f);
}
END_TEST

/* One key, 100 requests a second for a second, far below its limit:
 * returns its entry, which holds a lease. */
static pc_lease_t *warm_up(fake_t *f, uint64_t *now)
{
    fake_init(f, 1000, GCRA(100000, 1000, 0));
    for (int i = 0; i < 100; i++, *now += 10)
        fake_request(f, "k", *now);
    pc_lease_t *e = pc_lease_get(f->t, "k", 1, f->limits, 1, *now);
    ck_assert_uint_gt(e->tokens, 0);
    return e;
}

/* Tokens unused when a lease ends go back with the key's next check; a
 * key that goes quiet gives them back through the sweep. */
START_TEST(unused_tokens_are_given_back)
{
    fake_t f;
    uint64_t now = 1000000;
    pc_lease_t *e = warm_up(&f, &now);
    uint64_t held = e->tokens;
    /* next request after the lease ended: the leftovers travel with its check */
    uint64_t back = f.given_back;
    fake_request(&f, "k", now + 1500);
    ck_assert_uint_eq(f.given_back - back, held);
    /* quiet key: the sweep detaches it and hands it over to give back */
    e = pc_lease_get(f.t, "k", 1, f.limits, 1, now + 1500);
    held = e->tokens;
    pc_lease_sweep(f.t, now + 1600); /* not idle yet */
    ck_assert_uint_eq(f.ngave, 0);
    pc_lease_sweep(f.t, now + 1500 + 1000);
    if (held) {
        ck_assert_uint_eq(f.ngave, 1);
        pc_lease_t *g = f.gave[0];
        ck_assert(g->detached && g->giveback == held);
        pc_lease_plan(f.t, g, now + 2600);
        ck_assert(g->sent_need == 0 && g->sent_extra == 0 && g->sent_give == held);
        fake_answer(&f, g, now + 2600);
        pc_lease_settle(f.t, g); /* freed (ASan/valgrind check it) */
    }
    ck_assert_uint_eq(pc_lease_table_size(f.t), 0);
    ck_assert_uint_eq(f.state[0].t, 0); /* all given back: the bucket is full again */
    fake_free(&f);
}
END_TEST

/* With leases on, a refusal is remembered until its retry time (at most a
 * lease): a client hammering past its limit costs Redis one check. */
START_TEST(refusals_are_remembered_with_leases_only)
{
    fake_t f;
    fake_init(&f, 1000, GCRA(1, 60000, 0));
    ck_assert_int_eq(fake_request(&f, "k", 1000000), PC_LEASE_WAIT);
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(fake_request(&f, "k", 1000000 + (uint64_t)i), i ? PC_LEASE_ANSWERED
                                                                          : PC_LEASE_WAIT);
    ck_assert_uint_eq(f.checks, 2);
    ck_assert_uint_eq(f.admitted, 1);
    ck_assert_uint_eq(f.refused, 50);
    /* after a lease time, Redis is asked again */
    ck_assert_int_eq(fake_request(&f, "k", 1001100), PC_LEASE_WAIT);
    fake_free(&f);
}
END_TEST

/* A reload that changes the limits under the same key starts a new entry;
 * the old one gives back what it held. */
START_TEST(changed_limits_detach_the_old_entry)
{
    fake_t f;
    uint64_t now = 1000000;
    pc_lease_t *old = warm_up(&f, &now);
    uint64_t held = old->tokens;
    pc_rl_limit_t other = GCRA(50000, 1000, 0);
    pc_lease_t *e = pc_lease_get(f.t, "k", 1, &other, 1, now);
    ck_assert_ptr_ne(e, old);
    ck_assert_uint_eq(f.ngave, 1);
    ck_assert(f.gave[0] == old && old->giveback == held && old->cap == 0);
    pc_lease_plan(f.t, old, now);
    fake_answer(&f, old, now);
    pc_lease_settle(f.t, old);
    ck_assert_uint_eq(pc_lease_table_size(f.t), 1);
    fake_free(&f);
}
END_TEST

/* Redis failing a check hands its waiters back, and never gives the same
 * requests back twice. */
START_TEST(failed_checks_return_their_waiters)
{
    fake_t f;
    fake_init(&f, 1000, GCRA(100000, 1000, 0));
    pc_lease_t *e = pc_lease_get(f.t, "k", 1, f.limits, 1, 1000000);
    e->giveback = 7;
    for (int i = 0; i < 3; i++) {
        pc_limit_result_t res;
        ck_assert_int_eq(pc_lease_local(f.t, e, 1000000, &res), PC_LEASE_WAIT);
        pc_lease_wait(e, pc_xmalloc(sizeof(pc_lease_waiter_t)));
    }
    pc_lease_plan(f.t, e, 1000000);
    ck_assert_uint_eq(e->sent_give, 7);
    pc_limit_result_t res;
    ck_assert_int_eq(pc_lease_local(f.t, e, 1000001, &res), PC_LEASE_WAIT); /* waits in line */
    pc_lease_wait(e, pc_xmalloc(sizeof(pc_lease_waiter_t)));
    pc_lease_waiter_t *failed;
    ck_assert_int_eq(pc_lease_failed(e, &failed), 1); /* one came meanwhile */
    int n = 0;
    while (failed) {
        pc_lease_waiter_t *next = failed->next;
        free(failed);
        failed = next;
        n++;
    }
    ck_assert_int_eq(n, 3);
    pc_lease_plan(f.t, e, 1000002);
    ck_assert(e->sent_need == 1 && e->sent_give == 0);
    fake_answer(&f, e, 1000002);
    ck_assert_uint_eq(f.admitted, 1);
    fake_free(&f);
}
END_TEST

/* Idle entries beyond PC_LEASE_MAX_IDLE are dropped: one-off keys (a scan
 * of random user ids) cannot grow a worker's table without bound. */
START_TEST(idle_entries_are_bounded)
{
    fake_t f;
    fake_init(&f, 1000, GCRA(100000, 1000, 0));
    char key[32];
    for (int i = 0; i < 3 * PC_LEASE_MAX_IDLE; i++) {
        int n = snprintf(key, sizeof(key), "user-%d", i);
        pc_lease_get(f.t, key, (size_t)n, f.limits, 1, 1000000);
    }
    ck_assert_uint_le(pc_lease_table_size(f.t), PC_LEASE_MAX_IDLE + 1);
    pc_lease_sweep(f.t, 1000000 + 2000);
    ck_assert_uint_eq(pc_lease_table_size(f.t), 0);
    fake_free(&f);
}
END_TEST

Suite *lease_suite(void)
{
    Suite *s = suite_create("lease");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, waiters_coalesce_into_one_exact_check);
    tcase_add_test(tc, exact_mode_never_answers_locally);
    tcase_add_test(tc, steady_traffic_is_answered_locally);
    tcase_add_test(tc, small_limits_are_never_leased);
    tcase_add_test(tc, leases_are_bounded_and_exact_at_the_limit);
    tcase_add_test(tc, unused_tokens_are_given_back);
    tcase_add_test(tc, refusals_are_remembered_with_leases_only);
    tcase_add_test(tc, changed_limits_detach_the_old_entry);
    tcase_add_test(tc, failed_checks_return_their_waiters);
    tcase_add_test(tc, idle_entries_are_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lease_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
