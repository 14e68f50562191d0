/* plugins/jwt/jwt_token.h: JWT algorithms, result codes, and the parser for
 * compact JWS tokens (RFC 7515/7519).
 *
 * This header is the base of the jwt modules: jwt_keys, jwt_verify and
 * jwt_claims include it for pc_jwt_alg_t and pc_jwt_result_t. It depends on
 * jansson only.
 *
 * Parsing treats the token as hostile: every step is linear in its size, the
 * total size is capped before any work, and the header is checked before the
 * signature is even looked at. Parsing never picks a key; it only reports the
 * header's alg and kid for jwt_verify. The header members jku, x5u, jwk and
 * x5c are ignored on purpose: a token must never choose its own key. */
#ifndef PC_JWT_TOKEN_H
#define PC_JWT_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Default cap on the whole compact token, in bytes. */
#define PC_JWT_DEFAULT_MAX_LEN 8192
/* Largest decoded signature kept: RSA-8192, the largest key jwt_keys loads. */
#define PC_JWT_MAX_SIG_LEN 1024

/* The JWS algorithms this implementation verifies. 0 is never a valid alg. */
typedef enum pc_jwt_alg {
    PC_JWT_ALG_INVALID = 0,
    PC_JWT_RS256,
    PC_JWT_RS384,
    PC_JWT_RS512,
    PC_JWT_PS256,
    PC_JWT_PS384,
    PC_JWT_PS512,
    PC_JWT_ES256,
    PC_JWT_ES384,
    PC_JWT_ES512,
    PC_JWT_EDDSA,
    PC_JWT_HS256,
    PC_JWT_HS384,
    PC_JWT_HS512,
    PC_JWT_ALG_COUNT
} pc_jwt_alg_t;

/* One code per reason a token is refused. The client only ever sees
 * "invalid_token"; the code and its reason string go to the log. */
typedef enum pc_jwt_result {
    PC_JWT_OK = 0,
    /* parsing */
    PC_JWT_ERR_TOO_LARGE,       /* over the configured size limit */
    PC_JWT_ERR_MALFORMED,       /* not three dot-separated parts */
    PC_JWT_ERR_JWE,             /* five parts: an encrypted token (JWE) */
    PC_JWT_ERR_BASE64,          /* not strict unpadded base64url */
    PC_JWT_ERR_HEADER_JSON,     /* header is not a JSON object */
    PC_JWT_ERR_PAYLOAD_JSON,    /* payload is not a JSON object */
    PC_JWT_ERR_DUPLICATE_KEY,   /* a member name repeats in header or payload */
    PC_JWT_ERR_ALG_MISSING,     /* no alg, or alg is not a string */
    PC_JWT_ERR_ALG_NONE,        /* alg "none" in any spelling */
    PC_JWT_ERR_ALG_UNSUPPORTED, /* alg is not one of pc_jwt_alg_t */
    PC_JWT_ERR_TYP,             /* typ is not JWT, at+jwt or application/at+jwt */
    PC_JWT_ERR_CRIT,            /* crit lists an extension we do not allow */
    PC_JWT_ERR_HEADER_PARAM,    /* kid not a string, b64 not true */
    /* key choice and signature */
    PC_JWT_ERR_KID_UNKNOWN,     /* no key has the token's kid: refresh JWKS? */
    PC_JWT_ERR_NO_KEY,          /* no kid, and no key is pinned to the alg */
    PC_JWT_ERR_ALG_MISMATCH,    /* the kid's key is pinned to another alg */
    PC_JWT_ERR_SIG_LENGTH,      /* signature has the wrong size for the key */
    PC_JWT_ERR_SIGNATURE,       /* signature does not verify */
    PC_JWT_ERR_INTERNAL,        /* OpenSSL failed (memory): not the token */
    /* claims */
    PC_JWT_ERR_EXP_MISSING,
    PC_JWT_ERR_EXP_TYPE,
    PC_JWT_ERR_EXPIRED,
    PC_JWT_ERR_NBF_TYPE,
    PC_JWT_ERR_NBF_FUTURE,
    PC_JWT_ERR_IAT_TYPE,
    PC_JWT_ERR_IAT_FUTURE,
    PC_JWT_ERR_IAT_MISSING,     /* a max age is configured but iat is absent */
    PC_JWT_ERR_TOO_OLD,         /* now - iat exceeds the max age */
    PC_JWT_ERR_ISS_MISSING,
    PC_JWT_ERR_ISS,
    PC_JWT_ERR_AUD_MISSING,
    PC_JWT_ERR_AUD,
    PC_JWT_ERR_CLAIM_MISSING,   /* a required claim is absent */
    PC_JWT_ERR_CLAIM_MISMATCH,  /* a configured claim match failed */
    PC_JWT_ERR_SCOPE,           /* required scopes not granted */
    PC_JWT_RESULT_COUNT
} pc_jwt_result_t;

/* Options for pc_jwt_parse. A zeroed struct means: 8192-byte limit, no crit
 * extension allowed. The strings are borrowed for the duration of the call. */
typedef struct pc_jwt_parse_opts {
    size_t max_len;                   /* 0 means PC_JWT_DEFAULT_MAX_LEN */
    const char *const *crit_allowed;  /* header names a crit may list */
    size_t n_crit_allowed;
} pc_jwt_parse_opts_t;

/* A parsed, not yet verified token. header and payload are owned (release
 * with pc_jwt_token_clear). signing_input points into the caller's token
 * buffer, which must outlive pc_jwt_verify. kid points into header. */
typedef struct pc_jwt_token {
    pc_jwt_alg_t alg;
    const char *kid;            /* NULL when the header has no kid */
    size_t kid_len;
    json_t *header;
    json_t *payload;
    const char *signing_input;  /* "<header>.<payload>", as sent */
    size_t signing_input_len;
    size_t sig_len;
    unsigned char sig[PC_JWT_MAX_SIG_LEN];
} pc_jwt_token_t;

/* Parses a compact JWS. tok need not be NUL-terminated. opts may be NULL.
 * On success fills *out (release with pc_jwt_token_clear); on failure *out
 * holds nothing that needs releasing, though clearing it is harmless.
 * Thread-safe; no global state. */
pc_jwt_result_t pc_jwt_parse(const char *tok, size_t len, const pc_jwt_parse_opts_t *opts,
                             pc_jwt_token_t *out);

/* Drops the JSON references and zeroes the token; NULL-safe, idempotent. */
void pc_jwt_token_clear(pc_jwt_token_t *t);

/* Exact, case-sensitive JOSE name ("RS256", "EdDSA") to alg; INVALID if
 * unknown. "none" is never an alg here. */
pc_jwt_alg_t pc_jwt_alg_from_name(const char *name, size_t len);
/* JOSE name of alg, or "invalid". */
const char *pc_jwt_alg_name(pc_jwt_alg_t alg);

/* Human text for a result, e.g. "token expired". Never NULL. */
const char *pc_jwt_strerror(pc_jwt_result_t r);
/* Stable machine reason for logs and audit, e.g. "jwt.expired". Never NULL. */
const char *pc_jwt_reason(pc_jwt_result_t r);

/* Decodes base64url (RFC 4648 §5) strictly: alphabet A-Z a-z 0-9 - _ only,
 * no whitespace, and the unused trailing bits must be zero so every input
 * has exactly one encoding. allow_pad accepts trailing '=' (only for JWK
 * members, which some publishers pad; never for tokens). Fails if the result
 * would exceed outcap. Returns 0 and sets *outlen, or -1. */
int pc_jwt_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outcap,
                         size_t *outlen, int allow_pad);
/* Upper bound of the decoded size of len base64url characters. */
#define PC_JWT_B64_DECODED_MAX(len) ((len) / 4 * 3 + 2)

#endif
