/* gateway/store/lease.h: one worker's view of its Redis rate-limit keys: the
 * requests that wait on a check, and the requests it may admit ahead of
 * Redis (a lease). No I/O here: gateway/store/store.c sends what this module
 * plans and hands back what Redis answered. One table per worker, used
 * from that worker's thread only.
 *
 * Coalescing. The requests of one key that arrive while its check is
 * queued or in flight wait on that check's entry instead of sending their
 * own: the next check asks Redis for all of them at once (need = how many
 * wait), and Redis admits them in arrival order for as long as every
 * limit has room. That is exact: each is admitted iff it would have been
 * admitted alone at that instant.
 *
 * Leases ("lease_ms" > 0). A check may also take `extra` requests ahead,
 * which this worker then admits locally, without a round trip, until they
 * are used or the lease ends (lease_ms after the grant); what is left is
 * given back to Redis (pc_rl_giveback) with the key's next check, or by
 * the sweep. How much is taken ahead is bounded three ways:
 *   - demand: what this worker would see of the key during half a lease
 *     at the rate it saw since the key's last check (renewed ahead of time
 *     when a quarter is left), ramping up from nothing
 *     (a key seen once takes nothing ahead, so one-off keys cost one exact
 *     check each);
 *   - the limit: at most burst / PC_LEASE_BURST_SHARE of every limit of
 *     the check (none for burst < 256: small limits are always exact);
 *   - what is left: Redis grants at most 1/PC_RL_LEASE_SHARE of the room
 *     left after the waiting requests, so that near its limit a key is
 *     checked request by request.
 * Limits with a sliding window are never leased (a window's count cannot
 * be given back once the window moved on).
 *
 * What a lease changes: admissions still never exceed the limit as Redis
 * counts it (a leased request is counted when it is taken), but a worker
 * admits its leased requests up to lease_ms later than Redis counted
 * them, and a request refused elsewhere while this worker still holds
 * unused leased requests was refused although the fleet as a whole had
 * room. Both are bounded by what the workers hold: at most
 * burst / 256 per worker and key, for at most lease_ms.
 *
 * A key that Redis just refused is refused locally until its retry time,
 * at most lease_ms / PC_LEASE_REFUSED_SHARE, so a client hammering past
 * its limit costs Redis a few checks a second (with leases on only: a
 * giveback elsewhere could free room earlier, so this errs by refusing).
 */
#ifndef PC_LEASE_H
#define PC_LEASE_H

#include "base/list.h"
#include <portcullis/plugin.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/ratelimit.h"

#define PC_LEASE_BURST_SHARE 256  /* a lease holds at most burst / this */
#define PC_LEASE_REFUSED_SHARE 8  /* a refusal is remembered lease_ms / this at most */
#define PC_LEASE_KEY_MAX 256
#define PC_LEASE_MAX_IDLE 16384   /* idle entries kept per worker, beyond: the oldest go */

/* A request waiting on its key's check. */
typedef struct pc_lease_waiter {
    struct pc_lease_waiter *next;
    pc_store_limit_cb cb;
    void *data;
} pc_lease_waiter_t;

typedef struct pc_lease {
    /* what a lookup reads, first: one cache line */
    struct pc_lease *hnext;          /* hash chain */
    uint64_t hash;
    size_t klen;
    size_t n;
    const pc_rl_limit_t *limits;     /* n of them, in the same allocation, after key */
    uint64_t tokens;                 /* requests this worker may still admit */
    uint64_t ends_ms;                /* tokens are given back from then on */
    uint64_t last_ms;                /* last request seen */
    uint64_t seen;                   /* requests since seen_since_ms */
    /* the rest of the lease */
    uint64_t giveback;               /* unused tokens of ended leases, for the next check */
    pc_limit_result_t last;          /* Redis's answer to the last check (grant or refusal) */
    uint64_t reset_at_ms;            /* last.reset_ms as an absolute time */
    uint64_t refused_until_ms;       /* refused locally until then (leases on) */
    uint64_t retry_at_ms;            /* when a refused request would pass */
    /* demand */
    uint64_t seen_since_ms;
    uint64_t last_grant;             /* requests granted by the last check */
    uint64_t cap;                    /* the limits' bound on a lease (0: never leased) */
    bool primed;                     /* checked before: the demand estimate means something */
    /* the check */
    bool queued;                     /* store.c holds it in its send queue */
    bool in_flight;                  /* a check of it awaits its reply */
    bool detached;                   /* out of the table: freed once not busy */
    pc_lease_waiter_t *wait_head, *wait_tail; /* not yet sent */
    pc_lease_waiter_t *sent;         /* in the check in flight, in arrival order */
    uint64_t sent_need, sent_extra, sent_give;
    pc_list_t lru;                   /* the sweep's list (not linked once detached) */
    unsigned char key[];
} pc_lease_t;

typedef struct pc_lease_table pc_lease_table_t;

/* Hands an entry that holds requests to give back (e->giveback), already
 * detached from the table, to the store, which sends its need-0 check and
 * then calls pc_lease_settle. */
typedef void (*pc_lease_give_fn)(void *arg, pc_lease_t *e);

/* lease_ms 0: coalescing only, every request is checked by Redis. */
pc_lease_table_t *pc_lease_table_new(unsigned lease_ms, pc_lease_give_fn give, void *arg);
/* Frees every entry. Entries must not be queued or in flight. */
void pc_lease_table_free(pc_lease_table_t *t);
size_t pc_lease_table_size(const pc_lease_table_t *t);
unsigned pc_lease_table_lease_ms(const pc_lease_table_t *t);

/* The entry of (key, limits), created if missing. An entry whose limits
 * differ (a reload changed them) is detached and replaced. Never NULL. */
pc_lease_t *pc_lease_get(pc_lease_table_t *t, const void *key, size_t klen,
                         const pc_rl_limit_t *limits, size_t n, uint64_t now_ms);

/* A request for e's key at now_ms. Counts it for the demand estimate, and:
 *   PC_LEASE_WAIT      it must wait for a check (the caller adds a waiter
 *                      and queues e);
 *   PC_LEASE_ANSWERED  *res: admitted from the lease, or refused within
 *                      the retry time Redis gave;
 *   PC_LEASE_RENEW     admitted, and the lease runs low: the caller queues
 *                      e for a check without waiters, which renews it
 *                      ahead of time (it may go out with other checks). */
enum { PC_LEASE_WAIT = 0, PC_LEASE_ANSWERED, PC_LEASE_RENEW };
int pc_lease_local(pc_lease_table_t *t, pc_lease_t *e, uint64_t now_ms, pc_limit_result_t *res);

void pc_lease_wait(pc_lease_t *e, pc_lease_waiter_t *wt);

/* The check to send for e now: moves the waiters to e->sent and sets
 * e->sent_need (waiters), sent_extra (taken ahead) and sent_give (to give
 * back). With need 0 it renews the lease, or only gives back when extra is
 * 0 too. Marks e in flight. */
void pc_lease_plan(pc_lease_table_t *t, pc_lease_t *e, uint64_t now_ms);

/* Redis's answer to e's check: granted requests and the result pair of
 * pc_rl_take (res for the grant; over for the waiters beyond it). Hands
 * each sent waiter its verdict through deliver (in arrival order), keeps
 * the rest of the grant as the lease, then answers the waiters that came
 * meanwhile from it. Returns 1 if waiters are left for another check. */
typedef void (*pc_lease_deliver_fn)(pc_lease_waiter_t *wt, const pc_limit_result_t *res);
int pc_lease_granted(pc_lease_table_t *t, pc_lease_t *e, uint64_t now_ms, uint64_t granted,
                     const pc_limit_result_t *res, const pc_limit_result_t *over,
                     pc_lease_deliver_fn deliver);

/* The check failed (Redis down, slow, an error): the sent waiters are
 * handed back through *failed (the caller applies on_error to each). A
 * giveback it carried is dropped rather than risk returning it twice.
 * Returns 1 if waiters that came meanwhile are left for another check. */
int pc_lease_failed(pc_lease_t *e, pc_lease_waiter_t **failed);

/* Frees e if it is detached and no longer busy (neither queued nor in
 * flight). The store calls it after each reply. */
void pc_lease_settle(pc_lease_table_t *t, pc_lease_t *e);

/* Periodic (PC_LEASE_SWEEP_MS): drops the entries idle for a lease time
 * (1 s without leases), and idle ones beyond PC_LEASE_MAX_IDLE. One
 * holding requests to give back goes to give instead of being freed. So
 * unused leased requests are back in Redis at the key's next check after
 * the lease ended, or within a lease time and a sweep more when the key
 * went quiet. */
#define PC_LEASE_SWEEP_MS 250
void pc_lease_sweep(pc_lease_table_t *t, uint64_t now_ms);

#endif
