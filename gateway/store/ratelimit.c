/* gateway/store/ratelimit.c: GCRA and sliding-window limits as pure functions
 * (see ratelimit.h). gateway/store/ratelimit.lua mirrors it function by function;
 * change both together and run tests/unit/test_ratelimit_lua.py, which
 * checks them against each other. */
#include "store/ratelimit.h"
#include "base/util.h"

#include <string.h>

static uint64_t rl_ceil_div(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

static uint64_t rl_burst(const pc_rl_limit_t *l)
{
    return l->burst ? l->burst : l->rate;
}

/* Emission interval in us, rounded up so that the rate is an upper bound. */
static uint64_t rl_interval_us(const pc_rl_limit_t *l)
{
    return rl_ceil_div(l->period_ms * 1000, l->rate);
}

int pc_rl_limit_check(const pc_rl_limit_t *l, const char **why)
{
    const char *msg = NULL;

    if (l->alg != PC_RL_GCRA && l->alg != PC_RL_SLIDING)
        msg = "unknown algorithm";
    else if (l->rate < 1)
        msg = "rate must be >= 1";
    else if (l->period_ms < 1 || l->period_ms > PC_RL_MAX_PERIOD_MS)
        msg = "period_ms must be between 1 and 2^36";
    else if (l->alg == PC_RL_GCRA && rl_burst(l) > PC_RL_MAX_SPAN / rl_interval_us(l))
        msg = "burst too large for this rate and period";
    else if (l->alg == PC_RL_SLIDING && l->rate > PC_RL_MAX_SPAN / l->period_ms)
        msg = "rate too large for this period";
    if (why)
        *why = msg;
    return msg ? -1 : 0;
}

/* Absorbs a clock that stepped back past the state, so that nothing
 * waits for the clock to catch up: GCRA debt is capped at a full bucket,
 * which is never less than the real debt, so nothing extra is admitted;
 * a window from the future keeps its counts as now's window. Returns 1 if
 * the state changed (it must then be stored even when denied). */
static int rl_normalize(const pc_rl_limit_t *l, pc_rl_state_t *st, uint64_t now_ms)
{
    if (l->alg == PC_RL_SLIDING) {
        uint64_t start = now_ms - now_ms % l->period_ms;
        if (start >= st->t)
            return 0;
        st->t = start;
    } else {
        uint64_t limit = now_ms * 1000 + rl_interval_us(l) * rl_burst(l);
        if (st->t <= limit)
            return 0;
        st->t = limit;
    }
    return 1;
}

static void rl_eval_gcra(const pc_rl_limit_t *l, const pc_rl_state_t *st, uint64_t now_ms,
                         pc_rl_state_t *next, pc_rl_result_t *res)
{
    uint64_t t = rl_interval_us(l), cap = t * rl_burst(l);
    uint64_t now = now_ms * 1000;
    uint64_t tat = st->t > now ? st->t : now;

    *next = *st;
    if (tat + t - now <= cap) {
        next->t = tat + t;
        res->allowed = 1;
        res->remaining = (cap - (tat + t - now)) / t;
        res->reset_ms = rl_ceil_div(tat + t - now, 1000);
        res->retry_after_ms = 0;
    } else {
        res->allowed = 0;
        res->remaining = 0;
        res->reset_ms = rl_ceil_div(tat - now, 1000);
        res->retry_after_ms = rl_ceil_div(tat + t - cap - now, 1000);
    }
}

/* Moves a normalised window state to now's aligned window. */
static void rl_window_roll(const pc_rl_limit_t *l, const pc_rl_state_t *st, uint64_t now_ms,
                           pc_rl_state_t *w)
{
    uint64_t p = l->period_ms, start = now_ms - now_ms % p;

    *w = *st;
    if (start == st->t + p) {
        w->prev = st->cur;
        w->cur = 0;
        w->t = start;
    } else if (start > st->t + p) {
        w->prev = w->cur = 0;
        w->t = start;
    }
    /* Counts above rate only come from a lowered limit; clamping keeps the
     * products below 2^53 without admitting anything the limit forbids. */
    if (w->prev > l->rate)
        w->prev = l->rate;
    if (w->cur > l->rate)
        w->cur = l->rate;
}

/* Time from now until a request would pass in window state w (denied now). */
static uint64_t rl_window_retry(const pc_rl_limit_t *l, const pc_rl_state_t *w, uint64_t now_ms)
{
    uint64_t p = l->period_ms, rate = l->rate, q, e;

    /* Later in this window, as the previous window's weight decays. */
    if ((uint64_t)w->cur + 1 <= rate && w->prev > 0) {
        e = p - (rate - w->cur - 1) * p / w->prev;
        if (e < p)
            return w->t + e - now_ms;
    }
    /* In the next window, where this window's count becomes prev. */
    e = 0;
    if (w->cur > 0) {
        q = (rate - 1) * p / w->cur;
        e = q >= p ? 0 : p - q;
    }
    return w->t + p + e - now_ms;
}

static void rl_eval_window(const pc_rl_limit_t *l, const pc_rl_state_t *st, uint64_t now_ms,
                           pc_rl_state_t *next, pc_rl_result_t *res)
{
    uint64_t p = l->period_ms, budget = (uint64_t)l->rate * p;
    pc_rl_state_t w;

    rl_window_roll(l, st, now_ms, &w);
    uint64_t used = (uint64_t)w.prev * (p - (now_ms - w.t)) + ((uint64_t)w.cur + 1) * p;

    *next = *st;
    if (used <= budget) {
        *next = w;
        next->cur++;
        res->allowed = 1;
        res->remaining = (budget - used) / p;
        res->reset_ms = w.t + 2 * p - now_ms;
        res->retry_after_ms = 0;
    } else {
        res->allowed = 0;
        res->remaining = 0;
        res->reset_ms = w.cur ? w.t + 2 * p - now_ms : w.t + p - now_ms;
        res->retry_after_ms = rl_window_retry(l, &w, now_ms);
    }
}

/* One limit on a normalised state: the verdict, and in *next the state
 * to store if the whole check is admitted. */
static void rl_eval(const pc_rl_limit_t *l, const pc_rl_state_t *st, uint64_t now_ms,
                    pc_rl_state_t *next, pc_rl_result_t *res)
{
    if (l->alg == PC_RL_SLIDING)
        rl_eval_window(l, st, now_ms, next, res);
    else
        rl_eval_gcra(l, st, now_ms, next, res);
}

/* Is candidate c more restrictive than the current pick b? (ratelimit.h) */
static int rl_worse(const pc_rl_result_t *c, const pc_rl_result_t *b)
{
    if (c->allowed != b->allowed)
        return !c->allowed;
    if (!c->allowed)
        return c->retry_after_ms > b->retry_after_ms;
    if (c->remaining != b->remaining)
        return c->remaining < b->remaining;
    return c->reset_ms > b->reset_ms;
}

/* How many requests l admits now on the normalised state st. */
static uint64_t rl_headroom(const pc_rl_limit_t *l, const pc_rl_state_t *st, uint64_t now_ms)
{
    if (l->alg == PC_RL_SLIDING) {
        uint64_t p = l->period_ms, budget = (uint64_t)l->rate * p;
        pc_rl_state_t w;
        rl_window_roll(l, st, now_ms, &w);
        uint64_t base = (uint64_t)w.prev * (p - (now_ms - w.t));
        if (base + ((uint64_t)w.cur + 1) * p > budget)
            return 0;
        return (budget - base) / p - w.cur;
    }
    uint64_t t = rl_interval_us(l), cap = t * rl_burst(l), now = now_ms * 1000;
    uint64_t tat = st->t > now ? st->t : now;
    if (tat + t - now > cap)
        return 0;
    return (cap - (tat - now)) / t;
}

/* Takes g requests (g <= the headroom) on the normalised state st, and
 * the reset of an allowed result. */
static uint64_t rl_commit(const pc_rl_limit_t *l, pc_rl_state_t *st, uint64_t now_ms, uint64_t g)
{
    if (l->alg == PC_RL_SLIDING) {
        pc_rl_state_t w;
        rl_window_roll(l, st, now_ms, &w);
        w.cur += (uint32_t)g;
        *st = w;
        return w.t + 2 * l->period_ms - now_ms;
    }
    uint64_t now = now_ms * 1000, tat = st->t > now ? st->t : now;
    st->t = tat + g * rl_interval_us(l);
    return rl_ceil_div(st->t - now, 1000);
}

/* The most restrictive verdict of one more request on the states. */
static void rl_verdict(const pc_rl_limit_t *limits, const pc_rl_state_t *states, size_t n,
                       uint64_t now_ms, pc_rl_result_t *res)
{
    pc_rl_state_t next;
    pc_rl_result_t one;

    for (size_t i = 0; i < n; i++) {
        rl_eval(&limits[i], &states[i], now_ms, &next, &one);
        one.limit = (unsigned)i;
        if (i == 0 || rl_worse(&one, res))
            *res = one;
    }
}

uint64_t pc_rl_take(const pc_rl_limit_t *limits, pc_rl_state_t *states, size_t n,
                    uint64_t now_ms, uint64_t need, uint64_t extra, pc_rl_result_t *res,
                    pc_rl_result_t *over)
{
    uint64_t room[PC_RL_MAX_LIMITS], h = UINT64_MAX;

    PC_ASSERT(n >= 1 && n <= PC_RL_MAX_LIMITS);
    PC_ASSERT(now_ms < PC_RL_MAX_NOW_MS);
    for (size_t i = 0; i < n; i++) {
        rl_normalize(&limits[i], &states[i], now_ms);
        room[i] = rl_headroom(&limits[i], &states[i], now_ms);
        if (room[i] < h)
            h = room[i];
    }
    if (h == 0) {
        rl_verdict(limits, states, n, now_ms, res);
        if (over)
            *over = *res;
        return 0;
    }
    uint64_t take = need < h ? need : h, spare = (h - take) / PC_RL_LEASE_SHARE;
    uint64_t g = take + (extra < spare ? extra : spare);
    if (g == 0) { /* need 0, and too little room to take any ahead */
        *res = (pc_rl_result_t){1, 0, 0, 0, 0};
        if (over)
            *over = *res;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        pc_rl_result_t one = {1, (unsigned)i, room[i] - g, 0, 0};
        one.reset_ms = rl_commit(&limits[i], &states[i], now_ms, g);
        if (i == 0 || rl_worse(&one, res))
            *res = one;
    }
    if (over) {
        *over = (pc_rl_result_t){1, 0, 0, 0, 0};
        if (take < need)
            rl_verdict(limits, states, n, now_ms, over);
    }
    return g;
}

int pc_rl_check(const pc_rl_limit_t *limits, pc_rl_state_t *states, size_t n,
                uint64_t now_ms, pc_rl_result_t *res)
{
    return pc_rl_take(limits, states, n, now_ms, 1, 0, res, NULL) ? 1 : 0;
}

int pc_rl_giveback(const pc_rl_limit_t *limits, pc_rl_state_t *states, size_t n,
                   uint64_t now_ms, uint64_t count)
{
    uint64_t now = now_ms * 1000;
    int changed = 0;

    PC_ASSERT(n >= 1 && n <= PC_RL_MAX_LIMITS);
    for (size_t i = 0; i < n; i++) {
        changed |= rl_normalize(&limits[i], &states[i], now_ms);
        if (limits[i].alg != PC_RL_GCRA || count == 0)
            continue;
        /* more than a full bucket back is a full bucket (and keeps the
         * product below 2^50) */
        uint64_t b = rl_burst(&limits[i]);
        uint64_t back = (count < b ? count : b) * rl_interval_us(&limits[i]);
        /* a bucket given back to full is the empty state */
        uint64_t t = states[i].t > now + back ? states[i].t - back : 0;
        if (t < states[i].t) {
            states[i].t = t;
            changed = 1;
        }
    }
    return changed;
}

uint64_t pc_rl_expires_ms(const pc_rl_limit_t *l, const pc_rl_state_t *st)
{
    if (l->alg == PC_RL_SLIDING)
        return st->t + 2 * l->period_ms;
    return rl_ceil_div(st->t, 1000);
}
