/* fuzz/fuzz_store_verdict.c: what Redis answers to a batch of limit checks,
 * through the bounded hiredis reader (gateway/store/redis_reply.c), the
 * verdict reader (gateway/store/store_verdict.c) and the lease table that
 * hands the verdicts to the waiting requests (gateway/store/lease.c), the
 * way store_check.c's stc_reply does it.
 *
 * Input: settings, then the server's bytes.
 *   [0] checks in the batch (1 + b % 4), lease_ms (bits 2-3: 0, 500, 1000,
 *       1500 ms); [1] read size (1 + b % 32);
 *   one byte per check: waiting requests (1 + b % 4), bit 2 the two-limit
 *       set, bits 3-4 honest rounds first (so that the hostile check also
 *       carries requests taken ahead and given back);
 *   then the RESP bytes. The first reply they make answers the batch; no
 *   reply, or a broken one, fails it as a dropped connection would.
 * Later checks (waiters that came meanwhile) get honest answers computed
 * with gateway/store/ratelimit.c, as the script would.
 *
 * Checked: an accepted verdict grants no more than was asked, names only
 * limits of its check, allows iff it grants; a lease never holds more than
 * the limits let it take ahead; every waiting request gets exactly one
 * verdict; nothing leaks (ASan), nothing crashes. */
#include "base/util.h"
#include "store/lease.h"
#include "store/redis_reply.h"
#include "store/store_verdict.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FZ_CHECKS 4
#define FZ_ROUNDS 64

static const pc_rl_limit_t fz_limits[2][2] = {
    {{.alg = PC_RL_GCRA, .rate = 3000, .period_ms = 1000, .burst = 0}},
    {{.alg = PC_RL_GCRA, .rate = 100000, .period_ms = 60000, .burst = 512},
     {.alg = PC_RL_SLIDING, .rate = 300, .period_ms = 1000, .burst = 0}},
};
static const size_t fz_nlimits[2] = {1, 2};

typedef struct fz_key {
    pc_lease_t *e;
    pc_rl_state_t redis[2]; /* the server's state of the key */
    int set;
} fz_key_t;

static pc_lease_table_t *t;
static fz_key_t keys[FZ_CHECKS];
static pc_lease_t *gave[FZ_CHECKS * FZ_ROUNDS]; /* entries handed to give */
static size_t ngave;
static uint64_t waiting, answered;

static void fz_deliver(pc_lease_waiter_t *wt, const pc_limit_result_t *res)
{
    (void)res;
    answered++;
    free(wt);
}

static void fz_give(void *arg, pc_lease_t *e)
{
    (void)arg;
    if (ngave == sizeof(gave) / sizeof(gave[0]))
        abort(); /* the harness's own bound */
    gave[ngave++] = e;
}

static void fz_check_lease(const pc_lease_t *e)
{
    if (!e->detached && e->tokens > e->cap)
        abort(); /* never more ahead than the limits allow */
}

/* n requests for key k at now: those that must wait do. */
static void fz_requests(fz_key_t *k, int idx, unsigned n, uint64_t now)
{
    char name[2] = {(char)('a' + idx), 0};
    for (unsigned i = 0; i < n; i++) {
        k->e = pc_lease_get(t, name, 1, fz_limits[k->set], fz_nlimits[k->set], now);
        pc_limit_result_t res;
        if (pc_lease_local(t, k->e, now, &res) == PC_LEASE_WAIT) {
            pc_lease_wait(k->e, pc_xmalloc(sizeof(pc_lease_waiter_t)));
            waiting++;
        }
        fz_check_lease(k->e);
    }
}

/* What the script answers to e's check, from the server's state st. */
static int fz_honest(pc_lease_t *e, pc_rl_state_t *st, uint64_t now)
{
    pc_rl_result_t res = {0}, over = {0};
    uint64_t g = 0;
    if (e->sent_give)
        pc_rl_giveback(e->limits, st, e->n, now, e->sent_give);
    if (e->sent_need || e->sent_extra)
        g = pc_rl_take(e->limits, st, e->n, now, e->sent_need, e->sent_extra, &res, &over);
    pc_limit_result_t r = {res.allowed, res.limit, res.remaining, res.reset_ms,
                           res.retry_after_ms, 0};
    pc_limit_result_t o = {0, over.limit, 0, over.reset_ms, over.retry_after_ms, 0};
    return pc_lease_granted(t, e, now, g, &r, &o, fz_deliver);
}

/* Plans e's check as stc_flush does: 1 if it goes out, else it settled. */
static int fz_plan(pc_lease_t *e, uint64_t now)
{
    e->queued = false;
    pc_lease_plan(t, e, now);
    if (e->sent_need || e->sent_extra || e->sent_give)
        return 1;
    e->in_flight = false;
    pc_lease_settle(t, e);
    return 0;
}

/* Honest rounds until no key has a check to send. */
static void fz_drain(uint64_t *now)
{
    for (int round = 0; round < FZ_ROUNDS; round++) {
        int sent = 0;
        for (int i = 0; i < FZ_CHECKS; i++) {
            pc_lease_t *e = keys[i].e;
            if (!e || !e->wait_head || e->in_flight)
                continue;
            if (fz_plan(e, *now)) {
                fz_honest(e, keys[i].redis, *now);
                sent = 1;
            }
            pc_lease_settle(t, e);
        }
        if (!sent)
            return;
        *now += 700; /* refusals end */
    }
}

/* The first reply the bytes make, or NULL. */
static redisReply *fz_reply(const uint8_t *p, size_t n, size_t step)
{
    redisReader *r = redisReaderCreate();
    pc_redis_bound_t b;
    void *rep = NULL;
    pc_redis_bound_reader(r, &b);
    for (size_t off = 0; off < n && !rep;) {
        size_t m = n - off < step ? n - off : step;
        if (redisReaderFeed(r, (const char *)p + off, m) != REDIS_OK ||
            redisReaderGetReply(r, &rep) != REDIS_OK || pc_redis_bound_check(r, &b))
            break;
        off += m;
    }
    redisReaderFree(r);
    return rep;
}

/* The batch's answer, as stc_reply reads it. */
static void fz_answer(pc_lease_t **batch, size_t nk, const redisReply *rep, uint64_t now)
{
    int ok = pc_stc_reply_shaped(rep, nk);
    for (size_t i = 0; i < nk; i++) {
        pc_lease_t *e = batch[i];
        uint64_t asked = e->sent_need + e->sent_extra, g = 77;
        pc_limit_result_t res, over;
        if (ok && pc_stc_verdict(rep->element + PC_STC_VALUES * i, asked, e->n, &g, &res,
                                 &over) == 0) {
            if (g > asked || res.index >= e->n || over.index >= e->n ||
                res.allowed != (g > 0) || over.allowed)
                abort();
            pc_lease_granted(t, e, now, g, &res, &over, fz_deliver);
        } else {
            if (g != 77)
                abort(); /* a refused answer wrote a verdict */
            pc_lease_waiter_t *failed;
            pc_lease_failed(e, &failed);
            while (failed) {
                pc_lease_waiter_t *next = failed->next;
                fz_deliver(failed, NULL);
                failed = next;
            }
        }
        fz_check_lease(e);
        pc_lease_settle(t, e);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t nk = 1 + data[0] % FZ_CHECKS, step = 1 + data[1] % 32;
    if (size < 2 + nk)
        return 0;
    const uint8_t *per = data + 2;
    uint64_t now = 1000000;
    t = pc_lease_table_new((unsigned)((data[0] >> 2) & 3) * 500, fz_give, NULL);
    memset(keys, 0, sizeof(keys));
    ngave = 0;
    waiting = answered = 0;
    /* honest history first, so that checks carry extra and give too */
    for (size_t i = 0; i < nk; i++)
        keys[i].set = (per[i] >> 2) & 1;
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < nk; i++)
            if (((per[i] >> 3) & 3) > round)
                fz_requests(&keys[i], (int)i, 1 + per[i] % 4, now);
        fz_drain(&now);
        now += 100;
    }
    /* the batch that gets the hostile answer */
    pc_lease_t *batch[FZ_CHECKS];
    size_t nb = 0;
    for (size_t i = 0; i < nk; i++) {
        fz_requests(&keys[i], (int)i, 1 + per[i] % 4, now);
        pc_lease_t *e = keys[i].e;
        if (!e->in_flight && fz_plan(e, now))
            batch[nb++] = e;
    }
    redisReply *rep = fz_reply(data + 2 + nk, size - 2 - nk, step);
    if (nb)
        fz_answer(batch, nb, rep, now);
    freeReplyObject(rep);
    /* the end: every request with its verdict, every lease given back */
    fz_drain(&now);
    if (answered != waiting)
        abort();
    pc_lease_sweep(t, now + 100000);
    for (size_t i = 0; i < ngave; i++) {
        pc_lease_t *e = gave[i];
        if (fz_plan(e, now)) {
            fz_honest(e, keys[0].redis, now);
            pc_lease_settle(t, e);
        }
    }
    pc_lease_table_free(t);
    return 0;
}
