/* tests/unit/test_budget.c: gateway/conf/budget.c, the memory warning of
 * `portcullis -t`: the pool size, the worst case of a config, the share of
 * RAM that trips the warning, and the warning itself. */
#include "conf/budget.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MiB (1024ull * 1024ull)
#define GiB (1024ull * MiB)

static pc_limits_t limits(size_t header, size_t url)
{
    pc_limits_t l;
    memset(&l, 0, sizeof(l));
    l.max_header_bytes = header;
    l.max_url_bytes = url;
    return l;
}

START_TEST(test_pool_bytes)
{
    pc_limits_t d = limits(16384, 8192); /* the defaults */
    ck_assert_uint_eq(pc_budget_pool_bytes(&d), 32768);
    pc_limits_t big = limits(1048576, 8192);
    ck_assert_uint_eq(pc_budget_pool_bytes(&big), 1048576 + 16384);
}
END_TEST

START_TEST(test_worst_sums_listeners_and_workers)
{
    pc_listener_conf_t ls[2];
    memset(ls, 0, sizeof(ls));
    ls[0].limits = limits(16384, 8192);
    ls[0].max_connections = 10000;
    ls[1].limits = limits(1048576, 8192);
    ls[1].max_connections = 100;
    pc_conf_t c;
    memset(&c, 0, sizeof(c));
    c.listeners = ls;
    c.nlisteners = 2;
    c.workers = 4;
    uint64_t per_worker = 10000ull * 32768 + 100ull * (1048576 + 16384);
    ck_assert_uint_eq(pc_budget_worst_bytes(&c), 4 * per_worker);
    c.workers = 0; /* unresolved counts as one */
    ck_assert_uint_eq(pc_budget_worst_bytes(&c), per_worker);
}
END_TEST

START_TEST(test_worst_saturates)
{
    pc_listener_conf_t l;
    memset(&l, 0, sizeof(l));
    l.limits = limits(SIZE_MAX / 4, 0);
    l.max_connections = 1000000;
    pc_conf_t c;
    memset(&c, 0, sizeof(c));
    c.listeners = &l;
    c.nlisteners = 1;
    c.workers = 64;
    ck_assert_uint_eq(pc_budget_worst_bytes(&c), UINT64_MAX);
}
END_TEST

START_TEST(test_exceeds)
{
    ck_assert(!pc_budget_exceeds(8 * GiB, 16 * GiB, 50)); /* exactly half */
    ck_assert(pc_budget_exceeds(8 * GiB + 1, 16 * GiB, 50));
    ck_assert(!pc_budget_exceeds(UINT64_MAX, 0, 50)); /* RAM unknown */
    ck_assert(pc_budget_exceeds(UINT64_MAX, UINT64_MAX, 50));
    ck_assert(!pc_budget_exceeds(UINT64_MAX, UINT64_MAX, 100));
    ck_assert(!pc_budget_exceeds(UINT64_MAX, UINT64_MAX, 250)); /* capped at 100 % */
    ck_assert(!pc_budget_exceeds(99, 199, 50));
    ck_assert(pc_budget_exceeds(100, 199, 50)); /* floor(199 / 2) = 99 */
}
END_TEST

START_TEST(test_warn)
{
    pc_listener_conf_t l;
    memset(&l, 0, sizeof(l));
    l.limits = limits(1048576, 8192);
    l.max_connections = 10000;
    pc_conf_t c;
    memset(&c, 0, sizeof(c));
    c.listeners = &l;
    c.nlisteners = 1;
    c.workers = 2;
    pc_diag_t d = {0};
    pc_budget_warn(&c, 64 * GiB, &d); /* ~20 GiB: fine */
    ck_assert_uint_eq(d.nwarnings, 0);
    pc_budget_warn(&c, 16 * GiB, &d);
    ck_assert_uint_eq(d.nwarnings, 1);
    ck_assert_ptr_nonnull(strstr(d.warnings[0], "max_connections"));
    ck_assert_ptr_nonnull(strstr(d.warnings[0], "20312 MiB"));
    pc_diag_free(&d);
}
END_TEST

START_TEST(test_ram_bytes)
{
    uint64_t ram = pc_budget_ram_bytes();
    ck_assert_uint_gt(ram, 16 * MiB);
    ck_assert_uint_eq(ram % (uint64_t)sysconf(_SC_PAGESIZE), 0);
}
END_TEST

static Suite *budget_suite(void)
{
    Suite *s = suite_create("budget");
    TCase *tc = tcase_create("budget");
    tcase_add_test(tc, test_pool_bytes);
    tcase_add_test(tc, test_worst_sums_listeners_and_workers);
    tcase_add_test(tc, test_worst_saturates);
    tcase_add_test(tc, test_exceeds);
    tcase_add_test(tc, test_warn);
    tcase_add_test(tc, test_ram_bytes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(budget_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
