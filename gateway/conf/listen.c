/* gateway/conf/listen.c: request limits (global, per listener, per route
 * override), listeners with their trusted proxies, and the admin listener,
 * which must never share a port with a public one. */
#include "conf/conf_int.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

#define ROUTED (F_ROUTE | F_ROUTED)
static const pc_conf_field_t limit_fields[] = {
    CONF_FIELD("max_url_bytes", PC_CONF_SIZE, offsetof(pc_limits_t, max_url_bytes), 0, 64, 1048576,
               8192, NULL),
    CONF_FIELD("max_header_bytes", PC_CONF_SIZE, offsetof(pc_limits_t, max_header_bytes), F_ROUTE,
               1024, 1048576, 16384, NULL),
    CONF_FIELD("max_headers", PC_CONF_UINT, offsetof(pc_limits_t, max_headers), F_ROUTE, 1, 1000,
               100, NULL),
    CONF_FIELD("max_body_bytes", PC_CONF_SIZE, offsetof(pc_limits_t, max_body_bytes), ROUTED, 0,
               1073741824, 1048576, NULL),
    CONF_FIELD("client_idle_timeout_ms", PC_CONF_UINT,
               offsetof(pc_limits_t, client_idle_timeout_ms), 0, 1000, 3600000, 60000, NULL),
    CONF_FIELD("request_timeout_ms", PC_CONF_UINT, offsetof(pc_limits_t, request_timeout_ms),
               ROUTED, 100, 3600000, 60000, NULL),
    CONF_FIELD("max_connections_per_ip", PC_CONF_UINT,
               offsetof(pc_limits_t, max_connections_per_ip), 0, 0, 1000000, 0, NULL),
    CONF_FIELD("response_buffer_bytes", PC_CONF_SIZE, offsetof(pc_limits_t, response_buffer_bytes),
               ROUTED, 4096, 16777216, 65536, NULL),
    CONF_FIELD("header_timeout_ms", PC_CONF_UINT, offsetof(pc_limits_t, header_timeout_ms), 0,
               100, 3600000, 10000, NULL),
};
#undef ROUTED

static void limits_merge(pc_limits_t *dst, const pc_limits_t *src, uint64_t mask)
{
    for (size_t i = 0; i < PC_ARRAY_LEN(limit_fields); i++) {
        if (!(mask & ((uint64_t)1 << i)))
            continue;
        size_t off = limit_fields[i].offset;
        if (limit_fields[i].type == PC_CONF_UINT)
            *(unsigned *)pc_ld_at(dst, off) = *(const unsigned *)pc_ld_at((void *)src, off);
        else
            *(size_t *)pc_ld_at(dst, off) = *(const size_t *)pc_ld_at((void *)src, off);
    }
}

void pc_ld_limits(ld_t *l, const json_t *v)
{
    pc_limits_t *lim = &l->c->limits;
    pc_ld_defaults(limit_fields, PC_ARRAY_LEN(limit_fields), lim);
    if (v)
        pc_ld_obj(l, v, "limits", limit_fields, PC_ARRAY_LEN(limit_fields), lim, false, 0);
}

/* Parses an override block: ov gets the configured values (0 elsewhere),
 * out = base merged with them. A listener's values of the limits that are
 * read after routing would have no effect (routes inherit the global
 * limits): accepted, but -t says so, lest someone believe a public
 * listener is protected by them. */
void pc_ld_limits_override(ld_t *l, const json_t *v, const char *path, const pc_limits_t *base,
                           pc_limits_t *out, pc_limits_t *ov, bool route)
{
    pc_limits_t tmp;
    memset(&tmp, 0, sizeof(tmp));
    *out = *base;
    if (v) {
        uint64_t mask = pc_ld_obj(l, v, path, limit_fields, PC_ARRAY_LEN(limit_fields), &tmp, false,
                                  route ? F_ROUTE : 0);
        limits_merge(out, &tmp, mask);
        for (size_t i = 0; !route && i < PC_ARRAY_LEN(limit_fields); i++) {
            jp_t p;
            if ((mask & ((uint64_t)1 << i)) && (limit_fields[i].flags & F_ROUTED))
                pc_ld_warn(l, pc_ld_key(&p, path, limit_fields[i].key),
                           "no effect on routed requests: routes inherit the global limits "
                           "(set it in the top-level limits or in each route)");
        }
    }
    if (ov)
        *ov = tmp;
}

/* ---- listeners and admin -------------------------------------------------- */

static const pc_conf_field_t listen_fields[] = {
    CONF_FIELD("address", PC_CONF_STRING, offsetof(pc_listener_conf_t, address), 0, 0, 0, 0,
               "0.0.0.0"),
    CONF_FIELD("port", PC_CONF_UINT, offsetof(pc_listener_conf_t, port), PC_CONF_REQUIRED, 1, 65535,
               0, NULL),
    CONF_FIELD("max_connections", PC_CONF_UINT, offsetof(pc_listener_conf_t, max_connections), 0, 1,
               1000000, 10000, NULL),
    CONF_FIELD("trusted_proxies", PC_CONF_ARRAY, NOOFF, 0, 0, 0, 0, NULL),
    CONF_FIELD("limits", PC_CONF_OBJECT, NOOFF, 0, 0, 0, 0, NULL),
    CONF_FIELD("tls", PC_CONF_ANY, NOOFF, 0, 0, 0, 0, NULL),
    CONF_FIELD("underscores_in_headers", PC_CONF_BOOL,
               offsetof(pc_listener_conf_t, underscores_in_headers), 0, 0, 0, 0, NULL),
};

static void parse_trusted(ld_t *l, const json_t *arr, const char *path, pc_listener_conf_t *ls)
{
    size_t n = json_array_size(arr);
    if (n > CONF_MAX_TRUSTED) {
        pc_ld_err(l, path, "at most %d networks", CONF_MAX_TRUSTED);
        return;
    }
    ls->trusted_proxies = pc_xcalloc(n, sizeof(pc_cidr_t));
    for (size_t i = 0; i < n; i++) {
        jp_t p;
        pc_ld_idx(&p, path, i);
        const json_t *v = json_array_get(arr, i);
        if (!pc_ld_str_ok(l, p.s, v, false))
            continue;
        char b[SHOW_LEN];
        int rc = pc_cidr_parse(json_string_value(v), &ls->trusted_proxies[ls->ntrusted_proxies]);
        if (rc == -2)
            pc_ld_err(l, p.s, "\"%s\" has bits set after the prefix length",
                      pc_ld_esc(b, sizeof(b), json_string_value(v), SHOW_MAX));
        else if (rc != 0)
            pc_ld_err(l, p.s, "\"%s\" is not an IP network such as 10.0.0.0/8 or ::1/128",
                      pc_ld_esc(b, sizeof(b), json_string_value(v), SHOW_MAX));
        else
            ls->ntrusted_proxies++;
    }
}

static void parse_listener(ld_t *l, const json_t *v, const char *path, pc_listener_conf_t *ls,
                           endpoint_t *ep)
{
    const pc_conf_field_t *f = listen_fields;
    size_t nf = PC_ARRAY_LEN(listen_fields);
    ls->limits = l->c->limits;
    uint64_t mask = pc_ld_obj(l, v, path, f, nf, ls, true, 0);
    jp_t p;
    if (json_is_object(v) && json_object_get(v, "tls"))
        pc_ld_err(l, pc_ld_key(&p, path, "tls"), "tls is not supported yet");
    if (ls->address && (mask & 1u || !json_object_get(v, "address"))) {
        if (!pc_ld_ip_parse(ls->address, &ep->ip)) {
            char b[SHOW_LEN];
            pc_ld_err(l, pc_ld_key(&p, path, "address"),
                      "\"%s\" is not a numeric IPv4 or IPv6 address",
                      pc_ld_esc(b, sizeof(b), ls->address, SHOW_MAX));
        } else {
            free(ls->address);
            ls->address = pc_ld_ip_format(&ep->ip);
            ls->public_ = !pc_ld_ip_is_loopback(&ep->ip);
            ep->port = ls->port;
            ep->ok = (mask & 2u) != 0;
        }
    }
    const json_t *tp = pc_ld_valid(v, mask, f, 3);
    if (tp)
        parse_trusted(l, tp, pc_ld_key(&p, path, "trusted_proxies"), ls);
    const json_t *lim = pc_ld_valid(v, mask, f, 4);
    if (lim)
        pc_ld_limits_override(l, lim, pc_ld_key(&p, path, "limits"), &l->c->limits, &ls->limits,
                              NULL, false);
}

void pc_ld_listeners(ld_t *l, const json_t *arr, endpoint_t *eps)
{
    pc_conf_t *c = l->c;
    size_t n = json_array_size(arr);
    if (n == 0 || n > CONF_MAX_LISTENERS) {
        pc_ld_err(l, "listen", "must hold 1 to %d listeners", CONF_MAX_LISTENERS);
        return;
    }
    c->listeners = pc_xcalloc(n, sizeof(*c->listeners));
    c->nlisteners = n;
    for (size_t i = 0; i < n; i++) {
        jp_t p;
        pc_ld_idx(&p, "listen", i);
        parse_listener(l, json_array_get(arr, i), p.s, &c->listeners[i], &eps[i]);
        if (!eps[i].ok)
            continue;
        for (size_t j = 0; j < i; j++) {
            if (eps[j].ok &&
                pc_ld_endpoints_clash(&eps[i].ip, eps[i].port, &eps[j].ip, eps[j].port)) {
                pc_ld_err(l, p.s, "address and port overlap listen[%zu]", j);
                break;
            }
        }
    }
}

static const pc_conf_field_t admin_fields[] = {
    CONF_FIELD("address", PC_CONF_STRING, offsetof(pc_conf_t, admin_address), 0, 0, 0, 0,
               "127.0.0.1"),
    CONF_FIELD("port", PC_CONF_UINT, offsetof(pc_conf_t, admin_port), PC_CONF_REQUIRED, 1, 65535, 0,
               NULL),
};

void pc_ld_admin(ld_t *l, const json_t *v, const endpoint_t *eps)
{
    pc_conf_t *c = l->c;
    uint64_t mask = pc_ld_obj(l, v, "admin", admin_fields, PC_ARRAY_LEN(admin_fields), c, true, 0);
    if (!c->admin_address || !(mask & 2u) ||
        (json_object_get(v, "address") && !(mask & 1u)))
        return;
    ipaddr_t ip;
    if (!pc_ld_ip_parse(c->admin_address, &ip)) {
        char b[SHOW_LEN];
        pc_ld_err(l, "admin.address", "\"%s\" is not a numeric IPv4 or IPv6 address",
                  pc_ld_esc(b, sizeof(b), c->admin_address, SHOW_MAX));
        return;
    }
    free(c->admin_address);
    c->admin_address = pc_ld_ip_format(&ip);
    if (!pc_ld_ip_is_loopback(&ip))
        pc_ld_warn(l, "admin.address",
                   "admin listener on a non-loopback address: /metrics and /config are reachable "
                   "from the network");
    for (size_t i = 0; i < c->nlisteners; i++) {
        if (eps[i].ok && pc_ld_endpoints_clash(&ip, c->admin_port, &eps[i].ip, eps[i].port)) {
            pc_ld_err(l, "admin", "address and port overlap listen[%zu]: the admin API must never "
                      "be on a public port", i);
            break;
        }
    }
}
