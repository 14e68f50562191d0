/* gateway/store/redis_reply.c: bounded hiredis readers (contract in redis_reply.h).
 *
 * The bounded functions wrap hiredis's own reply constructors, which it
 * keeps static: they are taken once from a reader made for the purpose.
 * hiredis hands every read task the reader's privdata, nested ones too;
 * that is where the per-reply element count lives. */
#include "store/redis_reply.h"
#include "base/util.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <pthread.h>

static redisReplyObjectFunctions base, bounded;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Counts n more elements in the reply t belongs to; -1 past the bound. */
static int account(const redisReadTask *t, size_t n)
{
    pc_redis_bound_t *b = t->privdata;
    PC_ASSERT(b != NULL);
    if (!t->parent)
        b->elements = 0; /* a new reply starts */
    if (n > PC_REDIS_REPLY_MAX_ELEMENTS - b->elements) {
        b->why = "a reply with more array elements than any of ours has";
        return -1;
    }
    b->elements += n;
    return 0;
}

static void *bounded_string(const redisReadTask *t, char *s, size_t len)
{
    if (len > PC_REDIS_REPLY_MAX_STRING) {
        pc_redis_bound_t *b = t->privdata;
        b->why = "a reply string longer than any of ours is";
        return NULL;
    }
    return account(t, 0) ? NULL : base.createString(t, s, len);
}

static void *bounded_array(const redisReadTask *t, int n)
{
    return account(t, n > 0 ? (size_t)n : 0) ? NULL : base.createArray(t, n);
}

static void *bounded_integer(const redisReadTask *t, long long v)
{
    return account(t, 0) ? NULL : base.createInteger(t, v);
}

static void *bounded_nil(const redisReadTask *t)
{
    return account(t, 0) ? NULL : base.createNil(t);
}

static void take_base(void)
{
    redisReader *r = redisReaderCreate();
    PC_ASSERT(r && r->fn && r->fn->createString && r->fn->freeObject);
    base = *r->fn;
    redisReaderFree(r);
    bounded = base;
    bounded.createString = bounded_string;
    bounded.createArray = bounded_array;
    bounded.createInteger = bounded_integer;
    bounded.createNil = bounded_nil;
}

void pc_redis_bound_reader(redisReader *r, pc_redis_bound_t *b)
{
    pthread_once(&once, take_base);
    *b = (pc_redis_bound_t){0};
    r->fn = &bounded;
    r->privdata = b;
}

const char *pc_redis_bound_check(const redisReader *r, const pc_redis_bound_t *b)
{
    if (b->why)
        return b->why;
    if (r->len - r->pos > PC_REDIS_READ_MAX)
        return "a reply larger than any of ours is";
    return NULL;
}
