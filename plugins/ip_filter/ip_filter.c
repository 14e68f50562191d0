/* plugins/ip_filter/ip_filter.c: refuses requests by client address
 * (docs/filtering.md, "Client addresses").
 *
 *   {"type": "ip_filter",
 *    "allow": ["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"],
 *    "deny": ["10.6.6.0/24"],
 *    "mode": "enforce",        // or "report": decide, log and count, refuse nothing
 *    "status": 403}            // 400..499
 *
 * The address is pc_request_client_ip: the peer, or, from a trusted proxy,
 * what X-Forwarded-For says (the listener's trusted_proxies). Decision, in
 * this order:
 *   1. an address that does not parse (the core never gives one; fail
 *      closed): refused, reason ip_filter.bad_address;
 *   2. in a deny network: refused, ip_filter.denied (deny wins);
 *   3. allow given and the address in none of its networks: refused,
 *      ip_filter.not_allowed;
 *   4. otherwise let through.
 * A refusal is pc_deny(status) problem+json, logged (INFO, with the
 * network that matched) and counted in
 * portcullis_ip_filter_requests_total{decision,reason}; decision is
 * "allow", "deny", or "report_deny" in report mode (then the request goes
 * on). The rules for addresses and networks are cidr.h's.
 */
#include "cidr.h"

#include <portcullis/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IPF_MAX_NETS 100000  /* per list: a country or cloud feed fits */
#define IPF_MAX_ERRORS 20    /* bad entries reported per list, then one summary */

enum { IPF_ENFORCE = 0, IPF_REPORT = 1 };

typedef struct ipf_conf {
    pc_ipset_t allow, deny;
    bool has_allow;
    int mode;                  /* IPF_* */
    unsigned status;
    pc_metric_t *requests;     /* start() */
} ipf_conf_t;

/* ---- configuration ------------------------------------------------------- */

/* Why s (entry `path`) is not a network, as the config error says it. */
static void ipf_entry_error(pc_ipnet_rc_t rc, const char *s, const pc_ipnet_t *n,
                            const char *path, pc_err_t *err)
{
    char masked[64];
    switch (rc) {
    case PC_IPNET_HOST_BITS:
        pc_err_set(err, path, "\"%.64s\" has bits set after the prefix length: did you mean %s?",
                   s, pc_ipnet_format(n, masked, sizeof(masked)));
        break;
    case PC_IPNET_PREFIX:
        pc_err_set(err, path, "\"%.64s\": prefix length beyond 32 (IPv4) or 128 (IPv6)", s);
        break;
    case PC_IPNET_ZONE:
        pc_err_set(err, path, "\"%.64s\": a zone id (%%eth0) has no meaning in a filter", s);
        break;
    default:
        pc_err_set(err, path, "\"%.64s\" is not an IP network such as 10.0.0.0/8, "
                   "2001:db8::/32 or 192.0.2.7", s);
        break;
    }
}

/* Parses every entry of arr into nets; -1 after reporting the bad ones. */
static int ipf_read_nets(const json_t *arr, const char *key, pc_ipnet_t *nets, pc_err_t *err)
{
    size_t i, bad = 0;
    json_t *e;
    json_array_foreach(arr, i, e) {
        char path[128];
        snprintf(path, sizeof(path), "%.80s[%zu]", key, i);
        const char *s = json_string_value(e);
        pc_ipnet_rc_t rc = s ? pc_ipnet_parse(s, json_string_length(e), &nets[i])
                             : PC_IPNET_SYNTAX;
        if (rc == PC_IPNET_OK)
            continue;
        if (++bad <= IPF_MAX_ERRORS) {
            if (!s)
                pc_err_set(err, path, "must be a string");
            else
                ipf_entry_error(rc, s, &nets[i], path, err);
        }
    }
    if (bad > IPF_MAX_ERRORS)
        pc_err_set(err, key, "%zu bad entries in all", bad);
    return bad ? -1 : 0;
}

/* "allow" and "deny": a non-empty array of networks, without repeats. */
static int ipf_list(const json_t *v, const char *key, void *field, pc_err_t *err)
{
    pc_ipset_t *set = field;
    size_t n = json_array_size(v);
    if (!json_is_array(v) || n == 0)
        return pc_err_set(err, key, "must be a non-empty array of networks (leave it out "
                          "instead of an empty list)");
    if (n > IPF_MAX_NETS)
        return pc_err_set(err, key, "at most %d networks", IPF_MAX_NETS);
    pc_ipnet_t *nets = pc_xcalloc(n, sizeof(*nets));
    size_t first = 0, dup = 0;
    int rc = ipf_read_nets(v, key, nets, err);
    if (rc == 0 && pc_ipset_build(set, nets, n, &first, &dup)) {
        char path[128];
        snprintf(path, sizeof(path), "%.80s[%zu]", key, dup);
        rc = pc_err_set(err, path, "\"%.64s\" repeats %.80s[%zu]",
                        json_string_value(json_array_get(v, dup)), key, first);
    }
    free(nets);
    return rc;
}

static const char *const ipf_modes[] = {"enforce", "report", NULL};

static const pc_conf_field_t ipf_fields[] = {
    {.key = "allow", .type = PC_CONF_CUSTOM, .offset = offsetof(ipf_conf_t, allow),
     .parse = ipf_list},
    {.key = "deny", .type = PC_CONF_CUSTOM, .offset = offsetof(ipf_conf_t, deny),
     .parse = ipf_list},
    {.key = "mode", .type = PC_CONF_ENUM, .offset = offsetof(ipf_conf_t, mode),
     .values = ipf_modes, .def = IPF_ENFORCE},
    {.key = "status", .type = PC_CONF_UINT, .offset = offsetof(ipf_conf_t, status),
     .min = 400, .max = 499, .def = 403},
    {0},
};

/* An allow entry inside a deny network can never be allowed: a mistake. */
static int ipf_check_shadowed(const ipf_conf_t *c, pc_err_t *err)
{
    int rc = 0;
    for (size_t i = 0; i < c->allow.n; i++) {
        long d = pc_ipset_covers(&c->deny, &c->allow.nets[i]);
        if (d < 0)
            continue;
        char path[64], a[64], b[64];
        snprintf(path, sizeof(path), "allow[%zu]", i);
        rc = pc_err_set(err, path, "%s lies inside deny[%ld] %s: deny wins, so it is never allowed",
                        pc_ipnet_format(&c->allow.nets[i], a, sizeof(a)), d,
                        pc_ipnet_format(&c->deny.nets[d], b, sizeof(b)));
    }
    return rc;
}

static void ipf_conf_free(void *conf)
{
    ipf_conf_t *c = conf;
    pc_ipset_free(&c->allow);
    pc_ipset_free(&c->deny);
    free(c);
}

static int ipf_conf_create(const json_t *node, void **conf, pc_err_t *err)
{
    ipf_conf_t *c = pc_xcalloc(1, sizeof(*c));
    *conf = c;
    if (pc_conf_parse(node, NULL, ipf_fields, c, err))
        return -1;
    c->has_allow = json_object_get(node, "allow") != NULL;
    if (!c->has_allow && !json_object_get(node, "deny"))
        return pc_err_set(err, NULL, "nothing to filter: give allow, deny or both");
    return ipf_check_shadowed(c, err);
}

/* The counter is shared by every instance and kept across reloads. */
static int ipf_start(void *conf, pc_env_t *env, pc_err_t *err)
{
    static const char *const labels[] = {"decision", "reason", NULL};
    ipf_conf_t *c = conf;
    c->requests = pc_metric_counter(env, "portcullis_ip_filter_requests_total",
                                    "Requests decided by ip_filter, by decision and reason.",
                                    labels);
    if (!c->requests)
        return pc_err_set(err, NULL, "cannot register the metric");
    return 0;
}

/* ---- per request ------------------------------------------------------------ */

/* The refusal reason for ip (NULL: let through), and the network that
 * decided it into net (when one did). */
static const char *ipf_decide(const ipf_conf_t *c, const char *ip, char *net, size_t len)
{
    pc_ipaddr_t a;
    net[0] = '\0';
    if (!ip || pc_ipaddr_parse(ip, strlen(ip), &a))
        return "ip_filter.bad_address";
    long d = pc_ipset_find(&c->deny, &a);
    if (d >= 0) {
        pc_ipnet_format(&c->deny.nets[d], net, len);
        return "ip_filter.denied";
    }
    if (c->has_allow && pc_ipset_find(&c->allow, &a) < 0)
        return "ip_filter.not_allowed";
    return NULL;
}

static pc_status_t ipf_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    (void)ctx;
    const ipf_conf_t *c = conf;
    char net[64];
    const char *reason = ipf_decide(c, pc_request_client_ip(r), net, sizeof(net));
    if (!reason) {
        pc_metric_add(c->requests, (const char *const[]){"allow", "ip_filter.allowed"}, 1);
        return PC_CONTINUE;
    }
    bool report = c->mode == IPF_REPORT;
    pc_metric_add(c->requests, (const char *const[]){report ? "report_deny" : "deny", reason}, 1);
    /* pc_rlog names the client (as the core resolved it) */
    pc_rlog(r, PC_LOG_INFO, "%s: %s%s%s%s", report ? "would refuse (report mode)" : "refused",
            reason, net[0] ? " (deny network " : "", net, net[0] ? ")" : "");
    if (report)
        return PC_CONTINUE;
    return pc_deny(r, (int)c->status, reason, "requests from this address are not allowed here");
}

const pc_plugin_t pc_plugin_ip_filter = {
    .abi = PC_PLUGIN_ABI,
    .name = "ip_filter",
    .conf_create = ipf_conf_create,
    .start = ipf_start,
    .conf_free = ipf_conf_free,
    .on_headers = ipf_on_headers,
};
