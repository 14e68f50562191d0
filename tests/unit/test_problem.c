/* tests/unit/test_problem.c: problem+json rendering (gateway/base/problem.c):
 * escaping and safe truncation. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "base/problem.h"

START_TEST(problem_render_escapes)
{
    char buf[512];
    size_t n = pc_problem_render(buf, sizeof(buf), 429, "rate_limit.exceeded",
                                 "quote \" and \\ and \n", "abc");
    ck_assert_uint_eq(n, strlen(buf));
    ck_assert_ptr_nonnull(strstr(buf, "\"status\":429"));
    ck_assert_ptr_nonnull(strstr(buf, "\"title\":\"Too Many Requests\""));
    ck_assert_ptr_nonnull(strstr(buf, "quote \\\" and \\\\ and \\u000a"));
    ck_assert_ptr_nonnull(strstr(buf, "urn:portcullis:problem:rate_limit.exceeded"));
    ck_assert_ptr_nonnull(strstr(buf, "\"request_id\":\"abc\""));
}
END_TEST

START_TEST(problem_render_truncates_safely)
{
    char buf[40];
    size_t n = pc_problem_render(buf, sizeof(buf), 400, "x", "y", "z");
    ck_assert_uint_lt(n, sizeof(buf));
    ck_assert_uint_eq(strlen(buf), n);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("problem");
    TCase *tc = tcase_create("problem");
    tcase_add_test(tc, problem_render_escapes);
    tcase_add_test(tc, problem_render_truncates_safely);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
