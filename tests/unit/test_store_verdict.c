/* tests/unit/test_store_verdict.c: gateway/store/store_verdict.c, the limit
 * script's answer read as verdicts. Replies are built by hand as hiredis
 * would make them; every value the script could not have sent is refused
 * and leaves the verdict untouched. */
#include "store/store_verdict.h"

#include <hiredis/hiredis.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define MAXEL (4 * PC_STC_VALUES)

typedef struct {
    redisReply top;
    redisReply el[MAXEL];
    redisReply *ptr[MAXEL];
} reply_t;

/* An array of n integers v[0..n). */
static void reply_ints(reply_t *r, const long long *v, size_t n)
{
    memset(r, 0, sizeof(*r));
    r->top.type = REDIS_REPLY_ARRAY;
    r->top.elements = n;
    r->top.element = r->ptr;
    for (size_t i = 0; i < n; i++) {
        r->el[i].type = REDIS_REPLY_INTEGER;
        r->el[i].integer = v[i];
        r->ptr[i] = &r->el[i];
    }
}

/* granted 2; remaining 5, reset 1000, retry 0, limit 1; over: reset 40, retry 30, limit 0 */
static const long long good[PC_STC_VALUES] = {2, 5, 1000, 0, 1, 40, 30, 0};

static int verdict(reply_t *r, uint64_t asked, size_t nlimits, uint64_t *g,
                   pc_limit_result_t *res, pc_limit_result_t *over)
{
    return pc_stc_verdict(r->top.element, asked, nlimits, g, res, over);
}

START_TEST(test_answer_becomes_verdict)
{
    reply_t r;
    uint64_t g = 0;
    pc_limit_result_t res, over;
    reply_ints(&r, good, PC_STC_VALUES);
    ck_assert(pc_stc_reply_shaped(&r.top, 1));
    ck_assert_int_eq(verdict(&r, 3, 2, &g, &res, &over), 0);
    ck_assert_uint_eq(g, 2);
    ck_assert_int_eq(res.allowed, 1);
    ck_assert_uint_eq(res.index, 1);
    ck_assert_uint_eq(res.remaining, 5);
    ck_assert_uint_eq(res.reset_ms, 1000);
    ck_assert_uint_eq(res.retry_after_ms, 0);
    ck_assert_int_eq(res.local, 0);
    ck_assert_int_eq(over.allowed, 0);
    ck_assert_uint_eq(over.index, 0);
    ck_assert_uint_eq(over.reset_ms, 40);
    ck_assert_uint_eq(over.retry_after_ms, 30);
}
END_TEST

START_TEST(test_nothing_granted_is_a_refusal)
{
    long long v[PC_STC_VALUES] = {0, 0, 500, 250, 0, 0, 0, 0};
    reply_t r;
    uint64_t g = 9;
    pc_limit_result_t res, over;
    reply_ints(&r, v, PC_STC_VALUES);
    ck_assert_int_eq(verdict(&r, 1, 1, &g, &res, &over), 0);
    ck_assert_uint_eq(g, 0);
    ck_assert_int_eq(res.allowed, 0);
    ck_assert_uint_eq(res.retry_after_ms, 250);
}
END_TEST

START_TEST(test_shape_is_checked)
{
    reply_t r;
    reply_ints(&r, good, PC_STC_VALUES);
    ck_assert(!pc_stc_reply_shaped(NULL, 1));
    ck_assert(!pc_stc_reply_shaped(&r.top, 0));
    ck_assert(!pc_stc_reply_shaped(&r.top, 2));
    r.top.elements = PC_STC_VALUES - 1;
    ck_assert(!pc_stc_reply_shaped(&r.top, 1));
    r.top.elements = 2 * PC_STC_VALUES + 1;
    ck_assert(!pc_stc_reply_shaped(&r.top, 2));
    r.top.elements = PC_STC_VALUES;
    r.top.type = REDIS_REPLY_ERROR;
    ck_assert(!pc_stc_reply_shaped(&r.top, 1));
}
END_TEST

/* v with element i replaced by x is refused, and leaves the verdict alone. */
static void refused(size_t i, long long x, uint64_t asked, size_t nlimits)
{
    long long v[PC_STC_VALUES];
    memcpy(v, good, sizeof(v));
    v[i] = x;
    reply_t r;
    reply_ints(&r, v, PC_STC_VALUES);
    uint64_t g = 77;
    pc_limit_result_t res = {.remaining = 77}, over = {.remaining = 77};
    ck_assert_int_eq(verdict(&r, asked, nlimits, &g, &res, &over), -1);
    ck_assert_uint_eq(g, 77);
    ck_assert_uint_eq(res.remaining, 77);
    ck_assert_uint_eq(over.remaining, 77);
}

START_TEST(test_impossible_values_are_refused)
{
    for (size_t i = 0; i < PC_STC_VALUES; i++) {
        refused(i, -1, 3, 2);
        refused(i, ((long long)1 << 53) + 1, 1LL << 60, 1u << 30);
    }
    refused(0, 4, 3, 2);  /* more granted than asked */
    refused(4, 2, 3, 2);  /* the grant's limit does not exist */
    refused(7, 2, 3, 2);  /* the refusal's limit does not exist */
}
END_TEST

START_TEST(test_bounds_themselves_pass)
{
    long long v[PC_STC_VALUES];
    memcpy(v, good, sizeof(v));
    v[0] = 3;
    v[2] = (long long)1 << 53;
    v[7] = 1;
    reply_t r;
    reply_ints(&r, v, PC_STC_VALUES);
    uint64_t g;
    pc_limit_result_t res, over;
    ck_assert_int_eq(verdict(&r, 3, 2, &g, &res, &over), 0);
    ck_assert_uint_eq(g, 3);
    ck_assert_uint_eq(res.reset_ms, (uint64_t)1 << 53);
    ck_assert_uint_eq(over.index, 1);
}
END_TEST

START_TEST(test_non_integers_are_refused)
{
    reply_t r;
    uint64_t g;
    pc_limit_result_t res, over;
    static const int types[] = {REDIS_REPLY_STRING, REDIS_REPLY_NIL, REDIS_REPLY_ARRAY,
                                REDIS_REPLY_STATUS, REDIS_REPLY_ERROR};
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
        for (size_t i = 0; i < PC_STC_VALUES; i++) {
            reply_ints(&r, good, PC_STC_VALUES);
            r.el[i].type = types[t];
            ck_assert_int_eq(verdict(&r, 3, 2, &g, &res, &over), -1);
        }
    reply_ints(&r, good, PC_STC_VALUES);
    r.ptr[5] = NULL;
    ck_assert_int_eq(verdict(&r, 3, 2, &g, &res, &over), -1);
}
END_TEST

START_TEST(test_batch_answers_are_read_per_check)
{
    long long v[2 * PC_STC_VALUES];
    memcpy(v, good, sizeof(good));
    memcpy(v + PC_STC_VALUES, good, sizeof(good));
    v[PC_STC_VALUES] = 7; /* the second check asked for 1 only */
    reply_t r;
    reply_ints(&r, v, 2 * PC_STC_VALUES);
    uint64_t g;
    pc_limit_result_t res, over;
    ck_assert(pc_stc_reply_shaped(&r.top, 2));
    ck_assert_int_eq(pc_stc_verdict(r.top.element, 3, 2, &g, &res, &over), 0);
    ck_assert_int_eq(pc_stc_verdict(r.top.element + PC_STC_VALUES, 1, 2, &g, &res, &over), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store_verdict");
    TCase *tc = tcase_create("verdict");
    tcase_add_test(tc, test_answer_becomes_verdict);
    tcase_add_test(tc, test_nothing_granted_is_a_refusal);
    tcase_add_test(tc, test_shape_is_checked);
    tcase_add_test(tc, test_impossible_values_are_refused);
    tcase_add_test(tc, test_bounds_themselves_pass);
    tcase_add_test(tc, test_non_integers_are_refused);
    tcase_add_test(tc, test_batch_answers_are_read_per_check);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
