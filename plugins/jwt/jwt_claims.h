/* plugins/jwt/jwt_claims.h: claim checks on a verified JWT payload.
 *
 * Call only after the signature verified: claims of an unverified token
 * mean nothing. All functions are pure (time is passed in as now, Unix
 * seconds), allocate nothing, and are safe from any thread.
 *
 * Dotted paths ("realm_access.roles") walk nested objects. Claim names that
 * contain dots themselves ("https://example.com/roles", as Auth0 issues) are
 * found too: at every level the whole remaining path is tried as a literal
 * member name before it is split at the next dot. */
#ifndef PC_JWT_CLAIMS_H
#define PC_JWT_CLAIMS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "jwt_token.h"

#define PC_JWT_DEFAULT_LEEWAY 60

typedef enum pc_jwt_match_op {
    PC_JWT_MATCH_EQUALS = 0, /* claim == value (string, number or boolean) */
    PC_JWT_MATCH_ONE_OF,     /* claim is a string listed in value (array of strings) */
    PC_JWT_MATCH_CONTAINS,   /* claim is an array with an element == value */
} pc_jwt_match_op_t;

/* One configured match. value is borrowed (it usually lives in the parsed
 * configuration); numbers compare by value, so 1 equals 1.0. */
typedef struct pc_jwt_claim_match {
    const char *path;
    pc_jwt_match_op_t op;
    const json_t *value;
} pc_jwt_claim_match_t;

/* What a valid token must satisfy. Build it with pc_jwt_claims_policy_init
 * and then set fields; every pointer is borrowed and must outlive the
 * checks. Empty lists disable their check: configure issuers and audiences
 * for any real deployment (RFC 8725 §3.8, §3.9). */
typedef struct pc_jwt_claims_policy {
    const char *const *issuers;   /* iss must equal one of these exactly */
    size_t n_issuers;
    const char *const *audiences; /* aud (string or array) must hold one */
    size_t n_audiences;
    int64_t leeway;               /* seconds of clock skew for exp/nbf/iat */
    int exp_optional;             /* 0: exp is required (the default) */
    int64_t max_age;              /* > 0: now - iat must not exceed it (iat required) */
    const char *const *required;  /* dotted paths that must be present */
    size_t n_required;
    const pc_jwt_claim_match_t *matches;
    size_t n_matches;
    const char *const *scopes_all; /* every one must be granted */
    size_t n_scopes_all;
    const char *const *scopes_any; /* at least one must be granted */
    size_t n_scopes_any;
} pc_jwt_claims_policy_t;

/* Zeroes p and sets the defaults: leeway 60 s, exp required. */
void pc_jwt_claims_policy_init(pc_jwt_claims_policy_t *p);

/* Load-time check of one match: the value's type must suit the op.
 * Returns 0, or -1 with a message in err. */
int pc_jwt_claim_match_validate(const pc_jwt_claim_match_t *m, char *err, size_t errlen);

/* Checks exp, nbf, iat, max age, iss, aud, required claims, matches and
 * scopes, in that order; returns the first failure. payload is the verified
 * token's payload object. PC_JWT_ERR_SCOPE (and arguably CLAIM_MISMATCH)
 * describe an authorised caller lacking rights: RFC 6750 maps that to 403
 * insufficient_scope rather than 401 invalid_token. */
pc_jwt_result_t pc_jwt_check_claims(const json_t *payload, const pc_jwt_claims_policy_t *p,
                                    int64_t now);

/* The claim at a dotted path, or NULL. Borrowed from payload. */
const json_t *pc_jwt_claim_get(const json_t *payload, const char *path);

/* Scopes granted by "scope" and "scp"; each may be a space-separated string
 * (RFC 8693 §4.2, Azure's scp) or an array of strings (Okta's scp). */
int pc_jwt_scope_has(const json_t *payload, const char *scope);
/* 1 if every scope in want is granted (vacuously true for n == 0). */
int pc_jwt_scopes_has_all(const json_t *payload, const char *const *want, size_t n);
/* 1 if at least one scope in want is granted (false for n == 0). */
int pc_jwt_scopes_has_any(const json_t *payload, const char *const *want, size_t n);

#endif
