/* tests/unit/test_lb.c: load balancer algorithms (gateway/upstream/lb.c).
 * Every test is deterministic: request keys and random values come from
 * fixed seeds, so a failure reproduces exactly. */
#include "upstream/lb.h"
#include "base/util.h"

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#define NKEYS 100000

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Request key hash as the gateway computes it: pc_hash64 of a string. */
static uint64_t key_hash(unsigned i)
{
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "user-%u", i);
    return pc_hash64(buf, (size_t)len);
}

/* Target identities "10.0.0.<i>:8080" in caller-owned storage. */
typedef struct target_keys {
    char buf[64][32];
    const char *ptr[64];
} target_keys_t;

static const char *const *make_keys(target_keys_t *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(k->buf[i], sizeof(k->buf[i]), "10.0.0.%zu:8080", i + 1);
        k->ptr[i] = k->buf[i];
    }
    return k->ptr;
}

/* ---- kind names and construction ------------------------------------- */

START_TEST(test_kind_parse)
{
    static const struct {
        const char *s;
        pc_lb_kind_t k;
    } ok[] = {
        {"round_robin", PC_LB_ROUND_ROBIN},
        {"least_conn", PC_LB_LEAST_CONN},
        {"hash", PC_LB_HASH},
        {"random_two", PC_LB_RANDOM_TWO},
    };
    for (size_t i = 0; i < PC_ARRAY_LEN(ok); i++) {
        pc_lb_kind_t k = PC_LB_HASH;
        ck_assert_int_eq(pc_lb_kind_parse(ok[i].s, &k), 0);
        ck_assert_int_eq(k, ok[i].k);
        ck_assert_str_eq(pc_lb_kind_name(k), ok[i].s);
    }
    pc_lb_kind_t k = PC_LB_LEAST_CONN;
    ck_assert_int_eq(pc_lb_kind_parse("ROUND_ROBIN", &k), -1);
    ck_assert_int_eq(pc_lb_kind_parse("", &k), -1);
    ck_assert_int_eq(pc_lb_kind_parse("hash ", &k), -1);
    ck_assert_int_eq(pc_lb_kind_parse(NULL, &k), -1);
    ck_assert_int_eq(k, PC_LB_LEAST_CONN);
}
END_TEST

START_TEST(test_new_rejects_invalid)
{
    unsigned w0[] = {1, 0, 1}, wbig[] = {1, PC_LB_WEIGHT_MAX + 1}, wok[] = {1, PC_LB_WEIGHT_MAX};
    const char *dup[] = {"a:1", "b:1", "a:1"};
    const char *empty[] = {"a:1", ""};
    const char *null_key[] = {"a:1", NULL};

    errno = 0;
    ck_assert_ptr_null(pc_lb_new(PC_LB_ROUND_ROBIN, 0, NULL, NULL));
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_ptr_null(pc_lb_new(PC_LB_ROUND_ROBIN, PC_LB_TARGETS_MAX + 1, NULL, NULL));
    ck_assert_ptr_null(pc_lb_new(PC_LB_ROUND_ROBIN, 3, w0, NULL));
    ck_assert_ptr_null(pc_lb_new(PC_LB_LEAST_CONN, 2, wbig, NULL));
    ck_assert_ptr_null(pc_lb_new((pc_lb_kind_t)42, 1, NULL, NULL));
    ck_assert_ptr_null(pc_lb_new(PC_LB_HASH, 2, NULL, NULL));
    ck_assert_ptr_null(pc_lb_new(PC_LB_HASH, 3, NULL, dup));
    ck_assert_ptr_null(pc_lb_new(PC_LB_HASH, 2, NULL, empty));
    ck_assert_ptr_null(pc_lb_new(PC_LB_HASH, 2, NULL, null_key));

    /* keys are only required by the hash ring */
    pc_lb_t *lb = pc_lb_new(PC_LB_RANDOM_TWO, 2, wok, NULL);
    ck_assert_ptr_nonnull(lb);
    ck_assert_int_eq(pc_lb_kind(lb), PC_LB_RANDOM_TWO);
    ck_assert_uint_eq(pc_lb_size(lb), 2);
    pc_lb_free(lb);
    pc_lb_free(NULL);
    pc_lb_state_free(NULL);
}
END_TEST

/* A state belongs to one balancer generation; mixing them is API misuse. */
START_TEST(test_state_of_other_lb_aborts)
{
    pc_lb_t *a = pc_lb_new(PC_LB_ROUND_ROBIN, 2, NULL, NULL);
    pc_lb_t *b = pc_lb_new(PC_LB_ROUND_ROBIN, 2, NULL, NULL);
    pc_lb_state_t *st = pc_lb_state_new(a);
    pc_lb_pick(b, st, 0, 0, NULL, NULL);
}
END_TEST

/* ---- round robin ------------------------------------------------------ */

START_TEST(test_rr_smooth_sequence)
{
    /* nginx's documented example: interleaved, never a burst of five. */
    static const int expect[] = {0, 0, 1, 0, 2, 0, 0};
    unsigned w[] = {5, 1, 1};
    pc_lb_t *lb = pc_lb_new(PC_LB_ROUND_ROBIN, 3, w, NULL);
    pc_lb_state_t *st = pc_lb_state_new(lb);
    for (int cycle = 0; cycle < 10; cycle++)
        for (size_t i = 0; i < PC_ARRAY_LEN(expect); i++)
            ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, NULL, NULL), expect[i]);
    pc_lb_state_free(st);
    pc_lb_free(lb);
}
END_TEST

START_TEST(test_rr_exact_shares)
{
    unsigned w[] = {3, 2, 1, 4};
    int count[4] = {0};
    pc_lb_t *lb = pc_lb_new(PC_LB_ROUND_ROBIN, 4, w, NULL);
    pc_lb_state_t *st = pc_lb_state_new(lb);
    for (int i = 0; i < 10 * 1000; i++)
        count[pc_lb_pick(lb, st, 0, 0, NULL, NULL)]++;
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(count[i], (int)w[i] * 1000);
    pc_lb_state_free(st);
    pc_lb_free(lb);
}
END_TEST

START_TEST(test_rr_equal_weights_cycle)
{
    pc_lb_t *lb = pc_lb_new(PC_LB_ROUND_ROBIN, 3, NULL, NULL);
    pc_lb_state_t *st = pc_lb_state_new(lb);
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, NULL, NULL), i % 3);
    pc_lb_state_free(st);
    pc_lb_free(lb);
}
END_TEST

START_TEST(test_rr_skips_unusable)
{
    unsigned w[] = {5, 1, 1};
    unsigned char usable[] = {1, 0, 1};
    int count[3] = {0};
    pc_lb_t *lb = pc_lb_new(PC_LB_ROUND_ROBIN, 3, w, NULL);
    pc_lb_state_t *st = pc_lb_state_new(lb);
    for (int i = 0; i < 600; i++)
        count[pc_lb_pick(lb, st, 0, 0, NULL, usable)]++;
    ck_assert_int_eq(count[0], 500);
    ck_assert_int_eq(count[1], 0);
    ck_assert_int_eq(count[2], 100);

    /* back in service: shares converge to the weights again */
    memset(count, 0, sizeof(count));
    usable[1] = 1;
    for (int i = 0; i < 7000; i++)
        count[pc_lb_pick(lb, st, 0, 0, NULL, usable)]++;
    ck_assert_int_le(abs(count[0] - 5000), 5);
    ck_assert_int_le(abs(count[1] - 1000), 5);
    ck_assert_int_le(abs(count[2] - 1000), 5);

    memset(usable, 0, sizeof(usable));
    ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, NULL, usable), -1);
    pc_lb_state_free(st);
    pc_lb_free(lb);
}
END_TEST

START_TEST(test_rr_seed_shifts_phase)
{
    unsigned w[] = {5, 1, 1};
    pc_lb_t *lb = pc_lb_new(PC_LB_ROUND_ROBIN, 3, w, NULL);
    int first[7] = {0};
    int distinct = 0;
    for (uint64_t seed = 0; seed < 64; seed++) {
        pc_lb_state_t *st = pc_lb_state_new(lb);
        pc_lb_state_seed(st, seed);
        int count[3] = {0};
        int f = pc_lb_pick(lb, st, 0, 0, NULL, NULL);
        count[f]++;
        for (int i = 1; i < 7; i++)
            count[pc_lb_pick(lb, st, 0, 0, NULL, NULL)]++;
        /* any window of one full cycle still holds the exact shares */
        ck_assert_int_eq(count[0], 5);
        ck_assert_int_eq(count[1], 1);
        ck_assert_int_eq(count[2], 1);
        if (!first[f]++)
            distinct++;
        pc_lb_state_free(st);
    }
    /* workers do not all start on the same target */
    ck_assert_int_eq(distinct, 3);
    pc_lb_free(lb);
}
END_TEST

/* ---- least connections ------------------------------------------------ */

START_TEST(test_lc_picks_least_loaded)
{
    unsigned active[] = {3, 1, 2};
    pc_lb_t *lb = pc_lb_new(PC_LB_LEAST_CONN, 3, NULL, NULL);
    pc_lb_state_t *st = pc_lb_state_new(lb);
    ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, active, NULL), 1);
    unsigned char usable[] = {1, 0, 1};
    ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, active, usable), 2);
    unsigned char none[] = {0, 0, 0};
    ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, active, none), -1);
    pc_lb_state_free(st);
    pc_lb_free(lb);
}
END_TEST

START_TEST(test_lc_respects_weights)
{
    /* active / weight: a weight-10 target with 5 in flight (0.5) is
     * preferred to a weight-1 target with 1 (1.0) ... */
    unsigned w2[] = {10, 1};
    unsigned a2[] = {5, 1};
    pc_lb_t *lb = pc_lb_new(PC_LB_LEAST_CONN, 2, w2, NULL);
    pc_lb_state_t *st = pc_lb_state_new(lb);
    ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, a2, NULL), 0);
    /* ... until it carries more than ten times the light target's load */
    a2[0] = 11;
    ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, a2, NULL), 1);
    /* at exactly ten times they tie, and the tie-break follows the weights */
    a2[0] = 10;
    int count[2] = {0};
    for (int i = 0; i < 110; i++)
        count[pc_lb_pick(lb, st, 0, 0, a2, NULL)]++;
    ck_assert_int_eq(count[0], 100);
    ck_assert_int_eq(count[1], 10);
    pc_lb_state_free(st);
    pc_lb_free(lb);

    /* Filling up with requests that never finish ends exactly on the
     * weights: 70 in flight over {4,2,1} is {40,20,10}. */
    unsigned w[] = {4, 2, 1};
    unsigned active[3] = {0};
    lb = pc_lb_new(PC_LB_LEAST_CONN, 3, w, NULL);
    st = pc_lb_state_new(lb);
    for (int i = 0; i < 70; i++)
        active[pc_lb_pick(lb, st, 0, 0, active, NULL)]++;
    ck_assert_uint_eq(active[0], 40);
    ck_assert_uint_eq(active[1], 20);
    ck_assert_uint_eq(active[2], 10);
    pc_lb_state_free(st);
    pc_lb_free(lb);
}
END_TEST

START_TEST(test_lc_ties_round_robin)
{
    /* idle upstream (requests finish before the next one): behaves as SWRR */
    static const int expect[] = {0, 0, 1, 0, 2, 0, 0};
    unsigned w[] = {5, 1, 1};
    unsigned idle[3] = {0};
    pc_lb_t *lb = pc_lb_new(PC_LB_LEAST_CONN, 3, w, NULL);
    pc_lb_state_t *st = pc_lb_state_new(lb);
    for (int cycle = 0; cycle < 3; cycle++)
        for (size_t i = 0; i < PC_ARRAY_LEN(expect); i++)
            ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, idle, NULL), expect[i]);
    pc_lb_state_free(st);
    pc_lb_free(lb);

    /* equal load on two of three: alternate between those two only */
    unsigned active[] = {2, 1, 1};
    lb = pc_lb_new(PC_LB_LEAST_CONN, 3, NULL, NULL);
    st = pc_lb_state_new(lb);
    int count[3] = {0};
    for (int i = 0; i < 100; i++)
        count[pc_lb_pick(lb, st, 0, 0, active, NULL)]++;
    ck_assert_int_eq(count[0], 0);
    ck_assert_int_eq(count[1], 50);
    ck_assert_int_eq(count[2], 50);
    pc_lb_state_free(st);
    pc_lb_free(lb);
}
END_TEST

START_TEST(test_lc_huge_active_no_overflow)
{
    unsigned w[] = {PC_LB_WEIGHT_MAX, 1};
    unsigned active[] = {UINT_MAX, UINT_MAX - 1};
    pc_lb_t *lb = pc_lb_new(PC_LB_LEAST_CONN, 2, w, NULL);
    pc_lb_state_t *st = pc_lb_state_new(lb);
    ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, active, NULL), 0);
    pc_lb_state_free(st);
    pc_lb_free(lb);
}
END_TEST

/* ---- consistent hash ------------------------------------------------- */

static void hash_map(const pc_lb_t *lb, int *out, const unsigned char *usable)
{
    pc_lb_state_t *st = pc_lb_state_new(lb);
    for (unsigned i = 0; i < NKEYS; i++) {
        out[i] = pc_lb_pick(lb, st, key_hash(i), 0, NULL, usable);
        ck_assert_int_ge(out[i], 0);
    }
    pc_lb_state_free(st);
}

START_TEST(test_hash_stable)
{
    target_keys_t k;
    const char *const *keys = make_keys(&k, 5);
    pc_lb_t *a = pc_lb_new(PC_LB_HASH, 5, NULL, keys);
    pc_lb_t *b = pc_lb_new(PC_LB_HASH, 5, NULL, keys);
    pc_lb_state_t *sa = pc_lb_state_new(a), *sb = pc_lb_state_new(b);
    for (unsigned i = 0; i < 10000; i++) {
        uint64_t h = key_hash(i);
        int t = pc_lb_pick(a, sa, h, i, NULL, NULL);
        ck_assert_int_eq(pc_lb_pick(a, sa, h, ~(uint64_t)i, NULL, NULL), t);
        /* a rebuilt balancer (config reload) maps identically */
        ck_assert_int_eq(pc_lb_pick(b, sb, h, 0, NULL, NULL), t);
    }
    pc_lb_state_free(sa);
    pc_lb_state_free(sb);
    pc_lb_free(a);
    pc_lb_free(b);
}
END_TEST

/* Ring positions come from the keys, so config order does not matter. */
START_TEST(test_hash_order_independent)
{
    target_keys_t k;
    const char *const *keys = make_keys(&k, 6);
    const char *rev[6];
    for (int i = 0; i < 6; i++)
        rev[i] = keys[5 - i];
    pc_lb_t *a = pc_lb_new(PC_LB_HASH, 6, NULL, keys);
    pc_lb_t *b = pc_lb_new(PC_LB_HASH, 6, NULL, rev);
    pc_lb_state_t *sa = pc_lb_state_new(a), *sb = pc_lb_state_new(b);
    for (unsigned i = 0; i < 10000; i++) {
        int ta = pc_lb_pick(a, sa, key_hash(i), 0, NULL, NULL);
        int tb = pc_lb_pick(b, sb, key_hash(i), 0, NULL, NULL);
        ck_assert_int_eq(ta, 5 - tb);
    }
    pc_lb_state_free(sa);
    pc_lb_state_free(sb);
    pc_lb_free(a);
    pc_lb_free(b);
}
END_TEST

START_TEST(test_hash_add_moves_only_to_new)
{
    static int before[NKEYS], after[NKEYS];
    target_keys_t k;
    const char *const *keys = make_keys(&k, 11);
    pc_lb_t *ten = pc_lb_new(PC_LB_HASH, 10, NULL, keys);
    pc_lb_t *eleven = pc_lb_new(PC_LB_HASH, 11, NULL, keys);
    hash_map(ten, before, NULL);
    hash_map(eleven, after, NULL);

    int moved = 0;
    for (int i = 0; i < NKEYS; i++) {
        if (after[i] == before[i])
            continue;
        ck_assert_int_eq(after[i], 10);
        moved++;
    }
    /* ideal 1/11 = 9091; the new target's share varies by a few percent */
    ck_assert_int_ge(moved, NKEYS / 11 * 85 / 100);
    ck_assert_int_le(moved, NKEYS / 11 * 115 / 100);
    pc_lb_free(ten);
    pc_lb_free(eleven);
}
END_TEST

START_TEST(test_hash_remove_moves_only_its_keys)
{
    static int before[NKEYS], after[NKEYS], ejected[NKEYS];
    target_keys_t k;
    const char *const *keys = make_keys(&k, 10);
    const char *nine[9];
    for (int i = 0, j = 0; i < 10; i++)
        if (i != 4)
            nine[j++] = keys[i];
    pc_lb_t *ten = pc_lb_new(PC_LB_HASH, 10, NULL, keys);
    pc_lb_t *less = pc_lb_new(PC_LB_HASH, 9, NULL, nine);
    hash_map(ten, before, NULL);
    hash_map(less, after, NULL);

    /* ejecting target 4 through the usable mask equals removing it */
    unsigned char usable[10];
    memset(usable, 1, sizeof(usable));
    usable[4] = 0;
    hash_map(ten, ejected, usable);

    int moved = 0, spread[10] = {0};
    for (int i = 0; i < NKEYS; i++) {
        int old = before[i];
        int now = after[i] >= 4 ? after[i] + 1 : after[i]; /* index in ten */
        ck_assert_int_eq(ejected[i], now);
        if (old != 4) {
            ck_assert_int_eq(now, old);
            continue;
        }
        ck_assert_int_ne(now, 4);
        spread[now]++;
        moved++;
    }
    ck_assert_int_ge(moved, NKEYS / 10 * 85 / 100);
    ck_assert_int_le(moved, NKEYS / 10 * 115 / 100);
    /* the orphaned keys are spread, not dumped on one neighbour */
    for (int t = 0; t < 10; t++)
        if (t != 4)
            ck_assert_int_le(spread[t], moved / 4);
    pc_lb_free(ten);
    pc_lb_free(less);
}
END_TEST

static void check_hash_shares(size_t n, const unsigned *w)
{
    static int map[NKEYS];
    target_keys_t k;
    pc_lb_t *lb = pc_lb_new(PC_LB_HASH, n, w, make_keys(&k, n));
    hash_map(lb, map, NULL);
    int count[64] = {0};
    unsigned total = 0;
    for (size_t i = 0; i < n; i++)
        total += w ? w[i] : 1;
    for (int i = 0; i < NKEYS; i++)
        count[map[i]]++;
    for (size_t i = 0; i < n; i++) {
        double expect = (double)NKEYS * (w ? w[i] : 1) / total;
        ck_assert_msg(count[i] >= expect * 0.85 && count[i] <= expect * 1.15,
                      "target %zu got %d keys, expected %.0f +- 15%%", i, count[i], expect);
    }
    pc_lb_free(lb);
}

START_TEST(test_hash_distribution)
{
    check_hash_shares(10, NULL);
    check_hash_shares(11, NULL);
    unsigned w[] = {1, 2, 3, 4};
    check_hash_shares(4, w);
    /* absolute weight scale does not matter (points scale by the maximum) */
    unsigned w100[] = {100, 200, 300, 400};
    check_hash_shares(4, w100);
    unsigned skew[] = {1, 1, 1, 1, 10};
    check_hash_shares(5, skew);
}
END_TEST

START_TEST(test_hash_unusable_and_single)
{
    target_keys_t k;
    const char *const *keys = make_keys(&k, 3);
    pc_lb_t *lb = pc_lb_new(PC_LB_HASH, 3, NULL, keys);
    pc_lb_state_t *st = pc_lb_state_new(lb);
    unsigned char none[3] = {0};
    unsigned char only2[3] = {0, 0, 1};
    for (unsigned i = 0; i < 1000; i++) {
        ck_assert_int_eq(pc_lb_pick(lb, st, key_hash(i), 0, NULL, none), -1);
        ck_assert_int_eq(pc_lb_pick(lb, st, key_hash(i), 0, NULL, only2), 2);
    }
    pc_lb_state_free(st);
    pc_lb_free(lb);

    lb = pc_lb_new(PC_LB_HASH, 1, NULL, keys);
    st = pc_lb_state_new(lb);
    for (unsigned i = 0; i < 1000; i++)
        ck_assert_int_eq(pc_lb_pick(lb, st, key_hash(i), 0, NULL, NULL), 0);
    ck_assert_int_eq(pc_lb_pick(lb, st, 1, 0, NULL, none), -1);
    /* extremes of the ring wrap around */
    ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, NULL, NULL), 0);
    ck_assert_int_eq(pc_lb_pick(lb, st, UINT64_MAX, 0, NULL, NULL), 0);
    pc_lb_state_free(st);
    pc_lb_free(lb);
}
END_TEST

/* ---- power of two choices -------------------------------------------- */

START_TEST(test_p2c_prefers_lighter)
{
    /* One idle target among three loaded ones is in half of all pairs
     * (1 - C(3,2)/C(4,2)) and wins each of them. */
    unsigned active[] = {100, 0, 100, 100};
    int count[4] = {0};
    uint64_t seed = 42;
    pc_lb_t *lb = pc_lb_new(PC_LB_RANDOM_TWO, 4, NULL, NULL);
    pc_lb_state_t *st = pc_lb_state_new(lb);
    for (int i = 0; i < 40000; i++)
        count[pc_lb_pick(lb, st, 0, splitmix64(&seed), active, NULL)]++;
    ck_assert_int_ge(count[1], 19000);
    ck_assert_int_le(count[1], 21000);
    for (int i = 0; i < 4; i++)
        if (i != 1)
            ck_assert_int_lt(count[i], count[1] / 2);
    pc_lb_state_free(st);
    pc_lb_free(lb);

    /* two targets: both are always drawn (distinct), so the lighter wins */
    unsigned a2[] = {7, 3};
    lb = pc_lb_new(PC_LB_RANDOM_TWO, 2, NULL, NULL);
    st = pc_lb_state_new(lb);
    for (int i = 0; i < 1000; i++)
        ck_assert_int_eq(pc_lb_pick(lb, st, 0, splitmix64(&seed), a2, NULL), 1);
    pc_lb_state_free(st);
    pc_lb_free(lb);
}
END_TEST

START_TEST(test_p2c_weights)
{
    /* idle: ties go to the first draw, which is weighted */
    unsigned w[] = {5, 1, 1};
    unsigned idle[3] = {0};
    int count[3] = {0};
    uint64_t seed = 7;
    pc_lb_t *lb = pc_lb_new(PC_LB_RANDOM_TWO, 3, w, NULL);
    pc_lb_state_t *st = pc_lb_state_new(lb);
    for (int i = 0; i < 70000; i++)
        count[pc_lb_pick(lb, st, 0, splitmix64(&seed), idle, NULL)]++;
    ck_assert_int_ge(count[0], 48500);
    ck_assert_int_le(count[0], 51500);
    ck_assert_int_ge(count[1], 9000);
    ck_assert_int_le(count[1], 11000);
    ck_assert_int_ge(count[2], 9000);
    ck_assert_int_le(count[2], 11000);

    pc_lb_state_free(st);
    pc_lb_free(lb);

    /* loaded: active / weight decides; with two targets both are
     * always drawn, so the outcome is exact */
    unsigned w2[] = {5, 1};
    unsigned busy_heavy[] = {4, 1};   /* 4/5 < 1/1 */
    unsigned busier_heavy[] = {6, 1}; /* 6/5 > 1/1 */
    lb = pc_lb_new(PC_LB_RANDOM_TWO, 2, w2, NULL);
    st = pc_lb_state_new(lb);
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(pc_lb_pick(lb, st, 0, splitmix64(&seed), busy_heavy, NULL), 0);
        ck_assert_int_eq(pc_lb_pick(lb, st, 0, splitmix64(&seed), busier_heavy, NULL), 1);
    }
    pc_lb_state_free(st);
    pc_lb_free(lb);
}
END_TEST

START_TEST(test_p2c_unusable_and_single)
{
    unsigned active[] = {0, 5, 9};
    unsigned char usable[] = {0, 1, 1};
    unsigned char only2[] = {0, 0, 1};
    unsigned char none[] = {0, 0, 0};
    uint64_t seed = 1;
    pc_lb_t *lb = pc_lb_new(PC_LB_RANDOM_TWO, 3, NULL, NULL);
    pc_lb_state_t *st = pc_lb_state_new(lb);
    for (int i = 0; i < 1000; i++) {
        ck_assert_int_eq(pc_lb_pick(lb, st, 0, splitmix64(&seed), active, usable), 1);
        ck_assert_int_eq(pc_lb_pick(lb, st, 0, splitmix64(&seed), active, only2), 2);
        ck_assert_int_eq(pc_lb_pick(lb, st, 0, splitmix64(&seed), active, none), -1);
    }
    pc_lb_state_free(st);
    pc_lb_free(lb);

    lb = pc_lb_new(PC_LB_RANDOM_TWO, 1, NULL, NULL);
    st = pc_lb_state_new(lb);
    ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, active, NULL), 0);
    ck_assert_int_eq(pc_lb_pick(lb, st, 0, UINT64_MAX, active, NULL), 0);
    ck_assert_int_eq(pc_lb_pick(lb, st, 0, 3, active, none), -1);
    pc_lb_state_free(st);
    pc_lb_free(lb);
}
END_TEST

/* n = 1 for the counter-based kinds; hash and random_two are covered above. */
START_TEST(test_single_target)
{
    static const pc_lb_kind_t kinds[] = {PC_LB_ROUND_ROBIN, PC_LB_LEAST_CONN};
    unsigned w[] = {PC_LB_WEIGHT_MAX};
    unsigned active[] = {12};
    unsigned char down[] = {0};
    for (size_t k = 0; k < PC_ARRAY_LEN(kinds); k++) {
        pc_lb_t *lb = pc_lb_new(kinds[k], 1, w, NULL);
        pc_lb_state_t *st = pc_lb_state_new(lb);
        for (int i = 0; i < 100; i++)
            ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, active, NULL), 0);
        ck_assert_int_eq(pc_lb_pick(lb, st, 0, 0, active, down), -1);
        pc_lb_state_free(st);
        pc_lb_free(lb);
    }
}
END_TEST

static Suite *lb_suite(void)
{
    Suite *s = suite_create("lb");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, test_kind_parse);
    tcase_add_test(tc, test_new_rejects_invalid);
    tcase_add_test_raise_signal(tc, test_state_of_other_lb_aborts, SIGABRT);
    tcase_add_test(tc, test_single_target);
    suite_add_tcase(s, tc);

    tc = tcase_create("round_robin");
    tcase_add_test(tc, test_rr_smooth_sequence);
    tcase_add_test(tc, test_rr_exact_shares);
    tcase_add_test(tc, test_rr_equal_weights_cycle);
    tcase_add_test(tc, test_rr_skips_unusable);
    tcase_add_test(tc, test_rr_seed_shifts_phase);
    suite_add_tcase(s, tc);

    tc = tcase_create("least_conn");
    tcase_add_test(tc, test_lc_picks_least_loaded);
    tcase_add_test(tc, test_lc_respects_weights);
    tcase_add_test(tc, test_lc_ties_round_robin);
    tcase_add_test(tc, test_lc_huge_active_no_overflow);
    suite_add_tcase(s, tc);

    tc = tcase_create("hash");
    /* 100k-key maps take a moment under sanitizers */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_hash_stable);
    tcase_add_test(tc, test_hash_order_independent);
    tcase_add_test(tc, test_hash_add_moves_only_to_new);
    tcase_add_test(tc, test_hash_remove_moves_only_its_keys);
    tcase_add_test(tc, test_hash_distribution);
    tcase_add_test(tc, test_hash_unusable_and_single);
    suite_add_tcase(s, tc);

    tc = tcase_create("random_two");
    tcase_add_test(tc, test_p2c_prefers_lighter);
    tcase_add_test(tc, test_p2c_weights);
    tcase_add_test(tc, test_p2c_unusable_and_single);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(lb_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
