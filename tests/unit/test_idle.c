/* tests/unit/test_idle.c: gateway/front/idle.c without a daemon: the
 * sweep's malloc_trim, run by several workers at once. */
#include "front/idle.h"

#include <check.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 200

static pthread_barrier_t start;

static void *sweep_once(void *arg)
{
    pthread_barrier_wait(&start);
    pc_idle_sweep(arg, 0);
    return NULL;
}

/* Two workers whose last sweep took connections over: the workers start
 * together, so their next sweeps (which trim the heap) tick together.
 * Returns 0 when both trimmed. */
static int two_workers_trim(void)
{
    pc_idle_t idle[2];
    pthread_t t[2];
    pthread_barrier_init(&start, NULL, 2);
    for (int i = 0; i < 2; i++) {
        memset(&idle[i], 0, sizeof(idle[i]));
        pc_list_init(&idle[i].watch);
        pc_list_init(&idle[i].held);
        idle[i].enabled = true;
        idle[i].trim_pending = true;
        pthread_create(&t[i], NULL, sweep_once, &idle[i]);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    return idle[0].trim_pending || idle[1].trim_pending;
}

/* glibc's malloc_trim sets glibc's malloc up on its first call, unlocked:
 * when another allocator replaced malloc (ASan's in the sanitizer build),
 * two first trims at once crashed a worker (SIGSEGV in mtrim) or glibc's
 * arena count at thread exit (SIGABRT). A fresh process per round, so
 * every round is a first trim. */
START_TEST(test_concurrent_first_trims)
{
    int died = 0;
    for (int i = 0; i < ROUNDS; i++) {
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            _exit(two_workers_trim());
        int st;
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        died += !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    }
    ck_assert_int_eq(died, 0);
}
END_TEST

static Suite *idle_suite(void)
{
    Suite *s = suite_create("idle");
    TCase *tc = tcase_create("idle");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_concurrent_first_trims);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(idle_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
