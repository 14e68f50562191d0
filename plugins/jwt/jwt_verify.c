/* plugins/jwt/jwt_verify.c: picks the key for a parsed token and checks the
 * signature with OpenSSL. See jwt_verify.h for the rules. This is the hot
 * path: no allocation of ours, one public-key operation per key tried. */
#include "jwt_verify.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

/* JOSE r||s for P-521 is 132 bytes; its DER form is at most 3 + 2 * 69. */
#define JWT_DER_MAX 160

static int jwt_is_ecdsa(pc_jwt_alg_t alg)
{
    return alg == PC_JWT_ES256 || alg == PC_JWT_ES384 || alg == PC_JWT_ES512;
}

/* HMAC with the key's pre-keyed context: dup, update, final. */
static pc_jwt_result_t jwt_verify_hmac(const pc_jwk_t *k, const pc_jwt_token_t *t)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(k->mac);
    pc_jwt_result_t r = PC_JWT_ERR_INTERNAL;

    if (!ctx ||
        EVP_MAC_update(ctx, (const unsigned char *)t->signing_input, t->signing_input_len) != 1 ||
        EVP_MAC_final(ctx, mac, &maclen, sizeof(mac)) != 1) {
        ERR_clear_error();
        goto out;
    }
    /* Constant time: the comparison must not reveal how many bytes matched. */
    r = maclen == t->sig_len && CRYPTO_memcmp(mac, t->sig, maclen) == 0 ? PC_JWT_OK
                                                                        : PC_JWT_ERR_SIGNATURE;
out:
    EVP_MAC_CTX_free(ctx);
    OPENSSL_cleanse(mac, sizeof(mac));
    return r;
}

/* One DER INTEGER from a big-endian unsigned value: minimal, positive. */
static size_t jwt_der_int(unsigned char *out, const unsigned char *v, size_t n)
{
    size_t pad;

    while (n > 1 && v[0] == 0) {
        v++;
        n--;
    }
    pad = (v[0] & 0x80) ? 1 : 0;
    out[0] = 0x02;
    out[1] = (unsigned char)(n + pad); /* at most 67: short form */
    out[2] = 0;
    memcpy(out + 2 + pad, v, n);
    return 2 + pad + n;
}

/* JOSE r||s (RFC 7518 §3.4) to the DER ECDSA-Sig-Value OpenSSL verifies.
 * Written by hand to keep BIGNUM allocations off the hot path. */
static size_t jwt_ecdsa_to_der(const unsigned char *sig, size_t len, unsigned char *der)
{
    unsigned char body[JWT_DER_MAX];
    size_t half = len / 2, b, off;

    b = jwt_der_int(body, sig, half);
    b += jwt_der_int(body + b, sig + half, half);
    der[0] = 0x30;
    if (b < 0x80) {
        der[1] = (unsigned char)b;
        off = 2;
    } else {
        der[1] = 0x81;
        der[2] = (unsigned char)b;
        off = 3;
    }
    memcpy(der + off, body, b);
    return off + b;
}

/* Copies the key's prepared context (digest, padding and PSS salt already
 * set, see jwt_keys.c) rather than re-initialising: OpenSSL 3 fetches the
 * algorithms again on every init. */
static pc_jwt_result_t jwt_verify_pkey(const pc_jwk_t *k, const pc_jwt_token_t *t,
                                       const unsigned char *sig, size_t siglen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    pc_jwt_result_t r = PC_JWT_ERR_INTERNAL;
    int rc;

    if (!md || EVP_MD_CTX_copy_ex(md, k->vctx) != 1)
        goto out;
    rc = EVP_DigestVerify(md, sig, siglen, (const unsigned char *)t->signing_input,
                          t->signing_input_len);
    /* 0 is a bad signature; <0 a signature OpenSSL could not even decode. */
    r = rc == 1 ? PC_JWT_OK : PC_JWT_ERR_SIGNATURE;
out:
    EVP_MD_CTX_free(md);
    if (r != PC_JWT_OK)
        ERR_clear_error(); /* keep this thread's error queue clean */
    return r;
}

static pc_jwt_result_t jwt_verify_key(const pc_jwk_t *k, const pc_jwt_token_t *t)
{
    unsigned char der[JWT_DER_MAX];

    if (t->sig_len != k->sig_len)
        return PC_JWT_ERR_SIG_LENGTH;
    if (!k->pkey)
        return jwt_verify_hmac(k, t);
    if (jwt_is_ecdsa(k->alg))
        return jwt_verify_pkey(k, t, der, jwt_ecdsa_to_der(t->sig, t->sig_len, der));
    return jwt_verify_pkey(k, t, t->sig, t->sig_len);
}

/* When several keys were tried, report the most telling failure. */
static pc_jwt_result_t jwt_worse(pc_jwt_result_t a, pc_jwt_result_t b)
{
    if (a == PC_JWT_ERR_INTERNAL || b == PC_JWT_ERR_INTERNAL)
        return PC_JWT_ERR_INTERNAL;
    if (a == PC_JWT_ERR_SIGNATURE || b == PC_JWT_ERR_SIGNATURE)
        return PC_JWT_ERR_SIGNATURE;
    return b;
}

static int jwt_kid_eq(const pc_jwk_t *k, const pc_jwt_token_t *t)
{
    return k->kid && k->kid_len == t->kid_len && memcmp(k->kid, t->kid, t->kid_len) == 0;
}

/* Pass 0 takes the keys with the token's kid (all keys when the token has
 * none); pass 1 the kid-less keys, as a fallback for a kid nobody has. */
static int jwt_candidate(const pc_jwk_t *k, const pc_jwt_token_t *t, int pass)
{
    if (pass == 1)
        return k->kid == NULL;
    return t->kid == NULL || jwt_kid_eq(k, t);
}

pc_jwt_result_t pc_jwt_verify(const pc_jwk_set_t *set, const pc_jwt_token_t *tok)
{
    pc_jwt_result_t r = PC_JWT_ERR_SIG_LENGTH;
    size_t n = pc_jwk_set_count(set);
    int tries = 0, kid_seen = 0;

    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n && tries < PC_JWT_MAX_TRIES; i++) {
            const pc_jwk_t *k = pc_jwk_set_get(set, i);
            if (!jwt_candidate(k, tok, pass))
                continue;
            kid_seen |= pass == 0;
            if (k->alg != tok->alg)
                continue;
            tries++;
            pc_jwt_result_t kr = jwt_verify_key(k, tok);
            if (kr == PC_JWT_OK)
                return PC_JWT_OK;
            r = jwt_worse(r, kr);
        }
        /* The fallback pass only runs for a kid no key carries. */
        if (!tok->kid || kid_seen)
            break;
    }
    if (tok->kid && !kid_seen)
        return PC_JWT_ERR_KID_UNKNOWN;
    if (tries == 0)
        return tok->kid ? PC_JWT_ERR_ALG_MISMATCH : PC_JWT_ERR_NO_KEY;
    return r;
}

pc_jwt_result_t pc_jwt_authenticate(const char *tok, size_t len, const pc_jwt_parse_opts_t *opts,
                                    const pc_jwk_set_t *set, const pc_jwt_claims_policy_t *policy,
                                    int64_t now, pc_jwt_token_t *out)
{
    pc_jwt_result_t r = pc_jwt_parse(tok, len, opts, out);

    if (r != PC_JWT_OK)
        return r;
    if ((r = pc_jwt_verify(set, out)) == PC_JWT_OK && policy)
        r = pc_jwt_check_claims(out->payload, policy, now);
    if (r != PC_JWT_OK)
        pc_jwt_token_clear(out);
    return r;
}
