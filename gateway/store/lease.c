/* gateway/store/lease.c: a worker's table of rate-limit keys, their waiting
 * requests and their leases (see lease.h for what is promised).
 *
 * A chained hash table (SipHash with a per-table seed: keys come from
 * clients) plus one list of every entry that the sweep walks (see
 * pc_lease_sweep). Everything runs on the owning worker's thread. */
#include "store/lease.h"
#include "base/util.h"

#include <string.h>

struct pc_lease_table {
    pc_lease_t **buckets;
    size_t mask;                   /* bucket count - 1 */
    size_t count;                  /* entries in the table */
    pc_list_t lru;                 /* pc_lease_t.lru, in the order of the sweep's visits */
    unsigned lease_ms;
    uint64_t seed[2];
    pc_lease_give_fn give;
    void *give_arg;
};

/* ---- table and LRU ---------------------------------------------------- */

pc_lease_table_t *pc_lease_table_new(unsigned lease_ms, pc_lease_give_fn give, void *arg)
{
    pc_lease_table_t *t = pc_xcalloc(1, sizeof(*t));
    t->mask = 255;
    t->buckets = pc_xcalloc(t->mask + 1, sizeof(*t->buckets));
    t->lease_ms = lease_ms;
    t->give = give;
    t->give_arg = arg;
    pc_list_init(&t->lru);
    pc_random_seed(t->seed);
    return t;
}

void pc_lease_table_free(pc_lease_table_t *t)
{
    if (!t)
        return;
    pc_list_t *it, *tmp;
    pc_list_foreach_safe(it, tmp, &t->lru) {
        pc_lease_t *e = pc_list_entry(it, pc_lease_t, lru);
        PC_ASSERT(!e->queued && !e->in_flight);
        free(e);
    }
    free(t->buckets);
    free(t);
}

size_t pc_lease_table_size(const pc_lease_table_t *t)
{
    return t->count;
}

unsigned pc_lease_table_lease_ms(const pc_lease_table_t *t)
{
    return t->lease_ms;
}

/* The entry the sweep visits next (the least recently visited), or NULL. */
static pc_lease_t *lru_first(const pc_lease_table_t *t)
{
    pc_list_t *n = pc_list_first(&t->lru);
    return n ? pc_list_entry(n, pc_lease_t, lru) : NULL;
}

static void table_grow(pc_lease_table_t *t)
{
    size_t n = 2 * (t->mask + 1);
    pc_lease_t **b = pc_xcalloc(n, sizeof(*b));
    for (size_t i = 0; i <= t->mask; i++)
        for (pc_lease_t *e = t->buckets[i], *next; e; e = next) {
            next = e->hnext;
            e->hnext = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    free(t->buckets);
    t->buckets = b;
    t->mask = n - 1;
}

static bool busy(const pc_lease_t *e)
{
    return e->queued || e->in_flight || e->wait_head || e->sent;
}

/* Takes e out of the table and the LRU list. If it holds requests to give
 * back, or is busy, it lives on detached until the store settles it. */
static void detach(pc_lease_table_t *t, pc_lease_t *e)
{
    pc_lease_t **link = &t->buckets[e->hash & t->mask];
    while (*link != e)
        link = &(*link)->hnext;
    *link = e->hnext;
    pc_list_remove(&e->lru);
    t->count--;
    e->detached = true;
    e->cap = 0; /* nothing more is taken ahead for it */
    e->giveback += e->tokens;
    e->tokens = 0;
    if (busy(e))
        return; /* settled after its reply; a giveback goes with its next check */
    if (e->giveback)
        t->give(t->give_arg, e);
    else
        free(e);
}

void pc_lease_settle(pc_lease_table_t *t, pc_lease_t *e)
{
    if (!e->detached || e->queued || e->in_flight)
        return;
    if (e->wait_head || e->giveback) {
        t->give(t->give_arg, e); /* the store sends what is left */
        return;
    }
    free(e);
}

/* ---- entries ------------------------------------------------------------ */

/* The most a check of these limits may take ahead (0: never). */
static uint64_t lease_cap(const pc_lease_table_t *t, const pc_rl_limit_t *l, size_t n)
{
    uint64_t cap = UINT64_MAX;
    if (!t->lease_ms)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (l[i].alg != PC_RL_GCRA)
            return 0;
        uint64_t b = (l[i].burst ? l[i].burst : l[i].rate) / PC_LEASE_BURST_SHARE;
        if (b < cap)
            cap = b;
    }
    return cap;
}

/* Field by field: the structs have padding that callers need not clear. */
static bool limits_equal(const pc_rl_limit_t *a, const pc_rl_limit_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].period_ms != b[i].period_ms || a[i].rate != b[i].rate ||
            a[i].burst != b[i].burst || a[i].alg != b[i].alg)
            return false;
    return true;
}

pc_lease_t *pc_lease_get(pc_lease_table_t *t, const void *key, size_t klen,
                         const pc_rl_limit_t *limits, size_t n, uint64_t now_ms)
{
    PC_ASSERT(klen <= PC_LEASE_KEY_MAX && n >= 1 && n <= PC_RL_MAX_LIMITS);
    uint64_t h = pc_siphash13(t->seed, key, klen);
    for (pc_lease_t *e = t->buckets[h & t->mask]; e; e = e->hnext) {
        if (e->hash != h || e->klen != klen || memcmp(e->key, key, klen) != 0)
            continue;
        if (e->n == n && limits_equal(e->limits, limits, n))
            return e;
        detach(t, e); /* the limits changed under the same key */
        break;
    }
    pc_lease_t *oldest = lru_first(t);
    if (t->count >= PC_LEASE_MAX_IDLE && oldest && !busy(oldest))
        detach(t, oldest); /* room: the least recently used goes */
    size_t at = (sizeof(pc_lease_t) + klen + _Alignof(pc_rl_limit_t) - 1) &
                ~(_Alignof(pc_rl_limit_t) - 1); /* the limits, after the key */
    pc_lease_t *e = pc_xcalloc(1, at + n * sizeof(limits[0]));
    e->hash = h;
    e->klen = klen;
    memcpy(e->key, key, klen);
    e->n = n;
    e->limits = memcpy((char *)e + at, limits, n * sizeof(limits[0]));
    e->cap = lease_cap(t, limits, n);
    e->last_ms = e->seen_since_ms = now_ms;
    if (t->count >= (t->mask + 1) / 2) /* short chains: each hop is a cache miss */
        table_grow(t);
    e->hnext = t->buckets[h & t->mask];
    t->buckets[h & t->mask] = e;
    t->count++;
    pc_list_push_back(&t->lru, &e->lru);
    return e;
}

/* ---- requests ------------------------------------------------------------ */

static uint64_t until(uint64_t at, uint64_t now)
{
    return at > now ? at - now : 0;
}

/* Answers a request from what e holds, without counting it. */
static int answer_locally(pc_lease_table_t *t, pc_lease_t *e, uint64_t now_ms,
                          pc_limit_result_t *res)
{
    if (e->tokens && now_ms >= e->ends_ms) {
        e->giveback += e->tokens; /* the lease is over */
        e->tokens = 0;
    }
    if (e->tokens) {
        e->tokens--;
        *res = (pc_limit_result_t){1, e->last.index, e->last.remaining + e->tokens,
                                   until(e->reset_at_ms, now_ms), 0, 0};
        return 1;
    }
    if (t->lease_ms && now_ms < e->refused_until_ms) {
        *res = (pc_limit_result_t){0, e->last.index, 0, until(e->reset_at_ms, now_ms),
                                   until(e->retry_at_ms, now_ms), 0};
        return 1;
    }
    return 0;
}

int pc_lease_local(pc_lease_table_t *t, pc_lease_t *e, uint64_t now_ms, pc_limit_result_t *res)
{
    e->seen++;
    e->last_ms = now_ms;
    if (e->wait_head)
        return PC_LEASE_WAIT; /* others wait for a check: in line behind them */
    if (!answer_locally(t, e, now_ms, res))
        return PC_LEASE_WAIT;
    /* Running low on a lease that is in use: renew it ahead of time, so
     * that requests keep being answered here while the check is out. */
    if (res->allowed && e->tokens <= e->last_grant / 4 && !e->queued && !e->in_flight &&
        now_ms < e->ends_ms)
        return PC_LEASE_RENEW;
    return PC_LEASE_ANSWERED;
}

void pc_lease_wait(pc_lease_t *e, pc_lease_waiter_t *wt)
{
    wt->next = NULL;
    if (e->wait_tail)
        e->wait_tail->next = wt;
    else
        e->wait_head = wt;
    e->wait_tail = wt;
}

void pc_lease_plan(pc_lease_table_t *t, pc_lease_t *e, uint64_t now_ms)
{
    PC_ASSERT(!e->in_flight && !e->sent);
    uint64_t need = 0, held;
    for (pc_lease_waiter_t *wt = e->wait_head; wt; wt = wt->next)
        need++;
    e->sent = e->wait_head;
    e->wait_head = e->wait_tail = NULL;
    if (e->tokens && now_ms >= e->ends_ms) {
        e->giveback += e->tokens;
        e->tokens = 0;
    }
    uint64_t extra = 0;
    if (e->cap > e->tokens && e->primed) {
        /* what this worker will see of the key during half a lease, at
         * the rate it saw since the last check, less what it holds: used
         * up well before the lease ends, and renewed on the way */
        uint64_t elapsed = now_ms > e->seen_since_ms ? now_ms - e->seen_since_ms : 1;
        uint64_t demand = e->seen * (t->lease_ms / 2) / elapsed;
        uint64_t ramp = 2 * e->last_grant + 1;
        held = need + e->tokens;
        extra = demand > held ? demand - held : 0;
        if (extra > ramp)
            extra = ramp;
        if (extra > e->cap - e->tokens)
            extra = e->cap - e->tokens;
    }
    e->seen = 0;
    e->seen_since_ms = now_ms;
    e->sent_need = need;
    e->sent_extra = extra;
    e->sent_give = e->giveback;
    e->giveback = 0;
    e->in_flight = true;
}

/* The waiters that came while the check was out, from the new grant or
 * refusal; 1 if some are left for another check. */
static int answer_waiters(pc_lease_table_t *t, pc_lease_t *e, uint64_t now_ms,
                          pc_lease_deliver_fn deliver)
{
    while (e->wait_head) {
        pc_limit_result_t r;
        if (!answer_locally(t, e, now_ms, &r))
            return 1;
        pc_lease_waiter_t *wt = e->wait_head;
        e->wait_head = wt->next;
        if (!e->wait_head)
            e->wait_tail = NULL;
        deliver(wt, &r);
    }
    return 0;
}

int pc_lease_granted(pc_lease_table_t *t, pc_lease_t *e, uint64_t now_ms, uint64_t granted,
                     const pc_limit_result_t *res, const pc_limit_result_t *over,
                     pc_lease_deliver_fn deliver)
{
    pc_lease_waiter_t *list = e->sent;
    uint64_t need = e->sent_need, served = 0;

    e->in_flight = false;
    e->sent = NULL;
    e->primed = true;
    if (!need && !granted)
        return answer_waiters(t, e, now_ms, deliver); /* a renewal that got nothing */
    e->last_grant = granted;
    e->last = *res;
    e->reset_at_ms = now_ms + res->reset_ms;
    if (granted > need) {
        e->tokens += granted - need;
        e->ends_ms = now_ms + t->lease_ms;
    }
    e->refused_until_ms = 0;
    if (granted < need && t->lease_ms) {
        /* short: requests another worker gives back would otherwise stay
         * unseen here for as long */
        uint64_t hold = t->lease_ms / PC_LEASE_REFUSED_SHARE;
        if (over->retry_after_ms < hold)
            hold = over->retry_after_ms;
        e->last = *over;
        e->reset_at_ms = now_ms + over->reset_ms;
        e->retry_at_ms = now_ms + over->retry_after_ms;
        e->refused_until_ms = now_ms + hold;
    }
    while (list) {
        pc_lease_waiter_t *wt = list;
        list = wt->next;
        pc_limit_result_t r;
        if (served < granted) {
            served++;
            /* what is left after this one: the rest of the grant too */
            r = (pc_limit_result_t){1, res->index, res->remaining + (granted - served),
                                    res->reset_ms, 0, 0};
        } else {
            r = (pc_limit_result_t){0, over->index, 0, over->reset_ms, over->retry_after_ms, 0};
        }
        deliver(wt, &r);
    }
    return answer_waiters(t, e, now_ms, deliver);
}

int pc_lease_failed(pc_lease_t *e, pc_lease_waiter_t **failed)
{
    e->in_flight = false;
    *failed = e->sent;
    e->sent = NULL;
    e->sent_give = 0; /* maybe applied, maybe not: never give twice */
    return e->wait_head != NULL;
}

/* ---- the sweep ------------------------------------------------------------ */

void pc_lease_sweep(pc_lease_table_t *t, uint64_t now_ms)
{
    /* The list is in the order of the sweep's last visit, not of use
     * (moving an entry on every request costs cache misses on the hot
     * path): entries in use go to the back, idle ones go. */
    uint64_t idle = t->lease_ms ? t->lease_ms : 1000;
    pc_lease_t *e;
    for (size_t i = 0, n = t->count; i < n && (e = lru_first(t)); i++) {
        bool old = e->last_ms + idle <= now_ms;
        if (busy(e) || (!old && t->count <= PC_LEASE_MAX_IDLE)) {
            pc_list_remove(&e->lru);
            pc_list_push_back(&t->lru, &e->lru);
            continue;
        }
        detach(t, e);
    }
}
