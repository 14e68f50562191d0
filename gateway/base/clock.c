/* gateway/base/clock.c: the one clock, and its test override (clock.h). */
#include "base/clock.h"

#include <time.h>

static pc_clock_fn clock_fn;
static void *clock_ctx;

static uint64_t clock_read(clockid_t id, uint64_t div)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) / div;
}

uint64_t pc_clock_mono_ns(void)
{
    if (__builtin_expect(clock_fn != NULL, 0))
        return clock_fn(clock_ctx, 0);
    return clock_read(CLOCK_MONOTONIC, 1);
}

uint64_t pc_clock_mono_ms(void)
{
    return pc_clock_mono_ns() / 1000000u;
}

uint64_t pc_clock_wall_ms(void)
{
    if (__builtin_expect(clock_fn != NULL, 0))
        return clock_fn(clock_ctx, 1);
    return clock_read(CLOCK_REALTIME, 1000000u);
}

void pc_clock_override(pc_clock_fn fn, void *ctx)
{
    clock_fn = fn;
    clock_ctx = ctx;
}
