/* plugins/ip_filter/cidr.h: IP addresses, networks and sets of networks for
 * the ip_filter plugin. No gateway header: plugins see the SDK only (the
 * core's pc_cidr_t for trusted proxies lives in gateway/conf).
 *
 * One rule for both families, the same as the core's trusted_proxies: an
 * IPv4-mapped IPv6 address (::ffff:10.1.2.3) IS the IPv4 address
 * 10.1.2.3, and a network written in mapped form with a prefix of 96 or
 * more (::ffff:10.0.0.0/104) IS the IPv4 network (10.0.0.0/8). Apart from
 * that the families never meet: ::/0 covers every IPv6 address and no IPv4
 * one.
 *
 * Text is strict: an address is what inet_pton reads (dotted quad without
 * leading zeros, or RFC 4291 text), then optionally "/" and a prefix length
 * of 1 to 3 digits without leading zeros, within the family's bits. No
 * space, no zone id ("fe80::1%eth0": a zone is local to one host and means
 * nothing in a filter), no NUL. A network with bits set after its prefix
 * ("10.0.0.1/8") is refused, not masked: it is almost always a typo.
 *
 * A set is built once (load time) and read by any number of threads. It
 * keeps, per family, the outermost networks sorted by first address: CIDR
 * networks are nested or disjoint, so those are disjoint, and a lookup is
 * one binary search: O(log n) for n networks.
 */
#ifndef PC_IP_FILTER_CIDR_H
#define PC_IP_FILTER_CIDR_H

#include <stddef.h>

/* An address: family is AF_INET (bytes 0..3 of b, the rest zero) or
 * AF_INET6 (all 16), network byte order. */
typedef struct pc_ipaddr {
    int family;
    unsigned char b[16];
} pc_ipaddr_t;

/* A network: addr with every bit after prefix clear. */
typedef struct pc_ipnet {
    pc_ipaddr_t addr;
    unsigned prefix;
} pc_ipnet_t;

typedef enum pc_ipnet_rc {
    PC_IPNET_OK = 0,
    PC_IPNET_SYNTAX,     /* not an address, or a bad "/prefix" */
    PC_IPNET_ZONE,       /* "%zone" */
    PC_IPNET_PREFIX,     /* prefix beyond 32 (IPv4) or 128 (IPv6) */
    PC_IPNET_HOST_BITS,  /* bits set after the prefix; *out holds the masked network */
} pc_ipnet_rc_t;

/* A range of addresses [first, last] of one network of the set. */
typedef struct pc_iprange {
    unsigned char first[16], last[16];
    size_t entry;        /* index of the network in the list given to pc_ipset_build */
} pc_iprange_t;

typedef struct pc_ipset {
    pc_ipnet_t *nets;    /* a copy of the list, in its order */
    size_t n;
    pc_iprange_t *r4, *r6; /* outermost networks per family, sorted, disjoint */
    size_t n4, n6;
} pc_ipset_t;

/* Reads an address of len bytes (no "/prefix"), as the core resolves a
 * client: IPv4 or IPv6 text, mapped IPv6 becoming IPv4. 0, or -1. */
int pc_ipaddr_parse(const char *s, size_t len, pc_ipaddr_t *out);

/* Reads a network of len bytes: "10.0.0.0/8", "2001:db8::/32", or an
 * address alone (a /32 or /128 host). Never touches *out beyond what the
 * return code says: valid on PC_IPNET_OK and PC_IPNET_HOST_BITS. */
pc_ipnet_rc_t pc_ipnet_parse(const char *s, size_t len, pc_ipnet_t *out);

/* "10.0.0.0/8", "2001:db8::/32" (IPv6 in RFC 5952 form): the normal form
 * of n, into buf (64 bytes are always enough). Returns buf. */
char *pc_ipnet_format(const pc_ipnet_t *n, char *buf, size_t len);

/* 1 if a lies in n, else 0 (other family: 0). */
int pc_ipnet_contains(const pc_ipnet_t *n, const pc_ipaddr_t *a);

/* Builds set from n networks (copied; n may be 0). Two equal networks are
 * refused: returns -1 with *dup the index of the later one and *first
 * the earlier one, and set left empty (pc_ipset_free is still safe).
 * Networks inside others are kept in the list but need no range. */
int pc_ipset_build(pc_ipset_t *set, const pc_ipnet_t *nets, size_t n, size_t *first,
                   size_t *dup);

/* Index (in the build list) of an outermost network holding a, or -1. */
long pc_ipset_find(const pc_ipset_t *set, const pc_ipaddr_t *a);

/* Index of an outermost network of set that holds ALL of n, or -1. */
long pc_ipset_covers(const pc_ipset_t *set, const pc_ipnet_t *n);

void pc_ipset_free(pc_ipset_t *set);

#endif
