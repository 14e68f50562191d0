/* fuzz/fuzz_redis_reply.c: what a Redis server sends, through a bounded
 * hiredis reader (gateway/store/redis_reply.c) as the gateway reads it. The first
 * byte picks the read sizes; the rest is the server's bytes, fed a read at
 * a time. After each read the replies are taken and walked, and the
 * bounds are checked as the gateway does (a crossed bound ends the
 * connection). Checked: no reply holds more elements or a longer string
 * than the bounds allow, the unparsed buffer stays within one read of its
 * bound, nothing leaks (ASan), nothing crashes.
 *
 * The same bytes, cut at every 0xff into arguments, are also sent the
 * other way: an EVALSHA of them encoded by gateway/store/redis_cmd.c must
 * read back (through the same bounded reader) as exactly those arguments,
 * and the encoder must measure what it writes. */
#include "store/redis_cmd.h"
#include "store/redis_reply.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FZ_ARGS 64

/* Elements in r, nested ones included; aborts on a string past the bound. */
static size_t walk(const redisReply *r, int depth)
{
    if (depth > 16)
        abort(); /* hiredis nests 7 deep at most */
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
        r->type == REDIS_REPLY_ERROR) {
        if (r->len > PC_REDIS_REPLY_MAX_STRING)
            abort();
        return 0;
    }
    if (r->type != REDIS_REPLY_ARRAY)
        return 0;
    size_t n = r->elements;
    for (size_t i = 0; i < r->elements; i++)
        n += walk(r->element[i], depth + 1);
    return n;
}

static void fz_same(const redisReply *r, const char *s, size_t len)
{
    if (r->type != REDIS_REPLY_STRING || r->len != len || memcmp(r->str, s, len) != 0)
        abort();
}

/* EVALSHA <sha1 of data> <data cut at 0xff>, encoded, then read back. */
static void fz_round_trip(const uint8_t *data, size_t size)
{
    const char *argv[FZ_ARGS];
    size_t len[FZ_ARGS];
    int argc = 0;
    for (size_t start = 0, i = 0; i <= size && argc < FZ_ARGS; i++) {
        if (i < size && data[i] != 0xff)
            continue;
        argv[argc] = (const char *)data + start;
        len[argc++] = i - start;
        start = i + 1;
    }
    pc_redis_script_t sc;
    pc_redis_script_init(&sc, (const char *)data, size);
    if (strlen(sc.sha) != 40 || strspn(sc.sha, "0123456789abcdef") != 40)
        abort();
    const char *pre[2] = {"EVALSHA", sc.sha};
    const size_t prelen[2] = {7, 40};
    size_t n = pc_redis_format(NULL, 2, pre, prelen, argc, argv, len);
    char *out = malloc(n);
    if (pc_redis_format(out, 2, pre, prelen, argc, argv, len) != n)
        abort();
    redisReader *r = redisReaderCreate();
    pc_redis_bound_t b;
    pc_redis_bound_reader(r, &b);
    void *rep = NULL;
    if (redisReaderFeed(r, out, n) != REDIS_OK || redisReaderGetReply(r, &rep) != REDIS_OK ||
        !rep)
        abort(); /* what we send, a server must be able to read */
    const redisReply *a = rep;
    if (a->type != REDIS_REPLY_ARRAY || a->elements != (size_t)argc + 2 || r->pos != r->len)
        abort();
    fz_same(a->element[0], "EVALSHA", 7);
    fz_same(a->element[1], sc.sha, 40);
    for (int i = 0; i < argc; i++)
        fz_same(a->element[i + 2], argv[i], len[i]);
    freeReplyObject(rep);
    redisReaderFree(r);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size <= PC_REDIS_REPLY_MAX_STRING)
        fz_round_trip(data, size);
    if (size < 1)
        return 0;
    size_t step = (size_t)data[0] % 64 + 1;
    data++, size--;
    redisReader *r = redisReaderCreate();
    if (!r)
        return 0;
    pc_redis_bound_t b;
    pc_redis_bound_reader(r, &b);
    for (size_t off = 0; off < size;) {
        size_t n = size - off < step ? size - off : step;
        if (redisReaderFeed(r, (const char *)data + off, n) != REDIS_OK)
            break;
        off += n;
        void *rep;
        int rc;
        while ((rc = redisReaderGetReply(r, &rep)) == REDIS_OK && rep) {
            if (walk(rep, 0) > PC_REDIS_REPLY_MAX_ELEMENTS)
                abort();
            freeReplyObject(rep);
        }
        if (rc != REDIS_OK)
            break; /* the connection would be dropped */
        if (r->len - r->pos > PC_REDIS_READ_MAX + step)
            abort();
        if (pc_redis_bound_check(r, &b))
            break;
    }
    redisReaderFree(r);
    return 0;
}
