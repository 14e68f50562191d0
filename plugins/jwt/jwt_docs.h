/* plugins/jwt/jwt_docs.h: the identity provider's JSON documents other than
 * the key set (jwt_keys.h reads the JWKS): the OIDC discovery document and
 * the introspection answer (RFC 7662). They arrive from the network, so
 * they are read here, by pure functions that the unit tests and
 * fuzz/fuzz_jwt_docs.c reach without a fetch, a loop or a request. Any
 * thread; body need not be NUL-terminated. */
#ifndef PC_JWT_DOCS_H
#define PC_JWT_DOCS_H

#include <jansson.h>

#include <stddef.h>

/* OpenID Connect Discovery 1.0: body is the configuration document fetched
 * for issuer. 0 with *jwks_uri (malloc'd, the caller frees it) when body is
 * a JSON object (no duplicate members) whose "issuer" is exactly issuer
 * (§4.3) and whose "jwks_uri" is an http:// or https:// URL; -1 with a
 * short reason in err otherwise (*jwks_uri untouched). */
int jwt_discovery_parse(const char *body, size_t len, const char *issuer, char **jwks_uri,
                        char *err, size_t errlen);

/* RFC 7662 §2.2: body is the introspection answer. 1 (active) with *claims,
 * the document itself (a reference the caller owns: json_decref), for the
 * claim policy to judge; 0 (not active) and -1 (not a JSON object with a
 * boolean "active", or duplicate members) with *claims NULL. */
int jwt_introspect_parse(const char *body, size_t len, json_t **claims);

#endif
