/* tests/unit/test_log.c: the logging API of plugin.h: pc_log_every gates a
 * message per call site. */
#include <check.h>
#include <stdlib.h>
#include <time.h>

#include "base/log.h"

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

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, log_every_gates_per_call_site);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
