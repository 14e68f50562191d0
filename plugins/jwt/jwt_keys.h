/* plugins/jwt/jwt_keys.h: verification key sets, loaded once and shared.
 *
 * Every key is parsed once at load time into an EVP_PKEY (or an HMAC secret)
 * and pinned to exactly ONE algorithm. A token can only ever be checked with
 * its key's pinned alg, so alg confusion (HS256 with a public key as secret,
 * RS256 against an HMAC key) cannot be expressed.
 *
 * The pinned alg comes from, in order: the JWK "alg" member (must fit the key
 * type and curve, else the load fails); the configured default alg, when it
 * fits the key; the key itself where unambiguous (P-256 -> ES256, P-384 ->
 * ES384, P-521 -> ES512, Ed25519 -> EdDSA). RSA and oct keys with neither a
 * JWK alg nor a fitting default are a load error.
 *
 * Load-time rules: RSA keys 2048..8192 bits; HMAC secrets at least as long as
 * the hash (32/48/64 bytes); public keys pass EVP_PKEY_public_check. In a
 * JWKS, keys whose "use" is not "sig", whose "key_ops" lacks "verify", or
 * whose kty/crv/alg we do not support (e.g. RSA-OAEP, X25519, secp256k1) are
 * skipped and counted (pc_jwk_set_skipped); malformed keys of a supported
 * kind fail the whole load. Only public members are read: "d" and friends
 * are ignored, as are "x5c"/"x5u" (the key comes from n/e, x/y, k).
 *
 * Lifetime and threads: a set is immutable after load and reference counted
 * with an atomic counter. Any thread may pc_jwk_set_ref/unref it; JWKS
 * refresh builds a new set and swaps the pointer, old readers keep theirs.
 * Verification with a shared EVP_PKEY is thread-safe in OpenSSL 3 because
 * each call uses its own EVP_MD_CTX/EVP_PKEY_CTX (see jwt_verify.c). */
#ifndef PC_JWT_KEYS_H
#define PC_JWT_KEYS_H

#include <stddef.h>

#include <openssl/evp.h>

#include "jwt_token.h"

/* Most keys one set holds (after skipping unusable JWKS entries). */
#define PC_JWK_SET_MAX 64

/* One loaded key. Read-only once in a set. */
typedef struct pc_jwk {
    char *kid;             /* NUL-terminated; NULL when the key has no kid */
    size_t kid_len;
    pc_jwt_alg_t alg;      /* the one algorithm this key verifies */
    size_t sig_len;        /* exact signature size for this key and alg */
    EVP_PKEY *pkey;        /* RS/PS/ES/EdDSA public key; NULL for HS */
    unsigned char *secret; /* HS only */
    size_t secret_len;
    /* Private to jwt_verify: contexts set up once at load (digest, padding,
     * PSS salt, HMAC key) that each verification copies instead of
     * re-initialising; the copy is ~0.5 us where a fresh init costs ~5 us
     * of algorithm fetching in OpenSSL 3. Only ever read after load. */
    EVP_MD_CTX *vctx;      /* RS/PS/ES/EdDSA */
    EVP_MAC_CTX *mac;      /* HS */
} pc_jwk_t;

typedef struct pc_jwk_set pc_jwk_set_t;

/* Loads a JWKS ({"keys":[...]}) or a single JWK object. default_alg (may be
 * NULL) pins keys without "alg" when it fits them. Returns a set with one
 * reference, or NULL with a message in err (errlen may be 0). */
pc_jwk_set_t *pc_jwk_set_from_jwks(const char *json, size_t len, const char *default_alg,
                                   char *err, size_t errlen);

/* Loads one public key from PEM: SubjectPublicKeyInfo ("PUBLIC KEY") or an
 * X.509 certificate (only its key is used: no chain, dates or revocation;
 * this is key pinning, not PKI). The first PEM block is used. alg may be NULL
 * for EC and Ed25519 keys; kid may be NULL. */
pc_jwk_set_t *pc_jwk_set_from_pem(const char *pem, size_t len, const char *alg, const char *kid,
                                  char *err, size_t errlen);

/* One HMAC key. alg is HS256, HS384 or HS512 (required); secret is copied. */
pc_jwk_set_t *pc_jwk_set_hmac(const unsigned char *secret, size_t len, const char *alg,
                              const char *kid, char *err, size_t errlen);

/* A new set with the keys of a then b (keys are shared, not copied). Fails
 * past PC_JWK_SET_MAX keys. a and b keep their own references. */
pc_jwk_set_t *pc_jwk_set_merge(const pc_jwk_set_t *a, const pc_jwk_set_t *b, char *err,
                               size_t errlen);

/* Atomic reference counting; unref frees on the last reference. NULL-safe. */
pc_jwk_set_t *pc_jwk_set_ref(pc_jwk_set_t *s);
void pc_jwk_set_unref(pc_jwk_set_t *s);

size_t pc_jwk_set_count(const pc_jwk_set_t *s);
const pc_jwk_t *pc_jwk_set_get(const pc_jwk_set_t *s, size_t i);
/* JWKS entries skipped at load (not for signing, or unsupported). */
size_t pc_jwk_set_skipped(const pc_jwk_set_t *s);

#endif
