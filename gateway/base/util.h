/* gateway/base/util.h: allocation that aborts on OOM, invariants that stay on in
 * release builds, and a few small helpers shared by every core module. */
#ifndef PC_UTIL_H
#define PC_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define PC_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PC_UNUSED(x) ((void)(x))
#define PC_LIKELY(x) __builtin_expect(!!(x), 1)
#define PC_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* API misuse and broken invariants crash loudly, in every build. */
#define PC_ASSERT(cond)                                                        \
    do {                                                                       \
        if (PC_UNLIKELY(!(cond)))                                              \
            pc_assert_fail(#cond, __FILE__, __LINE__);                         \
    } while (0)

_Noreturn void pc_assert_fail(const char *what, const char *file, int line);

/* Never return NULL: running out of memory aborts the process. The first
 * four are exported to plugins by include/portcullis/plugin.h, which
 * declares them again (gateway/conf/fields.c includes both, so the
 * compiler holds the two declarations equal). */
void *pc_xmalloc(size_t n);
void *pc_xcalloc(size_t n, size_t size);
void *pc_xrealloc(void *p, size_t n);
char *pc_xstrdup(const char *s);
char *pc_xstrndup(const char *s, size_t n);

/* The value of one hexadecimal digit, either case; -1 if c is not one. */
static inline int pc_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Monotonic clock, milliseconds and nanoseconds. */
uint64_t pc_now_ms(void);
uint64_t pc_now_ns(void);

/* 64-bit FNV-1a: stable across runs, used for hashing keys and tokens
 * where an attacker cannot choose collisions cheaply (tables are bounded). */
uint64_t pc_hash64(const void *data, size_t len);

/* SipHash-1-3 keyed with seed: for tables whose keys come from clients,
 * who must not be able to aim at one bucket. */
uint64_t pc_siphash13(const uint64_t seed[2], const void *key, size_t len);
/* A random seed for pc_siphash13 (getrandom; a weaker one without entropy). */
void pc_random_seed(uint64_t seed[2]);

/* ASCII case-insensitive compare of len bytes. */
int pc_strncaseeq(const char *a, const char *b, size_t len);

#endif
