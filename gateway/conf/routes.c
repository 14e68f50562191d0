/* gateway/conf/routes.c: routes: match (host, path kinds, methods), the
 * upstream and plugin chain they use, rewrite_prefix, limit overrides, and
 * their insertion into the router. A route path must be canonical, or no
 * request could ever match it. */
#include "conf/conf_int.h"
#include "http/path.h"
#include "base/util.h"

#include <portcullis/plugin.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* A route path must be what pc_path_canonicalize() makes of request paths,
 * or it could never match. Template params "{name}" are whole segments. */
static bool check_route_path(ld_t *l, const char *path, const char *s, pc_path_kind_t kind)
{
    char b[SHOW_LEN];
    size_t n = strlen(s);
    if (s[0] != '/') {
        pc_ld_err(l, path, "must start with '/'");
        return false;
    }
    if (n > CONF_MAX_PATH) {
        pc_ld_err(l, path, "longer than %d bytes", CONF_MAX_PATH);
        return false;
    }
    if (strchr(s, '\\')) {
        pc_ld_err(l, path, "must not contain '\\'");
        return false;
    }
    if (strstr(s, "//")) {
        pc_ld_err(l, path, "must not contain \"//\"");
        return false;
    }
    if (strstr(s, "/./") || strstr(s, "/../") || (n >= 2 && strcmp(s + n - 2, "/.") == 0) ||
        (n >= 3 && strcmp(s + n - 3, "/..") == 0)) {
        pc_ld_err(l, path, "must not contain \".\" or \"..\" segments");
        return false;
    }
    if (strcasestr(s, "%2f") || strcasestr(s, "%5c") || strstr(s, "%00")) {
        pc_ld_err(l, path, "must not contain %%2F, %%5C or %%00");
        return false;
    }
    /* Templates: check and blank out the params, then canonicalise. */
    char *copy = pc_xstrdup(s);
    const char *names[PC_ROUTER_MAX_PARAMS];
    size_t nnames[PC_ROUTER_MAX_PARAMS], nparams = 0;
    bool ok = true;
    for (char *seg = copy + 1; ok;) {
        char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);
        bool brace = memchr(seg, '{', len) || memchr(seg, '}', len);
        if (brace && kind != PC_MATCH_TEMPLATE) {
            pc_ld_err(l, path, "'{' and '}' are only allowed in path_template");
            ok = false;
        } else if (brace) {
            bool good = len >= 3 && seg[0] == '{' && seg[len - 1] == '}' &&
                        ((seg[1] >= 'a' && seg[1] <= 'z') || (seg[1] >= 'A' && seg[1] <= 'Z') ||
                         seg[1] == '_');
            for (size_t i = 2; good && i + 1 < len; i++) {
                char c = seg[i];
                good = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9') || c == '_';
            }
            if (!good) {
                pc_ld_err(l, path,
                          "a param is a whole segment \"{name}\", name [A-Za-z_][A-Za-z0-9_]*");
                ok = false;
            } else if (nparams == PC_ROUTER_MAX_PARAMS) {
                pc_ld_err(l, path, "at most %d params", PC_ROUTER_MAX_PARAMS);
                ok = false;
            } else {
                const char *name = s + (seg - copy) + 1;
                for (size_t i = 0; i < nparams; i++) {
                    if (nnames[i] == len - 2 && memcmp(names[i], name, len - 2) == 0) {
                        pc_ld_err(l, path, "param \"%.*s\" is used twice", (int)(len - 2), seg + 1);
                        ok = false;
                    }
                }
                names[nparams] = name;
                nnames[nparams++] = len - 2;
                memset(seg, '_', len);
            }
        }
        if (!end)
            break;
        seg = end + 1;
    }
    if (ok) {
        size_t cn = strlen(copy), outlen = 0;
        char *out = pc_xmalloc(PC_PATH_OUT_SIZE(cn));
        pc_path_err_t e = pc_path_canonicalize(copy, cn, out, &outlen);
        if (e != PC_PATH_OK) {
            pc_ld_err(l, path, "not a valid path: %s", pc_path_strerror(e));
            ok = false;
        } else if (outlen != cn || memcmp(out, copy, cn) != 0) {
            if (kind == PC_MATCH_TEMPLATE)
                pc_ld_err(l, path, "must be canonical (percent-encode other characters, uppercase "
                          "hex, do not encode A-Z a-z 0-9 - . _ ~)");
            else
                pc_ld_err(l, path, "must be canonical: write \"%s\"",
                          pc_ld_esc(b, sizeof(b), out, SHOW_MAX));
            ok = false;
        }
        free(out);
    }
    free(copy);
    return ok;
}

static bool check_route_host(ld_t *l, const char *path, char *host)
{
    char b[SHOW_LEN];
    pc_ld_lower(host);
    const char *name = host;
    if (host[0] == '*' && host[1] == '.')
        name = host + 2;
    if (name[0] == '[' && name == host) {
        size_t n = strlen(host);
        unsigned char a[16];
        char inner[INET6_ADDRSTRLEN + 1];
        if (n >= 3 && n - 2 < sizeof(inner) && host[n - 1] == ']') {
            memcpy(inner, host + 1, n - 2);
            inner[n - 2] = '\0';
            if (inet_pton(AF_INET6, inner, a) == 1)
                return true;
        }
    } else if (pc_ld_hostname_ok(name) && strlen(host) <= PC_ROUTER_MAX_HOST) {
        return true;
    }
    pc_ld_err(l, path, "\"%s\" is not a host name, \"*.\" + a host name, or [IPv6] (no port)",
              pc_ld_esc(b, sizeof(b), host, SHOW_MAX));
    return false;
}

static bool parse_methods(ld_t *l, const json_t *arr, const char *path, unsigned *out)
{
    size_t n = json_array_size(arr);
    if (n == 0 || n > CONF_MAX_METHODS) {
        pc_ld_err(l, path, "must hold 1 to %d methods (leave it out to allow every method)",
                  CONF_MAX_METHODS);
        return false;
    }
    bool ok = true;
    unsigned mask = 0;
    for (size_t i = 0; i < n; i++) {
        jp_t p;
        char b[SHOW_LEN];
        pc_ld_idx(&p, path, i);
        const json_t *v = json_array_get(arr, i);
        if (!pc_ld_str_ok(l, p.s, v, false)) {
            ok = false;
            continue;
        }
        const char *m = json_string_value(v);
        unsigned bit = pc_method_bit(m);
        if (bit == PC_M_OTHER || !bit) {
            char up[16];
            size_t ml = strlen(m);
            unsigned ubit = PC_M_OTHER;
            if (ml < sizeof(up)) {
                memcpy(up, m, ml + 1);
                for (char *c = up; *c; c++)
                    if (*c >= 'a' && *c <= 'z')
                        *c = (char)(*c - 32);
                ubit = pc_method_bit(up);
            }
            if (ubit != PC_M_OTHER && ubit)
                pc_ld_err(l, p.s, "methods are case-sensitive: write \"%s\"", up);
            else
                pc_ld_err(l, p.s, "unknown method \"%s\"", pc_ld_esc(b, sizeof(b), m, SHOW_MAX));
            ok = false;
            continue;
        }
        if (mask & bit) {
            pc_ld_err(l, p.s, "\"%s\" is listed twice", m);
            ok = false;
        }
        mask |= bit;
    }
    *out = mask;
    return ok;
}

static const pc_conf_field_t match_fields[] = {
    CONF_FIELD("host", PC_CONF_STRING, offsetof(pc_route_conf_t, host), 0, 0, 0, 0, NULL),
    CONF_FIELD("path", PC_CONF_STRING, NOOFF, 0, 0, 0, 0, NULL),
    CONF_FIELD("path_prefix", PC_CONF_STRING, NOOFF, 0, 0, 0, 0, NULL),
    CONF_FIELD("path_template", PC_CONF_STRING, NOOFF, 0, 0, 0, 0, NULL),
    CONF_FIELD("methods", PC_CONF_ARRAY, NOOFF, 0, 0, 0, 0, NULL),
};

static bool parse_match(ld_t *l, const json_t *v, const char *path, pc_route_conf_t *r)
{
    static const pc_path_kind_t kinds[] = {PC_MATCH_EXACT, PC_MATCH_PREFIX, PC_MATCH_TEMPLATE};
    size_t e0 = l->nerr;
    jp_t p;
    uint64_t mask = pc_ld_obj(l, v, path, match_fields, PC_ARRAY_LEN(match_fields), r, false, 0);
    if (!json_is_object(v))
        return false;
    size_t nkinds = 0;
    for (size_t i = 1; i <= 3; i++)
        nkinds += json_object_get(v, match_fields[i].key) != NULL;
    if (nkinds == 0)
        pc_ld_err(l, path, "one of path, path_prefix or path_template is required");
    else if (nkinds > 1)
        pc_ld_err(l, path, "path, path_prefix and path_template are exclusive: use one");
    for (size_t i = 1; i <= 3 && nkinds == 1; i++) {
        const json_t *pv = pc_ld_valid(v, mask, match_fields, i);
        if (!pv)
            continue;
        r->kind = kinds[i - 1];
        if (check_route_path(l, pc_ld_key(&p, path, match_fields[i].key), json_string_value(pv),
                             r->kind))
            r->path = pc_xstrdup(json_string_value(pv));
    }
    if (r->host && !check_route_host(l, pc_ld_key(&p, path, "host"), r->host)) {
        free(r->host);
        r->host = NULL;
    }
    const json_t *mv = pc_ld_valid(v, mask, match_fields, 4);
    if (mv)
        parse_methods(l, mv, pc_ld_key(&p, path, "methods"), &r->methods);
    return l->nerr == e0 && r->path;
}

static const pc_conf_field_t route_fields[] = {
    CONF_FIELD("name", PC_CONF_STRING, NOOFF, PC_CONF_REQUIRED, 0, 0, 0, NULL),
    CONF_FIELD("match", PC_CONF_OBJECT, NOOFF, PC_CONF_REQUIRED, 0, 0, 0, NULL),
    CONF_FIELD("upstream", PC_CONF_STRING, NOOFF, 0, 0, 0, 0, NULL),
    CONF_FIELD("plugins", PC_CONF_ARRAY, NOOFF, 0, 0, 0, 0, NULL),
    CONF_FIELD("rewrite_prefix", PC_CONF_STRING, NOOFF, PC_CONF_EMPTY_OK, 0, 0, 0, NULL),
    CONF_FIELD("limits", PC_CONF_OBJECT, NOOFF, 0, 0, 0, 0, NULL),
    CONF_FIELD("allow_double_encoding", PC_CONF_BOOL, NOOFF, 0, 0, 0, 0, NULL),
};

/* Returns true when the route may go into the router. */
static bool parse_route(ld_t *l, const json_t *v, const char *path, pc_route_conf_t *r)
{
    pc_conf_t *c = l->c;
    const pc_conf_field_t *f = route_fields;
    jp_t p;
    char b[SHOW_LEN];
    r->limits = c->limits;
    uint64_t mask = pc_ld_obj(l, v, path, f, PC_ARRAY_LEN(route_fields), NULL, false, 0);
    if (!json_is_object(v))
        return false;

    const json_t *nv = pc_ld_valid(v, mask, f, 0);
    if (nv && pc_ld_name(l, pc_ld_key(&p, path, "name"), json_string_value(nv))) {
        r->name = pc_xstrdup(json_string_value(nv));
        const unsigned *other = pc_ld_map_get(&l->route_names, r->name);
        if (other)
            pc_ld_err(l, p.s, "\"%s\" is already the name of routes[%u]", r->name, *other);
        else
            pc_ld_map_put(&l->route_names, r->name, r->index);
    }

    const json_t *mv = pc_ld_valid(v, mask, f, 1);
    bool match_ok = mv && parse_match(l, mv, pc_ld_key(&p, path, "match"), r);

    const json_t *uv = pc_ld_valid(v, mask, f, 2);
    if (uv) {
        const unsigned *idx = pc_ld_map_get(&l->upstream_names, json_string_value(uv));
        if (idx)
            r->upstream = &c->upstreams[*idx];
        else
            pc_ld_err(l, pc_ld_key(&p, path, "upstream"), "no upstream named \"%s\" in upstreams",
                      pc_ld_esc(b, sizeof(b), json_string_value(uv), SHOW_MAX));
    }

    r->chain = pc_xcalloc(CONF_MAX_CHAIN, sizeof(*r->chain));
    for (size_t i = 0; i < c->nglobal_chain; i++)
        r->chain[r->nchain++] = c->global_chain[i];
    const json_t *pv = pc_ld_valid(v, mask, f, 3);
    if (pv)
        pc_ld_chain(l, pv, pc_ld_key(&p, path, "plugins"), r->chain, &r->nchain, c->nglobal_chain);
    r->chain = pc_xrealloc(r->chain, (r->nchain ? r->nchain : 1) * sizeof(*r->chain));
    bool own_plugins = pv && json_array_size(pv) > 0;
    if (!json_object_get(v, "upstream")) {
        if (own_plugins)
            pc_ld_warn(l, path, "route has no upstream; it can only answer from plugins");
        else
            pc_ld_err(l, pc_ld_key(&p, path, "upstream"),
                      "required (only a route whose plugins answer every request may omit it)");
    }
    for (size_t i = 0; i < r->nchain; i++) {
        const pc_plugin_t *t = r->chain[i]->type;
        if (t && (t->flags & PC_PLUGIN_NEEDS_BODY))
            r->needs_body = true;
        if (t && (t->flags & PC_PLUGIN_AUTHENTICATES))
            r->authenticated = true;
        if (t && (t->flags & PC_PLUGIN_SEES_RESPONSE_BODY))
            r->sees_response_body = true;
    }

    const json_t *rw = pc_ld_valid(v, mask, f, 4);
    if (rw) {
        const char *s = json_string_value(rw);
        pc_ld_key(&p, path, "rewrite_prefix");
        if (match_ok && r->kind != PC_MATCH_PREFIX)
            pc_ld_err(l, p.s, "only with match.path_prefix");
        else if (!*s || strcmp(s, "/") == 0)
            r->rewrite_prefix = pc_xstrdup("");
        else if (check_route_path(l, p.s, s, PC_MATCH_PREFIX))
            r->rewrite_prefix = pc_xstrdup(s);
    }

    pc_ld_limits_override(l, pc_ld_valid(v, mask, f, 5), pc_ld_key(&p, path, "limits"), &c->limits,
                          &r->limits, &r->overrides, true);
    r->allow_double_encoding = json_is_true(pc_ld_valid(v, mask, f, 6));
    return match_ok;
}

static void add_route(ld_t *l, const char *path, pc_route_conf_t *r)
{
    pc_route_spec_t spec = {r->host, r->kind, r->path, r->methods, r};
    char why[256] = "";
    if (pc_router_add(l->c->router, &spec, why, sizeof(why)) != 0) {
        jp_t p;
        pc_ld_err(l, pc_ld_key(&p, path, "match"), "%s", why[0] ? why : "refused by the router");
    }
}

void pc_ld_routes(ld_t *l, const json_t *arr)
{
    pc_conf_t *c = l->c;
    size_t n = json_array_size(arr);
    c->router = pc_router_new();
    if (n > CONF_MAX_ROUTES) {
        pc_ld_err(l, "routes", "at most %d routes", CONF_MAX_ROUTES);
        return;
    }
    if (n == 0)
        pc_ld_warn(l, "routes", "no routes: every request gets 404");
    c->routes = pc_xcalloc(n, sizeof(*c->routes));
    for (size_t i = 0; i < n; i++) {
        jp_t p;
        pc_ld_idx(&p, "routes", i);
        pc_route_conf_t *r = &c->routes[c->nroutes];
        r->index = (unsigned)c->nroutes++;
        if (parse_route(l, json_array_get(arr, i), p.s, r))
            add_route(l, p.s, r);
        if (!r->authenticated && r->name)
            pc_ld_warn(l, p.s, "no authentication plugin: anyone can call it (route \"%s\")",
                       r->name);
        else if (!r->authenticated)
            pc_ld_warn(l, p.s, "no authentication plugin: anyone can call it");
    }
}
