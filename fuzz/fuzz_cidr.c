/* fuzz/fuzz_cidr.c: libFuzzer target for the ip_filter plugin's addresses,
 * networks and sets (plugins/ip_filter/cidr.c).
 *
 * Input: lines ('\n'). Every line is read as a network and as an address.
 * Checks, beyond no crash, leak or undefined behaviour:
 *  - an accepted network formats to text that parses back to itself (a
 *    fixed point), has no bit set after its prefix, and an IPv4-mapped one
 *    came back as IPv4; a network refused for host bits formats to a
 *    network that is accepted ("did you mean");
 *  - the accepted networks (up to 64) build a set unless two are equal;
 *    then, for every address line and for the first and last address of
 *    every network, the binary search agrees with a linear scan
 *    (pc_ipnet_contains over the list), and pc_ipset_covers finds every
 *    network of the list.
 * Build: fuzz/run.sh (clang -fsanitize=fuzzer,address,undefined).
 */
#include "cidr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond))                                                           \
            abort();                                                           \
    } while (0)

#define FUZZ_MAX_NETS 64
#define FUZZ_MAX_ADDRS 64

typedef struct fuzz_in {
    pc_ipnet_t nets[FUZZ_MAX_NETS];
    size_t nnets;
    pc_ipaddr_t addrs[FUZZ_MAX_ADDRS + 2 * FUZZ_MAX_NETS];
    size_t naddrs;
} fuzz_in_t;

static unsigned bits_of(int family)
{
    return family == AF_INET ? 32u : 128u;
}

static void check_net(const pc_ipnet_t *n)
{
    FUZZ_CHECK(n->addr.family == AF_INET || n->addr.family == AF_INET6);
    FUZZ_CHECK(n->prefix <= bits_of(n->addr.family));
    for (unsigned i = n->prefix; i < 128; i++)
        FUZZ_CHECK(!(n->addr.b[i / 8] & (0x80u >> (i % 8))));
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    FUZZ_CHECK(!(n->addr.family == AF_INET6 && n->prefix >= 96 &&
                 memcmp(n->addr.b, mapped, 12) == 0));
    char text[64];
    pc_ipnet_format(n, text, sizeof(text));
    pc_ipnet_t again;
    FUZZ_CHECK(pc_ipnet_parse(text, strlen(text), &again) == PC_IPNET_OK);
    FUZZ_CHECK(again.addr.family == n->addr.family && again.prefix == n->prefix &&
               memcmp(again.addr.b, n->addr.b, 16) == 0);
}

/* The first and last address of n, as addresses to look up. */
static void add_bounds(fuzz_in_t *in, const pc_ipnet_t *n)
{
    pc_ipaddr_t first = n->addr, last = n->addr;
    for (unsigned i = n->prefix; i < bits_of(n->addr.family); i++)
        last.b[i / 8] |= (unsigned char)(0x80u >> (i % 8));
    in->addrs[in->naddrs++] = first;
    in->addrs[in->naddrs++] = last;
}

static void read_line(fuzz_in_t *in, const char *s, size_t len)
{
    pc_ipnet_t n;
    pc_ipnet_rc_t rc = pc_ipnet_parse(s, len, &n);
    if (rc == PC_IPNET_HOST_BITS)
        check_net(&n); /* the suggestion is a valid network */
    if (rc == PC_IPNET_OK) {
        check_net(&n);
        if (in->nnets < FUZZ_MAX_NETS) {
            in->nets[in->nnets++] = n;
            add_bounds(in, &n);
        }
    }
    pc_ipaddr_t a;
    if (pc_ipaddr_parse(s, len, &a) == 0) {
        FUZZ_CHECK(pc_ipnet_parse(s, len, &n) == PC_IPNET_OK);
        FUZZ_CHECK(n.addr.family == a.family && memcmp(n.addr.b, a.b, 16) == 0);
        if (in->naddrs < FUZZ_MAX_ADDRS)
            in->addrs[in->naddrs++] = a;
    }
}

static void check_set(const fuzz_in_t *in)
{
    pc_ipset_t set;
    size_t first, dup;
    if (pc_ipset_build(&set, in->nets, in->nnets, &first, &dup)) {
        FUZZ_CHECK(first < dup && dup < in->nnets);
        const pc_ipnet_t *x = &in->nets[first], *y = &in->nets[dup];
        FUZZ_CHECK(x->addr.family == y->addr.family && x->prefix == y->prefix &&
                   memcmp(x->addr.b, y->addr.b, 16) == 0);
        pc_ipset_free(&set);
        return;
    }
    for (size_t i = 0; i < in->naddrs; i++) {
        long found = pc_ipset_find(&set, &in->addrs[i]);
        int linear = 0;
        for (size_t k = 0; k < in->nnets && !linear; k++)
            linear = pc_ipnet_contains(&in->nets[k], &in->addrs[i]);
        FUZZ_CHECK((found >= 0) == linear);
        if (found >= 0)
            FUZZ_CHECK(pc_ipnet_contains(&in->nets[found], &in->addrs[i]));
    }
    for (size_t k = 0; k < in->nnets; k++) {
        long c = pc_ipset_covers(&set, &in->nets[k]);
        FUZZ_CHECK(c >= 0 && (size_t)c < in->nnets);
        FUZZ_CHECK(in->nets[c].prefix <= in->nets[k].prefix &&
                   pc_ipnet_contains(&in->nets[c], &in->nets[k].addr));
    }
    pc_ipset_free(&set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_in_t *in = calloc(1, sizeof(*in));
    if (!in)
        return 0;
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        read_line(in, p, len);
        p += len + (nl ? 1 : 0);
    }
    check_set(in);
    free(in);
    return 0;
}
