/* plugins/jwt/jwt_conf.c: the jwt plugin's configuration (docs/jwt.md is
 * the reference). The options are pc_conf_field_t tables read by
 * pc_conf_parse; what the tables cannot say is code here: the rules that
 * depend on the mode, loading of inline and file keys, claim matches, and
 * the prepared answers (WWW-Authenticate challenges). Runs on the main
 * thread at load time only; nothing here touches the network. */
#include "jwt_plugin.h"
#include "jwt_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define JWT_FILE_MAX (1024u * 1024u)
#define JWT_PATH 160

/* A formatted string of config lifetime. */
static char *jc_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *jc_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = pc_xmalloc(n > 0 ? (size_t)n + 1 : 1);
    va_start(ap, fmt);
    vsnprintf(s, n > 0 ? (size_t)n + 1 : 1, fmt, ap);
    va_end(ap);
    return s;
}

/* ---- keys ------------------------------------------------------------------------ */

/* {"file": "/abs/path"} and nothing else: a key file, public keys or a
 * JWKS document of up to 1 MiB, read with pc_conf_file (an hmac key is a
 * secret: PC_CONF_SECRET). */
static int jc_is_file_ref(const json_t *v)
{
    return json_is_object(v) && json_object_size(v) == 1 &&
           json_is_string(json_object_get(v, "file"));
}

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

/* One entry of "keys", as read. */
typedef struct jc_keyin {
    char *alg, *kid;
    pc_conf_secret_t hmac;
} jc_keyin_t;

static int jc_alg(const json_t *v, const char *path, void *field, pc_err_t *err)
{
    if (!json_is_string(v) ||
        pc_jwt_alg_from_name(json_string_value(v), json_string_length(v)) == PC_JWT_ALG_INVALID)
        return pc_err_set(err, path, "unknown algorithm (RS256..512, PS256..512, ES256..512, "
                                     "EdDSA, HS256..512; never none)");
    *(char **)field = pc_xstrdup(json_string_value(v));
    return 0;
}

static const pc_conf_field_t jc_key_fields[] = {
    {.key = "pem", .type = PC_CONF_ANY},
    {.key = "jwk", .type = PC_CONF_ANY},
    {.key = "jwks", .type = PC_CONF_ANY},
    {.key = "hmac", .type = PC_CONF_SECRET, .offset = offsetof(jc_keyin_t, hmac)},
    {.key = "alg", .type = PC_CONF_CUSTOM, .offset = offsetof(jc_keyin_t, alg), .parse = jc_alg},
    {.key = "kid", .type = PC_CONF_STRING, .offset = offsetof(jc_keyin_t, kid)},
    {0},
};

/* PEM text, or a JWK / JWKS object, or either from {"file": "/path"}. */
static pc_jwk_set_t *jc_key_set(const json_t *v, const char *kind, const char *p,
                                const jc_keyin_t *in, char *e, size_t elen, pc_err_t *err)
{
    char *buf = NULL;
    size_t len = 0;
    pc_jwk_set_t *set;
    int pem = strcmp(kind, "pem") == 0;

    if (!pem && in->kid) {
        pc_err_set(err, p, "kid: a JWK carries its own kid");
        return NULL;
    }
    if (jc_is_file_ref(v)) {
        if (!(buf = pc_conf_file(v, p, JWT_FILE_MAX, &len, err)))
            return NULL;
    } else if (pem && json_is_string(v)) {
        buf = pc_xstrdup(json_string_value(v));
        len = json_string_length(v);
    } else if (!pem && json_is_object(v) && (buf = json_dumps(v, JSON_COMPACT))) {
        len = strlen(buf);
    } else {
        pc_err_set(err, p, pem ? "must be PEM text or {\"file\": \"/path\"}"
                               : "must be a JSON object or {\"file\": \"/path\"}");
        return NULL;
    }
    set = pem ? pc_jwk_set_from_pem(buf, len, in->alg, in->kid, e, elen)
              : pc_jwk_set_from_jwks(buf, len, in->alg, e, elen);
    free(buf);
    if (set && pc_jwk_set_count(set) == 0) {
        pc_jwk_set_unref(set);
        pc_err_set(err, p, "no usable signing key");
        return NULL;
    }
    if (!set)
        pc_err_set(err, p, "%s", e);
    return set;
}

static int jc_key_load(jwt_conf_t *c, const json_t *k, const char *path, const jc_keyin_t *in,
                       pc_err_t *err)
{
    static const char *const kinds[] = {"pem", "jwk", "jwks", "hmac"};
    const char *kind = NULL;
    char p[JWT_PATH], e[256] = "";
    pc_jwk_set_t *set;

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
    snprintf(p, sizeof(p), "%s.%s", path, kind);
    if (strcmp(kind, "hmac") == 0) {
        if (!in->alg)
            return pc_err_set(err, path, "an hmac key needs \"alg\" (HS256, HS384 or HS512)");
        set = pc_jwk_set_hmac((const unsigned char *)in->hmac.s, in->hmac.len, in->alg, in->kid,
                              e, sizeof(e));
        if (!set)
            return pc_err_set(err, p, "%s", e);
    } else if (!(set = jc_key_set(json_object_get(k, kind), kind, p, in, e, sizeof(e), err))) {
        return -1;
    }
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

static int jc_key(jwt_conf_t *c, const json_t *k, const char *path, pc_err_t *err)
{
    jc_keyin_t in = {0};
    int rc;

    if (!json_is_object(k))
        return pc_err_set(err, path, "must be an object with one of pem, jwk, jwks, hmac");
    rc = pc_conf_parse(k, path, jc_key_fields, &in, err);
    if (rc == 0)
        rc = jc_key_load(c, k, path, &in, err);
    pc_conf_fields_free(jc_key_fields, &in);
    free(in.alg); /* a CUSTOM field: not the table's to free */
    return rc;
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

static int jc_url(const json_t *v, const char *path, void *field, pc_err_t *err)
{
    if (!json_is_string(v) || !jc_url_ok(json_string_value(v)))
        return pc_err_set(err, path, "must be an http:// or https:// URL");
    free(*(char **)field);
    *(char **)field = pc_xstrdup(json_string_value(v));
    return 0;
}

static const pc_conf_field_t jc_jwks_fields[] = {
    {.key = "url", .type = PC_CONF_CUSTOM, .offset = offsetof(jwt_conf_t, jwks_url),
     .parse = jc_url},
    {.key = "min_refresh_s", .type = PC_CONF_UINT,
     .offset = offsetof(jwt_conf_t, remote.min_refresh_s), .min = 1, .max = 86400, .def = 60},
    {.key = "max_refresh_s", .type = PC_CONF_UINT,
     .offset = offsetof(jwt_conf_t, remote.max_refresh_s), .min = 1, .max = 604800,
     .def = 86400},
    {.key = "unknown_kid_refresh_s", .type = PC_CONF_UINT,
     .offset = offsetof(jwt_conf_t, remote.unknown_kid_refresh_s), .min = 1, .max = 3600,
     .def = 30},
    {.key = "unknown_kid_wait_ms", .type = PC_CONF_UINT,
     .offset = offsetof(jwt_conf_t, unknown_kid_wait_ms), .min = 0, .max = 10000, .def = 2000},
    {.key = "timeout_ms", .type = PC_CONF_UINT, .offset = offsetof(jwt_conf_t, remote.timeout_ms),
     .min = 100, .max = 60000, .def = 2000},
    {.key = "default_alg", .type = PC_CONF_CUSTOM, .offset = offsetof(jwt_conf_t, default_alg),
     .parse = jc_alg},
    {0},
};

/* v may be NULL (keys only): the defaults still apply. */
static int jc_jwks(jwt_conf_t *c, const json_t *v, pc_err_t *err)
{
    if (pc_conf_parse(v, "jwks", jc_jwks_fields, c, err))
        return -1;
    if (!v)
        return 0;
    if (c->jwks_url && c->discovery)
        return pc_err_set(err, "jwks.url", "not with discovery (the issuer names the JWKS)");
    if (!c->jwks_url && !c->discovery)
        return pc_err_set(err, "jwks.url", "required (or set \"discovery\": true)");
    if (c->remote.max_refresh_s < c->remote.min_refresh_s)
        return pc_err_set(err, "jwks.max_refresh_s", "must not be below min_refresh_s");
    return 0;
}

/* ---- claims, scopes, sources, headers ---------------------------------------------- */

static int jc_claims(const json_t *v, const char *path, void *field, pc_err_t *err)
{
    jwt_conf_t *c = field;
    const char *k;
    json_t *m;
    char p[JWT_PATH], e[256];

    (void)path;
    if (!json_is_object(v))
        return pc_err_set(err, "claims", "must be an object: claim path -> {\"equals\": v} | "
                                         "{\"one_of\": [...]} | {\"contains\": v}");
    c->claims_node = json_incref((json_t *)v);
    c->matches = pc_xcalloc(json_object_size(v), sizeof(*c->matches));
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

static const pc_conf_field_t jc_scope_fields[] = {
    {.key = "all", .type = PC_CONF_STRINGS, .offset = offsetof(jwt_conf_t, scopes),
     .flags = PC_CONF_NONEMPTY},
    {.key = "any", .type = PC_CONF_STRINGS, .offset = offsetof(jwt_conf_t, scopes),
     .flags = PC_CONF_NONEMPTY},
    {0},
};

static int jc_scopes(const json_t *v, const char *path, void *field, pc_err_t *err)
{
    jwt_conf_t *c = field;
    const json_t *all = json_object_get(v, "all"), *any = json_object_get(v, "any");
    const char *which = all ? "scopes.all" : "scopes.any";

    if (!json_is_object(v) || json_object_size(v) != 1 || (!all && !any))
        return pc_err_set(err, path, "must be {\"all\": [...]} or {\"any\": [...]}");
    c->scopes_any = any != NULL;
    if (pc_conf_parse(v, path, jc_scope_fields, c, err))
        return -1;
    for (size_t i = 0; i < c->scopes.n; i++) {
        for (const char *s = c->scopes.v[i]; *s; s++) {
            /* RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E */
            if (*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\')
                return pc_err_set(err, which, "\"%s\" is not a scope token", c->scopes.v[i]);
        }
    }
    return 0;
}

/* "query": false, true (the parameter access_token) or a parameter name. */
static int jc_query(const json_t *q, const char *path, void *field, pc_err_t *err)
{
    jwt_conf_t *c = field;

    if (json_is_boolean(q)) {
        c->src_query = json_is_true(q);
        if (c->src_query)
            c->query_param = pc_xstrdup("access_token");
    } else if (json_is_string(q) && pc_conf_token(json_string_value(q), (size_t)-1) &&
               !strchr(json_string_value(q), '&') && !strchr(json_string_value(q), '=')) {
        c->src_query = 1;
        c->query_param = pc_xstrdup(json_string_value(q));
    } else {
        return pc_err_set(err, path, "must be false, true (access_token) or a parameter name");
    }
    return 0;
}

static const pc_conf_field_t jc_token_fields[] = {
    {.key = "header", .type = PC_CONF_BOOL, .offset = offsetof(jwt_conf_t, src_header), .def = 1},
    {.key = "cookie", .type = PC_CONF_TOKEN, .offset = offsetof(jwt_conf_t, cookie),
     .max = 4096},
    {.key = "query", .type = PC_CONF_CUSTOM, .parse = jc_query},
    {.key = "max_bytes", .type = PC_CONF_UINT, .offset = offsetof(jwt_conf_t, max_bytes),
     .min = 256, .max = 65536, .def = PC_JWT_DEFAULT_MAX_LEN},
    {0},
};

static int jc_token(jwt_conf_t *c, const json_t *v, pc_err_t *err)
{
    if (pc_conf_parse(v, "token", jc_token_fields, c, err))
        return -1;
    c->max_token = c->max_bytes;
    if (!c->src_header && !c->cookie && !c->src_query)
        return pc_err_set(err, "token", "no token source left (header, cookie or query)");
    return 0;
}

static int jc_c2h(const json_t *v, const char *path, void *field, pc_err_t *err)
{
    jwt_conf_t *c = field;
    const char *k;
    json_t *h;
    char p[JWT_PATH];

    (void)path;
    if (!json_is_object(v))
        return pc_err_set(err, "claims_to_headers", "must be an object: claim -> header name");
    c->c2h = pc_xcalloc(json_object_size(v), sizeof(*c->c2h));
    json_object_foreach((json_t *)v, k, h) {
        snprintf(p, sizeof(p), "claims_to_headers.%s", k);
        if (!*k)
            return pc_err_set(err, p, "empty claim path");
        if (!json_is_string(h) || !pc_conf_token(json_string_value(h), (size_t)-1))
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
        m->claim = pc_xstrdup(k);
        m->header = pc_xstrdup(json_string_value(h));
        m->scopes = !strcmp(k, "scope") || !strcmp(k, "scp") || !strcmp(k, "scopes");
    }
    return 0;
}

static const pc_conf_field_t jc_cache_fields[] = {
    {.key = "enabled", .type = PC_CONF_BOOL, .offset = offsetof(jwt_conf_t, cache_enabled),
     .def = 1},
    {.key = "max_entries", .type = PC_CONF_UINT, .offset = offsetof(jwt_conf_t, cache_max),
     .min = 1, .max = 10000000, .def = 10000},
    {.key = "ttl_s", .type = PC_CONF_UINT, .offset = offsetof(jwt_conf_t, cache_ttl_s), .min = 1,
     .max = 86400, .def = 300},
    {0},
};

static const pc_conf_field_t jc_revocation_fields[] = {
    {.key = "enabled", .type = PC_CONF_BOOL, .offset = offsetof(jwt_conf_t, revocation),
     .def = 1},
    {.key = "on_error", .type = PC_CONF_ON_ERROR,
     .offset = offsetof(jwt_conf_t, revocation_allow_on_error)},
    {0},
};

static const char *const jc_auths[] = {"client_secret_basic", "client_secret_post", NULL};

static const pc_conf_field_t jc_introspection_fields[] = {
    {.key = "url", .type = PC_CONF_CUSTOM, .offset = offsetof(jwt_conf_t, is.url),
     .flags = PC_CONF_REQUIRED, .parse = jc_url},
    {.key = "client_id", .type = PC_CONF_STRING, .offset = offsetof(jwt_conf_t, is.client_id),
     .flags = PC_CONF_REQUIRED},
    {.key = "client_secret", .type = PC_CONF_SECRET,
     .offset = offsetof(jwt_conf_t, is.client_secret), .flags = PC_CONF_REQUIRED},
    {.key = "auth", .type = PC_CONF_ENUM, .offset = offsetof(jwt_conf_t, is.auth_post),
     .values = jc_auths},
    {.key = "cache_ttl_s", .type = PC_CONF_UINT, .offset = offsetof(jwt_conf_t, is.cache_ttl_s),
     .min = 0, .max = 86400, .def = 300},
    {.key = "negative_ttl_s", .type = PC_CONF_UINT,
     .offset = offsetof(jwt_conf_t, is.negative_ttl_s), .min = 0, .max = 3600, .def = 10},
    {.key = "max_entries", .type = PC_CONF_UINT, .offset = offsetof(jwt_conf_t, is.max_entries),
     .min = 1, .max = 10000000, .def = 10000},
    {.key = "timeout_ms", .type = PC_CONF_UINT, .offset = offsetof(jwt_conf_t, is.timeout_ms),
     .min = 100, .max = 60000, .def = 2000},
    {.key = "on_error", .type = PC_CONF_ON_ERROR,
     .offset = offsetof(jwt_conf_t, is.allow_on_error)},
    {0},
};

/* The client credentials, ready to send: a form suffix or a header. */
static void jc_client_auth(jwt_introspect_conf_t *is)
{
    if (is->auth_post) {
        char *eid = jwt_http_form_escape(is->client_id, strlen(is->client_id));
        char *esec = jwt_http_form_escape(is->client_secret.s, is->client_secret.len);
        is->post_suffix = jc_printf("&client_id=%s&client_secret=%s", eid, esec);
        memset(esec, 0, strlen(esec));
        free(eid);
        free(esec);
    } else {
        char *basic = jwt_http_basic_credentials(is->client_id, is->client_secret.s,
                                                 is->client_secret.len);
        is->auth_header = jc_printf("Authorization: %s", basic);
        memset(basic, 0, strlen(basic));
        free(basic);
    }
}

/* The realm goes into quoted strings of WWW-Authenticate. */
static int jc_realm(const jwt_conf_t *c, pc_err_t *err)
{
    for (const char *s = c->realm; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '"' || *s == '\\')
            return pc_err_set(err, "realm", "no quotes, backslashes or control characters");
    }
    return 0;
}

static void jc_challenges(jwt_conf_t *c)
{
    size_t n = 0;
    char *scopes;

    for (size_t i = 0; i < c->scopes.n; i++)
        n += strlen(c->scopes.v[i]) + 1;
    scopes = pc_xcalloc(n + 1, 1);
    for (size_t i = 0; i < c->scopes.n; i++) {
        if (i)
            strcat(scopes, " ");
        strcat(scopes, c->scopes.v[i]);
    }
    c->www_missing = jc_printf("Bearer realm=\"%s\"", c->realm);
    c->www_invalid = jc_printf("Bearer realm=\"%s\", error=\"invalid_token\", "
                               "error_description=\"the access token is not valid\"",
                               c->realm);
    c->www_scope = jc_printf("Bearer realm=\"%s\", error=\"insufficient_scope\", scope=\"%s\"",
                             c->realm, scopes);
    c->www_request = jc_printf("Bearer realm=\"%s\", error=\"invalid_request\"", c->realm);
    free(scopes);
}

/* ---- the whole ------------------------------------------------------------------------- */

static int jc_algorithms(const json_t *v, const char *path, void *field, pc_err_t *err)
{
    unsigned *mask = field;
    size_t i;
    json_t *a;
    char p[JWT_PATH];

    (void)path;
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
        *mask |= 1u << alg;
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

static const char *const jc_modes[] = {"jwt", "introspection", NULL};

static const pc_conf_field_t jc_fields[] = {
    {.key = "mode", .type = PC_CONF_ENUM, .offset = offsetof(jwt_conf_t, mode),
     .values = jc_modes},
    {.key = "issuer", .type = PC_CONF_STRINGS, .offset = offsetof(jwt_conf_t, issuers),
     .flags = PC_CONF_SINGLE | PC_CONF_NONEMPTY},
    {.key = "audiences", .type = PC_CONF_STRINGS, .offset = offsetof(jwt_conf_t, audiences),
     .flags = PC_CONF_SINGLE | PC_CONF_NONEMPTY},
    {.key = "algorithms", .type = PC_CONF_CUSTOM, .offset = offsetof(jwt_conf_t, alg_mask),
     .parse = jc_algorithms},
    {.key = "discovery", .type = PC_CONF_BOOL, .offset = offsetof(jwt_conf_t, discovery)},
    {.key = "optional", .type = PC_CONF_BOOL, .offset = offsetof(jwt_conf_t, optional)},
    {.key = "leeway_s", .type = PC_CONF_UINT, .offset = offsetof(jwt_conf_t, leeway_s), .min = 0,
     .max = 300, .def = PC_JWT_DEFAULT_LEEWAY},
    {.key = "max_age_s", .type = PC_CONF_UINT, .offset = offsetof(jwt_conf_t, max_age_s),
     .min = 1, .max = 31536000},
    {.key = "realm", .type = PC_CONF_STRING, .offset = offsetof(jwt_conf_t, realm), .max = 128,
     .def_str = "portcullis"},
    {.key = "token", .type = PC_CONF_ANY},
    {.key = "revocation", .type = PC_CONF_ANY},
    {.key = "require_exp", .type = PC_CONF_BOOL, .offset = offsetof(jwt_conf_t, require_exp)},
    {.key = "require", .type = PC_CONF_STRINGS, .offset = offsetof(jwt_conf_t, required)},
    {.key = "claims", .type = PC_CONF_CUSTOM, .parse = jc_claims},
    {.key = "scopes", .type = PC_CONF_CUSTOM, .parse = jc_scopes},
    {.key = "claims_to_headers", .type = PC_CONF_CUSTOM, .parse = jc_c2h},
    {.key = "keys", .type = PC_CONF_ANY},
    {.key = "jwks", .type = PC_CONF_ANY},
    {.key = "cache", .type = PC_CONF_ANY},
    {.key = "introspection", .type = PC_CONF_ANY},
    {0},
};

static int jc_mode_jwt(jwt_conf_t *c, const json_t *node, pc_err_t *err)
{
    const json_t *v;

    if (json_object_get(node, "introspection"))
        return pc_err_set(err, "introspection", "only with \"mode\": \"introspection\"");
    if (!c->issuers.n)
        return pc_err_set(err, "issuer", "required: the issuer (iss) tokens must carry");
    if (!c->audiences.n)
        return pc_err_set(err, "audiences", "required: the audiences (aud) accepted here");
    if (c->discovery && c->issuers.n != 1)
        return pc_err_set(err, "discovery", "needs exactly one issuer");
    if (pc_conf_parse(json_object_get(node, "cache"), "cache", jc_cache_fields, c, err))
        return -1;
    if ((v = json_object_get(node, "keys")) && jc_keys(c, v, err))
        return -1;
    if (jc_jwks(c, json_object_get(node, "jwks"), err))
        return -1;
    c->has_remote = c->jwks_url != NULL || c->discovery;
    if (!c->static_set && !c->has_remote)
        return pc_err_set(err, NULL, "no keys: set \"keys\", \"jwks\": {\"url\": ...} or "
                                     "\"discovery\": true");
    if (c->has_remote) {
        c->remote.jwks_url = c->jwks_url;
        c->remote.issuer = c->discovery ? c->issuers.v[0] : NULL;
        c->remote.default_alg = jc_default_alg(c);
    }
    return 0;
}

static int jc_mode_introspection(jwt_conf_t *c, const json_t *node, pc_err_t *err)
{
    static const char *const only_jwt[] = {"keys", "jwks", "discovery", "algorithms", "cache",
                                           NULL};
    const json_t *v = json_object_get(node, "introspection");

    for (size_t i = 0; only_jwt[i]; i++) {
        if (json_object_get(node, only_jwt[i]))
            return pc_err_set(err, only_jwt[i], "not in introspection mode%s",
                              strcmp(only_jwt[i], "cache") == 0
                                  ? " (see introspection.cache_ttl_s)"
                                  : "");
    }
    if (!v)
        return pc_err_set(err, "introspection", "required in introspection mode");
    if (pc_conf_parse(v, "introspection", jc_introspection_fields, c, err))
        return -1;
    jc_client_auth(&c->is);
    return 0;
}

static void jc_policy(jwt_conf_t *c, const json_t *node)
{
    pc_jwt_claims_policy_t *p = &c->policy;

    pc_jwt_claims_policy_init(p);
    p->issuers = (const char *const *)c->issuers.v;
    p->n_issuers = c->issuers.n;
    p->audiences = (const char *const *)c->audiences.v;
    p->n_audiences = c->audiences.n;
    p->leeway = c->leeway_s;
    /* RFC 7662 responses need not carry exp; JWTs must unless told. */
    p->exp_optional = json_object_get(node, "require_exp") ? !c->require_exp
                                                           : c->mode == JWT_MODE_INTROSPECTION;
    p->max_age = c->max_age_s;
    p->required = (const char *const *)c->required.v;
    p->n_required = c->required.n;
    p->matches = c->matches;
    p->n_matches = c->n_matches;
    if (c->scopes_any) {
        p->scopes_any = (const char *const *)c->scopes.v;
        p->n_scopes_any = c->scopes.n;
    } else {
        p->scopes_all = (const char *const *)c->scopes.v;
        p->n_scopes_all = c->scopes.n;
    }
}

int jwt_conf_create(const json_t *node, void **conf, pc_err_t *err)
{
    jwt_conf_t *c = pc_xcalloc(1, sizeof(*c));

    *conf = c;
    if (pc_conf_parse(node, NULL, jc_fields, c, err) || jc_realm(c, err) ||
        jc_token(c, json_object_get(node, "token"), err) ||
        pc_conf_parse(json_object_get(node, "revocation"), "revocation", jc_revocation_fields, c,
                      err))
        return -1;
    if (c->mode == JWT_MODE_JWT ? jc_mode_jwt(c, node, err)
                                : jc_mode_introspection(c, node, err))
        return -1;
    jc_policy(c, node);
    jc_challenges(c);
    return 0;
}

static void jc_wipe(char *s)
{
    if (s)
        memset(s, 0, strlen(s));
    free(s);
}

void jwt_conf_free(void *conf)
{
    jwt_conf_t *c = conf;

    pc_conf_fields_free(jc_fields, c);
    pc_conf_strings_free(&c->scopes);
    free(c->matches);
    json_decref(c->claims_node);
    pc_jwk_set_unref(c->static_set);
    free(c->jwks_url);
    free(c->default_alg);
    free(c->cookie);
    free(c->query_param);
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
    pc_conf_secret_free(&c->is.client_secret);
    jc_wipe(c->is.auth_header);
    jc_wipe(c->is.post_suffix);
    free(c);
}
