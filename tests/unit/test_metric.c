/* tests/unit/test_metric.c: gateway/ops/metric.c, the registry behind the
 * pc_metric_* calls of plugin.h: registration (idempotent, refusals),
 * series and their bound, per-worker rows summed, gauges, rendering and
 * label escaping, collectors. */
#include "ops/metric.h"
#include "base/thread.h"

#include <portcullis/plugin.h>

#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(void)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pc_metric_render(f);
    fclose(f);
    return buf;
}

static void has(const char *text, const char *line)
{
    ck_assert_msg(strstr(text, line) != NULL, "missing: %s\nin:\n%s", line, text);
}

START_TEST(test_register_is_idempotent_and_checked)
{
    pc_metric_reset();
    static const char *const l1[] = {"route", NULL}, *const l2[] = {"kind", NULL};
    pc_metric_t *a = pc_metric_counter(NULL, "t_events_total", "Events.", l1);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(pc_metric_counter(NULL, "t_events_total", "Other help.", l1), a);
    ck_assert_ptr_null(pc_metric_gauge(NULL, "t_events_total", "Events.", l1)); /* kind */
    ck_assert_ptr_null(pc_metric_counter(NULL, "t_events_total", "Events.", l2)); /* labels */
    ck_assert_ptr_null(pc_metric_counter(NULL, "t_events_total", "Events.", NULL));
    ck_assert_ptr_null(pc_metric_counter(NULL, "1bad", "x", NULL));
    ck_assert_ptr_null(pc_metric_counter(NULL, "bad name", "x", NULL));
    ck_assert_ptr_null(pc_metric_counter(NULL, "", "x", NULL));
    static const char *const reserved[] = {"__name", NULL}, *const five[] = {"a", "b", "c", "d",
                                                                               "e", NULL};
    ck_assert_ptr_null(pc_metric_counter(NULL, "t_x", "x", reserved));
    ck_assert_ptr_null(pc_metric_counter(NULL, "t_y", "x", five));
    pc_metric_add(NULL, NULL, 1); /* a refused metric is a no-op */
}
END_TEST

START_TEST(test_counter_gauge_and_rendering)
{
    pc_metric_reset();
    pc_metric_t *c = pc_metric_counter(NULL, "t_plain_total", "Plain\nhelp.", NULL);
    pc_metric_t *g = pc_metric_gauge(NULL, "t_level", "A level.", NULL);
    static const char *const labels[] = {"route", "code", NULL};
    pc_metric_t *l = pc_metric_counter(NULL, "t_labeled_total", "Labeled.", labels);
    char *out = render();
    has(out, "# HELP t_plain_total Plain help.\n# TYPE t_plain_total counter\nt_plain_total 0\n");
    has(out, "# TYPE t_level gauge\nt_level 0\n");
    ck_assert_ptr_null(strstr(out, "t_labeled_total{")); /* no series yet */
    free(out);
    pc_metric_add(c, NULL, 2);
    pc_metric_add(c, NULL, 3);
    pc_metric_add(g, NULL, 1);
    pc_metric_add(g, NULL, -4);
    pc_metric_add(l, (const char *const[]){"a", "429"}, 1);
    pc_metric_add(l, (const char *const[]){"a", "429"}, 1);
    pc_metric_add(l, (const char *const[]){"b\"\\\n", "200"}, 7);
    out = render();
    has(out, "t_plain_total 5\n");
    has(out, "t_level -3\n");
    has(out, "t_labeled_total{route=\"a\",code=\"429\"} 2\n");
    has(out, "t_labeled_total{route=\"b\\\"\\\\\\n\",code=\"200\"} 7\n");
    /* registration order */
    ck_assert(strstr(out, "t_plain_total") < strstr(out, "t_level"));
    ck_assert(strstr(out, "t_level") < strstr(out, "t_labeled_total"));
    free(out);
}
END_TEST

START_TEST(test_series_are_bounded)
{
    pc_metric_reset();
    static const char *const labels[] = {"who", NULL};
    pc_metric_t *m = pc_metric_counter(NULL, "t_who_total", "By who.", labels);
    char v[16];
    for (int i = 0; i < PC_METRIC_MAX_SERIES + 10; i++) {
        snprintf(v, sizeof(v), "w%d", i);
        pc_metric_add(m, (const char *const[]){v}, 1);
    }
    char *out = render();
    snprintf(v, sizeof(v), "w%d", PC_METRIC_MAX_SERIES - 1);
    char line[64];
    snprintf(line, sizeof(line), "t_who_total{who=\"%s\"} 1\n", v);
    has(out, line);
    snprintf(line, sizeof(line), "t_who_total{who=\"w%d\"}", PC_METRIC_MAX_SERIES);
    ck_assert_ptr_null(strstr(out, line)); /* dropped */
    free(out);
    /* an existing series still counts once the table is full */
    pc_metric_add(m, (const char *const[]){"w0"}, 1);
    out = render();
    has(out, "t_who_total{who=\"w0\"} 2\n");
    free(out);
}
END_TEST

/* Workers add to their own rows; other threads share one; rendering sums. */
typedef struct adder {
    pc_metric_t *m;
    unsigned worker;
    int n;
} adder_t;

static void *adder_main(void *p)
{
    adder_t *a = p;
    pc_thread_set_worker(a->worker);
    for (int i = 0; i < a->n; i++)
        pc_metric_add(a->m, NULL, 1);
    return NULL;
}

START_TEST(test_worker_rows_are_summed)
{
    pc_metric_reset();
    pc_metric_t *m = pc_metric_counter(NULL, "t_rows_total", "Rows.", NULL);
    adder_t a[4] = {{m, 0, 100000}, {m, 1, 100000}, {m, PC_THREAD_NO_WORKER, 100000},
                    {m, PC_THREAD_NO_WORKER, 100000}};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, adder_main, &a[i]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    ck_assert_uint_eq(pc_counter_get(pc_metric_cell(m, 0, NULL)), 100000);
    ck_assert_uint_eq(pc_counter_get(pc_metric_cell(m, 1, NULL)), 100000);
    ck_assert_uint_eq(pc_counter_get(pc_metric_cell(m, PC_THREAD_NO_WORKER, NULL)), 200000);
    char *out = render();
    has(out, "t_rows_total 400000\n");
    free(out);
}
END_TEST

static void collect(FILE *out, void *data)
{
    fprintf(out, "t_collected %d\n", *(int *)data);
}

START_TEST(test_collectors)
{
    pc_metric_reset();
    int one = 1, two = 2;
    pc_metric_counter(NULL, "t_first_total", "First.", NULL);
    pc_metric_collector(collect, &one);
    pc_metric_collector(collect, &two); /* the same fn: data replaced, not twice */
    char *out = render();
    has(out, "t_collected 2\n");
    ck_assert_ptr_null(strstr(out, "t_collected 1"));
    ck_assert(strstr(out, "t_first_total") < strstr(out, "t_collected"));
    free(out);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metric");
    TCase *tc = tcase_create("registry");
    tcase_add_test(tc, test_register_is_idempotent_and_checked);
    tcase_add_test(tc, test_counter_gauge_and_rendering);
    tcase_add_test(tc, test_series_are_bounded);
    tcase_add_test(tc, test_worker_rows_are_summed);
    tcase_add_test(tc, test_collectors);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    pc_metric_reset();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
