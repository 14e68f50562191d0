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

START_TEST(accesslog_formats_a_record)
{
    char path[] = "/tmp/pc-test-accesslog-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    pc_accesslog_t *al = pc_accesslog_open(path, 1, 65536);
    ck_assert_ptr_nonnull(al);
    const pc_access_rec_t rec = {
        .request_id = "abc", .client = "10.0.0.1", .method = "GET", .path = "/a\"b",
        .route = "r1", .status = 429, .bytes = 12, .upstream = "127.0.0.1:9",
        .upstream_ns = 1500000, .total_ns = 2500000, .reason = "rate_limit.exceeded",
    };
    ck_assert(pc_accesslog_write(al, 0, &rec));
    const pc_access_rec_t bare = {.status = 400};
    ck_assert(pc_accesslog_write(al, 0, &bare));
    pc_accesslog_close(al);
    FILE *f = fopen(path, "r");
    char buf[1024] = {0};
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    unlink(path);
    ck_assert_uint_gt(n, 0);
    ck_assert_ptr_nonnull(strstr(buf, "\"request_id\":\"abc\",\"client\":\"10.0.0.1\","
                                      "\"method\":\"GET\",\"path\":\"/a\\\"b\",\"route\":\"r1\","
                                      "\"status\":429,\"bytes\":12,\"upstream\":\"127.0.0.1:9\","
                                      "\"upstream_ms\":1.500,\"total_ms\":2.500,"
                                      "\"reason\":\"rate_limit.exceeded\"}\n"));
    ck_assert_ptr_nonnull(strstr(buf, "\"method\":\"\",\"path\":\"\",\"route\":\"\",\"status\":400,"
                                      "\"bytes\":0,\"upstream\":\"\",\"upstream_ms\":0.000,"
                                      "\"total_ms\":0.000}\n"));
    ck_assert_ptr_nonnull(strstr(buf, "{\"time\":\"20"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("accesslog");
    TCase *tc = tcase_create("accesslog");
    tcase_add_test(tc, accesslog_writes_and_drops_when_full);
    tcase_add_test(tc, accesslog_formats_a_record);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
