/* plugins/jwt/jwt_claims.c: registered-claim checks (RFC 7519 §4.1), claim
 * matches on dotted paths, and OAuth scopes. See jwt_claims.h. */
#include "jwt_claims.h"

#include <stdio.h>
#include <string.h>

/* Time claims are compared as doubles: JSON allows 1.7e9 as well as
 * 1700000000, and a hostile exp of 1e300 must not overflow anything. */
typedef struct jwt_time {
    int present;
    double value;
} jwt_time_t;

void pc_jwt_claims_policy_init(pc_jwt_claims_policy_t *p)
{
    memset(p, 0, sizeof(*p));
    p->leeway = PC_JWT_DEFAULT_LEEWAY;
}

static int jwt_str_eq(const json_t *s, const char *c)
{
    size_t n = strlen(c);

    return json_is_string(s) && json_string_length(s) == n &&
           memcmp(json_string_value(s), c, n) == 0;
}

static int jwt_str_in(const json_t *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (jwt_str_eq(s, list[i]))
            return 1;
    }
    return 0;
}

/* Reads a numeric time claim. Present but not a number is an error. */
static int jwt_time_get(const json_t *payload, const char *name, jwt_time_t *t)
{
    const json_t *v = json_object_get(payload, name);

    t->present = v != NULL;
    t->value = 0;
    if (!v)
        return 0;
    if (!json_is_number(v))
        return -1;
    t->value = json_number_value(v);
    return 0;
}

static pc_jwt_result_t jwt_check_times(const json_t *payload, const pc_jwt_claims_policy_t *p,
                                       int64_t now)
{
    double n = (double)now, lw = (double)p->leeway;
    jwt_time_t exp, nbf, iat;

    if (jwt_time_get(payload, "exp", &exp) == -1)
        return PC_JWT_ERR_EXP_TYPE;
    if (jwt_time_get(payload, "nbf", &nbf) == -1)
        return PC_JWT_ERR_NBF_TYPE;
    if (jwt_time_get(payload, "iat", &iat) == -1)
        return PC_JWT_ERR_IAT_TYPE;
    if (!exp.present && !p->exp_optional)
        return PC_JWT_ERR_EXP_MISSING;
    /* RFC 7519 §4.1.4: valid only while now is before exp. */
    if (exp.present && n >= exp.value + lw)
        return PC_JWT_ERR_EXPIRED;
    if (nbf.present && n + lw < nbf.value)
        return PC_JWT_ERR_NBF_FUTURE;
    if (iat.present && n + lw < iat.value)
        return PC_JWT_ERR_IAT_FUTURE;
    if (p->max_age > 0) {
        if (!iat.present)
            return PC_JWT_ERR_IAT_MISSING;
        if (n - iat.value > (double)p->max_age + lw)
            return PC_JWT_ERR_TOO_OLD;
    }
    return PC_JWT_OK;
}

static pc_jwt_result_t jwt_check_iss(const json_t *payload, const pc_jwt_claims_policy_t *p)
{
    const json_t *iss = json_object_get(payload, "iss");

    if (p->n_issuers == 0)
        return PC_JWT_OK;
    if (!iss)
        return PC_JWT_ERR_ISS_MISSING;
    return jwt_str_in(iss, p->issuers, p->n_issuers) ? PC_JWT_OK : PC_JWT_ERR_ISS;
}

/* RFC 7519 §4.1.3: aud is a string or an array of strings, and one of them
 * must name us. A non-string element makes the whole claim invalid. */
static pc_jwt_result_t jwt_check_aud(const json_t *payload, const pc_jwt_claims_policy_t *p)
{
    const json_t *aud = json_object_get(payload, "aud"), *v;
    int found = 0;
    size_t i;

    if (p->n_audiences == 0)
        return PC_JWT_OK;
    if (!aud)
        return PC_JWT_ERR_AUD_MISSING;
    if (json_is_string(aud))
        return jwt_str_in(aud, p->audiences, p->n_audiences) ? PC_JWT_OK : PC_JWT_ERR_AUD;
    if (!json_is_array(aud))
        return PC_JWT_ERR_AUD;
    json_array_foreach(aud, i, v) {
        if (!json_is_string(v))
            return PC_JWT_ERR_AUD;
        found |= jwt_str_in(v, p->audiences, p->n_audiences);
    }
    return found ? PC_JWT_OK : PC_JWT_ERR_AUD;
}

const json_t *pc_jwt_claim_get(const json_t *payload, const char *path)
{
    const json_t *cur = payload, *v;
    const char *p = path, *dot;

    while (json_is_object(cur)) {
        if ((v = json_object_get(cur, p)) != NULL)
            return v; /* the rest of the path is one (dotted) member name */
        if (!(dot = strchr(p, '.')))
            return NULL;
        cur = json_object_getn(cur, p, (size_t)(dot - p));
        p = dot + 1;
    }
    return NULL;
}

/* Scalar equality for matches: same JSON type family, numbers by value. */
static int jwt_scalar_eq(const json_t *a, const json_t *b)
{
    if (json_is_string(a) && json_is_string(b))
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    if (json_is_integer(a) && json_is_integer(b))
        return json_integer_value(a) == json_integer_value(b);
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_is_boolean(a) && json_is_boolean(b))
        return json_is_true(a) == json_is_true(b);
    return 0;
}

static int jwt_match_one(const json_t *claim, const pc_jwt_claim_match_t *m)
{
    const json_t *v;
    size_t i;

    switch (m->op) {
    case PC_JWT_MATCH_EQUALS:
        return jwt_scalar_eq(claim, m->value);
    case PC_JWT_MATCH_ONE_OF:
        if (!json_is_string(claim))
            return 0;
        json_array_foreach(m->value, i, v) {
            if (jwt_scalar_eq(claim, v))
                return 1;
        }
        return 0;
    case PC_JWT_MATCH_CONTAINS:
        if (!json_is_array(claim))
            return 0;
        json_array_foreach(claim, i, v) {
            if (jwt_scalar_eq(v, m->value))
                return 1;
        }
        return 0;
    }
    return 0;
}

static int jwt_is_scalar(const json_t *v)
{
    return json_is_string(v) || json_is_number(v) || json_is_boolean(v);
}

int pc_jwt_claim_match_validate(const pc_jwt_claim_match_t *m, char *err, size_t errlen)
{
    const json_t *v;
    size_t i;
    const char *why = NULL;

    if (!m->path || !*m->path)
        why = "empty claim path";
    else if ((m->op == PC_JWT_MATCH_EQUALS || m->op == PC_JWT_MATCH_CONTAINS) &&
             !jwt_is_scalar(m->value))
        why = "value must be a string, number or boolean";
    else if (m->op == PC_JWT_MATCH_ONE_OF && !json_is_array(m->value))
        why = "one_of needs an array of strings";
    else if (m->op != PC_JWT_MATCH_EQUALS && m->op != PC_JWT_MATCH_ONE_OF &&
             m->op != PC_JWT_MATCH_CONTAINS)
        why = "unknown match operator";
    if (!why && m->op == PC_JWT_MATCH_ONE_OF) {
        json_array_foreach(m->value, i, v) {
            if (!json_is_string(v))
                why = "one_of needs an array of strings";
        }
    }
    if (!why)
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "claim %s: %s", m->path ? m->path : "(null)", why);
    return -1;
}

static pc_jwt_result_t jwt_check_paths(const json_t *payload, const pc_jwt_claims_policy_t *p)
{
    for (size_t i = 0; i < p->n_required; i++) {
        if (!pc_jwt_claim_get(payload, p->required[i]))
            return PC_JWT_ERR_CLAIM_MISSING;
    }
    for (size_t i = 0; i < p->n_matches; i++) {
        const json_t *c = pc_jwt_claim_get(payload, p->matches[i].path);
        if (!c || !jwt_match_one(c, &p->matches[i]))
            return PC_JWT_ERR_CLAIM_MISMATCH;
    }
    return PC_JWT_OK;
}

/* Is scope one of the space-separated tokens of s (RFC 6749 §3.3)? */
static int jwt_scope_in_string(const char *s, size_t len, const char *scope, size_t n)
{
    const char *end = s + len, *sp;

    while (s < end) {
        sp = memchr(s, ' ', (size_t)(end - s));
        if (!sp)
            sp = end;
        if ((size_t)(sp - s) == n && memcmp(s, scope, n) == 0)
            return 1;
        s = sp + 1;
    }
    return 0;
}

static int jwt_scope_in_claim(const json_t *c, const char *scope, size_t n)
{
    const json_t *v;
    size_t i;

    if (json_is_string(c))
        return jwt_scope_in_string(json_string_value(c), json_string_length(c), scope, n);
    json_array_foreach(c, i, v) {
        if (json_is_string(v) && json_string_length(v) == n &&
            memcmp(json_string_value(v), scope, n) == 0)
            return 1;
    }
    return 0;
}

int pc_jwt_scope_has(const json_t *payload, const char *scope)
{
    size_t n = strlen(scope);

    if (n == 0)
        return 0;
    return jwt_scope_in_claim(json_object_get(payload, "scope"), scope, n) ||
           jwt_scope_in_claim(json_object_get(payload, "scp"), scope, n);
}

int pc_jwt_scopes_has_all(const json_t *payload, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!pc_jwt_scope_has(payload, want[i]))
            return 0;
    }
    return 1;
}

int pc_jwt_scopes_has_any(const json_t *payload, const char *const *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (pc_jwt_scope_has(payload, want[i]))
            return 1;
    }
    return 0;
}

static pc_jwt_result_t jwt_check_scopes(const json_t *payload, const pc_jwt_claims_policy_t *p)
{
    if (!pc_jwt_scopes_has_all(payload, p->scopes_all, p->n_scopes_all))
        return PC_JWT_ERR_SCOPE;
    if (p->n_scopes_any && !pc_jwt_scopes_has_any(payload, p->scopes_any, p->n_scopes_any))
        return PC_JWT_ERR_SCOPE;
    return PC_JWT_OK;
}

pc_jwt_result_t pc_jwt_check_claims(const json_t *payload, const pc_jwt_claims_policy_t *p,
                                    int64_t now)
{
    pc_jwt_result_t r;

    if (!json_is_object(payload))
        return PC_JWT_ERR_PAYLOAD_JSON;
    if ((r = jwt_check_times(payload, p, now)) != PC_JWT_OK)
        return r;
    if ((r = jwt_check_iss(payload, p)) != PC_JWT_OK)
        return r;
    if ((r = jwt_check_aud(payload, p)) != PC_JWT_OK)
        return r;
    if ((r = jwt_check_paths(payload, p)) != PC_JWT_OK)
        return r;
    return jwt_check_scopes(payload, p);
}
