/* tests/unit/test_store_memory.c: the embedded store (gateway/store/store_memory.c):
 * the limit check through the store, atomicity across threads, the memory
 * bound under a flood of keys, flags, failure counters, expiry. */
#include "store/store_memory.h"
#include "base/util.h"

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define MIB (1024u * 1024u)
/* For hot loops: every passing ck_assert writes a checkpoint to Check's
 * pipe, which turns a million-iteration loop into a million syscalls. */
#define REQUIRE(c)                                                             \
    do {                                                                       \
        if (!(c))                                                              \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #c);                 \
    } while (0)
#define GCRA(r, p, b) {.alg = PC_RL_GCRA, .rate = (r), .period_ms = (p), .burst = (b)}
#define WIN(r, p) {.alg = PC_RL_SLIDING, .rate = (r), .period_ms = (p)}

static int check(pc_mstore_t *st, const char *key, const pc_rl_limit_t *l, size_t n,
                 uint64_t now, pc_rl_result_t *r)
{
    REQUIRE(pc_mstore_limit(st, key, strlen(key), l, n, now, r) == 0);
    return r->allowed;
}

START_TEST(test_gcra_through_store)
{
    pc_mstore_t *st = pc_mstore_new(MIB);
    pc_rl_limit_t l = GCRA(10, 1000, 0);
    pc_rl_result_t r;

    for (int i = 0; i < 10; i++) {
        ck_assert(check(st, "u1", &l, 1, 1000, &r));
        ck_assert_uint_eq(r.remaining, (uint64_t)(9 - i));
    }
    ck_assert(!check(st, "u1", &l, 1, 1000, &r));
    ck_assert_uint_eq(r.retry_after_ms, 100);
    ck_assert(check(st, "u2", &l, 1, 1000, &r)); /* keys are independent */
    ck_assert(!check(st, "u1", &l, 1, 1099, &r));
    ck_assert_uint_eq(r.retry_after_ms, 1);
    ck_assert(check(st, "u1", &l, 1, 1100, &r));
    ck_assert(!check(st, "u1", &l, 1, 1100, &r));
    ck_assert_uint_eq(pc_mstore_entries(st), 2);
    pc_mstore_free(st);
}
END_TEST

START_TEST(test_multi_limit_no_consume)
{
    pc_mstore_t *st = pc_mstore_new(MIB);
    pc_rl_limit_t l[] = {GCRA(2, 1000, 0), GCRA(3, 60000, 0)};
    pc_rl_result_t r;

    ck_assert(check(st, "k", l, 2, 0, &r));
    ck_assert(check(st, "k", l, 2, 0, &r));
    for (int i = 0; i < 100; i++) /* denied by limit 0: must not eat limit 1 */
        ck_assert(!check(st, "k", l, 2, 0, &r));
    ck_assert_uint_eq(r.limit, 0);
    ck_assert(check(st, "k", l, 2, 500, &r));
    ck_assert_uint_eq(r.limit, 1);
    ck_assert_uint_eq(r.reset_ms, 59500);
    ck_assert(!check(st, "k", l, 2, 1500, &r));
    ck_assert_uint_eq(r.limit, 1);
    ck_assert_uint_eq(r.retry_after_ms, 18500);
    pc_mstore_free(st);
}
END_TEST

START_TEST(test_sliding_boundaries)
{
    pc_mstore_t *st = pc_mstore_new(MIB);
    pc_rl_limit_t l = WIN(10, 1000);
    pc_rl_result_t r;

    for (int i = 0; i < 10; i++)
        ck_assert(check(st, "w", &l, 1, 0, &r));
    ck_assert(!check(st, "w", &l, 1, 999, &r));
    ck_assert_uint_eq(r.retry_after_ms, 101);
    ck_assert(!check(st, "w", &l, 1, 1000, &r)); /* the previous window weighs fully */
    ck_assert(!check(st, "w", &l, 1, 1099, &r));
    ck_assert(check(st, "w", &l, 1, 1100, &r));
    ck_assert_uint_eq(r.reset_ms, 1900);
    ck_assert(check(st, "w", &l, 1, 3000, &r)); /* two windows later: empty */
    ck_assert_uint_eq(r.remaining, 9);
    pc_mstore_free(st);
}
END_TEST

START_TEST(test_clock_back_is_ignored)
{
    pc_mstore_t *st = pc_mstore_new(MIB);
    pc_rl_limit_t l = GCRA(10, 1000, 0);
    pc_rl_result_t r;

    for (int i = 0; i < 10; i++)
        ck_assert(check(st, "b", &l, 1, 10000, &r));
    /* The shard's time does not go back: 5000 counts as 10000. */
    ck_assert(!check(st, "b", &l, 1, 5000, &r));
    ck_assert_uint_eq(r.retry_after_ms, 100);
    ck_assert(!check(st, "b", &l, 1, 10099, &r));
    ck_assert(check(st, "b", &l, 1, 10100, &r));
    pc_mstore_free(st);
}
END_TEST

START_TEST(test_bad_arguments)
{
    pc_mstore_t *st = pc_mstore_new(MIB);
    pc_rl_limit_t ok = GCRA(1, 1000, 0), bad = GCRA(0, 1000, 0);
    pc_rl_limit_t many[PC_RL_MAX_LIMITS + 1];
    char key[PC_MSTORE_MAX_KEY + 1];
    pc_rl_result_t r;
    uint64_t count;

    memset(key, 'k', sizeof(key));
    for (size_t i = 0; i < PC_ARRAY_LEN(many); i++)
        many[i] = ok;
    ck_assert_ptr_null(pc_mstore_new(PC_MSTORE_MIN_BYTES - 1));
    ck_assert_int_eq(pc_mstore_limit(st, key, sizeof(key), &ok, 1, 0, &r), -1);
    ck_assert_int_eq(pc_mstore_limit(st, key, sizeof(key) - 1, &ok, 1, 0, &r), 0);
    ck_assert_int_eq(pc_mstore_limit(st, "k", 1, &bad, 1, 0, &r), -1);
    ck_assert_int_eq(pc_mstore_limit(st, "k", 1, &ok, 0, 0, &r), -1);
    ck_assert_int_eq(pc_mstore_limit(st, "k", 1, many, PC_ARRAY_LEN(many), 0, &r), -1);
    ck_assert_int_eq(pc_mstore_limit(st, "k", 1, many, PC_RL_MAX_LIMITS, 0, &r), 0);
    ck_assert_int_eq(pc_mstore_limit(st, "k", 1, &ok, 1, PC_RL_MAX_NOW_MS, &r), -1);
    ck_assert_int_eq(pc_mstore_set_flag(st, key, sizeof(key), 10, 0), -1);
    ck_assert_int_eq(pc_mstore_has_flag(st, key, sizeof(key), 0), -1);
    ck_assert_int_eq(pc_mstore_set_flag(st, "f", 1, UINT64_MAX, PC_RL_MAX_NOW_MS), -1);
    ck_assert_int_eq(pc_mstore_has_flag(st, "f", 1, PC_RL_MAX_NOW_MS), -1);
    ck_assert_int_eq(pc_mstore_incr_window(st, "k", 1, 0, 0, &count), -1);
    pc_mstore_free(st);
}
END_TEST

START_TEST(test_shape_and_kind_changes)
{
    pc_mstore_t *st = pc_mstore_new(MIB);
    pc_rl_limit_t l[] = {GCRA(1, 1000, 0), GCRA(1, 1000, 0)};
    pc_rl_result_t r;

    ck_assert(check(st, "s", l, 1, 0, &r));
    ck_assert(!check(st, "s", l, 1, 0, &r));
    ck_assert(check(st, "s", l, 2, 0, &r)); /* another number of limits: fresh state */
    ck_assert_int_eq(pc_mstore_has_flag(st, "s", 1, 0), 0); /* a limit is not a flag */
    ck_assert_int_eq(pc_mstore_set_flag(st, "s", 1, 100, 0), 0);
    ck_assert_int_eq(pc_mstore_has_flag(st, "s", 1, 0), 1);
    ck_assert_uint_eq(pc_mstore_entries(st), 1);
    ck_assert_int_eq(pc_mstore_del(st, "s", 1), 1);
    ck_assert_int_eq(pc_mstore_del(st, "s", 1), 0);
    ck_assert_uint_eq(pc_mstore_entries(st), 0);
    pc_mstore_free(st);
}
END_TEST

START_TEST(test_flags_expiry)
{
    pc_mstore_t *st = pc_mstore_new(MIB);

    ck_assert_int_eq(pc_mstore_has_flag(st, "jti:a", 5, 0), 0);
    ck_assert_int_eq(pc_mstore_set_flag(st, "jti:a", 5, 1000, 0), 0);
    ck_assert_int_eq(pc_mstore_has_flag(st, "jti:a", 5, 999), 1);
    ck_assert_int_eq(pc_mstore_has_flag(st, "jti:a", 5, 1000), 0); /* expiry is inclusive */
    ck_assert_uint_eq(pc_mstore_entries(st), 0);                   /* and reclaims it */
    ck_assert_int_eq(pc_mstore_set_flag(st, "jti:b", 5, 5000, 1000), 0);
    ck_assert_int_eq(pc_mstore_set_flag(st, "jti:b", 5, 2000, 1000), 0); /* moved, like PXAT */
    ck_assert_int_eq(pc_mstore_has_flag(st, "jti:b", 5, 2000), 0);
    ck_assert_int_eq(pc_mstore_set_flag(st, "jti:c", 5, 9000, 2000), 0);
    ck_assert_int_eq(pc_mstore_set_flag(st, "jti:c", 5, 2000, 2000), 0); /* past: removed */
    ck_assert_int_eq(pc_mstore_has_flag(st, "jti:c", 5, 2000), 0);
    ck_assert_uint_eq(pc_mstore_entries(st), 0);
    pc_mstore_free(st);
}
END_TEST

START_TEST(test_incr_window)
{
    pc_mstore_t *st = pc_mstore_new(MIB);
    uint64_t c;

    for (uint64_t i = 1; i <= 5; i++) {
        ck_assert_int_eq(pc_mstore_incr_window(st, "fail:bob", 8, 60000, 1000 + i * 100, &c), 0);
        ck_assert_uint_eq(c, i);
    }
    /* The window opened at the first failure (1100) and lasts 60 s. */
    ck_assert_int_eq(pc_mstore_incr_window(st, "fail:bob", 8, 60000, 61099, &c), 0);
    ck_assert_uint_eq(c, 6);
    ck_assert_int_eq(pc_mstore_incr_window(st, "fail:bob", 8, 60000, 61100, &c), 0);
    ck_assert_uint_eq(c, 1);
    ck_assert_int_eq(pc_mstore_incr_window(st, "fail:eve", 8, 60000, 61100, &c), 0);
    ck_assert_uint_eq(c, 1);
    /* A clock read out of order counts in the current window. */
    ck_assert_int_eq(pc_mstore_incr_window(st, "fail:bob", 8, 60000, 100, &c), 0);
    ck_assert_uint_eq(c, 2);
    pc_mstore_free(st);
}
END_TEST

/* Under pressure, expired entries make room before any live one goes. */
START_TEST(test_expired_evicted_first)
{
    pc_mstore_t *st = pc_mstore_new(MIB);
    pc_rl_limit_t l = GCRA(10, 1000, 0); /* an entry lives 100 ms */
    pc_mstore_stats_t s1, s2;
    pc_rl_result_t r;
    char key[32], big[256];

    for (int i = 0; i < 100000; i++) { /* overfill with live entries */
        snprintf(key, sizeof(key), "old:%d", i);
        check(st, key, &l, 1, 0, &r);
    }
    pc_mstore_stats(st, &s1);
    ck_assert_uint_gt(s1.evicted, 50000);
    /* The old ones have expired by now. The new keys are long, so that the
     * expired entries a lookup drops on its own chain are not enough and
     * the store has to look for room elsewhere. */
    for (int i = 0; i < 2000; i++) {
        snprintf(big, sizeof(big), "new:%0200d", i);
        check(st, big, &l, 1, 10000, &r);
    }
    pc_mstore_stats(st, &s2);
    ck_assert_uint_eq(s2.evicted, s1.evicted);
    ck_assert_uint_ge(s2.expired, 4000);
    ck_assert_uint_le(s2.bytes, MIB);
    pc_mstore_free(st);
}
END_TEST

/* 1,000,000 distinct keys into 16 MiB: the bound holds at every point,
 * and a client that keeps coming back survives the flood (CLOCK). */
START_TEST(test_eviction_bound)
{
    const size_t max = 16 * MIB;
    pc_mstore_t *st = pc_mstore_new(max);
    pc_rl_limit_t l[] = {GCRA(100, 60000, 0), GCRA(1000, 3600000, 0)};
    pc_rl_limit_t hot = GCRA(5, 3600000, 0);
    pc_mstore_stats_t s;
    pc_rl_result_t r;
    int hot_allowed = 0;
    char key[64];

    for (int i = 0; i < 1000000; i++) {
        int n = snprintf(key, sizeof(key), "rl:route-%d:client-%09d", i % 7, i);
        REQUIRE(pc_mstore_limit(st, key, (size_t)n, l, 2, (uint64_t)i / 100, &r) == 0);
        if (i % 100 == 0) {
            REQUIRE(pc_mstore_limit(st, "rl:hot", 6, &hot, 1, (uint64_t)i / 100, &r) == 0);
            hot_allowed += r.allowed;
        }
        if (i % 4096 == 0)
            REQUIRE(pc_mstore_bytes(st) <= max);
    }
    pc_mstore_stats(st, &s);
    ck_assert_uint_le(s.bytes, max);
    ck_assert_uint_gt(s.bytes, max / 2); /* it does use what it was given */
    ck_assert_uint_gt(s.entries, 50000);
    ck_assert_uint_gt(s.evicted, 500000);
    ck_assert_uint_eq(s.full, 0);
    ck_assert_int_eq(hot_allowed, 5); /* never evicted, so never reset */
    pc_mstore_free(st);
}
END_TEST

/* Live flags are never evicted: a full store refuses new entries instead. */
START_TEST(test_flags_pinned)
{
    pc_mstore_t *st = pc_mstore_new(PC_MSTORE_MIN_BYTES);
    pc_mstore_stats_t s;
    pc_rl_limit_t l = GCRA(1, 1000, 0);
    pc_rl_result_t r;
    char key[32];
    int set = 0, refused = 0;

    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "jti:%d", i);
        if (pc_mstore_set_flag(st, key, strlen(key), 5000, 0) == 0)
            set++;
        else
            refused++;
        REQUIRE(pc_mstore_bytes(st) <= PC_MSTORE_MIN_BYTES);
    }
    ck_assert_uint_gt(refused, 0);
    ck_assert_uint_gt(set, 100);
    pc_mstore_stats(st, &s);
    ck_assert_uint_eq(s.evicted, 0);
    ck_assert_uint_gt(s.full, 0);
    for (int i = 0; i < 20000; i++) { /* every accepted flag is still there */
        snprintf(key, sizeof(key), "jti:%d", i);
        if (pc_mstore_has_flag(st, key, strlen(key), 4999) == 1)
            set--;
    }
    ck_assert_int_eq(set, 0);
    /* Once they expire, the room is reused. */
    ck_assert_int_eq(pc_mstore_set_flag(st, "jti:late", 8, 9000, 5000), 0);
    ck_assert_int_eq(pc_mstore_limit(st, "rl:x", 4, &l, 1, 5000, &r), 0);
    pc_mstore_free(st);
}
END_TEST

/* ---- threads ---- */

#define THREADS 4
#define PER_THREAD 10000

typedef struct worker {
    pc_mstore_t *st;
    const pc_rl_limit_t *limits;
    size_t n;
    int allowed;
    uint64_t max_count;
    int id;
} worker_t;

static void *limit_worker(void *arg)
{
    worker_t *w = arg;
    pc_rl_result_t r;
    char key[32];

    for (int i = 0; i < PER_THREAD; i++) {
        PC_ASSERT(pc_mstore_limit(w->st, "shared", 6, w->limits, w->n, 1000, &r) == 0);
        w->allowed += r.allowed;
        /* Other keys in between, so that shards and eviction race too. */
        snprintf(key, sizeof(key), "t%d:%d", w->id, i % 500);
        PC_ASSERT(pc_mstore_limit(w->st, key, strlen(key), w->limits, w->n, 1000, &r) == 0);
    }
    return NULL;
}

static int run_threads(pc_mstore_t *st, const pc_rl_limit_t *limits, size_t n)
{
    pthread_t th[THREADS];
    worker_t w[THREADS];
    int total = 0;

    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){.st = st, .limits = limits, .n = n, .id = i};
        ck_assert_int_eq(pthread_create(&th[i], NULL, limit_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        total += w[i].allowed;
    }
    return total;
}

START_TEST(test_threads_gcra_exact)
{
    pc_mstore_t *st = pc_mstore_new(MIB);
    pc_rl_limit_t l = GCRA(1000, 3600000, 0);

    ck_assert_int_eq(run_threads(st, &l, 1), 1000);
    pc_mstore_free(st);
}
END_TEST

START_TEST(test_threads_sliding_exact)
{
    pc_mstore_t *st = pc_mstore_new(MIB);
    pc_rl_limit_t l = WIN(777, 3600000);

    ck_assert_int_eq(run_threads(st, &l, 1), 777);
    pc_mstore_free(st);
}
END_TEST

START_TEST(test_threads_multi_exact)
{
    pc_mstore_t *st = pc_mstore_new(MIB);
    pc_rl_limit_t l[] = {GCRA(5000, 1000, 0), WIN(1234, 3600000), GCRA(3000, 3600000, 0)};

    ck_assert_int_eq(run_threads(st, l, 3), 1234);
    pc_mstore_free(st);
}
END_TEST

static void *incr_worker(void *arg)
{
    worker_t *w = arg;
    uint64_t c;

    for (int i = 0; i < PER_THREAD; i++) {
        PC_ASSERT(pc_mstore_incr_window(w->st, "fail:x", 6, 60000, 1000, &c) == 0);
        w->max_count = c > w->max_count ? c : w->max_count;
    }
    return NULL;
}

START_TEST(test_threads_incr)
{
    pc_mstore_t *st = pc_mstore_new(MIB);
    pthread_t th[THREADS];
    worker_t w[THREADS];
    uint64_t max = 0;

    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){.st = st};
        ck_assert_int_eq(pthread_create(&th[i], NULL, incr_worker, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        max = w[i].max_count > max ? w[i].max_count : max;
    }
    ck_assert_uint_eq(max, THREADS * PER_THREAD);
    pc_mstore_free(st);
}
END_TEST

static Suite *ms_suite(void)
{
    Suite *s = suite_create("store_memory");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 120); /* sanitizer builds are several times slower */
    tcase_add_test(tc, test_gcra_through_store);
    tcase_add_test(tc, test_multi_limit_no_consume);
    tcase_add_test(tc, test_sliding_boundaries);
    tcase_add_test(tc, test_clock_back_is_ignored);
    tcase_add_test(tc, test_bad_arguments);
    tcase_add_test(tc, test_shape_and_kind_changes);
    tcase_add_test(tc, test_flags_expiry);
    tcase_add_test(tc, test_incr_window);
    tcase_add_test(tc, test_expired_evicted_first);
    tcase_add_test(tc, test_eviction_bound);
    tcase_add_test(tc, test_flags_pinned);
    tcase_add_test(tc, test_threads_gcra_exact);
    tcase_add_test(tc, test_threads_sliding_exact);
    tcase_add_test(tc, test_threads_multi_exact);
    tcase_add_test(tc, test_threads_incr);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ms_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
