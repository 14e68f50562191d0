/* gateway/base/util.c: allocation, assertions, clocks, hashing. */
#include "base/util.h"
#include "base/clock.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>

_Noreturn void pc_assert_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "portcullis: assertion failed: %s (%s:%d)\n", what, file, line);
    abort();
}

static _Noreturn void pc_oom(size_t n)
{
    fprintf(stderr, "portcullis: out of memory allocating %zu bytes\n", n);
    abort();
}

void *pc_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        pc_oom(n);
    return p;
}

void *pc_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        pc_oom(n * size);
    return p;
}

void *pc_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        pc_oom(n);
    return q;
}

char *pc_xstrdup(const char *s)
{
    return pc_xstrndup(s, strlen(s));
}

char *pc_xstrndup(const char *s, size_t n)
{
    char *d = pc_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

uint64_t pc_now_ms(void)
{
    return pc_now_ns() / 1000000u;
}

uint64_t pc_now_ns(void)
{
    return pc_clock_mono_ns();
}

uint64_t pc_hash64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int pc_strncaseeq(const char *a, const char *b, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x += 32;
        if (y >= 'A' && y <= 'Z')
            y += 32;
        if (x != y)
            return 0;
    }
    return 1;
}

/* ---- SipHash-1-3 (Aumasson, Bernstein) ---- */

#define PC_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* clang-format off: the round reads best as the reference writes it */
static void pc_sipround(uint64_t v[4])
{
    v[0] += v[1]; v[1] = PC_ROTL(v[1], 13); v[1] ^= v[0]; v[0] = PC_ROTL(v[0], 32);
    v[2] += v[3]; v[3] = PC_ROTL(v[3], 16); v[3] ^= v[2];
    v[0] += v[3]; v[3] = PC_ROTL(v[3], 21); v[3] ^= v[0];
    v[2] += v[1]; v[1] = PC_ROTL(v[1], 17); v[1] ^= v[2]; v[2] = PC_ROTL(v[2], 32);
}
/* clang-format on */

uint64_t pc_siphash13(const uint64_t seed[2], const void *key, size_t len)
{
    const unsigned char *in = key;
    uint64_t v[4] = {seed[0] ^ 0x736f6d6570736575ull, seed[1] ^ 0x646f72616e646f6dull,
                     seed[0] ^ 0x6c7967656e657261ull, seed[1] ^ 0x7465646279746573ull};
    uint64_t m, last = (uint64_t)len << 56;
    size_t i, tail = len % 8;

    for (i = 0; i + 8 <= len; i += 8) {
        memcpy(&m, in + i, 8);
        v[3] ^= m;
        pc_sipround(v);
        v[0] ^= m;
    }
    for (size_t j = 0; j < tail; j++)
        last |= (uint64_t)in[i + j] << (8 * j);
    v[3] ^= last;
    pc_sipround(v);
    v[0] ^= last;
    v[2] ^= 0xff;
    pc_sipround(v);
    pc_sipround(v);
    pc_sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

void pc_random_seed(uint64_t seed[2])
{
    if (getrandom(seed, 2 * sizeof(seed[0]), GRND_NONBLOCK) == (ssize_t)(2 * sizeof(seed[0])))
        return;
    /* Early boot without entropy: weaker, but the table stays bounded. */
    seed[0] = pc_now_ns() ^ (uint64_t)(uintptr_t)seed;
    seed[1] = pc_hash64(seed, sizeof(seed[0])) ^ (uint64_t)(uintptr_t)&seed;
}

