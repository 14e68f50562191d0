/* tests/unit/test_accesslog.c: the access log writer (gateway/ops/accesslog.c):
 * lines are written, and a line that does not fit is dropped, not blocked on. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ops/accesslog.h"

START_TEST(accesslog_writes_and_drops_when_full)
{
    char path[] = "/tmp/pc-test-accesslog-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    pc_accesslog_t *al = pc_accesslog_open(path, 2, 4096);
    ck_assert_ptr_nonnull(al);
    ck_assert(pc_accesslog_push(al, 0, "{\"a\":1}\n", 8));
    ck_assert(pc_accesslog_push(al, 1, "{\"b\":2}\n", 8));
    char big[5000];
    memset(big, 'x', sizeof(big));
    ck_assert(!pc_accesslog_push(al, 0, big, sizeof(big)));
    pc_accesslog_close(al);
    FILE *f = fopen(path, "r");
    char buf[64] = {0};
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    unlink(path);
    ck_assert_uint_eq(n, 16);
    ck_assert_ptr_nonnull(strstr(buf, "{\"a\":1}"));
    ck_assert_ptr_nonnull(strstr(buf, "{\"b\":2}"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("accesslog");
    TCase *tc = tcase_create("accesslog");
    tcase_add_test(tc, accesslog_writes_and_drops_when_full);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
