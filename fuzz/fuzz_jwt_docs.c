/* fuzz/fuzz_jwt_docs.c: the identity provider's documents other than the
 * key set (fuzz_jwt.c has the JWKS): the OIDC discovery document and the
 * introspection answer, as plugins/jwt/jwt_docs.c reads them, and the
 * claims of an active token through the jwt claim policy (jwt_claims.c),
 * as jwt_introspect.c then judges them.
 *
 * Input modes, chosen by the first byte:
 *   'd'  the rest is a discovery document fetched for FZ_ISSUER;
 *   else the rest is an introspection answer.
 * Checked: an accepted discovery document names FZ_ISSUER and gives an
 * http(s) jwks_uri; a refused one says why and hands out nothing; an
 * introspection answer is active only as a JSON object whose "active" is
 * true, and hands out claims exactly then; nothing leaks (ASan), nothing
 * crashes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jwt_claims.h"
#include "jwt_docs.h"

#define FZ_ISSUER "https://issuer.example"
#define FZ_NOW 1700000000

static pc_jwt_claims_policy_t fz_policy;
static const char *const fz_iss[] = {FZ_ISSUER};
static const char *const fz_aud[] = {"portcullis"};
static const char *const fz_required[] = {"sub"};
static const char *const fz_scopes[] = {"read", "write"};
static pc_jwt_claim_match_t fz_matches[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    pc_jwt_claims_policy_init(&fz_policy);
    fz_policy.issuers = fz_iss;
    fz_policy.n_issuers = 1;
    fz_policy.audiences = fz_aud;
    fz_policy.n_audiences = 1;
    fz_policy.required = fz_required;
    fz_policy.n_required = 1;
    fz_matches[0] = (pc_jwt_claim_match_t){"tenant", PC_JWT_MATCH_EQUALS, json_string("acme")};
    fz_matches[1] = (pc_jwt_claim_match_t){"groups", PC_JWT_MATCH_CONTAINS, json_string("ops")};
    fz_policy.matches = fz_matches;
    fz_policy.n_matches = 2;
    fz_policy.scopes_any = fz_scopes;
    fz_policy.n_scopes_any = 2;
    return 0;
}

static void fz_discovery(const char *body, size_t len)
{
    char err[128];
    char *uri = (char *)"untouched";
    memset(err, 'x', sizeof(err));
    if (jwt_discovery_parse(body, len, FZ_ISSUER, &uri, err, sizeof(err)) != 0) {
        if (strcmp(uri, "untouched") != 0 || !memchr(err, '\0', sizeof(err)) || !err[0])
            abort();
        return;
    }
    if (strncmp(uri, "https://", 8) != 0 && strncmp(uri, "http://", 7) != 0)
        abort();
    /* the document really named our issuer: it must parse with it */
    json_t *doc = json_loadb(body, len, 0, NULL);
    const char *iss = json_string_value(json_object_get(doc, "issuer"));
    if (!iss || strcmp(iss, FZ_ISSUER) != 0)
        abort();
    json_decref(doc);
    free(uri);
}

static void fz_introspection(const char *body, size_t len)
{
    json_t *claims = (json_t *)1;
    int active = jwt_introspect_parse(body, len, &claims);
    if (active != 1) {
        if (active != 0 && active != -1)
            abort();
        if (claims)
            abort();
        return;
    }
    if (!json_is_object(claims) || !json_is_true(json_object_get(claims, "active")))
        abort();
    (void)pc_jwt_check_claims(claims, &fz_policy, FZ_NOW);
    (void)pc_jwt_scopes_has_all(claims, fz_scopes, 2);
    (void)pc_jwt_claim_get(claims, "realm_access.roles");
    json_decref(claims);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] == 'd')
        fz_discovery((const char *)data + 1, size - 1);
    else
        fz_introspection((const char *)data + 1, size - 1);
    return 0;
}
