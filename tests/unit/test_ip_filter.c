/* tests/unit/test_ip_filter.c: the ip_filter plugin and its CIDR sets.
 * Parsing (IPv4, IPv6 in every spelling, IPv4-mapped, zone ids, prefixes,
 * host bits, garbage), matching edges (first and last address of a range,
 * the addresses just outside, /0, /32, /128, nested networks, a large set
 * against a linear scan), the config errors with their JSON paths, and the
 * plugin's decisions in a harness chain (deny over allow, not allowed,
 * report mode, a client address that does not parse, the metric). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"

#include "cidr.h"

extern const pc_plugin_t pc_plugin_ip_filter;

/* ---- parsing ---------------------------------------------------------------------- */

static pc_ipnet_t net_ok(const char *s)
{
    pc_ipnet_t n;
    ck_assert_msg(pc_ipnet_parse(s, strlen(s), &n) == PC_IPNET_OK, "refused: %s", s);
    return n;
}

/* s parses to the network whose normal form is want. */
static void normal(const char *s, const char *want)
{
    char buf[64];
    pc_ipnet_t n = net_ok(s);
    ck_assert_msg(strcmp(pc_ipnet_format(&n, buf, sizeof(buf)), want) == 0, "%s: %s, not %s",
                  s, buf, want);
}

static void refused(const char *s, pc_ipnet_rc_t want)
{
    pc_ipnet_t n;
    pc_ipnet_rc_t rc = pc_ipnet_parse(s, strlen(s), &n);
    ck_assert_msg(rc == want, "%s: %d, not %d", s, rc, want);
}

START_TEST(parse_ipv4)
{
    normal("10.0.0.0/8", "10.0.0.0/8");
    normal("192.0.2.7", "192.0.2.7/32");
    normal("0.0.0.0/0", "0.0.0.0/0");
    normal("255.255.255.255/32", "255.255.255.255/32");
    ck_assert_int_eq(net_ok("10.0.0.0/8").addr.family, AF_INET);
}
END_TEST

START_TEST(parse_ipv6_spellings)
{
    normal("2001:db8::/32", "2001:db8::/32");
    normal("2001:0DB8:0000:0000:0000:0000:0000:0001/128", "2001:db8::1/128");
    normal("2001:db8:0:0:1::1", "2001:db8::1:0:0:1/128");
    normal("::1", "::1/128");
    normal("::/0", "::/0");
    normal("fe80::/10", "fe80::/10");
    ck_assert_int_eq(net_ok("::/0").addr.family, AF_INET6);
}
END_TEST

/* A mapped network of prefix >= 96 is the IPv4 network; below 96 it is not. */
START_TEST(parse_mapped)
{
    normal("::ffff:10.0.0.0/104", "10.0.0.0/8");
    normal("::ffff:10.1.2.3", "10.1.2.3/32");
    normal("::FFFF:a01:203", "10.1.2.3/32");
    normal("::ffff:0:0/96", "0.0.0.0/0");
    normal("::/80", "::/80"); /* holds ::ffff:0:0/96, yet stays IPv6 */
    ck_assert_int_eq(net_ok("::/80").addr.family, AF_INET6);
    refused("::ffff:0:0/95", PC_IPNET_HOST_BITS);

    pc_ipaddr_t a;
    ck_assert_int_eq(pc_ipaddr_parse("::ffff:10.1.2.3", 15, &a), 0);
    ck_assert_int_eq(a.family, AF_INET);
    ck_assert_mem_eq(a.b, "\x0a\x01\x02\x03", 4);
    ck_assert_int_eq(pc_ipaddr_parse("::ffff:0a01:0203", 16, &a), 0);
    ck_assert_int_eq(a.family, AF_INET);
    ck_assert_int_eq(pc_ipaddr_parse("::10.1.2.3", 10, &a), 0); /* compatible, not mapped */
    ck_assert_int_eq(a.family, AF_INET6);
}
END_TEST

START_TEST(parse_bad)
{
    static const struct {
        const char *s;
        pc_ipnet_rc_t rc;
    } bad[] = {
        {"", PC_IPNET_SYNTAX},           {"10.0.0.0/", PC_IPNET_SYNTAX},
        {"10.0.0.0/08", PC_IPNET_SYNTAX}, {"10.0.0.0/+8", PC_IPNET_SYNTAX},
        {"10.0.0.0/-1", PC_IPNET_SYNTAX}, {"10.0.0.0/1234", PC_IPNET_SYNTAX},
        {"10.0.0.0/8/8", PC_IPNET_SYNTAX}, {" 10.0.0.0/8", PC_IPNET_SYNTAX},
        {"10.0.0.0/8 ", PC_IPNET_SYNTAX}, {"10.0.0.0 /8", PC_IPNET_SYNTAX},
        {"10.0.0", PC_IPNET_SYNTAX},     {"010.0.0.1", PC_IPNET_SYNTAX},
        {"256.0.0.0", PC_IPNET_SYNTAX},  {"10.0.0.0.0", PC_IPNET_SYNTAX},
        {"1:2:3:4:5:6:7:8:9", PC_IPNET_SYNTAX}, {"1::2::3", PC_IPNET_SYNTAX},
        {"[::1]", PC_IPNET_SYNTAX},      {"localhost", PC_IPNET_SYNTAX},
        {"/8", PC_IPNET_SYNTAX},         {"0x0a000000", PC_IPNET_SYNTAX},
        {"10.0.0.0/33", PC_IPNET_PREFIX}, {"::/129", PC_IPNET_PREFIX},
        {"::ffff:10.0.0.0/129", PC_IPNET_PREFIX},
        {"fe80::1%eth0", PC_IPNET_ZONE}, {"fe80::%1/64", PC_IPNET_ZONE},
        {"10.0.0.1/8", PC_IPNET_HOST_BITS}, {"2001:db8::1/32", PC_IPNET_HOST_BITS},
        {"::ffff:10.0.0.1/104", PC_IPNET_HOST_BITS}, {"0.0.0.1/0", PC_IPNET_HOST_BITS},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refused(bad[i].s, bad[i].rc);

    /* the masked network, for "did you mean" */
    pc_ipnet_t n;
    char buf[64];
    ck_assert_int_eq(pc_ipnet_parse("10.0.0.1/8", 10, &n), PC_IPNET_HOST_BITS);
    ck_assert_str_eq(pc_ipnet_format(&n, buf, sizeof(buf)), "10.0.0.0/8");
    ck_assert_int_eq(pc_ipnet_parse("2001:db8::1/32", 14, &n), PC_IPNET_HOST_BITS);
    ck_assert_str_eq(pc_ipnet_format(&n, buf, sizeof(buf)), "2001:db8::/32");
    /* a NUL inside the bytes, and bytes past the length, are not read as text */
    ck_assert_int_eq(pc_ipnet_parse("10.0.0.0\0/8", 11, &n), PC_IPNET_SYNTAX);
    ck_assert_int_eq(pc_ipnet_parse("10.0.0.0/8", 9, &n), PC_IPNET_SYNTAX);

    pc_ipaddr_t a;
    ck_assert_int_eq(pc_ipaddr_parse("10.1.2.3/32", 11, &a), -1);
    ck_assert_int_eq(pc_ipaddr_parse("fe80::1%eth0", 12, &a), -1);
    ck_assert_int_eq(pc_ipaddr_parse("", 0, &a), -1);
    ck_assert_int_eq(pc_ipaddr_parse("unknown", 7, &a), -1);
}
END_TEST

/* ---- matching ---------------------------------------------------------------------- */

static pc_ipset_t set_of(const char *const *texts, size_t n)
{
    pc_ipnet_t nets[16];
    ck_assert_uint_le(n, 16);
    for (size_t i = 0; i < n; i++)
        nets[i] = net_ok(texts[i]);
    pc_ipset_t s;
    size_t first, dup;
    ck_assert_int_eq(pc_ipset_build(&s, nets, n, &first, &dup), 0);
    return s;
}

static long find(const pc_ipset_t *s, const char *ip)
{
    pc_ipaddr_t a;
    ck_assert_msg(pc_ipaddr_parse(ip, strlen(ip), &a) == 0, "bad address %s", ip);
    return pc_ipset_find(s, &a);
}

START_TEST(match_edges)
{
    static const char *const nets[] = {"10.0.0.0/8", "192.0.2.7", "2001:db8::1/128",
                                       "2001:db8:1::/48"};
    pc_ipset_t s = set_of(nets, 4);
    ck_assert_int_eq(find(&s, "10.0.0.0"), 0);
    ck_assert_int_eq(find(&s, "10.255.255.255"), 0);
    ck_assert_int_eq(find(&s, "9.255.255.255"), -1);
    ck_assert_int_eq(find(&s, "11.0.0.0"), -1);
    ck_assert_int_eq(find(&s, "::ffff:10.9.9.9"), 0);  /* mapped: the IPv4 address */
    ck_assert_int_eq(find(&s, "192.0.2.7"), 1);
    ck_assert_int_eq(find(&s, "192.0.2.6"), -1);
    ck_assert_int_eq(find(&s, "192.0.2.8"), -1);
    ck_assert_int_eq(find(&s, "2001:db8::1"), 2);
    ck_assert_int_eq(find(&s, "2001:db8::"), -1);
    ck_assert_int_eq(find(&s, "2001:db8::2"), -1);
    ck_assert_int_eq(find(&s, "2001:db8:1::"), 3);
    ck_assert_int_eq(find(&s, "2001:db8:1:ffff:ffff:ffff:ffff:ffff"), 3);
    ck_assert_int_eq(find(&s, "2001:db8:2::"), -1);
    ck_assert_int_eq(find(&s, "2001:db8:0:ffff:ffff:ffff:ffff:ffff"), -1);
    ck_assert_int_eq(find(&s, "::ffff:a00:1"), 0);
    pc_ipset_free(&s);
}
END_TEST

/* /0 covers its own family only: ::/0 is every IPv6 client, no IPv4 one. */
START_TEST(match_slash_zero)
{
    static const char *const v4[] = {"0.0.0.0/0"}, *const v6[] = {"::/0", "::/80"};
    pc_ipset_t s4 = set_of(v4, 1), s6 = set_of(v6, 2);
    ck_assert_int_eq(find(&s4, "0.0.0.0"), 0);
    ck_assert_int_eq(find(&s4, "255.255.255.255"), 0);
    ck_assert_int_eq(find(&s4, "::ffff:1.2.3.4"), 0);
    ck_assert_int_eq(find(&s4, "::1"), -1);
    ck_assert_int_eq(find(&s6, "::"), 0);
    ck_assert_int_eq(find(&s6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), 0);
    ck_assert_int_eq(find(&s6, "::1"), 0);
    ck_assert_int_eq(find(&s6, "10.0.0.1"), -1);
    ck_assert_int_eq(find(&s6, "::ffff:10.0.0.1"), -1);
    pc_ipset_free(&s4);
    pc_ipset_free(&s6);
}
END_TEST

/* The outermost network answers; the inner one needs no range. */
START_TEST(match_nested)
{
    static const char *const nets[] = {"10.1.0.0/16", "10.0.0.0/8", "10.1.2.3"};
    pc_ipset_t s = set_of(nets, 3);
    ck_assert_uint_eq(s.n4, 1);
    ck_assert_int_eq(find(&s, "10.1.2.3"), 1);
    ck_assert_int_eq(find(&s, "10.200.0.1"), 1);
    pc_ipnet_t inner = net_ok("10.1.2.0/24"), outside = net_ok("11.0.0.0/8"),
               wider = net_ok("8.0.0.0/6");
    ck_assert_int_eq(pc_ipset_covers(&s, &inner), 1);
    ck_assert_int_eq(pc_ipset_covers(&s, &outside), -1);
    ck_assert_int_eq(pc_ipset_covers(&s, &wider), -1);
    pc_ipset_free(&s);
}
END_TEST

START_TEST(match_duplicates_refused)
{
    pc_ipnet_t nets[3] = {net_ok("10.0.0.0/8"), net_ok("192.0.2.0/24"),
                          net_ok("::ffff:10.0.0.0/104")};
    pc_ipset_t s;
    size_t first = 99, dup = 99;
    ck_assert_int_eq(pc_ipset_build(&s, nets, 3, &first, &dup), -1);
    ck_assert_uint_eq(first, 0);
    ck_assert_uint_eq(dup, 2);
    ck_assert_ptr_null(s.nets);
    pc_ipset_free(&s);
}
END_TEST

/* 3000 disjoint /24s, every other one of 10.0.0.0/11: the binary search
 * agrees with a linear scan at each network's edges and in the gaps. */
START_TEST(match_large_set)
{
    enum { N = 3000 };
    pc_ipnet_t *nets = calloc(N, sizeof(*nets));
    for (size_t i = 0; i < N; i++) {
        size_t k = (N - 1 - i) * 2; /* listed backwards: the build sorts */
        char buf[32];
        snprintf(buf, sizeof(buf), "10.%zu.%zu.0/24", k / 256, k % 256);
        nets[i] = net_ok(buf);
    }
    pc_ipset_t s;
    size_t first, dup;
    ck_assert_int_eq(pc_ipset_build(&s, nets, N, &first, &dup), 0);
    for (size_t k = 0; k < 2 * N; k++) {
        for (unsigned last = 0; last < 256; last += 255) {
            char ip[32];
            snprintf(ip, sizeof(ip), "10.%zu.%zu.%u", k / 256, k % 256, last);
            pc_ipaddr_t a;
            ck_assert_int_eq(pc_ipaddr_parse(ip, strlen(ip), &a), 0);
            long linear = -1;
            for (size_t i = 0; i < N && linear < 0; i++)
                if (pc_ipnet_contains(&nets[i], &a))
                    linear = (long)i;
            ck_assert_int_eq(pc_ipset_find(&s, &a), linear);
            ck_assert_int_eq(linear >= 0, k % 2 == 0);
        }
    }
    pc_ipset_free(&s);
    free(nets);
}
END_TEST

/* ---- config ------------------------------------------------------------------------- */

typedef struct conf_run {
    pc_diag_t d;
    void *conf;
    int rc;
} conf_run_t;

/* conf_create on json (single quotes stand for double ones). */
static void conf_try(conf_run_t *cr, const char *json)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", json);
    for (char *p = buf; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t je;
    json_t *n = json_loads(buf, 0, &je);
    ck_assert_msg(n != NULL, "bad test JSON %s: %s", buf, je.text);
    memset(cr, 0, sizeof(*cr));
    pc_err_t err = {&cr->d, "plugins.f", 0};
    cr->rc = pc_plugin_ip_filter.conf_create(n, &cr->conf, &err);
    json_decref(n);
}

static void conf_done(conf_run_t *cr)
{
    if (cr->conf)
        pc_plugin_ip_filter.conf_free(cr->conf);
    pc_diag_free(&cr->d);
}

/* json is refused, and want is its first error. */
static void conf_bad(const char *json, const char *want)
{
    conf_run_t cr;
    conf_try(&cr, json);
    ck_assert_msg(cr.rc == -1, "accepted: %s", json);
    ck_assert_msg(cr.d.nerrors >= 1 && strcmp(cr.d.errors[0], want) == 0,
                  "%s: want [%s], got %zu errors, first [%s]", json, want, cr.d.nerrors,
                  cr.d.nerrors ? cr.d.errors[0] : "");
    conf_done(&cr);
}

START_TEST(conf_errors_name_the_entry)
{
    conf_bad("{'allow': ['10.0.0.0/8', '10.0.0.1/8']}",
             "plugins.f.allow[1]: \"10.0.0.1/8\" has bits set after the prefix length: "
             "did you mean 10.0.0.0/8?");
    conf_bad("{'deny': ['10.0.0.0/33']}",
             "plugins.f.deny[0]: \"10.0.0.0/33\": prefix length beyond 32 (IPv4) or 128 (IPv6)");
    conf_bad("{'deny': ['fe80::1%eth0']}",
             "plugins.f.deny[0]: \"fe80::1%eth0\": a zone id (%eth0) has no meaning in a filter");
    conf_bad("{'allow': ['10.0.0.0/8', 'ten']}",
             "plugins.f.allow[1]: \"ten\" is not an IP network such as 10.0.0.0/8, "
             "2001:db8::/32 or 192.0.2.7");
    conf_bad("{'allow': [8]}", "plugins.f.allow[0]: must be a string");
    conf_bad("{'deny': ['10.6.6.0/24', '192.0.2.1', '10.6.6.0/24']}",
             "plugins.f.deny[2]: \"10.6.6.0/24\" repeats deny[0]");
    conf_bad("{'deny': ['10.1.2.3', '::ffff:10.1.2.3']}",
             "plugins.f.deny[1]: \"::ffff:10.1.2.3\" repeats deny[0]");
    conf_bad("{'allow': ['10.0.0.0/8', '10.6.6.7'], 'deny': ['10.6.6.0/24']}",
             "plugins.f.allow[1]: 10.6.6.7/32 lies inside deny[0] 10.6.6.0/24: deny wins, so "
             "it is never allowed");
    conf_bad("{}", "plugins.f: nothing to filter: give allow, deny or both");
    conf_bad("{'mode': 'report'}", "plugins.f: nothing to filter: give allow, deny or both");
    conf_bad("{'allow': []}", "plugins.f.allow: must be a non-empty array of networks (leave "
             "it out instead of an empty list)");
    conf_bad("{'deny': '10.0.0.0/8'}", "plugins.f.deny: must be a non-empty array of networks "
             "(leave it out instead of an empty list)");
}
END_TEST

/* json is refused with n errors (0: any number), error idx starting with prefix. */
static void conf_bad_at(const char *json, size_t n, size_t idx, const char *prefix)
{
    conf_run_t cr;
    conf_try(&cr, json);
    ck_assert_msg(cr.rc == -1, "accepted: %s", json);
    ck_assert_msg(n == 0 || cr.d.nerrors == n, "%s: %zu errors", json, cr.d.nerrors);
    ck_assert_msg(cr.d.nerrors > idx && strncmp(cr.d.errors[idx], prefix, strlen(prefix)) == 0,
                  "%s: want [%s...], got [%s]", json, prefix,
                  cr.d.nerrors > idx ? cr.d.errors[idx] : "");
    conf_done(&cr);
}

START_TEST(conf_other_keys)
{
    conf_bad_at("{'deny': ['10.0.0.0/8'], 'mode': 'reprt'}", 1, 0, "plugins.f.mode: ");
    conf_bad_at("{'deny': ['10.0.0.0/8'], 'status': 200}", 1, 0, "plugins.f.status: ");
    conf_bad_at("{'deny': ['10.0.0.0/8'], 'alow': ['10.0.0.0/8']}", 1, 0, "plugins.f.alow: ");
    /* nested entries are fine, and a deny network inside allow is the point */
    conf_run_t cr;
    conf_try(&cr, "{'allow': ['10.0.0.0/8', '10.1.0.0/16', '2001:db8::/32'], "
                  "'deny': ['10.6.6.0/24', '::ffff:10.7.0.0/112'], 'mode': 'enforce', "
                  "'status': 404}");
    ck_assert_int_eq(cr.rc, 0);
    ck_assert_uint_eq(cr.d.nerrors, 0);
    conf_done(&cr);
}
END_TEST

/* Every bad entry is reported (up to a cap), not only the first. */
START_TEST(conf_reports_every_bad_entry)
{
    conf_bad_at("{'allow': ['x', '10.0.0.0/8', 'y', '1.2.3.4/40']}", 3, 2, "plugins.f.allow[3]: ");
}
END_TEST

/* ---- decisions ------------------------------------------------------------------------ */

#define METRIC "portcullis_ip_filter_requests_total"
#define SERIES(decision, reason) METRIC "{decision=\"" decision "\",reason=\"" reason "\"}"

static long long metric(const char *series)
{
    long long v = h_metric(series);
    return v < 0 ? 0 : v;
}

/* The chain [ip_filter(json), scripted counter] for one client ip. */
static int decide(const char *json, const char *ip, int *status, char *reason, size_t rlen)
{
    harness_t *h = h_new(0, NULL);
    ck_assert_uint_eq(h_add_plugin(h, &pc_plugin_ip_filter, json), 0);
    ck_assert_uint_eq(h_add_scripted(h, H_CONTINUE), 1);
    pc_request_t *r = h_request(h);
    snprintf(r->client_ip, sizeof(r->client_ip), "%s", ip);
    int rc = pc_chain_run(r, PC_PHASE_HEADERS);
    *status = r->status;
    snprintf(reason, rlen, "%s", r->reason ? r->reason : "");
    int went_on = h->plugins[1].calls;
    ck_assert_int_eq(went_on, rc == PC_CHAIN_DONE);
    if (rc == PC_CHAIN_RESPONDED)
        ck_assert_str_eq(r->stopped_by, "ip_filter");
    h_complete(h, r);
    h_free(h);
    return rc;
}

static void expect(const char *json, const char *ip, int status, const char *reason)
{
    int st;
    char why[64];
    int rc = decide(json, ip, &st, why, sizeof(why));
    ck_assert_msg(rc == (status ? PC_CHAIN_RESPONDED : PC_CHAIN_DONE), "%s: rc %d", ip, rc);
    ck_assert_msg(st == status, "%s: status %d, not %d", ip, st, status);
    ck_assert_msg(strcmp(why, reason) == 0, "%s: reason [%s], not [%s]", ip, why, reason);
}

#define BOTH "{\"allow\": [\"10.0.0.0/8\", \"2001:db8::/32\", \"192.0.2.7\"], " \
             "\"deny\": [\"10.6.6.0/24\", \"2001:db8:bad::/48\"]"

START_TEST(decide_deny_over_allow)
{
    expect(BOTH "}", "10.1.2.3", 0, "");
    expect(BOTH "}", "10.6.6.0", 403, "ip_filter.denied");
    expect(BOTH "}", "10.6.6.255", 403, "ip_filter.denied");
    expect(BOTH "}", "10.6.7.0", 0, "");
    expect(BOTH "}", "10.6.5.255", 0, "");
    expect(BOTH "}", "::ffff:10.6.6.9", 403, "ip_filter.denied");
    expect(BOTH "}", "11.0.0.1", 403, "ip_filter.not_allowed");
    expect(BOTH "}", "192.0.2.7", 0, "");
    expect(BOTH "}", "192.0.2.8", 403, "ip_filter.not_allowed");
    expect(BOTH "}", "2001:db8::1", 0, "");
    expect(BOTH "}", "2001:db8:bad::1", 403, "ip_filter.denied");
    expect(BOTH "}", "::1", 403, "ip_filter.not_allowed");
    expect(BOTH ", \"status\": 404}", "11.0.0.1", 404, "ip_filter.not_allowed");
}
END_TEST

START_TEST(decide_deny_only)
{
    const char *j = "{\"deny\": [\"127.0.0.2\", \"::1\"]}";
    expect(j, "127.0.0.1", 0, "");
    expect(j, "127.0.0.2", 403, "ip_filter.denied");
    expect(j, "::1", 403, "ip_filter.denied");
    expect(j, "::2", 0, "");
}
END_TEST

/* An address the core should never give: refused (fail closed). */
START_TEST(decide_bad_address_fails_closed)
{
    const char *j = "{\"deny\": [\"10.0.0.0/8\"]}";
    expect(j, "", 403, "ip_filter.bad_address");
    expect(j, "not-an-ip", 403, "ip_filter.bad_address");
    expect(j, "fe80::1%eth0", 403, "ip_filter.bad_address");
}
END_TEST

START_TEST(decide_report_mode_lets_through_and_counts)
{
    const char *j = "{\"allow\": [\"10.0.0.0/8\"], \"deny\": [\"10.6.6.0/24\"], "
                    "\"mode\": \"report\"}";
    long long d0 = metric(SERIES("report_deny", "ip_filter.denied"));
    long long n0 = metric(SERIES("report_deny", "ip_filter.not_allowed"));
    long long a0 = metric(SERIES("allow", "ip_filter.allowed"));
    long long e0 = metric(SERIES("deny", "ip_filter.denied"));
    expect(j, "10.6.6.1", 0, "");
    expect(j, "11.0.0.1", 0, "");
    expect(j, "10.0.0.1", 0, "");
    ck_assert_int_eq(metric(SERIES("report_deny", "ip_filter.denied")), d0 + 1);
    ck_assert_int_eq(metric(SERIES("report_deny", "ip_filter.not_allowed")), n0 + 1);
    ck_assert_int_eq(metric(SERIES("allow", "ip_filter.allowed")), a0 + 1);
    ck_assert_int_eq(metric(SERIES("deny", "ip_filter.denied")), e0);
}
END_TEST

START_TEST(decide_enforce_counts)
{
    const char *j = "{\"deny\": [\"10.6.6.0/24\"]}";
    long long e0 = metric(SERIES("deny", "ip_filter.denied"));
    long long b0 = metric(SERIES("deny", "ip_filter.bad_address"));
    expect(j, "10.6.6.1", 403, "ip_filter.denied");
    expect(j, "", 403, "ip_filter.bad_address");
    ck_assert_int_eq(metric(SERIES("deny", "ip_filter.denied")), e0 + 1);
    ck_assert_int_eq(metric(SERIES("deny", "ip_filter.bad_address")), b0 + 1);
}
END_TEST

static Suite *ip_filter_suite(void)
{
    Suite *s = suite_create("ip_filter");
    TCase *p = tcase_create("parse");
    tcase_add_test(p, parse_ipv4);
    tcase_add_test(p, parse_ipv6_spellings);
    tcase_add_test(p, parse_mapped);
    tcase_add_test(p, parse_bad);
    suite_add_tcase(s, p);
    TCase *m = tcase_create("match");
    tcase_add_test(m, match_edges);
    tcase_add_test(m, match_slash_zero);
    tcase_add_test(m, match_nested);
    tcase_add_test(m, match_duplicates_refused);
    tcase_add_test(m, match_large_set);
    suite_add_tcase(s, m);
    TCase *c = tcase_create("config");
    tcase_add_test(c, conf_errors_name_the_entry);
    tcase_add_test(c, conf_other_keys);
    tcase_add_test(c, conf_reports_every_bad_entry);
    suite_add_tcase(s, c);
    TCase *d = tcase_create("decide");
    tcase_add_test(d, decide_deny_over_allow);
    tcase_add_test(d, decide_deny_only);
    tcase_add_test(d, decide_bad_address_fails_closed);
    tcase_add_test(d, decide_report_mode_lets_through_and_counts);
    tcase_add_test(d, decide_enforce_counts);
    suite_add_tcase(s, d);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ip_filter_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
