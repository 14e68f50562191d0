/* fuzz/fuzz_lease.c: gateway/store/lease.c driven by arbitrary sequences of
 * requests, clock steps, checks, Redis answers (honest, from
 * gateway/store/ratelimit.c, or hostile within what store_check.c's parser lets
 * through), failures, sweeps and limit changes. Checked: every waiting
 * request gets exactly one verdict, a worker never holds more than the
 * limits allow it to take ahead, nothing leaks (ASan), nothing asserts. */
#include "store/lease.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

#define KEYS 4
#define MAXQ 2048 /* more than the entries an input can make (one per 4 bytes) */

static pc_lease_table_t *t;
static pc_lease_t *queued[MAXQ], *flight[MAXQ];
static size_t nq, nf;
static uint64_t waiting, answered;
static pc_rl_state_t redis_state[KEYS][2];
static const pc_rl_limit_t limit_sets[2][2] = {
    {{.alg = PC_RL_GCRA, .rate = 3000, .period_ms = 1000, .burst = 0}},
    {{.alg = PC_RL_GCRA, .rate = 100000, .period_ms = 60000, .burst = 512},
     {.alg = PC_RL_GCRA, .rate = 300, .period_ms = 1000, .burst = 0}},
};
static const size_t limit_n[2] = {1, 2};

static void deliver(pc_lease_waiter_t *wt, const pc_limit_result_t *res)
{
    (void)res;
    answered++;
    free(wt);
}

static void enqueue(pc_lease_t *e)
{
    if (e->queued || e->in_flight)
        return;
    if (nq == MAXQ)
        abort(); /* the harness's own bound */
    e->queued = true;
    queued[nq++] = e;
}

static void give(void *arg, pc_lease_t *e)
{
    (void)arg;
    enqueue(e);
}

static int key_of(const pc_lease_t *e)
{
    return e->key[0] % KEYS;
}

/* Removes flight[i], hands back the entry's fate to the table. */
static void settle(size_t i, int again)
{
    pc_lease_t *e = flight[i];
    flight[i] = flight[--nf];
    if (again)
        enqueue(e);
    pc_lease_settle(t, e);
}

static void answer(size_t i, uint64_t now, const uint8_t *b, int hostile)
{
    pc_lease_t *e = flight[i];
    uint64_t g = 0;
    pc_limit_result_t r = {0}, o = {0};
    if (hostile) {
        uint64_t max = e->sent_need + e->sent_extra;
        g = max ? b[0] % (max + 1) : 0;
        r = (pc_limit_result_t){g > 0, b[1] % e->n, b[2], (uint64_t)b[3] << 20, b[1], 0};
        o = (pc_limit_result_t){0, b[2] % e->n, 0, b[3], (uint64_t)b[0] << 24, 0};
    } else {
        pc_rl_result_t res = {0}, over = {0};
        pc_rl_state_t *st = redis_state[key_of(e)];
        if (e->sent_give)
            pc_rl_giveback(e->limits, st, e->n, now, e->sent_give);
        if (e->sent_need || e->sent_extra)
            g = pc_rl_take(e->limits, st, e->n, now, e->sent_need, e->sent_extra, &res, &over);
        if (e->sent_need || g) {
            r = (pc_limit_result_t){res.allowed, res.limit, res.remaining, res.reset_ms,
                                    res.retry_after_ms, 0};
            o = (pc_limit_result_t){0, over.limit, 0, over.reset_ms, over.retry_after_ms, 0};
        }
    }
    settle(i, pc_lease_granted(t, e, now, g, &r, &o, deliver));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t now = 1000000;
    t = pc_lease_table_new(size % 2 ? 1000 : (unsigned)(data[0] % 50) * 20, give, NULL);
    nq = nf = 0;
    waiting = answered = 0;
    memset(redis_state, 0, sizeof(redis_state));
    if (size > 4 * (MAXQ - 8))
        size = 4 * (MAXQ - 8);
    for (size_t p = 0; p + 4 <= size; p += 4) {
        const uint8_t *b = data + p;
        switch (b[0] % 8) {
        case 0: /* a request */
        case 1: {
            char key[2] = {(char)('a' + b[1] % KEYS), 0};
            int set = b[2] % 8 == 0; /* now and then, a reload changed the limits */
            pc_lease_t *e = pc_lease_get(t, key, 1, limit_sets[set], limit_n[set], now);
            pc_limit_result_t res;
            int how = pc_lease_local(t, e, now, &res);
            if (how == PC_LEASE_RENEW)
                enqueue(e);
            if (how == PC_LEASE_WAIT) {
                pc_lease_wait(e, pc_xmalloc(sizeof(pc_lease_waiter_t)));
                waiting++;
                enqueue(e);
            }
            if (!e->detached && e->tokens > e->cap)
                abort(); /* never more ahead than the limits allow */
            break;
        }
        case 2: /* time passes, sometimes backwards */
            now = b[1] == 255 ? now - b[2] : now + (uint64_t)b[1] * (b[2] % 16 + 1);
            break;
        case 3: /* the queued checks go out */
            while (nq && nf < MAXQ) {
                pc_lease_t *e = queued[--nq];
                e->queued = false;
                pc_lease_plan(t, e, now);
                flight[nf++] = e;
            }
            break;
        case 4: /* an honest answer */
            if (nf)
                answer(b[1] % nf, now, b, 0);
            break;
        case 5: /* a hostile one, within the parser's bounds */
            if (nf)
                answer(b[1] % nf, now, b, 1);
            break;
        case 6: /* Redis failed the check */
            if (nf) {
                size_t i = b[1] % nf;
                pc_lease_waiter_t *failed;
                int again = pc_lease_failed(flight[i], &failed);
                while (failed) {
                    pc_lease_waiter_t *next = failed->next;
                    deliver(failed, NULL);
                    failed = next;
                }
                settle(i, again);
            }
            break;
        case 7:
            pc_lease_sweep(t, now);
            break;
        }
    }
    /* the end: every check answered, every request with its verdict */
    for (int round = 0; round < 1000 && (nq || nf); round++) {
        while (nq && nf < MAXQ) {
            pc_lease_t *e = queued[--nq];
            e->queued = false;
            pc_lease_plan(t, e, now);
            flight[nf++] = e;
        }
        while (nf)
            answer(nf - 1, now, (const uint8_t *)"\0\0\0\0", 0);
        now += 2000; /* refusals end, leases end */
    }
    if (answered != waiting)
        abort();
    pc_lease_sweep(t, now + 100000);
    while (nq) { /* the last givebacks */
        pc_lease_t *e = queued[--nq];
        e->queued = false;
        pc_lease_plan(t, e, now);
        flight[nf++] = e;
        answer(nf - 1, now, (const uint8_t *)"\0\0\0\0", 0);
    }
    pc_lease_table_free(t);
    return 0;
}
