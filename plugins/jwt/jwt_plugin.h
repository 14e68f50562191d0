/* plugins/jwt/jwt_plugin.h: the jwt plugin's private types, shared by
 * jwt_conf.c (configuration), jwt_plugin.c (the request path) and
 * jwt_introspect.c (RFC 7662 mode). Not a public header: only the plugin
 * table pc_plugin_jwt is exported. See docs/jwt.md for the behaviour. */
#ifndef PC_JWT_PLUGIN_H
#define PC_JWT_PLUGIN_H

#include <portcullis/plugin.h>

#include <stdbool.h>
#include <stdint.h>

#include "jwt_cache.h"
#include "jwt_claims.h"
#include "jwt_keys.h"
#include "jwt_remote.h"
#include "jwt_token.h"

typedef enum jwt_mode { JWT_MODE_JWT = 0, JWT_MODE_INTROSPECTION } jwt_mode_t;

/* claims_to_headers: one claim (dotted path) or the granted scopes. */
typedef struct jwt_c2h {
    char *claim;
    char *header;
    int scopes;                  /* "scope", "scp" or "scopes": the granted scopes */
} jwt_c2h_t;

typedef struct jwt_introspect_conf {
    char *url;
    char *client_id;
    pc_conf_secret_t client_secret;
    int auth_post;               /* client_secret_post; else client_secret_basic */
    char *auth_header;           /* "Authorization: Basic ..." (basic) */
    char *post_suffix;           /* "&client_id=..&client_secret=.." (post) */
    unsigned cache_ttl_s, negative_ttl_s, timeout_ms;
    unsigned max_entries;
    bool allow_on_error;         /* on_error "allow": continue without identity */
} jwt_introspect_conf_t;

typedef struct jwt_conf {
    int mode;                    /* jwt_mode_t */

    /* claims policy; the policy's pointers point into these arrays */
    pc_conf_strings_t issuers, audiences, required, scopes;
    bool scopes_any;
    pc_jwt_claim_match_t *matches;
    size_t n_matches;
    json_t *claims_node;         /* holds the match values */
    pc_jwt_claims_policy_t policy;
    unsigned alg_mask;           /* 1u << alg for allowed algs; 0: any key's alg */
    size_t max_token;

    /* keys */
    pc_jwk_set_t *static_set;    /* inline/file keys, or NULL */
    bool has_remote;
    char *jwks_url, *default_alg;
    jwt_remote_cfg_t remote;     /* strings point into this conf */
    unsigned unknown_kid_wait_ms;
    jwt_keysrc_t *src;           /* set by start(), released by stop() */

    /* credentials */
    bool src_header, src_query;
    char *cookie, *query_param;
    bool optional;

    /* answers */
    char *realm;
    char *www_missing, *www_invalid, *www_scope, *www_request;

    jwt_c2h_t *c2h;
    size_t n_c2h;

    bool cache_enabled;
    unsigned cache_max;
    unsigned cache_ttl_s;
    pc_metric_t *cache_hits, *cache_misses; /* start(): the verified-token cache's lookups */

    bool revocation;
    pc_store_ns_t *revoked;        /* start(): PC_STORE_NS_REVOKED_JTI */
    bool revocation_allow_on_error;

    jwt_introspect_conf_t is;

    /* read at load time only, into the policy */
    bool discovery, require_exp;
    unsigned leeway_s, max_age_s, max_bytes;
} jwt_conf_t;

typedef struct jwt_rq jwt_rq_t;

/* Per worker and configuration generation (worker_init). */
typedef struct jwt_worker {
    const jwt_conf_t *c;
    pc_worker_t *w;
    jwt_cache_t *cache;          /* verified tokens, or introspection results */
    pc_jwk_set_t *set;           /* static + remote keys, own reference */
    unsigned serial;             /* remote serial the set was built from */
    jwt_rq_t *waiters;           /* requests waiting for a key refresh, newest first */
    pc_wake_t *wake;             /* signalled by the key source when an attempt ends */
    pc_timer_t *deadline;        /* the oldest waiter's unknown_kid_wait_ms */
} jwt_worker_t;

/* Per request (req_ctx_size, zeroed, in the request arena). */
struct jwt_rq {
    pc_request_t *r;
    const jwt_conf_t *c;
    jwt_worker_t *ws;
    pc_async_t *a;               /* the one token of this request, if any */
    const char *tok;
    size_t tok_len;
    unsigned char digest[JWT_DIGEST_LEN];
    int have_digest;
    jwt_ident_t *ident;          /* the request's reference (released by a cleanup) */
    /* waiting for keys */
    jwt_rq_t *wprev, *wnext;
    int64_t wait_deadline_ms;
    unsigned attempts0, serial0;
};

/* jwt_conf.c */
int jwt_conf_create(const json_t *node, void **conf, pc_err_t *err);
void jwt_conf_free(void *conf);

/* jwt_plugin.c, used by jwt_introspect.c */
pc_status_t jwt_verdict(jwt_rq_t *rq, pc_status_t st);
pc_status_t jwt_accept(jwt_rq_t *rq, jwt_ident_t *id);
pc_status_t jwt_deny_invalid(jwt_rq_t *rq, const char *why);
pc_status_t jwt_deny_scope(jwt_rq_t *rq);
pc_status_t jwt_deny_unavailable(jwt_rq_t *rq, const char *reason, const char *why);
/* An identity for a verified payload (claims, jti, claims_to_headers). */
jwt_ident_t *jwt_ident_build(const jwt_conf_t *c, json_t *payload);

/* jwt_introspect.c */
pc_status_t jwt_introspect_start(jwt_rq_t *rq);

#endif
