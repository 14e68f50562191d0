/* gateway/conf/upstreams.c: upstreams: targets (http:// URLs resolved at
 * load time through pc_conf_resolve_hook), balancer, hash key, timeouts,
 * and the balancer built from them. */
#include "conf/conf_int.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const pc_conf_field_t target_fields[] = {
    CONF_FIELD("url", PC_CONF_STRING, offsetof(pc_target_t, url), PC_CONF_REQUIRED, 0, 0, 0, NULL),
    CONF_FIELD("weight", PC_CONF_UINT, offsetof(pc_target_t, weight), 0, 1, PC_LB_WEIGHT_MAX, 1,
               NULL),
};

/* "ip:port" or "[ip6]:port" of a resolved address: the balancer key and the
 * pool identity. */
void pc_ld_target_key(const pc_target_t *t, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    const struct sockaddr *sa = (const struct sockaddr *)&t->ut.addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const void *)sa;
        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        port = ntohs(s4->sin_port);
        snprintf(buf, len, "%s:%u", ip, port);
    } else {
        const struct sockaddr_in6 *s6 = (const void *)sa;
        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        port = ntohs(s6->sin6_port);
        snprintf(buf, len, "[%s]:%u", ip, port);
    }
}

static void set_sockaddr(pc_target_t *t, const ipaddr_t *ip, unsigned port)
{
    memset(&t->ut.addr, 0, sizeof(t->ut.addr));
    if (ip->family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&t->ut.addr;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        memcpy(&s4->sin_addr, ip->a, 4);
        t->ut.addrlen = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->ut.addr;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        memcpy(&s6->sin6_addr, ip->a, 16);
        t->ut.addrlen = sizeof(*s6);
    }
}

/* http://host[:port][/] with host an IPv4 literal, [IPv6] literal or a DNS
 * name (resolved now through pc_conf_resolve_hook). */
static bool parse_url(ld_t *l, const char *path, pc_target_t *t)
{
    const char *url = t->url;
    char b[SHOW_LEN];
    if (strncasecmp(url, "https://", 8) == 0) {
        pc_ld_err(l, path, "https upstreams are not supported yet");
        return false;
    }
    if (strncasecmp(url, "http://", 7) != 0) {
        if (strstr(url, "://"))
            pc_ld_err(l, path, "scheme must be http://");
        else
            pc_ld_err(l, path, "must be an absolute URL like http://10.0.0.5:8080");
        return false;
    }
    const char *auth = url + 7;
    size_t alen = strcspn(auth, "/?#");
    const char *rest = auth + alen;
    if (strchr(rest, '?') || strchr(rest, '#')) {
        pc_ld_err(l, path, "must not have a query or a fragment");
        return false;
    }
    if (*rest && strcmp(rest, "/") != 0) {
        pc_ld_err(l, path, "must not have a path (use the route's rewrite_prefix)");
        return false;
    }
    if (alen == 0 || alen > 300) {
        pc_ld_err(l, path, "must name a host");
        return false;
    }
    char hostbuf[304];
    memcpy(hostbuf, auth, alen);
    hostbuf[alen] = '\0';
    if (strchr(hostbuf, '@')) {
        pc_ld_err(l, path, "must not contain user info");
        return false;
    }
    char *host = hostbuf, *portp = NULL;
    bool v6 = false;
    if (host[0] == '[') {
        char *close = strchr(host, ']');
        if (!close) {
            pc_ld_err(l, path, "unterminated [IPv6] address");
            return false;
        }
        *close = '\0';
        host++;
        v6 = true;
        if (close[1] == ':')
            portp = close + 2;
        else if (close[1]) {
            pc_ld_err(l, path, "unexpected text after ']'");
            return false;
        }
    } else {
        char *colon = strchr(host, ':');
        if (colon) {
            *colon = '\0';
            portp = colon + 1;
        }
    }
    unsigned port = 80;
    if (portp) {
        size_t pl = strlen(portp);
        if (pl == 0 || pl > 5 || strspn(portp, "0123456789") != pl || atoi(portp) < 1 ||
            atoi(portp) > 65535) {
            pc_ld_err(l, path, "port must be 1 to 65535");
            return false;
        }
        port = (unsigned)atoi(portp);
    }
    pc_ld_lower(host);
    ipaddr_t ip;
    char authority[320];
    if (v6) {
        if (inet_pton(AF_INET6, host, ip.a) != 1) {
            pc_ld_err(l, path, "\"%s\" is not an IPv6 address",
                         pc_ld_esc(b, sizeof(b), host, SHOW_MAX));
            return false;
        }
        ip.family = AF_INET6;
        set_sockaddr(t, &ip, port);
        snprintf(authority, sizeof(authority), "[%s]", host);
    } else if (inet_pton(AF_INET, host, ip.a) == 1) {
        ip.family = AF_INET;
        set_sockaddr(t, &ip, port);
        snprintf(authority, sizeof(authority), "%s", host);
    } else {
        if (!pc_ld_hostname_ok(host)) {
            pc_ld_err(l, path, "\"%s\" is not a host name or IP address",
                      pc_ld_esc(b, sizeof(b), host, SHOW_MAX));
            return false;
        }
        if (pc_ld_looks_numeric(host)) {
            pc_ld_err(l, path, "\"%s\" is not an IPv4 address (write four decimal numbers)",
                      pc_ld_esc(b, sizeof(b), host, SHOW_MAX));
            return false;
        }
        if (!pc_conf_resolve_hook) {
            pc_ld_err(l, path, "cannot resolve \"%s\": name resolution is disabled",
                      pc_ld_esc(b, sizeof(b), host, SHOW_MAX));
            return false;
        }
        char why[256] = "";
        socklen_t alen2 = 0;
        memset(&t->ut.addr, 0, sizeof(t->ut.addr));
        if (pc_conf_resolve_hook(host, port, &t->ut.addr, &alen2, why, sizeof(why)) != 0 ||
            (t->ut.addr.ss_family != AF_INET && t->ut.addr.ss_family != AF_INET6)) {
            pc_ld_err(l, path, "cannot resolve \"%s\": %s", pc_ld_esc(b, sizeof(b), host, SHOW_MAX),
                      why[0] ? why : "no address");
            return false;
        }
        t->ut.addrlen = alen2;
        /* The port is ours, whatever the resolver filled in. */
        if (t->ut.addr.ss_family == AF_INET)
            ((struct sockaddr_in *)&t->ut.addr)->sin_port = htons((uint16_t)port);
        else
            ((struct sockaddr_in6 *)&t->ut.addr)->sin6_port = htons((uint16_t)port);
        snprintf(authority, sizeof(authority), "%s", host);
    }
    if (port != 80) {
        size_t al = strlen(authority);
        snprintf(authority + al, sizeof(authority) - al, ":%u", port);
    }
    t->authority = pc_xstrdup(authority);
    return true;
}

static bool same_sockaddr(const pc_target_t *a, const pc_target_t *b)
{
    const struct sockaddr *x = (const void *)&a->ut.addr, *y = (const void *)&b->ut.addr;
    if (x->sa_family != y->sa_family)
        return false;
    if (x->sa_family == AF_INET) {
        const struct sockaddr_in *p = (const void *)x, *q = (const void *)y;
        return p->sin_port == q->sin_port && p->sin_addr.s_addr == q->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *p = (const void *)x, *q = (const void *)y;
    return p->sin6_port == q->sin6_port && memcmp(&p->sin6_addr, &q->sin6_addr, 16) == 0;
}

static bool parse_targets(ld_t *l, const json_t *arr, const char *path, pc_upstream_conf_t *u)
{
    size_t n = json_array_size(arr);
    if (n == 0 || n > CONF_MAX_TARGETS) {
        pc_ld_err(l, path, "must hold 1 to %d targets", CONF_MAX_TARGETS);
        return false;
    }
    u->targets = pc_xcalloc(n, sizeof(*u->targets));
    u->ntargets = n;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        jp_t p, q;
        pc_ld_idx(&p, path, i);
        pc_target_t *t = &u->targets[i];
        const json_t *v = json_array_get(arr, i);
        uint64_t mask =
            pc_ld_obj(l, v, p.s, target_fields, PC_ARRAY_LEN(target_fields), t, true, 0);
        if (!(mask & 1u) || !parse_url(l, pc_ld_key(&q, p.s, "url"), t)) {
            ok = false;
            continue;
        }
        if (json_object_get(v, "weight") && !(mask & 2u))
            ok = false;
        for (size_t j = 0; j < i; j++) {
            if (u->targets[j].authority && same_sockaddr(t, &u->targets[j])) {
                pc_ld_err(l, p.s, "same address as targets[%zu]", j);
                ok = false;
                break;
            }
        }
    }
    return ok;
}

static const pc_conf_field_t timeout_fields[] = {
    CONF_FIELD("connect_ms", PC_CONF_UINT, offsetof(pc_upstream_conf_t, connect_timeout_ms), 0, 1,
               600000, 1000, NULL),
    CONF_FIELD("response_ms", PC_CONF_UINT, offsetof(pc_upstream_conf_t, response_timeout_ms), 0, 1,
               600000, 15000, NULL),
};

static const pc_conf_field_t hash_header_fields[] = {
    CONF_FIELD("header", PC_CONF_STRING, offsetof(pc_upstream_conf_t, hash_header),
               PC_CONF_REQUIRED, 0, 0, 0, NULL),
};

#define HASH_KEY_FORMS "must be \"client_ip\", \"subject\", \"path\" or {\"header\": \"Name\"}"

static void parse_hash_key(ld_t *l, const json_t *v, const char *path, pc_upstream_conf_t *u)
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strcmp(s, "client_ip") == 0)
            u->hash_key = PC_HASH_CLIENT_IP;
        else if (strcmp(s, "subject") == 0)
            u->hash_key = PC_HASH_SUBJECT;
        else if (strcmp(s, "path") == 0)
            u->hash_key = PC_HASH_PATH;
        else
            pc_ld_err(l, path, HASH_KEY_FORMS);
        return;
    }
    if (!json_is_object(v)) {
        pc_ld_err(l, path, HASH_KEY_FORMS);
        return;
    }
    uint64_t mask = pc_ld_obj(l, v, path, hash_header_fields, 1, u, false, 0);
    if (!(mask & 1u))
        return;
    jp_t p;
    if (!pc_ld_token_ok(u->hash_header) || strlen(u->hash_header) > 256) {
        pc_ld_err(l, pc_ld_key(&p, path, "header"), "not a header name");
        return;
    }
    u->hash_key = PC_HASH_HEADER;
}

static const pc_conf_field_t upstream_fields[] = {
    CONF_FIELD("targets", PC_CONF_ARRAY, NOOFF, PC_CONF_REQUIRED, 0, 0, 0, NULL),
    CONF_FIELD("balancer", PC_CONF_STRING, NOOFF, 0, 0, 0, 0, NULL),
    CONF_FIELD("hash_key", PC_CONF_ANY, NOOFF, 0, 0, 0, 0, NULL),
    CONF_FIELD("timeouts", PC_CONF_OBJECT, NOOFF, 0, 0, 0, 0, NULL),
    CONF_FIELD("pass_host", PC_CONF_BOOL, offsetof(pc_upstream_conf_t, pass_host), 0, 0, 0, 0,
               NULL),
};

static void parse_upstream(ld_t *l, const json_t *v, const char *path, pc_upstream_conf_t *u)
{
    const pc_conf_field_t *f = upstream_fields;
    jp_t p;
    u->balancer = PC_LB_ROUND_ROBIN;
    u->hash_key = PC_HASH_CLIENT_IP;
    pc_ld_defaults(timeout_fields, PC_ARRAY_LEN(timeout_fields), u);
    size_t e0 = l->nerr;
    uint64_t mask = pc_ld_obj(l, v, path, f, PC_ARRAY_LEN(upstream_fields), u, true, 0);
    const json_t *bal = pc_ld_valid(v, mask, f, 1);
    if (bal && pc_lb_kind_parse(json_string_value(bal), &u->balancer) != 0)
        pc_ld_err(l, pc_ld_key(&p, path, "balancer"),
                  "must be one of round_robin, least_conn, hash, random_two");
    const json_t *hk = pc_ld_valid(v, mask, f, 2);
    if (hk) {
        parse_hash_key(l, hk, pc_ld_key(&p, path, "hash_key"), u);
        if (u->balancer != PC_LB_HASH)
            pc_ld_warn(l, p.s, "only used by the hash balancer (this one is %s)",
                       pc_lb_kind_name(u->balancer));
    }
    const json_t *to = pc_ld_valid(v, mask, f, 3);
    if (to)
        pc_ld_obj(l, to, pc_ld_key(&p, path, "timeouts"), timeout_fields,
                  PC_ARRAY_LEN(timeout_fields), u, false, 0);
    const json_t *tg = pc_ld_valid(v, mask, f, 0);
    if (!tg || !parse_targets(l, tg, pc_ld_key(&p, path, "targets"), u) || l->nerr != e0)
        return;
    unsigned weights[CONF_MAX_TARGETS];
    char keybuf[CONF_MAX_TARGETS][INET6_ADDRSTRLEN + 10];
    const char *keys[CONF_MAX_TARGETS];
    for (size_t i = 0; i < u->ntargets; i++) {
        weights[i] = u->targets[i].weight;
        pc_ld_target_key(&u->targets[i], keybuf[i], sizeof(keybuf[i]));
        keys[i] = keybuf[i];
    }
    u->lb = pc_lb_new(u->balancer, u->ntargets, weights, keys);
    if (!u->lb)
        pc_ld_err(l, path, "cannot build the %s balancer", pc_lb_kind_name(u->balancer));
}

void pc_ld_upstreams(ld_t *l, const json_t *obj)
{
    pc_conf_t *c = l->c;
    size_t n = json_object_size(obj);
    if (n > CONF_MAX_UPSTREAMS) {
        pc_ld_err(l, "upstreams", "at most %d upstreams", CONF_MAX_UPSTREAMS);
        return;
    }
    c->upstreams = pc_xcalloc(n, sizeof(*c->upstreams));
    const char *name;
    const json_t *v;
    json_object_foreach((json_t *)obj, name, v) {
        jp_t p;
        pc_ld_key(&p, "upstreams", name);
        pc_upstream_conf_t *u = &c->upstreams[c->nupstreams];
        u->index = (unsigned)c->nupstreams++;
        u->name = pc_xstrdup(name);
        if (pc_ld_name(l, p.s, name))
            pc_ld_map_put(&l->upstream_names, u->name, u->index);
        parse_upstream(l, v, p.s, u);
    }
}
