/* gateway/base/clock.h: the one clock.
 *
 * pc_clock_mono_ns() for durations, deadlines and rate-limit arithmetic
 * (CLOCK_MONOTONIC); pc_clock_wall_ms() for timestamps that leave the
 * process: logs, token expiry, Retry-After dates (CLOCK_REALTIME). Every
 * module reads time through these two, so a test can replace both at once
 * with pc_clock_override() and step time by hand. Event-loop timers keep
 * libev's own notion of now; they only decide when to look again.
 * Plugins reach the same three functions through include/portcullis/plugin.h.
 */
#ifndef PC_CLOCK_H
#define PC_CLOCK_H

#include <stdint.h>

uint64_t pc_clock_mono_ns(void);
uint64_t pc_clock_wall_ms(void);

uint64_t pc_clock_mono_ms(void);

/* Tests only: routes both clocks through fn(ctx, wall) (wall = 0 asks for
 * monotonic ns, 1 for wall ms) until called again with fn NULL. Not
 * thread-safe against concurrent readers: set it before threads start. */
typedef uint64_t (*pc_clock_fn)(void *ctx, int wall);
void pc_clock_override(pc_clock_fn fn, void *ctx);

#endif
