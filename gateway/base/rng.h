/* gateway/base/rng.h: the one fast pseudo-random generator (xorshift64*).
 *
 * For spread, never for secrets: request ids, balancer choices, jitter,
 * probabilistic early refresh. One generator per thread (worker, Redis
 * connection); it takes no lock. Secrets and keys come from getrandom()
 * or OpenSSL, never from here.
 */
#ifndef PC_RNG_H
#define PC_RNG_H

#include <stdint.h>

typedef struct pc_rng {
    uint64_t s; /* never 0 */
} pc_rng_t;

/* Seeds from getrandom(), falling back to the clock. */
void pc_rng_seed(pc_rng_t *g);

static inline uint64_t pc_rng_next(pc_rng_t *g)
{
    uint64_t x = g->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    g->s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, n) for n > 0 (Lemire's multiply-shift; the bias is below
 * n / 2^64, nothing a balancer can notice). */
static inline uint64_t pc_rng_below(pc_rng_t *g, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)pc_rng_next(g) * n) >> 64);
}

#endif
