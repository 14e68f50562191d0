/* plugins/jwt/jwt_http.h: the HTTP-facing parsers of the jwt plugin:
 * credentials in an Authorization header, a Cookie header or a query
 * string; the Cache-Control of a JWKS response; form encoding for token
 * introspection (RFC 7662) and client_secret_basic (RFC 6749 §2.3.1).
 *
 * All of it reads hostile input (request headers, an identity provider's
 * response), so every function is linear, allocates nothing unless it says
 * so, never reads past len, and is covered by fuzz/fuzz_jwt.c. Pure
 * functions: any thread. */
#ifndef PC_JWT_HTTP_H
#define PC_JWT_HTTP_H

#include <stddef.h>

/* What an Authorization header value holds. */
typedef enum jwt_authz {
    JWT_AUTHZ_OTHER = 0,      /* another scheme (Basic, ...): no bearer token here */
    JWT_AUTHZ_BEARER = 1,     /* the token is in tok, toklen */
    JWT_AUTHZ_MALFORMED = -1, /* "Bearer" without exactly one b64token after it */
} jwt_authz_t;

/* RFC 6750 §2.1: credentials = "Bearer" 1*SP b64token, the scheme
 * case-insensitive; b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" /
 * "+" / "/" ) *"=". Trailing spaces or tabs are ignored. *tok points into
 * value. */
jwt_authz_t jwt_http_bearer(const char *value, size_t len, const char **tok, size_t *toklen);

/* The cookie `name` in a Cookie header value (RFC 6265 §4.2.1: "a=b; c=d";
 * a value in double quotes is returned without them). Returns how many
 * cookies of that name the header carries (0, 1, 2 means "2 or more"); *val
 * is the first one's value. */
int jwt_http_cookie(const char *hdr, size_t len, const char *name, const char **val,
                    size_t *vlen);

/* The parameter `name` in a raw query string ("a=1&b=2", without '?').
 * Same return convention as jwt_http_cookie. The value is returned raw
 * (percent escapes are left alone: a JWT never needs them). */
int jwt_http_query(const char *query, size_t len, const char *name, const char **val,
                   size_t *vlen);

/* Freshness lifetime from a Cache-Control value, in seconds: s-maxage if
 * present (we are a shared cache), else max-age; -1 if neither. *no_cache is
 * set when no-store or no-cache is present. Malformed directives are
 * skipped; values are capped at 10 years. cc may be NULL. */
long jwt_http_max_age(const char *cc, int *no_cache);

/* application/x-www-form-urlencoded escaping (HTML's rules: ALPHA DIGIT
 * "*-._" kept, space as '+', the rest %XX). Returns a malloc'd string;
 * aborts on OOM. */
char *jwt_http_form_escape(const char *s, size_t len);

/* "Basic " + base64(form_escape(id) ":" form_escape(secret)), malloc'd. */
char *jwt_http_basic_credentials(const char *id, const char *secret, size_t secret_len);

/* 1 if s (len bytes) may be sent as a header value: no control characters
 * but HTAB, no DEL, at most 8192 bytes. */
int jwt_http_value_ok(const char *s, size_t len);

#endif
