/* tests/unit/test_redis_reply.c: gateway/store/redis_reply.c, the bounded hiredis
 * reader. Bytes are fed straight into a reader (redisReaderFeed), as a
 * server would send them: replies within the bounds come out as hiredis
 * makes them, and each bound stops the reply that crosses it, nested arrays
 * and replies split over many reads included. */
#include "store/redis_reply.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    redisReader *r;
    pc_redis_bound_t b;
} reader_t;

static reader_t *reader_new(void)
{
    reader_t *t = calloc(1, sizeof(*t));
    ck_assert_ptr_nonnull(t);
    t->r = redisReaderCreate();
    ck_assert_ptr_nonnull(t->r);
    pc_redis_bound_reader(t->r, &t->b);
    return t;
}

static void reader_free(reader_t *t)
{
    redisReaderFree(t->r);
    free(t);
}

/* Feeds s, then takes one reply: REDIS_OK with *out set or NULL (more
 * bytes needed), REDIS_ERR when the reader failed. */
static int feed(reader_t *t, const char *s, size_t n, redisReply **out)
{
    *out = NULL;
    ck_assert_int_eq(redisReaderFeed(t->r, s, n), REDIS_OK);
    return redisReaderGetReply(t->r, (void **)out);
}

static int feeds(reader_t *t, const char *s, redisReply **out)
{
    return feed(t, s, strlen(s), out);
}

/* "*n\r\n" followed by n integers. */
static char *int_array(size_t n)
{
    char *s = malloc(32 + n * 4);
    ck_assert_ptr_nonnull(s);
    size_t o = (size_t)sprintf(s, "*%zu\r\n", n);
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(s + o, ":%zu\r\n", i % 10);
    return s;
}

START_TEST(test_ordinary_replies_pass)
{
    reader_t *t = reader_new();
    redisReply *rep;
    ck_assert_int_eq(feeds(t, "+OK\r\n", &rep), REDIS_OK);
    ck_assert_int_eq(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    ck_assert_int_eq(feeds(t, "*3\r\n:1\r\n$3\r\nabc\r\n*1\r\n$-1\r\n", &rep), REDIS_OK);
    ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
    ck_assert_uint_eq(rep->elements, 3);
    ck_assert_str_eq(rep->element[1]->str, "abc");
    ck_assert_int_eq(rep->element[2]->element[0]->type, REDIS_REPLY_NIL);
    freeReplyObject(rep);
    ck_assert_int_eq(feeds(t, "-NOSCRIPT No matching script\r\n", &rep), REDIS_OK);
    ck_assert_int_eq(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);
    ck_assert_ptr_null(pc_redis_bound_check(t->r, &t->b));
    reader_free(t);
}
END_TEST

START_TEST(test_largest_batch_reply_passes_and_counts_restart)
{
    /* a whole batch of the largest size, twice: the count is per reply */
    reader_t *t = reader_new();
    char *s = int_array(PC_REDIS_REPLY_MAX_ELEMENTS);
    for (int round = 0; round < 2; round++) {
        redisReply *rep;
        ck_assert_int_eq(feeds(t, s, &rep), REDIS_OK);
        ck_assert_ptr_nonnull(rep);
        ck_assert_uint_eq(rep->elements, PC_REDIS_REPLY_MAX_ELEMENTS);
        freeReplyObject(rep);
    }
    ck_assert_ptr_null(t->b.why);
    free(s);
    reader_free(t);
}
END_TEST

START_TEST(test_huge_array_is_refused_before_allocation)
{
    reader_t *t = reader_new();
    redisReply *rep;
    ck_assert_int_eq(feeds(t, "*2147483647\r\n", &rep), REDIS_ERR);
    ck_assert_ptr_null(rep);
    ck_assert_ptr_nonnull(t->b.why);
    ck_assert_ptr_nonnull(pc_redis_bound_check(t->r, &t->b));
    reader_free(t);
}
END_TEST

START_TEST(test_nested_arrays_count_together)
{
    /* each array alone is within the bound, together they are not */
    reader_t *t = reader_new();
    size_t half = PC_REDIS_REPLY_MAX_ELEMENTS / 2 + 1;
    char head[64];
    snprintf(head, sizeof(head), "*2\r\n*%zu\r\n", half);
    redisReply *rep;
    ck_assert_int_eq(feeds(t, head, &rep), REDIS_OK);
    for (size_t i = 0; i < half; i++)
        ck_assert_int_eq(feeds(t, ":1\r\n", &rep), REDIS_OK);
    char second[32];
    snprintf(second, sizeof(second), "*%zu\r\n", half);
    ck_assert_int_eq(feeds(t, second, &rep), REDIS_ERR);
    ck_assert_ptr_nonnull(t->b.why);
    reader_free(t);
}
END_TEST

START_TEST(test_long_string_is_refused)
{
    reader_t *t = reader_new();
    size_t n = PC_REDIS_REPLY_MAX_STRING + 1;
    char *s = malloc(n + 32);
    ck_assert_ptr_nonnull(s);
    size_t o = (size_t)sprintf(s, "$%zu\r\n", n);
    memset(s + o, 'x', n);
    memcpy(s + o + n, "\r\n", 2);
    redisReply *rep;
    ck_assert_int_eq(feed(t, s, o + n + 2, &rep), REDIS_ERR);
    ck_assert_ptr_nonnull(t->b.why);
    free(s);
    reader_free(t);

    /* a status line is a string too */
    t = reader_new();
    s = malloc(n + 8);
    ck_assert_ptr_nonnull(s);
    s[0] = '+';
    memset(s + 1, 'y', n);
    memcpy(s + 1 + n, "\r\n", 2);
    ck_assert_int_eq(feed(t, s, n + 3, &rep), REDIS_ERR);
    free(s);
    reader_free(t);
}
END_TEST

START_TEST(test_announced_bulk_is_caught_between_reads)
{
    /* hiredis waits for all of a bulk before making it: the bound on what
     * is buffered is what the caller checks after each read */
    reader_t *t = reader_new();
    redisReply *rep;
    ck_assert_int_eq(feeds(t, "$1000000000\r\n", &rep), REDIS_OK);
    ck_assert_ptr_null(rep);
    char chunk[16384];
    memset(chunk, 'z', sizeof(chunk));
    size_t fed = 0;
    while (!pc_redis_bound_check(t->r, &t->b)) {
        ck_assert_int_eq(feed(t, chunk, sizeof(chunk), &rep), REDIS_OK);
        ck_assert_ptr_null(rep);
        fed += sizeof(chunk);
        ck_assert_uint_le(fed, PC_REDIS_READ_MAX + sizeof(chunk));
    }
    ck_assert_uint_gt(fed, PC_REDIS_READ_MAX - sizeof(chunk));
    reader_free(t);
}
END_TEST

START_TEST(test_protocol_garbage_fails_the_reader)
{
    reader_t *t = reader_new();
    redisReply *rep;
    ck_assert_int_eq(feeds(t, "hello world\r\n", &rep), REDIS_ERR);
    ck_assert_ptr_null(t->b.why); /* hiredis's own error */
    reader_free(t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("redis_reply");
    TCase *tc = tcase_create("bounds");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_ordinary_replies_pass);
    tcase_add_test(tc, test_largest_batch_reply_passes_and_counts_restart);
    tcase_add_test(tc, test_huge_array_is_refused_before_allocation);
    tcase_add_test(tc, test_nested_arrays_count_together);
    tcase_add_test(tc, test_long_string_is_refused);
    tcase_add_test(tc, test_announced_bulk_is_caught_between_reads);
    tcase_add_test(tc, test_protocol_garbage_fails_the_reader);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
