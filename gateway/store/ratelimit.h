/* gateway/store/ratelimit.h: rate-limit algorithms as pure functions of
 * (limit, state, now). No locking, no storage, no clock: the stores own
 * the state and the time (store_memory.c locks a shard around
 * pc_rl_check(); gateway/store/ratelimit.lua is the same arithmetic run inside
 * Redis). Both must give identical answers for identical inputs, so every
 * quantity here is an integer below 2^53 (exact in a Lua double).
 *
 * GCRA (the default). Emission interval T = ceil(period_ms * 1000 / rate)
 * microseconds, burst B (0 means B = rate), capacity C = T * B. The state
 * is the theoretical arrival time TAT (us). A request at now is allowed iff
 * max(TAT, now) + T - now <= C; it then sets TAT = max(TAT, now) + T.
 * So B requests pass at once, then one per T, and any interval of length
 * t admits at most B + t / T requests. T is rounded up, so the rate is
 * never exceeded (it may fall short by less than 1 us per request).
 *
 * Sliding window (the two-window weighted approximation Cloudflare
 * described). Windows of length P = period_ms are aligned to multiples of
 * P; the state is the current window's start and the counts of the
 * previous and the current window. With e = now - start, a request is
 * allowed iff prev * (P - e) / P + cur + 1 <= rate (burst is ignored).
 * Error bound: an aligned window never admits more than rate; the estimate
 * is exact when the previous window's traffic was spread evenly; in the
 * adversarial worst case (the previous window's rate requests all at its
 * very end) an arbitrary interval of length P can admit up to 2 * rate - 1,
 * the same bound as a fixed window. It also errs low: under saturation
 * the previous window never quite stops counting, so about rate - 1 pass
 * per window, and a client pacing itself at exactly rate is sometimes
 * refused. Pick GCRA (exact) unless the window semantics are wanted.
 *
 * Time is in milliseconds on any clock the caller likes, but the same
 * clock for every call on one state. A clock that steps backwards neither
 * crashes nor locks a key out for the size of the step: GCRA caps its debt
 * at C (a full bucket, so it admits nothing extra); the window keeps the
 * counts of the latest window it saw and treats them as now's window.
 */
#ifndef PC_RATELIMIT_H
#define PC_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

#define PC_RL_MAX_LIMITS 8                          /* limits in one check */
#define PC_RL_MAX_PERIOD_MS (UINT64_C(1) << 36)     /* about 2.2 years */
#define PC_RL_MAX_NOW_MS (UINT64_C(1) << 42)        /* year 2109 as epoch ms */
#define PC_RL_MAX_SPAN (UINT64_C(1) << 50)          /* GCRA T*B, window rate*P */

typedef enum pc_rl_alg {
    PC_RL_GCRA = 0,
    PC_RL_SLIDING = 1,
} pc_rl_alg_t;

typedef struct pc_rl_limit {
    uint64_t period_ms;  /* 1 .. PC_RL_MAX_PERIOD_MS */
    uint32_t rate;       /* requests per period, >= 1 */
    uint32_t burst;      /* GCRA: requests allowed at once, 0 = rate; window: unused */
    pc_rl_alg_t alg;
} pc_rl_limit_t;

/* Opaque to callers; all-zero is the empty state (nothing seen yet).
 * GCRA: t = TAT in us. Window: t = window start in ms, prev/cur counts. */
typedef struct pc_rl_state {
    uint64_t t;
    uint32_t prev, cur;
} pc_rl_state_t;

/* Describes the most restrictive limit of a check: when allowed, the one
 * with the fewest requests left (ties: the later reset); when denied, the
 * denying one that takes longest to admit the request (ties: the first).
 * That is what the RateLimit / RateLimit-Policy headers and Retry-After
 * need: limit indexes the caller's array for the policy (q, w). */
typedef struct pc_rl_result {
    int allowed;              /* 1 or 0 */
    unsigned limit;           /* index into the limits array */
    uint64_t remaining;       /* requests still allowed now (0 when denied) */
    uint64_t reset_ms;        /* until that limit is fully replenished */
    uint64_t retry_after_ms;  /* denied: until this request would pass; else 0 */
} pc_rl_result_t;

/* 0 if l is usable, else -1 and *why (if why) names the problem. Call at
 * config load; the stores call it again and refuse bad limits. */
int pc_rl_limit_check(const pc_rl_limit_t *l, const char **why);

/* Several limits on one request: evaluates all, then commits all only if
 * every one allows, so a denied request consumes nothing anywhere.
 * states[i] belongs to limits[i]. When allowed, every state is updated
 * in place. When denied, a state changes only if the clock stepped back
 * past it: it is then normalised to now (GCRA debt capped at a full
 * bucket, window pulled back to now's window with its counts), which
 * consumes nothing and must be stored too, or the key would stay denied
 * until the clock caught up. Limits must pass pc_rl_limit_check();
 * 1 <= n <= PC_RL_MAX_LIMITS and now_ms < PC_RL_MAX_NOW_MS (asserted).
 * Returns res->allowed. */
int pc_rl_check(const pc_rl_limit_t *limits, pc_rl_state_t *states, size_t n,
                uint64_t now_ms, pc_rl_result_t *res);

/* A lease (pc_rl_take's extra) takes at most 1/PC_RL_LEASE_SHARE of the
 * room left after the requests that wait, so that near its limit a key
 * is checked request by request. */
#define PC_RL_LEASE_SHARE 16

/* pc_rl_check generalised to `need` requests at once plus up to `extra`
 * more taken ahead (a lease; see gateway/store/lease.h). With h the number of
 * requests every limit would still admit now:
 *   h == 0: nothing is taken; *res is the refusal pc_rl_check gives.
 *   h >= 1: g = min(need, h) + min(extra, (h - min(need, h)) / SHARE) are
 *           taken on every limit at once; *res is allowed, its remaining
 *           counts what is left after the g, its reset is after them.
 * If g < need, *over (if not NULL) is what the requests beyond the grant
 * get: the refusal of a request arriving right after it; otherwise
 * over->allowed is 1 and the rest is zero. need may be 0 (a lease renewed
 * ahead of time): then g == 0 takes nothing and *res means nothing. States
 * change as in pc_rl_check (normalised when denied, committed when
 * granted). So pc_rl_take(l, s, n, now, 1, 0, res, NULL) is exactly
 * pc_rl_check(). Returns g. */
uint64_t pc_rl_take(const pc_rl_limit_t *limits, pc_rl_state_t *states, size_t n,
                    uint64_t now_ms, uint64_t need, uint64_t extra, pc_rl_result_t *res,
                    pc_rl_result_t *over);

/* Gives `count` requests taken earlier and not used back to every GCRA
 * limit of a check (TAT moves back by count * T; a bucket given back to
 * full, or beyond, is the empty state). Sliding-window limits are only
 * normalised: leases never hold window counts. Returns 1 if a state
 * changed. */
int pc_rl_giveback(const pc_rl_limit_t *limits, pc_rl_state_t *states, size_t n,
                   uint64_t now_ms, uint64_t count);

/* Absolute time (ms, same clock) from which st is equivalent to the empty
 * state, so a store may drop it: GCRA ceil(TAT / 1000), window start + 2P. */
uint64_t pc_rl_expires_ms(const pc_rl_limit_t *l, const pc_rl_state_t *st);

#endif
