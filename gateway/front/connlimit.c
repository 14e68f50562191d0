/* gateway/front/connlimit.c: connections per client IP, counted across all
 * workers (SO_REUSEPORT spreads one client's connections over them).
 *
 * Only accept and close touch it, never a request, so a striped mutex is
 * fine here. Counts are keyed by the peer address; an entry is removed
 * when its count returns to zero, so memory follows open connections. */
#include "front/connlimit.h"
#include "base/util.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define CL_STRIPES 64u
#define CL_BUCKETS 1024u /* per stripe */

typedef struct cl_entry {
    struct cl_entry *next;
    unsigned char addr[16];
    unsigned count;
} cl_entry_t;

typedef struct cl_stripe {
    pthread_mutex_t lock;
    cl_entry_t *buckets[CL_BUCKETS];
} cl_stripe_t;

static cl_stripe_t stripes[CL_STRIPES];
static pthread_once_t stripes_once = PTHREAD_ONCE_INIT;

static void cl_init(void)
{
    for (unsigned i = 0; i < CL_STRIPES; i++)
        pthread_mutex_init(&stripes[i].lock, NULL);
}

/* IPv4 as IPv4-mapped IPv6, so both spellings of a client count once. */
static bool cl_key(const struct sockaddr *sa, unsigned char key[16])
{
    memset(key, 0, 16);
    if (sa->sa_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

/* delta +1 (refused beyond limit) or -1. Returns 0, or -1 when refused. */
static int cl_update(const unsigned char key[16], int delta, unsigned limit)
{
    uint64_t h = pc_hash64(key, 16);
    cl_stripe_t *s = &stripes[h % CL_STRIPES];
    cl_entry_t **pp = &s->buckets[(h / CL_STRIPES) % CL_BUCKETS];
    int rc = 0;
    pthread_mutex_lock(&s->lock);
    while (*pp && memcmp((*pp)->addr, key, 16) != 0)
        pp = &(*pp)->next;
    cl_entry_t *e = *pp;
    if (delta > 0) {
        if (!e) {
            e = pc_xcalloc(1, sizeof(*e));
            memcpy(e->addr, key, 16);
            *pp = e;
        }
        if (e->count >= limit)
            rc = -1;
        else
            e->count++;
    } else if (e && --e->count == 0) {
        *pp = e->next;
        free(e);
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

int pc_connlimit_acquire(unsigned limit, const struct sockaddr *addr)
{
    unsigned char key[16];
    if (limit == 0 || !cl_key(addr, key))
        return 0;
    pthread_once(&stripes_once, cl_init);
    return cl_update(key, +1, limit);
}

void pc_connlimit_release(unsigned limit, const struct sockaddr *addr)
{
    unsigned char key[16];
    if (limit == 0 || !addr || !cl_key(addr, key))
        return;
    pthread_once(&stripes_once, cl_init);
    cl_update(key, -1, 0);
}
