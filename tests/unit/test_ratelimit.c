/* tests/unit/test_ratelimit.c: the pure algorithms of gateway/store/ratelimit.c
 * on a fake clock. The VECTORS table is repeated in test_ratelimit_lua.py,
 * which runs it against gateway/store/ratelimit.lua: keep the two in step. */
#include "store/ratelimit.h"
#include "base/util.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* For hot loops: every passing ck_assert writes a checkpoint to Check's
 * pipe (a syscall). */
#define REQUIRE(c)                                                             \
    do {                                                                       \
        if (!(c))                                                              \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c);                 \
    } while (0)

typedef struct rl_step {
    uint64_t now;
    int allowed;
    uint64_t remaining, reset, retry;
    unsigned limit;
} rl_step_t;

typedef struct rl_vector {
    const char *name;
    size_t n;
    pc_rl_limit_t limits[2];
    rl_step_t steps[32];
} rl_vector_t;

#define GCRA(r, p, b) {.alg = PC_RL_GCRA, .rate = (r), .period_ms = (p), .burst = (b)}
#define WIN(r, p) {.alg = PC_RL_SLIDING, .rate = (r), .period_ms = (p)}
#define OK(now, rem, reset, lim) {(now), 1, (rem), (reset), 0, (lim)}
#define NO(now, reset, retry, lim) {(now), 0, 0, (reset), (retry), (lim)}
#define END {UINT64_MAX, 0, 0, 0, 0, 0}

static const rl_vector_t VECTORS[] = {
    {"gcra 10/s burst 10", 1, {GCRA(10, 1000, 0)},
     {OK(0, 9, 100, 0), OK(0, 8, 200, 0), OK(0, 7, 300, 0), OK(0, 6, 400, 0),
      OK(0, 5, 500, 0), OK(0, 4, 600, 0), OK(0, 3, 700, 0), OK(0, 2, 800, 0),
      OK(0, 1, 900, 0), OK(0, 0, 1000, 0), NO(0, 1000, 100, 0), NO(99, 901, 1, 0),
      OK(100, 0, 1000, 0), NO(100, 1000, 100, 0), END}},
    {"gcra burst 1", 1, {GCRA(10, 1000, 1)},
     {OK(0, 0, 100, 0), NO(0, 100, 100, 0), NO(50, 50, 50, 0), OK(100, 0, 100, 0), END}},
    {"gcra 3/s rounds T up", 1, {GCRA(3, 1000, 0)},
     {OK(0, 2, 334, 0), OK(0, 1, 667, 0), OK(0, 0, 1001, 0), NO(0, 1001, 334, 0),
      OK(334, 0, 1000, 0), END}},
    {"multi-limit: a denied request consumes nothing", 2,
     {GCRA(2, 1000, 0), GCRA(3, 60000, 0)},
     {OK(0, 1, 500, 0), OK(0, 0, 1000, 0), NO(0, 1000, 500, 0), NO(0, 1000, 500, 0),
      OK(500, 0, 59500, 1), NO(1500, 58500, 18500, 1), NO(1500, 58500, 18500, 1),
      OK(20000, 0, 60000, 1), NO(20000, 60000, 20000, 1), END}},
    {"sliding 10/s", 1, {WIN(10, 1000)},
     {OK(0, 9, 2000, 0), OK(0, 8, 2000, 0), OK(0, 7, 2000, 0), OK(0, 6, 2000, 0),
      OK(0, 5, 2000, 0), OK(0, 4, 2000, 0), OK(0, 3, 2000, 0), OK(0, 2, 2000, 0),
      OK(0, 1, 2000, 0), OK(0, 0, 2000, 0), NO(0, 2000, 1100, 0), NO(999, 1001, 101, 0),
      NO(1000, 1000, 100, 0), OK(1100, 0, 1900, 0), NO(1100, 1900, 100, 0),
      OK(1550, 3, 1450, 0), OK(2999, 8, 1001, 0), OK(5000, 9, 2000, 0), END}},
    {"sliding 1/s", 1, {WIN(1, 1000)},
     {OK(0, 0, 2000, 0), NO(10, 1990, 1990, 0), NO(1000, 1000, 1000, 0), NO(1999, 1, 1, 0),
      OK(2000, 0, 2000, 0), END}},
    {"mixed gcra + sliding", 2, {WIN(3, 1000), GCRA(1, 500, 2)},
     {OK(0, 1, 500, 1), OK(0, 0, 1000, 1), NO(0, 1000, 500, 1), OK(500, 0, 1500, 0),
      NO(1000, 1000, 334, 0), OK(1334, 0, 1666, 0), NO(1334, 1666, 333, 0), END}},
    {"gcra clock steps back", 1, {GCRA(10, 1000, 0)},
     {OK(10000, 9, 100, 0), OK(10000, 8, 200, 0), OK(10000, 7, 300, 0), OK(10000, 6, 400, 0),
      OK(10000, 5, 500, 0), OK(10000, 4, 600, 0), OK(10000, 3, 700, 0), OK(10000, 2, 800, 0),
      OK(10000, 1, 900, 0), OK(10000, 0, 1000, 0), NO(5000, 1000, 100, 0),
      OK(5100, 0, 1000, 0), NO(5100, 1000, 100, 0), END}},
    {"sliding clock steps back", 1, {WIN(10, 1000)},
     {OK(5500, 9, 1500, 0), OK(5500, 8, 1500, 0), OK(5500, 7, 1500, 0), OK(5500, 6, 1500, 0),
      OK(5500, 5, 1500, 0), OK(5500, 4, 1500, 0), OK(5500, 3, 1500, 0), OK(5500, 2, 1500, 0),
      OK(5500, 1, 1500, 0), OK(5500, 0, 1500, 0), NO(2200, 1800, 900, 0),
      OK(3100, 0, 1900, 0), END}},
};

static void run_vector(const rl_vector_t *v)
{
    pc_rl_state_t st[2] = {{0}};
    pc_rl_result_t r;

    for (size_t i = 0; v->steps[i].now != UINT64_MAX; i++) {
        const rl_step_t *s = &v->steps[i];
        int allowed = pc_rl_check(v->limits, st, v->n, s->now, &r);
        ck_assert_msg(allowed == s->allowed && r.allowed == s->allowed &&
                          r.remaining == s->remaining && r.reset_ms == s->reset &&
                          r.retry_after_ms == s->retry && r.limit == s->limit,
                      "%s step %zu (now %llu): got {%d, rem %llu, reset %llu, retry %llu, "
                      "limit %u}",
                      v->name, i, (unsigned long long)s->now, r.allowed,
                      (unsigned long long)r.remaining, (unsigned long long)r.reset_ms,
                      (unsigned long long)r.retry_after_ms, r.limit);
    }
}

START_TEST(test_vectors)
{
    run_vector(&VECTORS[_i]);
}
END_TEST

START_TEST(test_gcra_steady_rate)
{
    pc_rl_limit_t l = GCRA(10, 1000, 0);
    pc_rl_state_t st = {0};
    pc_rl_result_t r;
    int allowed = 0;

    /* Exactly at the rate: every request passes and the bucket stays full. */
    for (uint64_t now = 0; now < 100000; now += 100) {
        REQUIRE(pc_rl_check(&l, &st, 1, now, &r));
        REQUIRE(r.remaining == 9);
        REQUIRE(r.reset_ms == 100);
    }
    /* Ten times the rate for 10 s: the burst, then one per T exactly. */
    st = (pc_rl_state_t){0};
    for (uint64_t now = 0; now < 10000; now += 10)
        allowed += pc_rl_check(&l, &st, 1, now, &r);
    ck_assert_int_eq(allowed, 10 + 1 + 98);
}
END_TEST

START_TEST(test_sliding_steady_rate)
{
    pc_rl_limit_t l = WIN(10, 1000);
    pc_rl_state_t st = {0};
    pc_rl_result_t r;
    int allowed = 0;

    /* Ten times the rate for 100 s. Under saturation the estimate errs
     * low: the previous window's weight never quite reaches 0, so each
     * window admits rate - 1 (9/s here), never more than rate. */
    for (uint64_t now = 0; now < 100000; now += 10)
        allowed += pc_rl_check(&l, &st, 1, now, &r);
    ck_assert_int_ge(allowed, 900);
    ck_assert_int_le(allowed, 1000);
}
END_TEST

/* GCRA's guarantee, on random traffic: any interval [a, b] holds at most
 * B + (b - a) / T admitted requests. */
START_TEST(test_gcra_bound_random)
{
    pc_rl_limit_t l = GCRA(7, 1000, 3);
    pc_rl_state_t st = {0};
    pc_rl_result_t r;
    uint64_t t_us = (1000 * 1000 + 6) / 7, now = 0, *at = calloc(20000, sizeof(*at));
    size_t n = 0;

    srand(42);
    for (int i = 0; i < 20000; i++) {
        now += (uint64_t)(rand() % 4 == 0 ? rand() % 400 : 0);
        if (pc_rl_check(&l, &st, 1, now, &r))
            at[n++] = now;
        else
            REQUIRE(r.retry_after_ms > 0);
        REQUIRE(r.remaining <= 3);
    }
    REQUIRE(n > 100);
    for (size_t a = 0; a < n; a++)
        for (size_t b = a; b < n && b < a + 40; b++)
            REQUIRE(b - a + 1 <= 3 + (at[b] - at[a]) * 1000 / t_us);
    free(at);
}
END_TEST

/* Sliding window: no aligned window ever admits more than rate. */
START_TEST(test_sliding_bound_random)
{
    pc_rl_limit_t l = WIN(5, 1000);
    pc_rl_state_t st = {0};
    pc_rl_result_t r;
    uint64_t now = 0, window = 0, count = 0;

    srand(7);
    for (int i = 0; i < 50000; i++) {
        now += (uint64_t)(rand() % 3 == 0 ? rand() % 300 : 0);
        if (now / 1000 != window) {
            window = now / 1000;
            count = 0;
        }
        if (pc_rl_check(&l, &st, 1, now, &r))
            count++;
        else
            REQUIRE(r.retry_after_ms > 0);
        REQUIRE(count <= 5);
    }
}
END_TEST

/* The retry_after of a denial is exact: one ms earlier is still denied
 * (on a copy of the state), at retry_after it passes. */
START_TEST(test_retry_after_exact)
{
    const pc_rl_limit_t ls[] = {GCRA(7, 1000, 3), GCRA(3, 10000, 1), WIN(5, 1000), WIN(2, 700)};

    srand(3);
    for (size_t k = 0; k < PC_ARRAY_LEN(ls); k++) {
        pc_rl_state_t st = {0};
        uint64_t now = 1000;
        for (int i = 0; i < 3000; i++) {
            pc_rl_result_t r, r2;
            now += (uint64_t)(rand() % 5 == 0 ? rand() % 200 : 0);
            if (pc_rl_check(&ls[k], &st, 1, now, &r))
                continue;
            pc_rl_state_t copy = st;
            if (r.retry_after_ms > 1)
                REQUIRE(!pc_rl_check(&ls[k], &copy, 1, now + r.retry_after_ms - 1, &r2));
            copy = st;
            if (!pc_rl_check(&ls[k], &copy, 1, now + r.retry_after_ms, &r2))
                ck_abort_msg("limit %zu now %llu retry %llu", k, (unsigned long long)now,
                             (unsigned long long)r.retry_after_ms);
        }
    }
}
END_TEST

/* Arbitrary clock jumps either way: no crash, no lockout longer than the
 * limit's own horizon, nothing absurd in the result. */
START_TEST(test_clock_chaos)
{
    const pc_rl_limit_t ls[] = {GCRA(10, 1000, 0), WIN(10, 1000)};
    pc_rl_state_t st[2] = {{0}};
    pc_rl_result_t r;
    uint64_t now = 1000000;

    srand(11);
    for (int i = 0; i < 100000; i++) {
        int jump = rand() % 100;
        if (jump == 0)
            now -= (uint64_t)(rand() % 500000) % now;
        else if (jump == 1)
            now += (uint64_t)(rand() % 500000);
        else
            now += (uint64_t)(rand() % 20);
        if (!pc_rl_check(ls, st, 2, now, &r)) {
            REQUIRE(r.retry_after_ms > 0);
            REQUIRE(r.retry_after_ms <= 2000);
        }
        REQUIRE(r.remaining <= 10);
        REQUIRE(r.reset_ms <= 2000);
    }
}
END_TEST

START_TEST(test_limit_check)
{
    const char *why = NULL;
    pc_rl_limit_t ok[] = {GCRA(1, 1, 0), GCRA(1000000, 1, 0), GCRA(100, 60000, 5000),
                          WIN(1, PC_RL_MAX_PERIOD_MS), GCRA(1, PC_RL_MAX_PERIOD_MS, 16)};
    pc_rl_limit_t bad[] = {GCRA(0, 1000, 0), GCRA(1, 0, 0), GCRA(1, PC_RL_MAX_PERIOD_MS + 1, 0),
                           GCRA(1, PC_RL_MAX_PERIOD_MS, 17), WIN(UINT32_MAX, PC_RL_MAX_PERIOD_MS),
                           {.alg = (pc_rl_alg_t)7, .rate = 1, .period_ms = 1}};

    for (size_t i = 0; i < PC_ARRAY_LEN(ok); i++)
        ck_assert_msg(pc_rl_limit_check(&ok[i], &why) == 0, "ok[%zu]: %s", i, why);
    for (size_t i = 0; i < PC_ARRAY_LEN(bad); i++) {
        why = NULL;
        ck_assert_msg(pc_rl_limit_check(&bad[i], &why) == -1, "bad[%zu] accepted", i);
        ck_assert_ptr_nonnull(why);
    }
}
END_TEST

START_TEST(test_expires)
{
    pc_rl_limit_t g = GCRA(10, 1000, 0), w = WIN(10, 1000);
    pc_rl_state_t sg = {0}, sw = {0};
    pc_rl_result_t r;

    pc_rl_check(&g, &sg, 1, 5000, &r);
    ck_assert_uint_eq(pc_rl_expires_ms(&g, &sg), 5100);
    pc_rl_check(&w, &sw, 1, 5500, &r);
    ck_assert_uint_eq(pc_rl_expires_ms(&w, &sw), 7000);
    /* From its expiry on, a state behaves exactly like the empty one. */
    pc_rl_state_t empty = {0};
    pc_rl_result_t a, b;
    pc_rl_check(&g, &sg, 1, 5100, &a);
    pc_rl_check(&g, &empty, 1, 5100, &b);
    ck_assert(a.allowed == b.allowed && a.remaining == b.remaining && a.reset_ms == b.reset_ms);
}
END_TEST


/* ---- pc_rl_take and pc_rl_giveback ---- */

/* Several requests at once are admitted exactly as many as fit, in one
 * step; what is beyond gets the refusal of the next request. */
START_TEST(test_take_need)
{
    pc_rl_limit_t l = GCRA(10, 1000, 3);
    pc_rl_state_t st = {0};
    pc_rl_result_t res, over;

    ck_assert_uint_eq(pc_rl_take(&l, &st, 1, 0, 5, 0, &res, &over), 3);
    ck_assert(res.allowed && res.remaining == 0 && res.reset_ms == 300);
    ck_assert(!over.allowed && over.reset_ms == 300 && over.retry_after_ms == 100);
    ck_assert_uint_eq(pc_rl_take(&l, &st, 1, 0, 2, 0, &res, &over), 0);
    ck_assert(!res.allowed && res.retry_after_ms == 100);
    ck_assert_uint_eq(pc_rl_take(&l, &st, 1, 100, 2, 0, &res, &over), 1);
    ck_assert(over.retry_after_ms == 100);
    /* all fit: over says nothing */
    pc_rl_state_t fresh = {0};
    ck_assert_uint_eq(pc_rl_take(&l, &fresh, 1, 0, 2, 0, &res, &over), 2);
    ck_assert(res.remaining == 1 && over.allowed && over.retry_after_ms == 0);
}
END_TEST

/* Taken ahead: at most a 1/PC_RL_LEASE_SHARE of the room the waiting
 * requests leave, so near the limit nothing is taken ahead. */
START_TEST(test_take_extra_share)
{
    pc_rl_limit_t l = GCRA(1000, 1000, 1000);
    pc_rl_state_t st = {0};
    pc_rl_result_t res;

    ck_assert_uint_eq(pc_rl_take(&l, &st, 1, 0, 1, 500, &res, NULL), 1 + 999 / 16);
    uint64_t total = 1 + 999 / 16;
    for (int i = 0; i < 100; i++)
        total += pc_rl_take(&l, &st, 1, 0, 1, 500, &res, NULL);
    ck_assert_uint_le(total, 1000);
    /* 16 left: one request, nothing ahead (15 / 16 == 0) */
    pc_rl_state_t s16 = {0};
    pc_rl_take(&l, &s16, 1, 0, 984, 0, &res, NULL);
    ck_assert_uint_eq(res.remaining, 16);
    ck_assert_uint_eq(pc_rl_take(&l, &s16, 1, 0, 1, 500, &res, NULL), 1);
    /* need 0 (a renewal): only ahead, and nothing when too little is left */
    ck_assert_uint_eq(pc_rl_take(&l, &s16, 1, 0, 0, 500, &res, NULL), 0);
    pc_rl_state_t big = {0};
    ck_assert_uint_eq(pc_rl_take(&l, &big, 1, 0, 0, 10, &res, NULL), 10);
    ck_assert(res.allowed && res.remaining == 990);
    /* sliding windows too (the store never leases them, the script can) */
    pc_rl_limit_t w = WIN(100, 1000);
    pc_rl_state_t ws = {0};
    ck_assert_uint_eq(pc_rl_take(&w, &ws, 1, 5000, 1, 50, &res, NULL), 1 + 99 / 16);
    ck_assert_uint_eq(ws.cur, 1 + 99 / 16);
}
END_TEST

/* pc_rl_take(need 1, extra 0) is pc_rl_check, on random limits, times and
 * multi-limit checks. */
START_TEST(test_take_is_check)
{
    srand(7);
    for (int sc = 0; sc < 200; sc++) {
        pc_rl_limit_t l[2] = {GCRA((uint32_t)(1 + rand() % 20), (uint64_t)(1 + rand() % 5000),
                                   (uint32_t)(rand() % 5)),
                              WIN((uint32_t)(1 + rand() % 20), (uint64_t)(1 + rand() % 5000))};
        size_t n = 1 + (size_t)(rand() % 2);
        pc_rl_state_t a[2] = {{0}}, b[2] = {{0}};
        uint64_t now = 1000000;
        for (int i = 0; i < 100; i++) {
            now += (uint64_t)(rand() % 300);
            if (rand() % 30 == 0)
                now -= (uint64_t)(rand() % 2000);
            pc_rl_result_t ra, rb;
            int allowed = pc_rl_check(l, a, n, now, &ra);
            uint64_t g = pc_rl_take(l, b, n, now, 1, 0, &rb, NULL);
            REQUIRE((uint64_t)allowed == g);
            REQUIRE(memcmp(&ra, &rb, sizeof(ra)) == 0);
            REQUIRE(memcmp(a, b, sizeof(a)) == 0);
        }
    }
}
END_TEST

START_TEST(test_giveback)
{
    pc_rl_limit_t l = GCRA(10, 1000, 10);
    pc_rl_state_t st = {0};
    pc_rl_result_t res;

    ck_assert_uint_eq(pc_rl_take(&l, &st, 1, 1000, 1, 8, &res, NULL), 1 + 9 / 16 + 0);
    ck_assert_uint_eq(pc_rl_take(&l, &st, 1, 1000, 6, 0, &res, NULL), 6);
    ck_assert_uint_eq(res.remaining, 3);
    ck_assert_int_eq(pc_rl_giveback(&l, &st, 1, 1000, 2), 1);
    ck_assert_uint_eq(pc_rl_take(&l, &st, 1, 1000, 10, 0, &res, NULL), 5); /* 3 + 2 back */
    /* back to full (or beyond) is the empty state */
    ck_assert_int_eq(pc_rl_giveback(&l, &st, 1, 1000, 1000), 1);
    ck_assert_uint_eq(st.t, 0);
    ck_assert_int_eq(pc_rl_giveback(&l, &st, 1, 1000, 5), 0); /* nothing to give back to */
    /* 0 gives nothing back; a sliding window is only normalised */
    pc_rl_take(&l, &st, 1, 1000, 4, 0, &res, NULL);
    pc_rl_state_t keep = st;
    ck_assert_int_eq(pc_rl_giveback(&l, &st, 1, 1000, 0), 0);
    ck_assert(st.t == keep.t);
    pc_rl_limit_t w = WIN(10, 1000);
    pc_rl_state_t ws = {0};
    pc_rl_take(&w, &ws, 1, 5500, 4, 0, &res, NULL);
    ck_assert_int_eq(pc_rl_giveback(&w, &ws, 1, 5600, 4), 0);
    ck_assert_uint_eq(ws.cur, 4);
}
END_TEST

static Suite *rl_suite(void)
{
    Suite *s = suite_create("ratelimit");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_vectors, 0, (int)PC_ARRAY_LEN(VECTORS));
    tcase_add_test(tc, test_gcra_steady_rate);
    tcase_add_test(tc, test_sliding_steady_rate);
    tcase_add_test(tc, test_gcra_bound_random);
    tcase_add_test(tc, test_sliding_bound_random);
    tcase_add_test(tc, test_retry_after_exact);
    tcase_add_test(tc, test_clock_chaos);
    tcase_add_test(tc, test_limit_check);
    tcase_add_test(tc, test_expires);
    tcase_add_test(tc, test_take_need);
    tcase_add_test(tc, test_take_extra_share);
    tcase_add_test(tc, test_take_is_check);
    tcase_add_test(tc, test_giveback);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(rl_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
