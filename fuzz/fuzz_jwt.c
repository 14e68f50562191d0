/* fuzz/fuzz_jwt.c: libFuzzer target for the jwt modules (parse, key choice,
 * signature verification, claims, scopes) and the JWKS loader.
 *
 * Input modes, chosen by the first byte:
 *   '{'  the rest is a JWKS or JWK handed to pc_jwk_set_from_jwks;
 *   '!'  "!<header JSON>\n<payload JSON>\n<signature bytes>": the harness
 *        base64url-encodes the parts, so the fuzzer explores JSON directly
 *        instead of through base64;
 *   '@'  the rest is a request header value or query string for the jwt
 *        plugin's credential extraction (jwt_http.c: Authorization Bearer,
 *        Cookie, query parameter) and a Cache-Control value (JWKS caching);
 *        a token found in it goes through the token path too;
 *   else the input is a compact token as received in a bearer header.
 * The key set is fixed (HS256, ES256, EdDSA with kids; RS256 without); the
 * seeds in fuzz/corpus/jwt/ were signed with the matching private keys, which
 * were then discarded. Claims are checked even when the signature fails, so
 * the claim code is reached (the gateway never does that).
 *
 * Build and run (60 s):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iplugins/jwt fuzz/fuzz_jwt.c \
 *       plugins/jwt/jwt_token.c plugins/jwt/jwt_keys.c plugins/jwt/jwt_verify.c \
 *       plugins/jwt/jwt_claims.c plugins/jwt/jwt_http.c -lcrypto -ljansson -o /tmp/fuzz_jwt
 *   /tmp/fuzz_jwt -max_total_time=60 -dict=fuzz/jwt.dict /tmp/jwt_corpus fuzz/corpus/jwt */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt_claims.h"
#include "jwt_http.h"
#include "jwt_keys.h"
#include "jwt_token.h"
#include "jwt_verify.h"

#define FUZZ_NOW 1700000000
#define FUZZ_MAX_RAW 6000

static const char fuzz_ec_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEDI4lePkSrwoWNlcOmE/ZKt1tTvW4\n"
    "Fd4UtRivElIY7bEBCTV+RczqTnRLqLAozKxrTGEd9DgxtnYnmgppxPn9Jw==\n"
    "-----END PUBLIC KEY-----\n";

static const char fuzz_ed_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAJBpsxnegehmsZeYas0eFLwfeu2c8d9CnHJUmuoU/Ijo=\n"
    "-----END PUBLIC KEY-----\n";

static const char fuzz_rsa_pem[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2F3EacxJxfAGQJWknjux\n"
    "TjwDxYOy0IOkqQDDbiG71zAGXlDkTvkvwWQ5EnVl/IVxwtK3+BOsfprFi0Zb138H\n"
    "d9M8C6qsDHDfulUjCCfBvoZErqQMFUj6FeUEbmaXeDcbCn8U8pgpp0uPvRZr3QAA\n"
    "f9B6YBAVdvvx2s8botQppPSJro/YicS/JLfhMQgYl8Vl+V1L9nsJUKWyDyskEKly\n"
    "p6vDszEgk/pedYk0oYZ1fnzwvPC+7p722T+ojzx8JwyFFj3JbeHOwNwFz6TjbKX4\n"
    "tXT6T2vbA+d/Bf/EX7lTuwZ08XRd1uwcdDiu6cp9Zv++yoC7nZohY2FihSF1tGYh\n"
    "XwIDAQAB\n"
    "-----END PUBLIC KEY-----\n";

static const unsigned char fuzz_hs_secret[] = "portcullis-fuzz-secret-0123456789abcdef";

static pc_jwk_set_t *fuzz_set;
static pc_jwt_claims_policy_t fuzz_policy;
static const char *const fuzz_iss[] = {"https://issuer.example", "iss2"};
static const char *const fuzz_aud[] = {"portcullis"};
static const char *const fuzz_required[] = {"sub", "realm_access.roles"};
static const char *const fuzz_scopes[] = {"read", "write"};
static const char *const fuzz_crit[] = {"urn:pc:test"};
static pc_jwt_claim_match_t fuzz_matches[4];

static pc_jwk_set_t *fuzz_merge(pc_jwk_set_t *a, pc_jwk_set_t *b)
{
    char err[256];
    pc_jwk_set_t *m;

    if (!a || !b) {
        fprintf(stderr, "fuzz_jwt: key setup failed\n");
        abort();
    }
    m = pc_jwk_set_merge(a, b, err, sizeof(err));
    pc_jwk_set_unref(a);
    pc_jwk_set_unref(b);
    return m;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char err[256];
    pc_jwk_set_t *s;

    (void)argc;
    (void)argv;
    s = pc_jwk_set_hmac(fuzz_hs_secret, sizeof(fuzz_hs_secret) - 1, "HS256", "hs", err,
                        sizeof(err));
    s = fuzz_merge(s, pc_jwk_set_from_pem(fuzz_ec_pem, strlen(fuzz_ec_pem), NULL, "ec", err,
                                          sizeof(err)));
    s = fuzz_merge(s, pc_jwk_set_from_pem(fuzz_ed_pem, strlen(fuzz_ed_pem), NULL, "ed", err,
                                          sizeof(err)));
    s = fuzz_merge(s, pc_jwk_set_from_pem(fuzz_rsa_pem, strlen(fuzz_rsa_pem), "RS256", NULL,
                                          err, sizeof(err)));
    if (!s)
        abort();
    fuzz_set = s;

    pc_jwt_claims_policy_init(&fuzz_policy);
    fuzz_policy.issuers = fuzz_iss;
    fuzz_policy.n_issuers = 2;
    fuzz_policy.audiences = fuzz_aud;
    fuzz_policy.n_audiences = 1;
    fuzz_policy.max_age = 86400;
    fuzz_policy.required = fuzz_required;
    fuzz_policy.n_required = 2;
    fuzz_matches[0] = (pc_jwt_claim_match_t){"tenant", PC_JWT_MATCH_EQUALS, json_string("acme")};
    fuzz_matches[1] = (pc_jwt_claim_match_t){"realm_access.roles", PC_JWT_MATCH_CONTAINS,
                                             json_string("admin")};
    fuzz_matches[2] = (pc_jwt_claim_match_t){"tier", PC_JWT_MATCH_ONE_OF,
                                             json_pack("[ss]", "gold", "silver")};
    fuzz_matches[3] = (pc_jwt_claim_match_t){"a.b.c", PC_JWT_MATCH_EQUALS, json_integer(3)};
    fuzz_policy.matches = fuzz_matches;
    fuzz_policy.n_matches = 4;
    fuzz_policy.scopes_any = fuzz_scopes;
    fuzz_policy.n_scopes_any = 2;
    return 0;
}

static void fuzz_token(const char *tok, size_t len)
{
    pc_jwt_parse_opts_t opts = {0};
    pc_jwt_token_t t;

    opts.crit_allowed = fuzz_crit;
    opts.n_crit_allowed = 1;
    if (pc_jwt_parse(tok, len, &opts, &t) != PC_JWT_OK)
        return;
    (void)pc_jwt_verify(fuzz_set, &t);
    (void)pc_jwt_check_claims(t.payload, &fuzz_policy, FUZZ_NOW);
    (void)pc_jwt_scopes_has_all(t.payload, fuzz_scopes, 2);
    (void)pc_jwt_claim_get(t.payload, "x.y.z");
    (void)pc_jwt_strerror(pc_jwt_verify(fuzz_set, &t));
    pc_jwt_token_clear(&t);
}

static size_t fuzz_b64url(const uint8_t *in, size_t len, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i;

    for (i = 0; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = abc[v >> 18];
        out[o++] = abc[(v >> 12) & 63];
        out[o++] = abc[(v >> 6) & 63];
        out[o++] = abc[v & 63];
    }
    if (len - i == 1) {
        out[o++] = abc[in[i] >> 2];
        out[o++] = abc[(in[i] & 3) << 4];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 8 | in[i + 1];
        out[o++] = abc[v >> 10];
        out[o++] = abc[(v >> 4) & 63];
        out[o++] = abc[(v & 15) << 2];
    }
    return o;
}

/* "!header\npayload\nsig" -> "b64(header).b64(payload).b64(sig)" */
static void fuzz_raw(const uint8_t *data, size_t size)
{
    static char tok[FUZZ_MAX_RAW * 4 / 3 + 16];
    const uint8_t *parts[3] = {data, NULL, NULL}, *end = data + size, *nl;
    size_t lens[3], o = 0;

    if (size > FUZZ_MAX_RAW)
        return;
    for (int p = 0; p < 3; p++) {
        nl = p < 2 ? memchr(parts[p], '\n', (size_t)(end - parts[p])) : NULL;
        lens[p] = (size_t)((nl ? nl : end) - parts[p]);
        if (p < 2)
            parts[p + 1] = nl ? nl + 1 : end;
    }
    for (int p = 0; p < 3; p++) {
        o += fuzz_b64url(parts[p], lens[p], tok + o);
        if (p < 2)
            tok[o++] = '.';
    }
    fuzz_token(tok, o);
}

static void fuzz_jwks(const uint8_t *data, size_t size)
{
    char err[256];
    pc_jwk_set_t *s = pc_jwk_set_from_jwks((const char *)data, size, "RS256", err, sizeof(err));

    pc_jwk_set_unref(s);
}

/* "@..." -> the credential and Cache-Control parsers of jwt_http.c. */
static void fuzz_http(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *v;
    char *z;
    size_t n;
    int nc;

    if (jwt_http_bearer(s, size, &v, &n) == JWT_AUTHZ_BEARER) {
        if (n == 0 || v < s || v + n > s + size)
            abort();
        fuzz_token(v, n);
    }
    if (jwt_http_cookie(s, size, "access_token", &v, &n) > 0 && (v < s || v + n > s + size))
        abort();
    if (jwt_http_query(s, size, "access_token", &v, &n) > 0 && (v < s || v + n > s + size))
        abort();
    (void)jwt_http_value_ok(s, size);
    z = malloc(size + 1);
    if (!z)
        abort();
    memcpy(z, s, size);
    z[size] = '\0';
    if (jwt_http_max_age(z, &nc) > 10L * 365 * 86400)
        abort();
    free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char out[64];
    size_t n;

    if (size > 0 && data[0] == '{') {
        fuzz_jwks(data, size);
    } else if (size > 0 && data[0] == '!') {
        fuzz_raw(data + 1, size - 1);
    } else if (size > 0 && data[0] == '@') {
        fuzz_http(data + 1, size - 1);
    } else {
        fuzz_token((const char *)data, size);
        (void)pc_jwt_b64url_decode((const char *)data, size, out, sizeof(out), &n, 1);
    }
    return 0;
}
