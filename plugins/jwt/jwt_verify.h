/* plugins/jwt/jwt_verify.h: key choice and signature verification.
 *
 * Key choice never looks at jku/x5u/jwk/x5c; it uses only the configured set:
 * - token with kid: the keys with that kid. If none has it, keys without a
 *   kid are tried as a fallback (a PEM configured without kid must still
 *   accept IdP tokens, which always carry one); when that fallback does not
 *   verify, the result is PC_JWT_ERR_KID_UNKNOWN so the caller may refresh
 *   its JWKS (rate-limit that: attackers choose kids freely).
 * - token without kid: every key pinned to the header alg.
 * In both cases a key is used only if its pinned alg equals the header alg
 * exactly, and at most PC_JWT_MAX_TRIES keys are tried, so a token costs a
 * bounded number of public-key operations.
 *
 * Signature rules: RS* PKCS#1 v1.5; PS* PSS with MGF1 of the same hash and
 * salt length = hash length; ES* the JOSE r||s form of exactly twice the
 * curve size (DER is refused); EdDSA Ed25519; HS* HMAC compared with
 * CRYPTO_memcmp. The signature length must equal the key's exactly.
 *
 * Thread-safe: the set is read-only; each call copies the key's prepared
 * context into its own EVP_MD_CTX/EVP_MAC_CTX. In OpenSSL 3.0 the copy
 * (EVP_MD_CTX_copy_ex -> EVP_PKEY_CTX_dup -> provider dupctx) only reads the
 * source and takes atomic references; test_jwt's thread test runs clean
 * under TSan, though libcrypto itself is not instrumented. Event-loop
 * safe: no I/O, no locks of our own. Cost: one public-key operation plus
 * ~3 us (RS256 ~19 us in all on the build host, see bench/). */
#ifndef PC_JWT_VERIFY_H
#define PC_JWT_VERIFY_H

#include <stdint.h>

#include "jwt_claims.h"
#include "jwt_keys.h"
#include "jwt_token.h"

/* Most keys tried for one token. */
#define PC_JWT_MAX_TRIES 4

/* Checks tok's signature against set. tok comes from pc_jwt_parse and its
 * source buffer must still be alive (signing_input points into it). */
pc_jwt_result_t pc_jwt_verify(const pc_jwk_set_t *set, const pc_jwt_token_t *tok);

/* The whole check in one call: parse, verify, then claims (policy may be
 * NULL to skip claims). On PC_JWT_OK, out holds the token and the caller
 * releases it with pc_jwt_token_clear; on failure out is already clear.
 * now is Unix time in seconds (injected for tests). */
pc_jwt_result_t pc_jwt_authenticate(const char *tok, size_t len, const pc_jwt_parse_opts_t *opts,
                                    const pc_jwk_set_t *set, const pc_jwt_claims_policy_t *policy,
                                    int64_t now, pc_jwt_token_t *out);

#endif
