/* plugins/jwt/jwt_conf.c: the jwt plugin's configuration: validation of
 * every key (docs/jwt.md is the reference), loading of inline and file
 * keys, and the prepared answers (WWW-Authenticate challenges). Runs on the
 * main thread at load time only; nothing here touches the network. */
#include "jwt_plugin.h"
#include "jwt_http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define JWT_FILE_MAX (1024u * 1024u)
#define JWT_PATH 160

static _Noreturn void jwt_conf_oom(void)
{
    fprintf(stderr, "portcullis: jwt: out of memory\n");
    abort();
}

static char *jc_strdup(const char *s)
{
    char *d = strdup(s);

    if (!d)
        jwt_conf_oom();
    return d;
}

static void *jc_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (!p)
        jwt_conf_oom();
    return p;
}

/* ---- small validators ---------------------------------------------------------- */

static int jc_unknown_keys(const json_t *obj, const char *path, const char *const *allowed,
                           pc_err_t *err)
{
    const char *k;
    json_t *v;
    char p[JWT_PATH];
    int bad = 0;

    json_object_foreach((json_t *)obj, k, v) {
        size_t i;
        for (i = 0; allowed[i]; i++) {
            if (strcmp(k, allowed[i]) == 0)
                break;
        }
        if (!allowed[i]) {
            snprintf(p, sizeof(p), "%s%s%s", path ? path : "", path ? "." : "", k);
            pc_err_set(err, p, "unknown key");
            bad = 1;
        }
    }
    return bad ? -1 : 0;
}

static int jc_bool(const json_t *obj, const char *key, const char *path, int *out, pc_err_t *err)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return pc_err_set(err, path, "must be true or false");
    *out = json_is_true(v);
    return 0;
}

static int jc_uint(const json_t *obj, const char *key, const char *path, unsigned long min,
                   unsigned long max, unsigned *out, pc_err_t *err)
{
    const json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < (json_int_t)min ||
        json_integer_value(v) > (json_int_t)max)
        return pc_err_set(err, path, "must be an integer from %lu to %lu", min, max);
    *out = (unsigned)json_integer_value(v);
    return 0;
}

static int jc_token_chars(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *s)))
            return 0;
    }
    return 1;
}

/* A string, or with allow_single an array of strings too; none empty. */
static int jc_strings(const json_t *v, const char *path, int allow_single, int nonempty,
                      char ***out, size_t *n, pc_err_t *err)
{
    size_t i;
    json_t *e;

    if (allow_single && json_is_string(v)) {
        if (json_string_length(v) == 0 || strlen(json_string_value(v)) != json_string_length(v))
            return pc_err_set(err, path, "must be a non-empty string");
        *out = jc_calloc(1, sizeof(char *));
        (*out)[0] = jc_strdup(json_string_value(v));
        *n = 1;
        return 0;
    }
    if (!json_is_array(v))
        return pc_err_set(err, path, allow_single ? "must be a string or an array of strings"
                                                  : "must be an array of strings");
    if (nonempty && json_array_size(v) == 0)
        return pc_err_set(err, path, "must not be empty");
    *out = jc_calloc(json_array_size(v), sizeof(char *));
    json_array_foreach(v, i, e) {
        char p[JWT_PATH];
        snprintf(p, sizeof(p), "%s[%zu]", path, i);
        if (!json_is_string(e) || json_string_length(e) == 0 ||
            strlen(json_string_value(e)) != json_string_length(e))
            return pc_err_set(err, p, "must be a non-empty string");
        (*out)[(*n)++] = jc_strdup(json_string_value(e));
    }
    return 0;
}

static void jc_free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* Reads an absolute path's regular file, at most 1 MiB. */
static char *jc_read_file(const char *file, const char *path, size_t *len, pc_err_t *err)
{
    struct stat st;
    int fd;
    char *buf;
    size_t n = 0;

    if (file[0] != '/') {
        pc_err_set(err, path, "file: must be an absolute path");
        return NULL;
    }
    fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd == -1) {
        pc_err_set(err, path, "cannot open %s: %s", file, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size > (off_t)JWT_FILE_MAX) {
        close(fd);
        pc_err_set(err, path, "%s: not a regular file of at most %u bytes", file, JWT_FILE_MAX);
        return NULL;
    }
    buf = jc_calloc((size_t)st.st_size + 1, 1);
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r == -1 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* {"file": "/abs/path"} and nothing else. */
static const char *jc_file_ref(const json_t *v)
{
    const json_t *f = json_object_get(v, "file");

    if (!json_is_object(v) || json_object_size(v) != 1 || !json_is_string(f))
        return NULL;
    return json_string_value(f);
}

/* A secret through pc_conf_secret, with the error path "<path>". */
static char *jc_secret(const json_t *value, const char *path, size_t *len, pc_err_t *err)
{
    json_t *tmp = json_object();
    char *s;

    json_object_set(tmp, path, (json_t *)value);
    s = pc_conf_secret(tmp, path, len, err);
    json_decref(tmp);
    return s;
}

/* ---- keys ------------------------------------------------------------------------ */

static int jc_merge(jwt_conf_t *c, pc_jwk_set_t *set, const char *path, pc_err_t *err)
{
    char e[256];
    pc_jwk_set_t *m;

    if (!c->static_set) {
        c->static_set = set;
        return 0;
    }
    m = pc_jwk_set_merge(c->static_set, set, e, sizeof(e));
    pc_jwk_set_unref(set);
    if (!m)
        return pc_err_set(err, path, "%s", e);
    pc_jwk_set_unref(c->static_set);
    c->static_set = m;
    return 0;
}

static int jc_key(jwt_conf_t *c, const json_t *k, const char *path, pc_err_t *err)
{
    static const char *const allowed[] = {"pem", "jwk", "jwks", "hmac", "alg", "kid", NULL};
    const json_t *alg = json_object_get(k, "alg"), *kid = json_object_get(k, "kid");
    const char *kinds[] = {"pem", "jwk", "jwks", "hmac"};
    const char *kind = NULL;
    char p[JWT_PATH], e[256] = "";
    pc_jwk_set_t *set = NULL;

    if (!json_is_object(k))
        return pc_err_set(err, path, "must be an object with one of pem, jwk, jwks, hmac");
    if (jc_unknown_keys(k, path, allowed, err))
        return -1;
    for (size_t i = 0; i < 4; i++) {
        if (json_object_get(k, kinds[i])) {
            if (kind)
                return pc_err_set(err, path, "%s and %s: one key source per entry", kind,
                                  kinds[i]);
            kind = kinds[i];
        }
    }
    if (!kind)
        return pc_err_set(err, path, "needs one of pem, jwk, jwks, hmac");
    if (alg && (!json_is_string(alg) ||
                pc_jwt_alg_from_name(json_string_value(alg), json_string_length(alg)) ==
                    PC_JWT_ALG_INVALID)) {
        snprintf(p, sizeof(p), "%s.alg", path);
        return pc_err_set(err, p, "unknown algorithm (RS256..512, PS256..512, ES256..512, "
                                  "EdDSA, HS256..512; never none)");
    }
    if (kid && (!json_is_string(kid) || json_string_length(kid) == 0)) {
        snprintf(p, sizeof(p), "%s.kid", path);
        return pc_err_set(err, p, "must be a non-empty string");
    }
    const char *a = alg ? json_string_value(alg) : NULL, *id = kid ? json_string_value(kid) : NULL;
    const json_t *v = json_object_get(k, kind);
    snprintf(p, sizeof(p), "%s.%s", path, kind);
    if (strcmp(kind, "hmac") == 0) {
        size_t len = 0;
        if (!a)
            return pc_err_set(err, path, "an hmac key needs \"alg\" (HS256, HS384 or HS512)");
        char *secret = jc_secret(v, p, &len, err);
        if (!secret)
            return -1;
        set = pc_jwk_set_hmac((const unsigned char *)secret, len, a, id, e, sizeof(e));
        memset(secret, 0, len);
        free(secret);
    } else if (strcmp(kind, "pem") == 0) {
        const char *file = jc_file_ref(v);
        char *buf = NULL;
        size_t len = 0;
        if (file) {
            buf = jc_read_file(file, p, &len, err);
            if (!buf)
                return -1;
        } else if (json_is_string(v)) {
            buf = jc_strdup(json_string_value(v));
            len = json_string_length(v);
        } else {
            return pc_err_set(err, p, "must be PEM text or {\"file\": \"/path\"}");
        }
        set = pc_jwk_set_from_pem(buf, len, a, id, e, sizeof(e));
        free(buf);
    } else {
        const char *file = jc_file_ref(v);
        char *buf = NULL;
        size_t len = 0;
        if (id)
            return pc_err_set(err, path, "kid: a JWK carries its own kid");
        if (file) {
            buf = jc_read_file(file, p, &len, err);
            if (!buf)
                return -1;
        } else if (json_is_object(v)) {
            buf = json_dumps(v, JSON_COMPACT);
            if (!buf)
                jwt_conf_oom();
            len = strlen(buf);
        } else {
            return pc_err_set(err, p, "must be a JSON object or {\"file\": \"/path\"}");
        }
        set = pc_jwk_set_from_jwks(buf, len, a, e, sizeof(e));
        free(buf);
        if (set && pc_jwk_set_count(set) == 0) {
            pc_jwk_set_unref(set);
            return pc_err_set(err, p, "no usable signing key");
        }
    }
    if (!set)
        return pc_err_set(err, p, "%s", e);
    for (size_t i = 0; i < pc_jwk_set_count(set); i++) {
        const pc_jwk_t *key = pc_jwk_set_get(set, i);
        if (c->alg_mask && !(c->alg_mask & (1u << key->alg))) {
            pc_err_set(err, p, "key pinned to %s, which \"algorithms\" does not allow",
                       pc_jwt_alg_name(key->alg));
            pc_jwk_set_unref(set);
            return -1;
        }
    }
    return jc_merge(c, set, p, err);
}

static int jc_keys(jwt_conf_t *c, const json_t *v, pc_err_t *err)
{
    size_t i;
    json_t *k;
    char p[JWT_PATH];

    if (json_is_object(v))
        return jc_key(c, v, "keys", err);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return pc_err_set(err, "keys", "must be a key object or a non-empty array of them");
    json_array_foreach(v, i, k) {
        snprintf(p, sizeof(p), "keys[%zu]", i);
        if (jc_key(c, k, p, err))
            return -1;
    }
    return 0;
}

static int jc_url_ok(const char *u)
{
    size_t n = strlen(u);

    if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)u[i] <= 0x20 || u[i] == 0x7f)
            return 0;
    }
    return n > 8;
}

static int jc_jwks(jwt_conf_t *c, const json_t *v, int discovery, pc_err_t *err)
{
    static const char *const allowed[] = {"url", "min_refresh_s", "max_refresh_s",
                                          "unknown_kid_refresh_s", "unknown_kid_wait_ms",
                                          "timeout_ms", "default_alg", NULL};
    const json_t *url = json_object_get(v, "url"), *da = json_object_get(v, "default_alg");

    c->remote.min_refresh_s = 60;
    c->remote.max_refresh_s = 86400;
    c->remote.unknown_kid_refresh_s = 30;
    c->remote.timeout_ms = 2000;
    c->unknown_kid_wait_ms = 2000;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return pc_err_set(err, "jwks", "must be an object");
    if (jc_unknown_keys(v, "jwks", allowed, err))
        return -1;
    if (url) {
        if (discovery)
            return pc_err_set(err, "jwks.url", "not with discovery (the issuer names the JWKS)");
        if (!json_is_string(url) || !jc_url_ok(json_string_value(url)))
            return pc_err_set(err, "jwks.url", "must be an http:// or https:// URL");
        c->jwks_url = jc_strdup(json_string_value(url));
    } else if (!discovery) {
        return pc_err_set(err, "jwks.url", "required (or set \"discovery\": true)");
    }
    if (da) {
        if (!json_is_string(da) ||
            pc_jwt_alg_from_name(json_string_value(da), json_string_length(da)) ==
                PC_JWT_ALG_INVALID)
            return pc_err_set(err, "jwks.default_alg", "unknown algorithm");
        c->default_alg = jc_strdup(json_string_value(da));
    }
    if (jc_uint(v, "min_refresh_s", "jwks.min_refresh_s", 1, 86400, &c->remote.min_refresh_s,
                err) ||
        jc_uint(v, "max_refresh_s", "jwks.max_refresh_s", 1, 604800, &c->remote.max_refresh_s,
                err) ||
        jc_uint(v, "unknown_kid_refresh_s", "jwks.unknown_kid_refresh_s", 1, 3600,
                &c->remote.unknown_kid_refresh_s, err) ||
        jc_uint(v, "unknown_kid_wait_ms", "jwks.unknown_kid_wait_ms", 0, 10000,
                &c->unknown_kid_wait_ms, err) ||
        jc_uint(v, "timeout_ms", "jwks.timeout_ms", 100, 60000, &c->remote.timeout_ms, err))
        return -1;
    if (c->remote.max_refresh_s < c->remote.min_refresh_s)
        return pc_err_set(err, "jwks.max_refresh_s", "must not be below min_refresh_s");
    return 0;
}

/* ---- claims, scopes, sources, headers ---------------------------------------------- */

static int jc_claims(jwt_conf_t *c, const json_t *v, pc_err_t *err)
{
    const char *k;
    json_t *m;
    char p[JWT_PATH], e[256];

    if (!json_is_object(v))
        return pc_err_set(err, "claims", "must be an object: claim path -> {\"equals\": v} | "
                                         "{\"one_of\": [...]} | {\"contains\": v}");
    c->claims_node = json_incref((json_t *)v);
    c->matches = jc_calloc(json_object_size(v), sizeof(*c->matches));
    json_object_foreach((json_t *)v, k, m) {
        pc_jwt_claim_match_t *cm = &c->matches[c->n_matches];
        snprintf(p, sizeof(p), "claims.%s", k);
        if (!*k)
            return pc_err_set(err, p, "empty claim path");
        if (!json_is_object(m) || json_object_size(m) != 1)
            return pc_err_set(err, p, "must be one of {\"equals\": v}, {\"one_of\": [...]}, "
                                      "{\"contains\": v}");
        const char *op = json_object_iter_key(json_object_iter(m));
        if (strcmp(op, "equals") == 0)
            cm->op = PC_JWT_MATCH_EQUALS;
        else if (strcmp(op, "one_of") == 0)
            cm->op = PC_JWT_MATCH_ONE_OF;
        else if (strcmp(op, "contains") == 0)
            cm->op = PC_JWT_MATCH_CONTAINS;
        else
            return pc_err_set(err, p, "unknown operator \"%s\" (equals, one_of, contains)", op);
        cm->path = k; /* key storage lives in claims_node */
        cm->value = json_object_get(m, op);
        if (pc_jwt_claim_match_validate(cm, e, sizeof(e)) != 0)
            return pc_err_set(err, p, "%s", e);
        c->n_matches++;
    }
    return 0;
}

static int jc_scopes(jwt_conf_t *c, const json_t *v, pc_err_t *err)
{
    const json_t *all = json_object_get(v, "all"), *any = json_object_get(v, "any");

    if (!json_is_object(v) || json_object_size(v) != 1 || (!all && !any))
        return pc_err_set(err, "scopes", "must be {\"all\": [...]} or {\"any\": [...]}");
    c->scopes_any = any != NULL;
    if (jc_strings(all ? all : any, all ? "scopes.all" : "scopes.any", 0, 1, &c->scopes,
                   &c->n_scopes, err))
        return -1;
    for (size_t i = 0; i < c->n_scopes; i++) {
        for (const char *s = c->scopes[i]; *s; s++) {
            /* RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E */
            if (*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\')
                return pc_err_set(err, all ? "scopes.all" : "scopes.any",
                                  "\"%s\" is not a scope token", c->scopes[i]);
        }
    }
    return 0;
}

static int jc_token(jwt_conf_t *c, const json_t *v, pc_err_t *err)
{
    static const char *const allowed[] = {"header", "cookie", "query", "max_bytes", NULL};
    const json_t *cookie = json_object_get(v, "cookie"), *query = json_object_get(v, "query");
    unsigned max = PC_JWT_DEFAULT_MAX_LEN;

    c->src_header = 1;
    c->max_token = PC_JWT_DEFAULT_MAX_LEN;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return pc_err_set(err, "token", "must be an object");
    if (jc_unknown_keys(v, "token", allowed, err) ||
        jc_bool(v, "header", "token.header", &c->src_header, err) ||
        jc_uint(v, "max_bytes", "token.max_bytes", 256, 65536, &max, err))
        return -1;
    c->max_token = max;
    if (cookie) {
        if (!json_is_string(cookie) || !jc_token_chars(json_string_value(cookie)))
            return pc_err_set(err, "token.cookie", "must be a cookie name");
        c->cookie = jc_strdup(json_string_value(cookie));
    }
    if (query) {
        if (json_is_boolean(query)) {
            c->src_query = json_is_true(query);
            if (c->src_query)
                c->query_param = jc_strdup("access_token");
        } else if (json_is_string(query) && jc_token_chars(json_string_value(query)) &&
                   !strchr(json_string_value(query), '&') &&
                   !strchr(json_string_value(query), '=')) {
            c->src_query = 1;
            c->query_param = jc_strdup(json_string_value(query));
        } else {
            return pc_err_set(err, "token.query", "must be false, true (access_token) or a "
                                                  "parameter name");
        }
    }
    if (!c->src_header && !c->cookie && !c->src_query)
        return pc_err_set(err, "token", "no token source left (header, cookie or query)");
    return 0;
}

static int jc_c2h(jwt_conf_t *c, const json_t *v, pc_err_t *err)
{
    const char *k;
    json_t *h;
    char p[JWT_PATH];

    if (!json_is_object(v))
        return pc_err_set(err, "claims_to_headers", "must be an object: claim -> header name");
    c->c2h = jc_calloc(json_object_size(v), sizeof(*c->c2h));
    json_object_foreach((json_t *)v, k, h) {
        snprintf(p, sizeof(p), "claims_to_headers.%s", k);
        if (!*k)
            return pc_err_set(err, p, "empty claim path");
        if (!json_is_string(h) || !jc_token_chars(json_string_value(h)))
            return pc_err_set(err, p, "must be a header name");
        for (size_t i = 0; i < c->n_c2h; i++) {
            if (strcasecmp(c->c2h[i].header, json_string_value(h)) == 0)
                return pc_err_set(err, p, "header %s is already used", json_string_value(h));
        }
        static const char *const reserved[] = {"host", "content-length", "transfer-encoding",
                                               "connection", "authorization", "cookie",
                                               "x-request-id", "x-forwarded-for", NULL};
        for (size_t i = 0; reserved[i]; i++) {
            if (strcasecmp(json_string_value(h), reserved[i]) == 0)
                return pc_err_set(err, p, "%s cannot carry a claim", json_string_value(h));
        }
        jwt_c2h_t *m = &c->c2h[c->n_c2h++];
        m->claim = jc_strdup(k);
        m->header = jc_strdup(json_string_value(h));
        m->scopes = !strcmp(k, "scope") || !strcmp(k, "scp") || !strcmp(k, "scopes");
    }
    return 0;
}

static int jc_cache(jwt_conf_t *c, const json_t *v, pc_err_t *err)
{
    static const char *const allowed[] = {"enabled", "max_entries", "ttl_s", NULL};
    unsigned max = 10000;

    c->cache_enabled = 1;
    c->cache_ttl_s = 300;
    c->cache_max = max;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return pc_err_set(err, "cache", "must be an object");
    if (jc_unknown_keys(v, "cache", allowed, err) ||
        jc_bool(v, "enabled", "cache.enabled", &c->cache_enabled, err) ||
        jc_uint(v, "max_entries", "cache.max_entries", 1, 10000000, &max, err) ||
        jc_uint(v, "ttl_s", "cache.ttl_s", 1, 86400, &c->cache_ttl_s, err))
        return -1;
    c->cache_max = max;
    return 0;
}

static int jc_on_error(const json_t *obj, const char *path, int *allow, pc_err_t *err)
{
    const json_t *v = json_object_get(obj, "on_error");

    if (!v)
        return 0;
    if (json_is_string(v) && strcmp(json_string_value(v), "deny") == 0)
        *allow = 0;
    else if (json_is_string(v) && strcmp(json_string_value(v), "allow") == 0)
        *allow = 1;
    else
        return pc_err_set(err, path, "must be \"deny\" or \"allow\"");
    return 0;
}

static int jc_revocation(jwt_conf_t *c, const json_t *v, pc_err_t *err)
{
    static const char *const allowed[] = {"enabled", "on_error", NULL};

    c->revocation = 1;
    if (!v)
        return 0;
    if (!json_is_object(v))
        return pc_err_set(err, "revocation", "must be an object");
    return jc_unknown_keys(v, "revocation", allowed, err) ||
                   jc_bool(v, "enabled", "revocation.enabled", &c->revocation, err) ||
                   jc_on_error(v, "revocation.on_error", &c->revocation_allow_on_error, err)
               ? -1
               : 0;
}

static int jc_introspection(jwt_conf_t *c, const json_t *v, pc_err_t *err)
{
    static const char *const allowed[] = {"url", "client_id", "client_secret", "auth",
                                          "cache_ttl_s", "negative_ttl_s", "max_entries",
                                          "timeout_ms", "on_error", NULL};
    jwt_introspect_conf_t *is = &c->is;
    const json_t *url = json_object_get(v, "url"), *id = json_object_get(v, "client_id");
    const json_t *auth = json_object_get(v, "auth");
    unsigned max = 10000;

    is->cache_ttl_s = 300;
    is->negative_ttl_s = 10;
    is->timeout_ms = 2000;
    if (!json_is_object(v))
        return pc_err_set(err, "introspection", "must be an object");
    if (jc_unknown_keys(v, "introspection", allowed, err))
        return -1;
    if (!json_is_string(url) || !jc_url_ok(json_string_value(url)))
        return pc_err_set(err, "introspection.url", "required: an http:// or https:// URL");
    is->url = jc_strdup(json_string_value(url));
    if (!json_is_string(id) || json_string_length(id) == 0 ||
        strlen(json_string_value(id)) != json_string_length(id))
        return pc_err_set(err, "introspection.client_id", "required: a non-empty string");
    is->client_id = jc_strdup(json_string_value(id));
    if (!json_object_get(v, "client_secret"))
        return pc_err_set(err, "introspection.client_secret", "required (a secret)");
    is->client_secret = jc_secret(json_object_get(v, "client_secret"),
                                  "introspection.client_secret", &is->client_secret_len, err);
    if (!is->client_secret)
        return -1;
    if (auth && json_is_string(auth) && strcmp(json_string_value(auth), "client_secret_post") == 0)
        is->auth_post = 1;
    else if (auth && (!json_is_string(auth) ||
                      strcmp(json_string_value(auth), "client_secret_basic") != 0))
        return pc_err_set(err, "introspection.auth",
                          "must be \"client_secret_basic\" or \"client_secret_post\"");
    if (jc_uint(v, "cache_ttl_s", "introspection.cache_ttl_s", 0, 86400, &is->cache_ttl_s, err) ||
        jc_uint(v, "negative_ttl_s", "introspection.negative_ttl_s", 0, 3600, &is->negative_ttl_s,
                err) ||
        jc_uint(v, "max_entries", "introspection.max_entries", 1, 10000000, &max, err) ||
        jc_uint(v, "timeout_ms", "introspection.timeout_ms", 100, 60000, &is->timeout_ms, err) ||
        jc_on_error(v, "introspection.on_error", &is->allow_on_error, err))
        return -1;
    is->max_entries = max;
    if (is->auth_post) {
        char *eid = jwt_http_form_escape(is->client_id, strlen(is->client_id));
        char *esec = jwt_http_form_escape(is->client_secret, is->client_secret_len);
        if (asprintf(&is->post_suffix, "&client_id=%s&client_secret=%s", eid, esec) < 0)
            jwt_conf_oom();
        memset(esec, 0, strlen(esec));
        free(eid);
        free(esec);
    } else {
        char *basic = jwt_http_basic_credentials(is->client_id, is->client_secret,
                                                 is->client_secret_len);
        if (asprintf(&is->auth_header, "Authorization: %s", basic) < 0)
            jwt_conf_oom();
        memset(basic, 0, strlen(basic));
        free(basic);
    }
    return 0;
}

static int jc_realm(jwt_conf_t *c, const json_t *v, pc_err_t *err)
{
    const char *r = "portcullis";

    if (v) {
        if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 128)
            return pc_err_set(err, "realm", "must be a string of 1 to 128 characters");
        r = json_string_value(v);
        for (const char *s = r; *s; s++) {
            if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
                return pc_err_set(err, "realm", "no quotes, backslashes or control characters");
        }
    }
    c->realm = jc_strdup(r);
    return 0;
}

static void jc_challenges(jwt_conf_t *c)
{
    size_t n = 0;
    char *scopes;

    for (size_t i = 0; i < c->n_scopes; i++)
        n += strlen(c->scopes[i]) + 1;
    scopes = jc_calloc(n + 1, 1);
    for (size_t i = 0; i < c->n_scopes; i++) {
        if (i)
            strcat(scopes, " ");
        strcat(scopes, c->scopes[i]);
    }
    if (asprintf(&c->www_missing, "Bearer realm=\"%s\"", c->realm) < 0 ||
        asprintf(&c->www_invalid,
                 "Bearer realm=\"%s\", error=\"invalid_token\", "
                 "error_description=\"the access token is not valid\"",
                 c->realm) < 0 ||
        asprintf(&c->www_scope, "Bearer realm=\"%s\", error=\"insufficient_scope\", scope=\"%s\"",
                 c->realm, scopes) < 0 ||
        asprintf(&c->www_request, "Bearer realm=\"%s\", error=\"invalid_request\"", c->realm) < 0)
        jwt_conf_oom();
    free(scopes);
}

/* ---- the whole ------------------------------------------------------------------------- */

static int jc_algorithms(jwt_conf_t *c, const json_t *v, pc_err_t *err)
{
    size_t i;
    json_t *a;
    char p[JWT_PATH];

    if (!json_is_array(v) || json_array_size(v) == 0)
        return pc_err_set(err, "algorithms", "must be a non-empty array of algorithm names");
    json_array_foreach(v, i, a) {
        snprintf(p, sizeof(p), "algorithms[%zu]", i);
        if (!json_is_string(a))
            return pc_err_set(err, p, "must be a string");
        if (strcasecmp(json_string_value(a), "none") == 0)
            return pc_err_set(err, p, "\"none\" is never accepted");
        pc_jwt_alg_t alg = pc_jwt_alg_from_name(json_string_value(a), json_string_length(a));
        if (alg == PC_JWT_ALG_INVALID)
            return pc_err_set(err, p, "unknown algorithm \"%s\"", json_string_value(a));
        c->alg_mask |= 1u << alg;
    }
    return 0;
}

/* For JWKS keys without "alg": the configured default, else the one RSA
 * alg the allow-list names, else RS256 (what IdPs mean by an alg-less RSA
 * key). EC and OKP keys pin themselves. */
static const char *jc_default_alg(const jwt_conf_t *c)
{
    pc_jwt_alg_t rsa[] = {PC_JWT_RS256, PC_JWT_RS384, PC_JWT_RS512,
                          PC_JWT_PS256, PC_JWT_PS384, PC_JWT_PS512};
    pc_jwt_alg_t one = PC_JWT_ALG_INVALID;
    int n = 0;

    if (c->default_alg)
        return c->default_alg;
    for (size_t i = 0; i < 6; i++) {
        if (c->alg_mask & (1u << rsa[i])) {
            one = rsa[i];
            n++;
        }
    }
    return n == 1 ? pc_jwt_alg_name(one) : "RS256";
}

int jwt_conf_create(const json_t *node, void **conf, pc_err_t *err)
{
    static const char *const allowed[] = {
        "mode", "issuer", "audiences", "algorithms", "keys", "jwks", "discovery", "leeway_s",
        "max_age_s", "require_exp", "require", "claims", "scopes", "token", "realm",
        "claims_to_headers", "cache", "revocation", "introspection", "optional", NULL};
    jwt_conf_t *c = jc_calloc(1, sizeof(*c));
    const json_t *mode = json_object_get(node, "mode"), *v;
    int discovery = 0, require_exp = -1;
    unsigned leeway = PC_JWT_DEFAULT_LEEWAY, max_age = 0;

    *conf = c;
    if (jc_unknown_keys(node, NULL, allowed, err))
        return -1;
    if (mode && (!json_is_string(mode) || (strcmp(json_string_value(mode), "jwt") != 0 &&
                                           strcmp(json_string_value(mode), "introspection") != 0)))
        return pc_err_set(err, "mode", "must be \"jwt\" or \"introspection\"");
    c->mode = mode && strcmp(json_string_value(mode), "introspection") == 0
                  ? JWT_MODE_INTROSPECTION
                  : JWT_MODE_JWT;

    if ((v = json_object_get(node, "issuer")) &&
        jc_strings(v, "issuer", 1, 1, &c->issuers, &c->n_issuers, err))
        return -1;
    if ((v = json_object_get(node, "audiences")) &&
        jc_strings(v, "audiences", 1, 1, &c->audiences, &c->n_audiences, err))
        return -1;
    if ((v = json_object_get(node, "algorithms")) && jc_algorithms(c, v, err))
        return -1;
    if (jc_bool(node, "discovery", "discovery", &discovery, err) ||
        jc_bool(node, "optional", "optional", &c->optional, err) ||
        jc_uint(node, "leeway_s", "leeway_s", 0, 300, &leeway, err) ||
        jc_uint(node, "max_age_s", "max_age_s", 1, 31536000, &max_age, err) ||
        jc_realm(c, json_object_get(node, "realm"), err) ||
        jc_token(c, json_object_get(node, "token"), err) ||
        jc_revocation(c, json_object_get(node, "revocation"), err))
        return -1;
    if ((v = json_object_get(node, "require_exp"))) {
        if (!json_is_boolean(v))
            return pc_err_set(err, "require_exp", "must be true or false");
        require_exp = json_is_true(v);
    }
    if ((v = json_object_get(node, "require")) &&
        jc_strings(v, "require", 0, 0, &c->required, &c->n_required, err))
        return -1;
    if ((v = json_object_get(node, "claims")) && jc_claims(c, v, err))
        return -1;
    if ((v = json_object_get(node, "scopes")) && jc_scopes(c, v, err))
        return -1;
    if ((v = json_object_get(node, "claims_to_headers")) && jc_c2h(c, v, err))
        return -1;

    if (c->mode == JWT_MODE_JWT) {
        static const char *const only_is[] = {"introspection", NULL};
        for (size_t i = 0; only_is[i]; i++) {
            if (json_object_get(node, only_is[i]))
                return pc_err_set(err, only_is[i], "only with \"mode\": \"introspection\"");
        }
        if (!c->n_issuers)
            return pc_err_set(err, "issuer", "required: the issuer (iss) tokens must carry");
        if (!c->n_audiences)
            return pc_err_set(err, "audiences", "required: the audiences (aud) accepted here");
        if (discovery && c->n_issuers != 1)
            return pc_err_set(err, "discovery", "needs exactly one issuer");
        if (jc_cache(c, json_object_get(node, "cache"), err))
            return -1;
        if ((v = json_object_get(node, "keys")) && jc_keys(c, v, err))
            return -1;
        v = json_object_get(node, "jwks");
        if (jc_jwks(c, v, discovery, err))
            return -1;
        c->has_remote = c->jwks_url != NULL || discovery;
        if (!c->static_set && !c->has_remote)
            return pc_err_set(err, NULL, "no keys: set \"keys\", \"jwks\": {\"url\": ...} or "
                                         "\"discovery\": true");
        if (c->has_remote) {
            c->remote.jwks_url = c->jwks_url;
            c->remote.issuer = discovery ? c->issuers[0] : NULL;
            c->remote.default_alg = jc_default_alg(c);
        }
    } else {
        static const char *const only_jwt[] = {"keys", "jwks", "discovery", "algorithms",
                                               "cache", NULL};
        for (size_t i = 0; only_jwt[i]; i++) {
            if (json_object_get(node, only_jwt[i]))
                return pc_err_set(err, only_jwt[i], "not in introspection mode%s",
                                  strcmp(only_jwt[i], "cache") == 0
                                      ? " (see introspection.cache_ttl_s)"
                                      : "");
        }
        if (!json_object_get(node, "introspection"))
            return pc_err_set(err, "introspection", "required in introspection mode");
        if (jc_introspection(c, json_object_get(node, "introspection"), err))
            return -1;
    }

    pc_jwt_claims_policy_t *p = &c->policy;
    pc_jwt_claims_policy_init(p);
    p->issuers = (const char *const *)c->issuers;
    p->n_issuers = c->n_issuers;
    p->audiences = (const char *const *)c->audiences;
    p->n_audiences = c->n_audiences;
    p->leeway = leeway;
    /* RFC 7662 responses need not carry exp; JWTs must unless told. */
    p->exp_optional = require_exp == -1 ? c->mode == JWT_MODE_INTROSPECTION : !require_exp;
    p->max_age = max_age;
    p->required = (const char *const *)c->required;
    p->n_required = c->n_required;
    p->matches = c->matches;
    p->n_matches = c->n_matches;
    if (c->scopes_any) {
        p->scopes_any = (const char *const *)c->scopes;
        p->n_scopes_any = c->n_scopes;
    } else {
        p->scopes_all = (const char *const *)c->scopes;
        p->n_scopes_all = c->n_scopes;
    }
    jc_challenges(c);
    return 0;
}

void jwt_conf_free(void *conf)
{
    jwt_conf_t *c = conf;

    jc_free_strings(c->issuers, c->n_issuers);
    jc_free_strings(c->audiences, c->n_audiences);
    jc_free_strings(c->required, c->n_required);
    jc_free_strings(c->scopes, c->n_scopes);
    free(c->matches);
    json_decref(c->claims_node);
    pc_jwk_set_unref(c->static_set);
    free(c->jwks_url);
    free(c->default_alg);
    free(c->cookie);
    free(c->query_param);
    free(c->realm);
    free(c->www_missing);
    free(c->www_invalid);
    free(c->www_scope);
    free(c->www_request);
    for (size_t i = 0; i < c->n_c2h; i++) {
        free(c->c2h[i].claim);
        free(c->c2h[i].header);
    }
    free(c->c2h);
    free(c->is.url);
    free(c->is.client_id);
    if (c->is.client_secret) {
        memset(c->is.client_secret, 0, c->is.client_secret_len);
        free(c->is.client_secret);
    }
    if (c->is.auth_header) {
        memset(c->is.auth_header, 0, strlen(c->is.auth_header));
        free(c->is.auth_header);
    }
    if (c->is.post_suffix) {
        memset(c->is.post_suffix, 0, strlen(c->is.post_suffix));
        free(c->is.post_suffix);
    }
    free(c);
}
