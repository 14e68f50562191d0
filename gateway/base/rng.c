/* gateway/base/rng.c: seeding the one fast generator (rng.h). */
#include "base/rng.h"
#include "base/clock.h"

#include <sys/random.h>

void pc_rng_seed(pc_rng_t *g)
{
    if (getrandom(&g->s, sizeof(g->s), 0) != sizeof(g->s) || g->s == 0)
        g->s = pc_clock_mono_ns() | 1;
}
