/* gateway/store/redis_reply.h: bounds on what a Redis server can make us hold.
 *
 * hiredis buffers whatever bulk length a server announces until all of it
 * has arrived, and allocates whatever array size it announces. A broken or
 * hostile server (or anything else listening where Redis was expected)
 * could make a worker hold gigabytes that way. Our own replies are small:
 * a few integers per check, a SHA1, an error line. So every reader we
 * create is bounded:
 *
 * - no string (bulk, status or error) longer than PC_REDIS_REPLY_MAX_STRING;
 * - no more than PC_REDIS_REPLY_MAX_ELEMENTS array elements in one reply,
 *   nested arrays included;
 * - no more than PC_REDIS_READ_MAX bytes read but not yet parsed: that is
 *   what catches an announced bulk before hiredis has it all.
 *
 * The first two make hiredis fail the reply (its "out of memory" error,
 * which kills the connection); the bound's why then says what really
 * happened. The third is checked by the caller after every read. Either way
 * the connection is dropped and the store's on_error policy applies. */
#ifndef PC_REDIS_REPLY_H
#define PC_REDIS_REPLY_H

#include <stddef.h>

struct redisReader;

#define PC_REDIS_REPLY_MAX_STRING (64u * 1024)
#define PC_REDIS_REPLY_MAX_ELEMENTS (1u << 17)
#define PC_REDIS_READ_MAX (256u * 1024)

/* One reader's accounting; lives as long as the reader. */
typedef struct pc_redis_bound {
    size_t elements;               /* in the reply being parsed */
    const char *why;               /* the bound that failed a reply, or NULL */
} pc_redis_bound_t;

/* Makes r create its replies through the bounded functions, accounting in b. */
void pc_redis_bound_reader(struct redisReader *r, pc_redis_bound_t *b);

/* After a read: NULL while r is within bounds, else what it exceeded. */
const char *pc_redis_bound_check(const struct redisReader *r, const pc_redis_bound_t *b);

#endif
