/* plugins/jwt/jwt_docs.c: the discovery document and the introspection
 * answer (contract in jwt_docs.h). Only what decides trust is read here;
 * the claims of an active token are judged by jwt_claims.c like a JWT's. */
#include "jwt_docs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strings here hold no NUL: json_loadb refuses "\u0000" without
 * JSON_ALLOW_NUL, so strcmp sees all of them. */
static int jwt_docs_url_ok(const char *u)
{
    return strncmp(u, "https://", 8) == 0 || strncmp(u, "http://", 7) == 0;
}

int jwt_discovery_parse(const char *body, size_t len, const char *issuer, char **jwks_uri,
                        char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *iss = json_object_get(doc, "issuer");
    const json_t *uri = json_object_get(doc, "jwks_uri");
    int rc = -1;

    if (!json_is_object(doc)) {
        snprintf(err, errlen, "not a JSON object");
    } else if (!json_is_string(iss) || strcmp(json_string_value(iss), issuer) != 0) {
        snprintf(err, errlen, "issuer in the document is not %s", issuer);
    } else if (!json_is_string(uri) || !jwt_docs_url_ok(json_string_value(uri))) {
        snprintf(err, errlen, "no http(s) jwks_uri");
    } else {
        *jwks_uri = strdup(json_string_value(uri));
        if (!*jwks_uri)
            abort(); /* out of memory, as everywhere in the gateway */
        rc = 0;
    }
    json_decref(doc);
    return rc;
}

int jwt_introspect_parse(const char *body, size_t len, json_t **claims)
{
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    const json_t *active = json_object_get(doc, "active");

    *claims = NULL;
    if (!json_is_object(doc) || !json_is_boolean(active)) {
        json_decref(doc);
        return -1;
    }
    if (!json_is_true(active)) {
        json_decref(doc);
        return 0;
    }
    *claims = doc;
    return 1;
}
