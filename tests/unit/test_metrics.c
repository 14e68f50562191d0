/* tests/unit/test_metrics.c: the Prometheus rendering of per-worker counters
 * (gateway/ops/metrics.c) and the stable id table. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/metrics.h"

START_TEST(metrics_render_sums_workers)
{
    static pc_metrics_t m1, m2;
    unsigned id = pc_stable_id("route", "test-metrics-route");
    ck_assert_uint_eq(pc_stable_id("route", "test-metrics-route"), id);
    ck_assert_str_eq(pc_stable_name("route", id), "test-metrics-route");
    pc_metrics_ensure_route(&m1, id);
    pc_metrics_ensure_route(&m2, id);
    pc_metrics_request(&m1, id, 200, 300);
    pc_metrics_request(&m2, id, 200, 3000);
    pc_metrics_request(&m2, id, 418, 10);
    pc_counter_add(&m1.timeouts[PC_TIMEOUT_HEADER], 2);
    pc_counter_add(&m2.timeouts[PC_TIMEOUT_HEADER], 1);
    pc_counter_add(&m2.timeouts[PC_TIMEOUT_BODY], 4);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pc_metrics_t *w[2] = {&m1, &m2};
    pc_metrics_render(f, w, 2, 7);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "portcullis_requests_total{route=\"test-metrics-route\",status=\"200\"} 2"));
    ck_assert_ptr_nonnull(strstr(buf, "status=\"4xx\"} 1"));
    ck_assert_ptr_nonnull(strstr(buf, "le=\"0.0005\"} 2"));
    ck_assert_ptr_nonnull(strstr(buf, "_count{route=\"test-metrics-route\"} 3"));
    ck_assert_ptr_nonnull(strstr(buf, "portcullis_config_generation 7"));
    ck_assert_ptr_nonnull(strstr(buf, "portcullis_timeouts_total{phase=\"header\"} 3\n"));
    ck_assert_ptr_nonnull(strstr(buf, "portcullis_timeouts_total{phase=\"body\"} 4\n"));
    free(buf);
    pc_metrics_free(&m1);
    pc_metrics_free(&m2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, metrics_render_sums_workers);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
