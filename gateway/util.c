/* gateway/util.c: allocation, assertions, clocks, hashing. */
#include "util.h"

#include <string.h>
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
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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
