/* plugins/ip_filter/cidr.c: addresses, networks and network sets (cidr.h). */
#include "cidr.h"

#include <portcullis/plugin.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define IPNET_TEXT_MAX (INET6_ADDRSTRLEN + 4) /* address, "/", 3 digits */

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static unsigned family_bits(int family)
{
    return family == AF_INET ? 32u : 128u;
}

/* "::ffff:a.b.c.d" (any prefix >= 96 of it) becomes a.b.c.d. */
static void unmap(pc_ipaddr_t *a, unsigned *prefix)
{
    if (a->family != AF_INET6 || memcmp(a->b, v4mapped, 12) != 0)
        return;
    if (prefix && *prefix < 96)
        return;
    memmove(a->b, a->b + 12, 4);
    memset(a->b + 4, 0, 12);
    a->family = AF_INET;
    if (prefix)
        *prefix -= 96;
}

/* inet_pton on a copy of len bytes: refuses NUL, and anything too long to
 * be an address. */
static int addr_text(const char *s, size_t len, pc_ipaddr_t *out)
{
    char buf[INET6_ADDRSTRLEN];
    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->b) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, buf, out->b) == 1)
        out->family = AF_INET6;
    else
        return -1;
    return 0;
}

int pc_ipaddr_parse(const char *s, size_t len, pc_ipaddr_t *out)
{
    pc_ipaddr_t a;
    if (addr_text(s, len, &a))
        return -1;
    unmap(&a, NULL);
    *out = a;
    return 0;
}

/* "/8": 1 to 3 digits, no leading zero (but "/0"); -1 otherwise. */
static long prefix_text(const char *p, size_t n)
{
    if (n == 0 || n > 3 || (p[0] == '0' && n > 1))
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Clears the bits after prefix; 1 if any was set. */
static int mask_host_bits(unsigned char *b, unsigned prefix, unsigned bits)
{
    int set = 0;
    for (unsigned i = prefix; i < bits; i++) {
        unsigned char m = (unsigned char)(0x80u >> (i % 8));
        if (b[i / 8] & m) {
            set = 1;
            b[i / 8] &= (unsigned char)~m;
        }
    }
    return set;
}

pc_ipnet_rc_t pc_ipnet_parse(const char *s, size_t len, pc_ipnet_t *out)
{
    if (len == 0 || len > IPNET_TEXT_MAX || memchr(s, '\0', len))
        return PC_IPNET_SYNTAX;
    if (memchr(s, '%', len))
        return PC_IPNET_ZONE;
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    pc_ipnet_t n;
    if (addr_text(s, alen, &n.addr))
        return PC_IPNET_SYNTAX;
    unsigned bits = family_bits(n.addr.family);
    n.prefix = bits;
    if (slash) {
        long p = prefix_text(slash + 1, len - alen - 1);
        if (p < 0)
            return PC_IPNET_SYNTAX;
        if ((unsigned long)p > bits)
            return PC_IPNET_PREFIX;
        n.prefix = (unsigned)p;
    }
    int host_bits = mask_host_bits(n.addr.b, n.prefix, bits);
    unmap(&n.addr, &n.prefix);
    *out = n;
    return host_bits ? PC_IPNET_HOST_BITS : PC_IPNET_OK;
}

char *pc_ipnet_format(const pc_ipnet_t *n, char *buf, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    if (!inet_ntop(n->addr.family, n->addr.b, a, sizeof(a)))
        snprintf(a, sizeof(a), "?");
    snprintf(buf, len, "%s/%u", a, n->prefix);
    return buf;
}

/* first and last address of n. */
static void net_bounds(const pc_ipnet_t *n, unsigned char *first, unsigned char *last)
{
    unsigned bits = family_bits(n->addr.family);
    memcpy(first, n->addr.b, 16);
    memcpy(last, n->addr.b, 16);
    for (unsigned i = n->prefix; i < bits; i++)
        last[i / 8] |= (unsigned char)(0x80u >> (i % 8));
}

int pc_ipnet_contains(const pc_ipnet_t *n, const pc_ipaddr_t *a)
{
    unsigned char first[16], last[16];
    if (n->addr.family != a->family)
        return 0;
    net_bounds(n, first, last);
    return memcmp(first, a->b, 16) <= 0 && memcmp(a->b, last, 16) <= 0;
}

/* ---- sets ------------------------------------------------------------------ */

/* First address up, then the wider network first (so an outer network
 * comes before what it holds), then list order (so a duplicate is the later). */
static int range_cmp(const void *pa, const void *pb)
{
    const pc_iprange_t *a = pa, *b = pb;
    int c = memcmp(a->first, b->first, 16);
    if (c == 0)
        c = -memcmp(a->last, b->last, 16);
    if (c == 0)
        c = (a->entry > b->entry) - (a->entry < b->entry);
    return c;
}

/* Sorts the ranges of one family and keeps the outermost ones, in place.
 * -1 on two equal networks (their entries into *first, *dup). */
static int ranges_reduce(pc_iprange_t *r, size_t *n, size_t *first, size_t *dup)
{
    if (*n == 0)
        return 0;
    qsort(r, *n, sizeof(*r), range_cmp);
    size_t kept = 1;
    for (size_t i = 1; i < *n; i++) {
        const pc_iprange_t *prev = &r[kept - 1];
        if (memcmp(r[i].first, r[i - 1].first, 16) == 0 &&
            memcmp(r[i].last, r[i - 1].last, 16) == 0) {
            *first = r[i - 1].entry;
            *dup = r[i].entry;
            return -1;
        }
        if (memcmp(r[i].first, prev->last, 16) <= 0)
            continue; /* inside prev: networks are nested or disjoint */
        r[kept++] = r[i];
    }
    *n = kept;
    return 0;
}

int pc_ipset_build(pc_ipset_t *set, const pc_ipnet_t *nets, size_t n, size_t *first,
                   size_t *dup)
{
    memset(set, 0, sizeof(*set));
    if (n == 0)
        return 0;
    set->nets = pc_xmalloc(n * sizeof(*nets));
    memcpy(set->nets, nets, n * sizeof(*nets));
    set->n = n;
    set->r4 = pc_xmalloc(n * sizeof(*set->r4));
    set->r6 = pc_xmalloc(n * sizeof(*set->r6));
    for (size_t i = 0; i < n; i++) {
        pc_iprange_t *r = nets[i].addr.family == AF_INET ? &set->r4[set->n4++]
                                                         : &set->r6[set->n6++];
        net_bounds(&nets[i], r->first, r->last);
        r->entry = i;
    }
    if (ranges_reduce(set->r4, &set->n4, first, dup) ||
        ranges_reduce(set->r6, &set->n6, first, dup)) {
        pc_ipset_free(set);
        return -1;
    }
    return 0;
}

/* The range whose first address is the greatest <= b, or NULL. */
static const pc_iprange_t *range_floor(const pc_iprange_t *r, size_t n, const unsigned char *b)
{
    size_t lo = 0, hi = n; /* answer is r[lo - 1] once lo == hi */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (memcmp(r[mid].first, b, 16) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo ? &r[lo - 1] : NULL;
}

static const pc_iprange_t *set_floor(const pc_ipset_t *set, const pc_ipaddr_t *a)
{
    if (a->family == AF_INET)
        return range_floor(set->r4, set->n4, a->b);
    if (a->family == AF_INET6)
        return range_floor(set->r6, set->n6, a->b);
    return NULL;
}

long pc_ipset_find(const pc_ipset_t *set, const pc_ipaddr_t *a)
{
    const pc_iprange_t *r = set_floor(set, a);
    return r && memcmp(a->b, r->last, 16) <= 0 ? (long)r->entry : -1;
}

long pc_ipset_covers(const pc_ipset_t *set, const pc_ipnet_t *n)
{
    unsigned char first[16], last[16];
    net_bounds(n, first, last);
    const pc_iprange_t *r = set_floor(set, &n->addr);
    return r && memcmp(last, r->last, 16) <= 0 ? (long)r->entry : -1;
}

void pc_ipset_free(pc_ipset_t *set)
{
    free(set->nets);
    free(set->r4);
    free(set->r6);
    memset(set, 0, sizeof(*set));
}
