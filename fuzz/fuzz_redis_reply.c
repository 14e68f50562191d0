/* fuzz/fuzz_redis_reply.c: what a Redis server sends, through a bounded
 * hiredis reader (gateway/store/redis_reply.c) as the gateway reads it. The first
 * byte picks the read sizes; the rest is the server's bytes, fed a read at
 * a time. After each read the replies are taken and walked, and the
 * bounds are checked as the gateway does (a crossed bound ends the
 * connection). Checked: no reply holds more elements or a longer string
 * than the bounds allow, the unparsed buffer stays within one read of its
 * bound, nothing leaks (ASan), nothing crashes. */
#include "store/redis_reply.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <stdint.h>
#include <stdlib.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
