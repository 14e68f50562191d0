/* plugins/jwt/jwt_keys.c: loading JWKS, JWK, PEM and HMAC keys into
 * immutable, reference-counted sets with one pinned alg per key. See
 * jwt_keys.h for the rules. Runs at load/refresh time only, so clarity and
 * precise error messages matter more than speed here. */
#include "jwt_keys.h"

#include <portcullis/plugin.h>

#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <jansson.h>

#define JWT_RSA_MIN_BITS 2048
#define JWT_RSA_MAX_BITS 8192
/* A JWK modulus may carry a leading zero byte; allow it and a little more. */
#define JWT_RSA_N_CAP (JWT_RSA_MAX_BITS / 8 + 8)
#define JWT_RSA_E_CAP 16
#define JWT_EC_COORD_CAP 66
#define JWT_OCT_CAP 1024

struct pc_jwk_set {
    atomic_uint refs;
    size_t n;
    size_t skipped;
    pc_jwk_t keys[PC_JWK_SET_MAX];
};

/* What a single JWK turned out to be. */
enum { JWT_JWK_OK = 0, JWT_JWK_SKIP = 1, JWT_JWK_ERROR = -1 };

static const struct {
    const char *crv;   /* JWK name */
    const char *group; /* OpenSSL group name */
    size_t size;       /* coordinate bytes */
    pc_jwt_alg_t alg;  /* the only JWS alg for this curve */
} jwt_curves[] = {
    {"P-256", "prime256v1", 32, PC_JWT_ES256},
    {"P-384", "secp384r1", 48, PC_JWT_ES384},
    {"P-521", "secp521r1", 66, PC_JWT_ES512},
};

__attribute__((format(printf, 3, 4))) static void jwt_err(char *err, size_t errlen,
                                                          const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Appends OpenSSL's last error, then clears the queue so it does not leak
 * into unrelated code running later on this thread. */
static void jwt_err_ssl(char *err, size_t errlen, const char *what)
{
    char buf[256] = "unknown";
    unsigned long e = ERR_peek_last_error();

    if (e)
        ERR_error_string_n(e, buf, sizeof(buf));
    jwt_err(err, errlen, "%s (%s)", what, buf);
    ERR_clear_error();
}

static void *jwt_xmemdup(const void *p, size_t n, int nul)
{
    char *d = pc_xmalloc(n + 1);

    memcpy(d, p, n);
    if (nul)
        d[n] = '\0';
    return d;
}

static pc_jwk_set_t *jwt_set_new(void)
{
    pc_jwk_set_t *s = pc_xcalloc(1, sizeof(*s));

    atomic_init(&s->refs, 1);
    return s;
}

static void jwt_key_free(pc_jwk_t *k)
{
    EVP_MD_CTX_free(k->vctx);
    EVP_MAC_CTX_free(k->mac);
    free(k->kid);
    EVP_PKEY_free(k->pkey);
    OPENSSL_clear_free(k->secret, k->secret_len); /* secrets do not linger in freed memory */
    memset(k, 0, sizeof(*k));
}

static void jwt_set_free(pc_jwk_set_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        jwt_key_free(&s->keys[i]);
    free(s);
}

pc_jwk_set_t *pc_jwk_set_ref(pc_jwk_set_t *s)
{
    if (s)
        atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

void pc_jwk_set_unref(pc_jwk_set_t *s)
{
    /* acq_rel: the last owner must see every other owner's reads done. */
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        jwt_set_free(s);
}

size_t pc_jwk_set_count(const pc_jwk_set_t *s)
{
    return s ? s->n : 0;
}

const pc_jwk_t *pc_jwk_set_get(const pc_jwk_set_t *s, size_t i)
{
    return s && i < s->n ? &s->keys[i] : NULL;
}

size_t pc_jwk_set_skipped(const pc_jwk_set_t *s)
{
    return s ? s->skipped : 0;
}

static size_t jwt_hmac_size(pc_jwt_alg_t alg)
{
    switch (alg) {
    case PC_JWT_HS256:
        return 32;
    case PC_JWT_HS384:
        return 48;
    case PC_JWT_HS512:
        return 64;
    default:
        return 0;
    }
}

/* Index in jwt_curves of an EC key's curve; -1 for any other key or curve. */
static int jwt_curve_of(const EVP_PKEY *pkey)
{
    char group[64];

    if (!pkey || !EVP_PKEY_is_a(pkey, "EC"))
        return -1;
    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        NULL))
        return -1;
    for (size_t i = 0; i < sizeof(jwt_curves) / sizeof(jwt_curves[0]); i++) {
        if (strcmp(group, jwt_curves[i].group) == 0)
            return (int)i;
    }
    return -1;
}

/* Can this key (pkey, or NULL for an HMAC secret) verify alg? */
static int jwt_alg_fits(pc_jwt_alg_t alg, const EVP_PKEY *pkey)
{
    int c;

    switch (alg) {
    case PC_JWT_RS256:
    case PC_JWT_RS384:
    case PC_JWT_RS512:
        return pkey && EVP_PKEY_is_a(pkey, "RSA");
    case PC_JWT_PS256:
    case PC_JWT_PS384:
    case PC_JWT_PS512:
        return pkey && (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS"));
    case PC_JWT_ES256:
    case PC_JWT_ES384:
    case PC_JWT_ES512:
        c = jwt_curve_of(pkey);
        return c >= 0 && jwt_curves[c].alg == alg;
    case PC_JWT_EDDSA:
        return pkey && EVP_PKEY_is_a(pkey, "ED25519");
    case PC_JWT_HS256:
    case PC_JWT_HS384:
    case PC_JWT_HS512:
        return pkey == NULL;
    default:
        return 0;
    }
}

static pc_jwt_alg_t jwt_alg_derive(const EVP_PKEY *pkey)
{
    int c = jwt_curve_of(pkey);

    if (c >= 0)
        return jwt_curves[c].alg;
    if (pkey && EVP_PKEY_is_a(pkey, "ED25519"))
        return PC_JWT_EDDSA;
    return PC_JWT_ALG_INVALID; /* RSA could be RS* or PS*, HMAC any HS* */
}

/* explicit_alg wins (and must fit), then a fitting default, then derivation. */
static int jwt_pin_alg(pc_jwt_alg_t explicit_alg, pc_jwt_alg_t dflt, const EVP_PKEY *pkey,
                       pc_jwt_alg_t *out, char *err, size_t errlen)
{
    if (explicit_alg != PC_JWT_ALG_INVALID) {
        if (!jwt_alg_fits(explicit_alg, pkey)) {
            jwt_err(err, errlen, "alg %s does not fit this key type",
                    pc_jwt_alg_name(explicit_alg));
            return -1;
        }
        *out = explicit_alg;
        return 0;
    }
    if (dflt != PC_JWT_ALG_INVALID && jwt_alg_fits(dflt, pkey)) {
        *out = dflt;
        return 0;
    }
    *out = jwt_alg_derive(pkey);
    if (*out != PC_JWT_ALG_INVALID)
        return 0;
    if (pkey && !EVP_PKEY_is_a(pkey, "RSA") && !EVP_PKEY_is_a(pkey, "RSA-PSS"))
        jwt_err(err, errlen, "unsupported key type or curve (need RSA, EC P-256/P-384/P-521 "
                             "or Ed25519)");
    else
        jwt_err(err, errlen, "%s key has no alg: set \"alg\" on the key or configure one",
                pkey ? "RSA" : "HMAC");
    return -1;
}

/* Size and sanity checks, and the exact signature size for the pinned alg. */
static int jwt_key_check(pc_jwk_t *k, char *err, size_t errlen)
{
    EVP_PKEY_CTX *ctx;
    int ok, bits;

    if (!k->pkey) {
        k->sig_len = jwt_hmac_size(k->alg);
        if (k->secret_len < k->sig_len) {
            jwt_err(err, errlen, "%s secret must be at least %zu bytes, got %zu",
                    pc_jwt_alg_name(k->alg), k->sig_len, k->secret_len);
            return -1;
        }
        return 0;
    }
    bits = EVP_PKEY_get_bits(k->pkey);
    if (EVP_PKEY_is_a(k->pkey, "RSA") || EVP_PKEY_is_a(k->pkey, "RSA-PSS")) {
        if (bits < JWT_RSA_MIN_BITS || bits > JWT_RSA_MAX_BITS) {
            jwt_err(err, errlen, "RSA key of %d bits: need %d to %d", bits, JWT_RSA_MIN_BITS,
                    JWT_RSA_MAX_BITS);
            return -1;
        }
        k->sig_len = (size_t)EVP_PKEY_get_size(k->pkey);
    } else if (k->alg == PC_JWT_EDDSA) {
        k->sig_len = 64;
    } else {
        k->sig_len = 2 * (((size_t)bits + 7) / 8); /* JOSE r||s, RFC 7518 §3.4 */
    }
    if (!(ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL))) {
        jwt_err_ssl(err, errlen, "cannot check key");
        return -1;
    }
    ok = EVP_PKEY_public_check(ctx);
    EVP_PKEY_CTX_free(ctx);
    if (ok != 1) {
        jwt_err_ssl(err, errlen, "public key fails validation");
        return -1;
    }
    return 0;
}

static const char *jwt_md_name(pc_jwt_alg_t alg)
{
    switch (alg) {
    case PC_JWT_RS256:
    case PC_JWT_PS256:
    case PC_JWT_ES256:
    case PC_JWT_HS256:
        return "SHA256";
    case PC_JWT_RS384:
    case PC_JWT_PS384:
    case PC_JWT_ES384:
    case PC_JWT_HS384:
        return "SHA384";
    case PC_JWT_RS512:
    case PC_JWT_PS512:
    case PC_JWT_ES512:
    case PC_JWT_HS512:
        return "SHA512";
    default:
        return NULL; /* EdDSA hashes internally */
    }
}

static int jwt_is_pss(pc_jwt_alg_t alg)
{
    return alg == PC_JWT_PS256 || alg == PC_JWT_PS384 || alg == PC_JWT_PS512;
}

/* RFC 7518 §3.5: MGF1 with the signing hash, salt as long as the hash. */
static int jwt_set_pss(EVP_PKEY_CTX *pctx, const char *mdname)
{
    return EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
           EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
           EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, mdname, NULL) == 1;
}

static int jwt_prepare_mac(pc_jwk_t *k)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    OSSL_PARAM params[2];

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)jwt_md_name(k->alg), 0);
    params[1] = OSSL_PARAM_construct_end();
    k->mac = mac ? EVP_MAC_CTX_new(mac) : NULL;
    EVP_MAC_free(mac); /* the context keeps its own reference */
    return k->mac && EVP_MAC_init(k->mac, k->secret, k->secret_len, params) == 1 ? 0 : -1;
}

static int jwt_prepare_pkey(pc_jwk_t *k)
{
    const char *mdname = jwt_md_name(k->alg);
    EVP_PKEY_CTX *pctx = NULL; /* owned by vctx */

    if (!(k->vctx = EVP_MD_CTX_new()))
        return -1;
    if (EVP_DigestVerifyInit_ex(k->vctx, &pctx, mdname, NULL, NULL, k->pkey, NULL) != 1)
        return -1;
    if (jwt_is_pss(k->alg) && !jwt_set_pss(pctx, mdname))
        return -1;
    return 0;
}

/* Builds the verification context that jwt_verify copies per token. */
static int jwt_key_prepare(pc_jwk_t *k, char *err, size_t errlen)
{
    if ((k->pkey ? jwt_prepare_pkey(k) : jwt_prepare_mac(k)) == -1) {
        jwt_err_ssl(err, errlen, "cannot set up verification");
        return -1;
    }
    return 0;
}

/* Takes ownership of pkey/secret into the next slot, pinned and checked. */
static int jwt_set_add(pc_jwk_set_t *s, EVP_PKEY *pkey, unsigned char *secret, size_t secret_len,
                       const char *kid, size_t kid_len, pc_jwt_alg_t alg, pc_jwt_alg_t dflt,
                       char *err, size_t errlen)
{
    pc_jwk_t *k;

    if (s->n == PC_JWK_SET_MAX) {
        jwt_err(err, errlen, "more than %d keys", PC_JWK_SET_MAX);
        EVP_PKEY_free(pkey);
        OPENSSL_clear_free(secret, secret_len);
        return -1;
    }
    k = &s->keys[s->n++];
    k->pkey = pkey;
    k->secret = secret;
    k->secret_len = secret_len;
    if (kid) {
        k->kid = jwt_xmemdup(kid, kid_len, 1);
        k->kid_len = kid_len;
    }
    if (jwt_pin_alg(alg, dflt, pkey, &k->alg, err, errlen) == -1 ||
        jwt_key_check(k, err, errlen) == -1 || jwt_key_prepare(k, err, errlen) == -1) {
        jwt_key_free(k);
        s->n--;
        return -1;
    }
    return 0;
}

/* ---- JWK members ---- */

/* Decodes the base64url string member name of jwk into buf. */
static int jwt_member_b64(const json_t *jwk, const char *name, unsigned char *buf, size_t cap,
                          size_t *n, char *err, size_t errlen)
{
    const json_t *v = json_object_get(jwk, name);

    if (!json_is_string(v)) {
        jwt_err(err, errlen, "\"%s\" missing or not a string", name);
        return -1;
    }
    if (pc_jwt_b64url_decode(json_string_value(v), json_string_length(v), buf, cap, n, 1) ==
            -1 ||
        *n == 0) {
        jwt_err(err, errlen, "\"%s\" is not valid base64url or too long", name);
        return -1;
    }
    return 0;
}

static EVP_PKEY *jwt_pkey_fromdata(const char *type, OSSL_PARAM *params, char *err,
                                   size_t errlen)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;

    if (!ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        jwt_err_ssl(err, errlen, "cannot build key");
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

static EVP_PKEY *jwt_jwk_rsa(const json_t *jwk, char *err, size_t errlen)
{
    unsigned char nb[JWT_RSA_N_CAP], eb[JWT_RSA_E_CAP];
    size_t nlen, elen;
    BIGNUM *n = NULL, *e = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pkey = NULL;

    if (jwt_member_b64(jwk, "n", nb, sizeof(nb), &nlen, err, errlen) == -1 ||
        jwt_member_b64(jwk, "e", eb, sizeof(eb), &elen, err, errlen) == -1)
        return NULL;
    n = BN_bin2bn(nb, (int)nlen, NULL);
    e = BN_bin2bn(eb, (int)elen, NULL);
    bld = OSSL_PARAM_BLD_new();
    if (!n || !e || !bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
        !(params = OSSL_PARAM_BLD_to_param(bld))) {
        jwt_err_ssl(err, errlen, "cannot build RSA parameters");
        goto out;
    }
    pkey = jwt_pkey_fromdata("RSA", params, err, errlen);
out:
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

/* JWK_SKIP via *skip for curves we do not support. */
static EVP_PKEY *jwt_jwk_ec(const json_t *jwk, int *skip, char *err, size_t errlen)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    unsigned char point[1 + 2 * JWT_EC_COORD_CAP];
    size_t xl, yl, sz, c;
    OSSL_PARAM params[3];

    if (!crv) {
        jwt_err(err, errlen, "\"crv\" missing or not a string");
        return NULL;
    }
    for (c = 0; c < sizeof(jwt_curves) / sizeof(jwt_curves[0]); c++) {
        if (strcmp(crv, jwt_curves[c].crv) == 0)
            break;
    }
    if (c == sizeof(jwt_curves) / sizeof(jwt_curves[0])) {
        *skip = 1;
        return NULL;
    }
    sz = jwt_curves[c].size;
    if (jwt_member_b64(jwk, "x", point + 1, JWT_EC_COORD_CAP, &xl, err, errlen) == -1 ||
        jwt_member_b64(jwk, "y", point + 1 + sz, JWT_EC_COORD_CAP, &yl, err, errlen) == -1)
        return NULL;
    /* RFC 7518 §6.2.1.2: coordinates are exactly the field size. */
    if (xl != sz || yl != sz) {
        jwt_err(err, errlen, "%s coordinates must be %zu bytes", crv, sz);
        return NULL;
    }
    point[0] = 0x04; /* uncompressed; the provider checks it lies on the curve */
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 (char *)jwt_curves[c].group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * sz);
    params[2] = OSSL_PARAM_construct_end();
    return jwt_pkey_fromdata("EC", params, err, errlen);
}

static EVP_PKEY *jwt_jwk_okp(const json_t *jwk, int *skip, char *err, size_t errlen)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    unsigned char x[64];
    size_t xl;
    EVP_PKEY *pkey;

    if (!crv) {
        jwt_err(err, errlen, "\"crv\" missing or not a string");
        return NULL;
    }
    if (strcmp(crv, "Ed25519") != 0) { /* Ed448, X25519, X448 */
        *skip = 1;
        return NULL;
    }
    if (jwt_member_b64(jwk, "x", x, sizeof(x), &xl, err, errlen) == -1)
        return NULL;
    if (xl != 32) {
        jwt_err(err, errlen, "Ed25519 \"x\" must be 32 bytes");
        return NULL;
    }
    pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL, x, xl);
    if (!pkey)
        jwt_err_ssl(err, errlen, "cannot build Ed25519 key");
    return pkey;
}

/* Is this JWK meant for verifying signatures? RFC 7517 §4.2, §4.3. */
static int jwt_jwk_for_sig(const json_t *jwk, char *err, size_t errlen)
{
    const json_t *use = json_object_get(jwk, "use"), *ops = json_object_get(jwk, "key_ops");
    const json_t *op;
    size_t i;

    if (use && !json_is_string(use)) {
        jwt_err(err, errlen, "\"use\" is not a string");
        return JWT_JWK_ERROR;
    }
    if (use && strcmp(json_string_value(use), "sig") != 0)
        return JWT_JWK_SKIP;
    if (!ops)
        return JWT_JWK_OK;
    if (!json_is_array(ops)) {
        jwt_err(err, errlen, "\"key_ops\" is not an array");
        return JWT_JWK_ERROR;
    }
    json_array_foreach(ops, i, op) {
        if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
            return JWT_JWK_OK;
    }
    return JWT_JWK_SKIP;
}

/* Reads "alg" (INVALID when absent) and "kid". Unknown algs (JWE ones such
 * as RSA-OAEP, or ES256K) mean "not a key for us": skip. */
static int jwt_jwk_meta(const json_t *jwk, pc_jwt_alg_t *alg, const char **kid,
                        size_t *kid_len, char *err, size_t errlen)
{
    const json_t *a = json_object_get(jwk, "alg"), *k = json_object_get(jwk, "kid");

    *alg = PC_JWT_ALG_INVALID;
    if (a) {
        if (!json_is_string(a)) {
            jwt_err(err, errlen, "\"alg\" is not a string");
            return JWT_JWK_ERROR;
        }
        *alg = pc_jwt_alg_from_name(json_string_value(a), json_string_length(a));
        if (*alg == PC_JWT_ALG_INVALID)
            return JWT_JWK_SKIP;
    }
    if (k && !json_is_string(k)) {
        jwt_err(err, errlen, "\"kid\" is not a string");
        return JWT_JWK_ERROR;
    }
    *kid = k ? json_string_value(k) : NULL;
    *kid_len = k ? json_string_length(k) : 0;
    return JWT_JWK_OK;
}

/* Builds the key material of one JWK: a pkey, or a secret for "oct". */
static int jwt_jwk_material(const json_t *jwk, EVP_PKEY **pkey, unsigned char **secret,
                            size_t *secret_len, char *err, size_t errlen)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    unsigned char k[JWT_OCT_CAP];
    int skip = 0;

    if (!kty) {
        jwt_err(err, errlen, "\"kty\" missing or not a string");
        return JWT_JWK_ERROR;
    }
    if (strcmp(kty, "RSA") == 0) {
        *pkey = jwt_jwk_rsa(jwk, err, errlen);
    } else if (strcmp(kty, "EC") == 0) {
        *pkey = jwt_jwk_ec(jwk, &skip, err, errlen);
    } else if (strcmp(kty, "OKP") == 0) {
        *pkey = jwt_jwk_okp(jwk, &skip, err, errlen);
    } else if (strcmp(kty, "oct") == 0) {
        if (jwt_member_b64(jwk, "k", k, sizeof(k), secret_len, err, errlen) == -1)
            return JWT_JWK_ERROR;
        *secret = jwt_xmemdup(k, *secret_len, 0);
        OPENSSL_cleanse(k, sizeof(k));
        return JWT_JWK_OK;
    } else {
        return JWT_JWK_SKIP;
    }
    if (skip)
        return JWT_JWK_SKIP;
    return *pkey ? JWT_JWK_OK : JWT_JWK_ERROR;
}

static int jwt_jwk_load(pc_jwk_set_t *s, const json_t *jwk, pc_jwt_alg_t dflt, char *err,
                        size_t errlen)
{
    pc_jwt_alg_t alg;
    const char *kid;
    size_t kid_len, secret_len = 0;
    EVP_PKEY *pkey = NULL;
    unsigned char *secret = NULL;
    int r;

    if (!json_is_object(jwk)) {
        jwt_err(err, errlen, "not a JSON object");
        return JWT_JWK_ERROR;
    }
    if ((r = jwt_jwk_for_sig(jwk, err, errlen)) != JWT_JWK_OK)
        return r;
    if ((r = jwt_jwk_meta(jwk, &alg, &kid, &kid_len, err, errlen)) != JWT_JWK_OK)
        return r;
    if ((r = jwt_jwk_material(jwk, &pkey, &secret, &secret_len, err, errlen)) != JWT_JWK_OK)
        return r;
    if (jwt_set_add(s, pkey, secret, secret_len, kid, kid_len, alg, dflt, err, errlen) == -1)
        return JWT_JWK_ERROR;
    return JWT_JWK_OK;
}

/* Parses an optional configured alg name; "" and NULL mean none. */
static int jwt_parse_alg_opt(const char *name, pc_jwt_alg_t *alg, char *err, size_t errlen)
{
    *alg = PC_JWT_ALG_INVALID;
    if (!name || !*name)
        return 0;
    *alg = pc_jwt_alg_from_name(name, strlen(name));
    if (*alg == PC_JWT_ALG_INVALID) {
        jwt_err(err, errlen, "unsupported alg \"%s\"", name);
        return -1;
    }
    return 0;
}

pc_jwk_set_t *pc_jwk_set_from_jwks(const char *json, size_t len, const char *default_alg,
                                   char *err, size_t errlen)
{
    char sub[200];
    json_error_t jerr;
    json_t *root = NULL, *keys, *jwk;
    pc_jwk_set_t *s = NULL;
    pc_jwt_alg_t dflt;
    size_t i;

    if (jwt_parse_alg_opt(default_alg, &dflt, err, errlen) == -1)
        return NULL;
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(root)) {
        jwt_err(err, errlen, "JWKS is not a JSON object: %s", root ? "wrong type" : jerr.text);
        goto fail;
    }
    s = jwt_set_new();
    keys = json_object_get(root, "keys");
    if (!keys) { /* a bare JWK */
        int r = jwt_jwk_load(s, root, dflt, sub, sizeof(sub));
        if (r == JWT_JWK_ERROR) {
            jwt_err(err, errlen, "JWK: %s", sub);
            goto fail;
        }
        if (r == JWT_JWK_SKIP)
            s->skipped++;
    } else if (!json_is_array(keys)) {
        jwt_err(err, errlen, "JWKS \"keys\" is not an array");
        goto fail;
    }
    json_array_foreach(keys, i, jwk) {
        int r = jwt_jwk_load(s, jwk, dflt, sub, sizeof(sub));
        if (r == JWT_JWK_ERROR) {
            jwt_err(err, errlen, "keys[%zu]: %s", i, sub);
            goto fail;
        }
        if (r == JWT_JWK_SKIP)
            s->skipped++;
    }
    if (s->n == 0) {
        jwt_err(err, errlen, "no usable signing key (%zu skipped)", s->skipped);
        goto fail;
    }
    json_decref(root);
    return s;
fail:
    json_decref(root);
    if (s)
        jwt_set_free(s);
    return NULL;
}

/* Never prompt for a passphrase: public keys and certificates have none. */
static int jwt_no_pass(char *buf, int size, int rw, void *u)
{
    (void)buf;
    (void)size;
    (void)rw;
    (void)u;
    return 0;
}

static EVP_PKEY *jwt_pem_read(const char *pem, size_t len, char *err, size_t errlen)
{
    BIO *bio;
    EVP_PKEY *pkey;
    X509 *cert;

    if (len > INT_MAX || !(bio = BIO_new_mem_buf(pem, (int)len))) {
        jwt_err(err, errlen, "PEM too large");
        return NULL;
    }
    pkey = PEM_read_bio_PUBKEY(bio, NULL, jwt_no_pass, NULL);
    if (!pkey) {
        ERR_clear_error();
        BIO_free(bio);
        if (!(bio = BIO_new_mem_buf(pem, (int)len))) {
            jwt_err_ssl(err, errlen, "cannot read PEM");
            return NULL;
        }
        cert = PEM_read_bio_X509(bio, NULL, jwt_no_pass, NULL);
        pkey = cert ? X509_get_pubkey(cert) : NULL;
        X509_free(cert);
    }
    BIO_free(bio);
    if (!pkey)
        jwt_err_ssl(err, errlen, "no PUBLIC KEY or CERTIFICATE block in PEM");
    return pkey;
}

pc_jwk_set_t *pc_jwk_set_from_pem(const char *pem, size_t len, const char *alg, const char *kid,
                                  char *err, size_t errlen)
{
    pc_jwk_set_t *s;
    pc_jwt_alg_t a;
    EVP_PKEY *pkey;

    if (jwt_parse_alg_opt(alg, &a, err, errlen) == -1)
        return NULL;
    if (!(pkey = jwt_pem_read(pem, len, err, errlen)))
        return NULL;
    s = jwt_set_new();
    if (jwt_set_add(s, pkey, NULL, 0, kid, kid ? strlen(kid) : 0, a, PC_JWT_ALG_INVALID, err,
                    errlen) == -1) {
        jwt_set_free(s);
        return NULL;
    }
    return s;
}

pc_jwk_set_t *pc_jwk_set_hmac(const unsigned char *secret, size_t len, const char *alg,
                              const char *kid, char *err, size_t errlen)
{
    pc_jwk_set_t *s;
    pc_jwt_alg_t a;

    if (jwt_parse_alg_opt(alg, &a, err, errlen) == -1)
        return NULL;
    if (jwt_hmac_size(a) == 0) {
        jwt_err(err, errlen, "HMAC key needs alg HS256, HS384 or HS512");
        return NULL;
    }
    s = jwt_set_new();
    if (jwt_set_add(s, NULL, jwt_xmemdup(secret, len, 0), len, kid, kid ? strlen(kid) : 0, a,
                    PC_JWT_ALG_INVALID, err, errlen) == -1) {
        jwt_set_free(s);
        return NULL;
    }
    return s;
}

/* Copies a loaded key into a new set; the contexts are rebuilt, not shared,
 * so each set owns everything it frees. */
static int jwt_key_copy(pc_jwk_t *dst, const pc_jwk_t *src, char *err, size_t errlen)
{
    *dst = *src;
    dst->vctx = NULL;
    dst->mac = NULL;
    if (src->kid)
        dst->kid = jwt_xmemdup(src->kid, src->kid_len, 1);
    if (src->secret)
        dst->secret = jwt_xmemdup(src->secret, src->secret_len, 0);
    if (src->pkey && !EVP_PKEY_up_ref(src->pkey))
        abort(); /* a reference count cannot fail */
    return jwt_key_prepare(dst, err, errlen);
}

pc_jwk_set_t *pc_jwk_set_merge(const pc_jwk_set_t *a, const pc_jwk_set_t *b, char *err,
                               size_t errlen)
{
    const pc_jwk_set_t *parts[2] = {a, b};
    pc_jwk_set_t *s;

    if (pc_jwk_set_count(a) + pc_jwk_set_count(b) > PC_JWK_SET_MAX) {
        jwt_err(err, errlen, "more than %d keys", PC_JWK_SET_MAX);
        return NULL;
    }
    s = jwt_set_new();
    for (int p = 0; p < 2; p++) {
        for (size_t i = 0; i < pc_jwk_set_count(parts[p]); i++) {
            if (jwt_key_copy(&s->keys[s->n++], &parts[p]->keys[i], err, errlen) == -1) {
                jwt_set_free(s);
                return NULL;
            }
        }
        s->skipped += pc_jwk_set_skipped(parts[p]);
    }
    return s;
}
