/* tests/unit/test_arena.c: the request arena (gateway/base/arena.c): alignment,
 * growth, in-place realloc of the last allocation, cleanups in reverse order. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"

static int cleanup_order[4];
static int cleanup_n;
static void note_cleanup(void *p) { cleanup_order[cleanup_n++] = *(int *)p; }

START_TEST(arena_alloc_align_grow)
{
    pc_arena_t *a = pc_arena_new(64);
    for (int i = 0; i < 1000; i++) {
        char *p = pc_arena_alloc(a, (size_t)(i % 37) + 1);
        ck_assert_uint_eq((uintptr_t)p % 16, 0);
        memset(p, 0xab, (size_t)(i % 37) + 1);
    }
    char *big = pc_arena_alloc(a, 1 << 20);
    memset(big, 1, 1 << 20);
    ck_assert_uint_ge(pc_arena_used(a), (1u << 20));
    pc_arena_free(a);
}
END_TEST

START_TEST(arena_realloc_in_place_and_copy)
{
    pc_arena_t *a = pc_arena_new(256);
    char *p = pc_arena_alloc(a, 8);
    memcpy(p, "abcdefg", 8);
    char *q = pc_arena_realloc(a, p, 8, 64);
    ck_assert_ptr_eq(p, q); /* last allocation grows in place */
    ck_assert_str_eq(q, "abcdefg");
    char *other = pc_arena_alloc(a, 8);
    (void)other;
    char *r = pc_arena_realloc(a, q, 64, 4096);
    ck_assert_ptr_ne(r, q);
    ck_assert_str_eq(r, "abcdefg");
    pc_arena_free(a);
}
END_TEST

START_TEST(arena_cleanups_reverse_order)
{
    static int one = 1, two = 2, three = 3;
    cleanup_n = 0;
    pc_arena_t *a = pc_arena_new(0);
    pc_arena_on_cleanup(a, note_cleanup, &one);
    pc_arena_on_cleanup(a, note_cleanup, &two);
    pc_arena_on_cleanup(a, note_cleanup, &three);
    pc_arena_free(a);
    ck_assert_int_eq(cleanup_n, 3);
    ck_assert_int_eq(cleanup_order[0], 3);
    ck_assert_int_eq(cleanup_order[2], 1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("arena");
    TCase *tc = tcase_create("arena");
    tcase_add_test(tc, arena_alloc_align_grow);
    tcase_add_test(tc, arena_realloc_in_place_and_copy);
    tcase_add_test(tc, arena_cleanups_reverse_order);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
