/* tests/unit/test_jwt.c: unit tests for plugins/jwt/jwt_{token,keys,verify,claims}.
 *
 * Tokens and keys come from tests/fixtures/gen_jwt_fixtures.py (PyJWT and
 * python3-cryptography, an independent implementation), read from the
 * directory in PC_JWT_FIXTURES. Without it the test is skipped (exit 77).
 * The fixture table at the top is the contract: which token, against which
 * key set, must give which result code. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt_claims.h"
#include "jwt_keys.h"
#include "jwt_token.h"
#include "jwt_verify.h"

#define FX_ISS "https://issuer.example"
#define FX_AUD "portcullis"

static const char *fx_dir;
static int64_t fx_now;
static pc_jwk_set_t *g_jwks, *g_rs_pem, *g_rs_cert, *g_ec_pem, *g_hs;
static pc_jwt_claims_policy_t g_policy;
static const char *const g_issuers[] = {FX_ISS};
static const char *const g_audiences[] = {"other-api", FX_AUD};

/* Reads a fixture file, NUL-terminated; NULL if it does not exist. */
static char *fx_try_read(const char *name, size_t *len)
{
    char path[1024];
    FILE *f;
    long n;
    char *buf;

    snprintf(path, sizeof(path), "%s/%s", fx_dir, name);
    if (!(f = fopen(path, "rb")))
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    return buf;
}

static char *fx_read(const char *name, size_t *len)
{
    char *buf = fx_try_read(name, len);

    if (!buf) {
        fprintf(stderr, "test_jwt: missing fixture %s/%s\n", fx_dir, name);
        abort();
    }
    return buf;
}

static pc_jwk_set_t *fx_pem_set(const char *file, const char *alg, const char *kid, char *err,
                                size_t errlen)
{
    size_t len;
    char *pem = fx_read(file, &len);
    pc_jwk_set_t *s = pc_jwk_set_from_pem(pem, len, alg, kid, err, errlen);

    free(pem);
    return s;
}

static pc_jwk_set_t *fx_jwks_set(const char *file, const char *dflt, char *err, size_t errlen)
{
    size_t len;
    char *json = fx_read(file, &len);
    pc_jwk_set_t *s = pc_jwk_set_from_jwks(json, len, dflt, err, errlen);

    free(json);
    return s;
}

static pc_jwk_set_t *fx_hmac_set(const char *file, const char *alg, const char *kid)
{
    size_t len;
    char *secret = fx_read(file, &len);
    char err[256];
    pc_jwk_set_t *s = pc_jwk_set_hmac((unsigned char *)secret, len, alg, kid, err, sizeof(err));

    free(secret);
    return s;
}

/* Runs the whole pipeline on fixture <name>.jwt. */
static pc_jwt_result_t fx_auth(const char *name, const pc_jwk_set_t *set,
                               const pc_jwt_parse_opts_t *opts,
                               const pc_jwt_claims_policy_t *policy)
{
    char file[256];
    size_t len;
    char *tok;
    pc_jwt_token_t t;
    pc_jwt_result_t r;

    snprintf(file, sizeof(file), "%s.jwt", name);
    tok = fx_read(file, &len);
    r = pc_jwt_authenticate(tok, len, opts, set, policy, fx_now, &t);
    pc_jwt_token_clear(&t);
    free(tok);
    return r;
}

/* ---- the fixture table ---- */

typedef struct fx_case {
    const char *token;
    pc_jwk_set_t **set;
    pc_jwt_result_t want;
} fx_case_t;

static const fx_case_t fx_cases[] = {
    /* every algorithm, key chosen by kid in a mixed JWKS */
    {"valid_RS256", &g_jwks, PC_JWT_OK},
    {"valid_RS384", &g_jwks, PC_JWT_OK},
    {"valid_RS512", &g_jwks, PC_JWT_OK},
    {"valid_PS256", &g_jwks, PC_JWT_OK},
    {"valid_PS384", &g_jwks, PC_JWT_OK},
    {"valid_PS512", &g_jwks, PC_JWT_OK},
    {"valid_ES256", &g_jwks, PC_JWT_OK},
    {"valid_ES384", &g_jwks, PC_JWT_OK},
    {"valid_ES512", &g_jwks, PC_JWT_OK},
    {"valid_EdDSA", &g_jwks, PC_JWT_OK},
    {"valid_HS256", &g_jwks, PC_JWT_OK},
    {"valid_HS384", &g_jwks, PC_JWT_OK},
    {"valid_HS512", &g_jwks, PC_JWT_OK},
    /* no kid: keys pinned to the alg; PEM and certificate keys */
    {"valid_RS256_nokid", &g_jwks, PC_JWT_OK},
    {"valid_RS256_nokid", &g_rs_pem, PC_JWT_OK},
    {"valid_RS256_nokid", &g_rs_cert, PC_JWT_OK},
    {"valid_RS256", &g_rs_pem, PC_JWT_OK}, /* kid-less key as fallback */
    {"valid_RS256", &g_rs_cert, PC_JWT_OK},
    {"valid_ES256_nokid", &g_jwks, PC_JWT_OK},
    {"valid_ES256_nokid", &g_ec_pem, PC_JWT_OK},
    {"valid_ES256_nokid", &g_rs_pem, PC_JWT_ERR_NO_KEY},
    {"valid_ES256", &g_rs_pem, PC_JWT_ERR_KID_UNKNOWN},
    {"valid_HS256_nokid", &g_hs, PC_JWT_OK},
    {"valid_HS256_nokid", &g_jwks, PC_JWT_OK},
    {"valid_HS256_nokid", &g_rs_pem, PC_JWT_ERR_NO_KEY},
    {"valid_RS256_nokid", &g_hs, PC_JWT_ERR_NO_KEY},
    /* typ */
    {"typ_at_jwt", &g_jwks, PC_JWT_OK},
    {"typ_app_at_jwt", &g_jwks, PC_JWT_OK},
    {"typ_upper", &g_jwks, PC_JWT_OK},
    {"typ_bad", &g_jwks, PC_JWT_ERR_TYP},
    /* claims */
    {"aud_array_ok", &g_jwks, PC_JWT_OK},
    {"aud_array_bad", &g_jwks, PC_JWT_ERR_AUD},
    {"exp_in_leeway", &g_jwks, PC_JWT_OK},
    {"exp_real", &g_jwks, PC_JWT_OK},
    {"scope_str", &g_jwks, PC_JWT_OK},
    {"scope_scp", &g_jwks, PC_JWT_OK},
    {"nested", &g_jwks, PC_JWT_OK},
    {"expired", &g_jwks, PC_JWT_ERR_EXPIRED},
    {"nbf_future", &g_jwks, PC_JWT_ERR_NBF_FUTURE},
    {"iat_future", &g_jwks, PC_JWT_ERR_IAT_FUTURE},
    {"wrong_iss", &g_jwks, PC_JWT_ERR_ISS},
    {"wrong_aud", &g_jwks, PC_JWT_ERR_AUD},
    {"missing_exp", &g_jwks, PC_JWT_ERR_EXP_MISSING},
    {"exp_string", &g_jwks, PC_JWT_ERR_EXP_TYPE},
    {"nbf_string", &g_jwks, PC_JWT_ERR_NBF_TYPE},
    {"iat_bool", &g_jwks, PC_JWT_ERR_IAT_TYPE},
    {"missing_iss", &g_jwks, PC_JWT_ERR_ISS_MISSING},
    {"missing_aud", &g_jwks, PC_JWT_ERR_AUD_MISSING},
    /* size */
    {"big_ok", &g_jwks, PC_JWT_OK},
    {"too_large", &g_jwks, PC_JWT_ERR_TOO_LARGE},
    /* alg none, unknown, missing */
    {"alg_none", &g_jwks, PC_JWT_ERR_ALG_NONE},
    {"alg_None", &g_jwks, PC_JWT_ERR_ALG_NONE},
    {"alg_NONE", &g_jwks, PC_JWT_ERR_ALG_NONE},
    {"alg_nOnE", &g_jwks, PC_JWT_ERR_ALG_NONE},
    {"alg_none_sig", &g_jwks, PC_JWT_ERR_ALG_NONE},
    {"alg_none", &g_hs, PC_JWT_ERR_ALG_NONE},
    {"alg_unknown", &g_jwks, PC_JWT_ERR_ALG_UNSUPPORTED},
    {"alg_lower", &g_jwks, PC_JWT_ERR_ALG_UNSUPPORTED},
    {"alg_missing", &g_jwks, PC_JWT_ERR_ALG_MISSING},
    /* alg confusion and key choice */
    {"alg_confusion", &g_rs_pem, PC_JWT_ERR_NO_KEY},
    {"alg_confusion", &g_rs_cert, PC_JWT_ERR_NO_KEY},
    {"alg_confusion", &g_jwks, PC_JWT_ERR_SIGNATURE}, /* only the real HS256 key tried */
    {"alg_confusion_kid", &g_jwks, PC_JWT_ERR_ALG_MISMATCH},
    {"alg_confusion_kid", &g_rs_pem, PC_JWT_ERR_KID_UNKNOWN},
    {"rs256_kid_hs", &g_jwks, PC_JWT_ERR_ALG_MISMATCH},
    {"ps256_kid_rs_sig", &g_jwks, PC_JWT_ERR_ALG_MISMATCH},
    {"unknown_kid", &g_jwks, PC_JWT_ERR_KID_UNKNOWN},
    {"wrong_key", &g_jwks, PC_JWT_ERR_SIGNATURE},
    {"embedded_jwk", &g_jwks, PC_JWT_ERR_SIGNATURE},
    {"embedded_jwk_nokid", &g_jwks, PC_JWT_ERR_SIGNATURE},
    {"embedded_jwk_nokid", &g_rs_pem, PC_JWT_ERR_SIGNATURE},
    {"tampered", &g_jwks, PC_JWT_ERR_SIGNATURE},
    /* kid-less fallback failed: reported as the unknown kid it is */
    {"tampered", &g_rs_pem, PC_JWT_ERR_KID_UNKNOWN},
    {"embedded_jwk", &g_rs_pem, PC_JWT_ERR_KID_UNKNOWN},
    {"sig_empty", &g_jwks, PC_JWT_ERR_SIG_LENGTH},
    /* signature encodings */
    {"es256_raw_manual", &g_jwks, PC_JWT_OK},
    {"es256_der", &g_jwks, PC_JWT_ERR_SIG_LENGTH},
    {"es256_sig_long", &g_jwks, PC_JWT_ERR_SIG_LENGTH},
    {"es256_sig_short", &g_jwks, PC_JWT_ERR_SIG_LENGTH},
    {"es384_with_p256_sig", &g_jwks, PC_JWT_ERR_SIG_LENGTH},
    {"ps256_salt_max", &g_jwks, PC_JWT_ERR_SIGNATURE},
    /* token format */
    {"jwe_5_parts", &g_jwks, PC_JWT_ERR_JWE},
    {"four_parts", &g_jwks, PC_JWT_ERR_MALFORMED},
    {"two_parts", &g_jwks, PC_JWT_ERR_MALFORMED},
    {"b64_padding", &g_jwks, PC_JWT_ERR_BASE64},
    {"b64_ws", &g_jwks, PC_JWT_ERR_BASE64},
    {"b64_noncanonical", &g_jwks, PC_JWT_ERR_BASE64},
    {"b64_std_alphabet", &g_jwks, PC_JWT_ERR_BASE64},
    {"dup_header", &g_jwks, PC_JWT_ERR_DUPLICATE_KEY},
    {"dup_header_alg", &g_jwks, PC_JWT_ERR_DUPLICATE_KEY},
    {"dup_payload", &g_jwks, PC_JWT_ERR_DUPLICATE_KEY},
    {"dup_nested", &g_jwks, PC_JWT_ERR_DUPLICATE_KEY},
    {"header_array", &g_jwks, PC_JWT_ERR_HEADER_JSON},
    {"payload_array", &g_jwks, PC_JWT_ERR_PAYLOAD_JSON},
    {"payload_trailing", &g_jwks, PC_JWT_ERR_PAYLOAD_JSON},
    {"kid_number", &g_jwks, PC_JWT_ERR_HEADER_PARAM},
    {"b64_false", &g_jwks, PC_JWT_ERR_HEADER_PARAM},
    {"crit_exp", &g_jwks, PC_JWT_ERR_CRIT},
    {"crit_empty", &g_jwks, PC_JWT_ERR_CRIT},
    {"crit_allowed", &g_jwks, PC_JWT_ERR_CRIT}, /* allowed only when configured */
};

START_TEST(test_fixture_case)
{
    const fx_case_t *c = &fx_cases[_i];
    pc_jwt_result_t r = fx_auth(c->token, *c->set, NULL, &g_policy);

    ck_assert_msg(r == c->want, "%s: got %s, want %s", c->token, pc_jwt_reason(r),
                  pc_jwt_reason(c->want));
}
END_TEST

/* ---- parser ---- */

static int b64(const char *in, unsigned char *out, size_t cap, size_t *n)
{
    return pc_jwt_b64url_decode(in, strlen(in), out, cap, n, 0);
}

START_TEST(test_base64url)
{
    unsigned char out[64];
    size_t n;

    ck_assert_int_eq(b64("", out, sizeof(out), &n), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(b64("Zm9vYmFy", out, sizeof(out), &n), 0);
    ck_assert_uint_eq(n, 6);
    ck_assert(memcmp(out, "foobar", 6) == 0);
    ck_assert_int_eq(b64("Zm9vYg", out, sizeof(out), &n), 0);
    ck_assert(n == 4 && memcmp(out, "foob", 4) == 0);
    ck_assert_int_eq(b64("Zm9vYmE", out, sizeof(out), &n), 0);
    ck_assert(n == 5 && memcmp(out, "fooba", 5) == 0);
    ck_assert_int_eq(b64("-_8", out, sizeof(out), &n), 0);
    ck_assert(n == 2 && out[0] == 0xfb && out[1] == 0xff);
    ck_assert_int_eq(b64("Zm9vYh", out, sizeof(out), &n), -1); /* non-canonical bits */
    ck_assert_int_eq(b64("Zm9vYmF", out, sizeof(out), &n), -1);
    ck_assert_int_eq(b64("Zm9vY", out, sizeof(out), &n), -1); /* len % 4 == 1 */
    ck_assert_int_eq(b64("Zm9vYg==", out, sizeof(out), &n), -1);
    ck_assert_int_eq(b64("+/8", out, sizeof(out), &n), -1);
    ck_assert_int_eq(b64("Zm9 vYmFy", out, sizeof(out), &n), -1);
    ck_assert_int_eq(b64("Zm9vYmFy", out, 5, &n), -1); /* over capacity */
    ck_assert_int_eq(pc_jwt_b64url_decode("Zm9vYg==", 8, out, sizeof(out), &n, 1), 0);
    ck_assert_uint_eq(n, 4);
    ck_assert_int_eq(pc_jwt_b64url_decode("Zm9vYg=", 7, out, sizeof(out), &n, 1), -1);
    ck_assert_int_eq(pc_jwt_b64url_decode("Zm9v====", 8, out, sizeof(out), &n, 1), -1);
}
END_TEST

START_TEST(test_alg_names_and_reasons)
{
    for (int a = 1; a < PC_JWT_ALG_COUNT; a++) {
        const char *name = pc_jwt_alg_name((pc_jwt_alg_t)a);
        ck_assert_int_eq(pc_jwt_alg_from_name(name, strlen(name)), a);
    }
    ck_assert_int_eq(pc_jwt_alg_from_name("none", 4), PC_JWT_ALG_INVALID);
    ck_assert_int_eq(pc_jwt_alg_from_name("eddsa", 5), PC_JWT_ALG_INVALID);
    ck_assert_int_eq(pc_jwt_alg_from_name("RS256 ", 6), PC_JWT_ALG_INVALID);
    for (int r = 0; r < PC_JWT_RESULT_COUNT; r++) {
        ck_assert_ptr_nonnull(pc_jwt_strerror((pc_jwt_result_t)r));
        ck_assert_ptr_nonnull(pc_jwt_reason((pc_jwt_result_t)r));
        for (int q = 0; q < r; q++)
            ck_assert_str_ne(pc_jwt_reason((pc_jwt_result_t)r), pc_jwt_reason((pc_jwt_result_t)q));
    }
    ck_assert_str_eq(pc_jwt_reason(PC_JWT_RESULT_COUNT), "jwt.unknown");
}
END_TEST

static pc_jwt_result_t parse_str(const char *s)
{
    pc_jwt_token_t t;
    pc_jwt_result_t r = pc_jwt_parse(s, strlen(s), NULL, &t);

    pc_jwt_token_clear(&t);
    return r;
}

START_TEST(test_parse_shapes)
{
    /* {"alg":"HS256"} . {"a":1} */
    ck_assert_int_eq(parse_str("eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ.AAAA"), PC_JWT_OK);
    ck_assert_int_eq(parse_str(""), PC_JWT_ERR_MALFORMED);
    ck_assert_int_eq(parse_str(".."), PC_JWT_ERR_MALFORMED);
    ck_assert_int_eq(parse_str("eyJhbGciOiJIUzI1NiJ9..AAAA"), PC_JWT_ERR_MALFORMED);
    ck_assert_int_eq(parse_str(".eyJhIjoxfQ.AAAA"), PC_JWT_ERR_MALFORMED);
    ck_assert_int_eq(parse_str("a.b.c.d.e"), PC_JWT_ERR_JWE);
    ck_assert_int_eq(parse_str("a.b.c.d.e.f"), PC_JWT_ERR_MALFORMED);
    /* "{}" header: no alg */
    ck_assert_int_eq(parse_str("e30.eyJhIjoxfQ.AAAA"), PC_JWT_ERR_ALG_MISSING);
    /* header "null" and "1": not objects */
    ck_assert_int_eq(parse_str("bnVsbA.eyJhIjoxfQ.AAAA"), PC_JWT_ERR_HEADER_JSON);
    ck_assert_int_eq(parse_str("MQ.eyJhIjoxfQ.AAAA"), PC_JWT_ERR_HEADER_JSON);
    {
        /* a signature longer than any key's (1050 bytes) */
        char big[64 + 1400] = "eyJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ.";
        size_t n = strlen(big);
        memset(big + n, 'A', 1400);
        big[n + 1400] = '\0';
        ck_assert_int_eq(parse_str(big), PC_JWT_ERR_SIG_LENGTH);
        big[n + 1364] = '\0'; /* exactly 1023 bytes: fine for the parser */
        ck_assert_int_eq(parse_str(big), PC_JWT_OK);
    }
}
END_TEST

START_TEST(test_parse_fields)
{
    size_t len;
    char *tok = fx_read("valid_ES256.jwt", &len);
    pc_jwt_token_t t;

    ck_assert_int_eq(pc_jwt_parse(tok, len, NULL, &t), PC_JWT_OK);
    ck_assert_int_eq(t.alg, PC_JWT_ES256);
    ck_assert_uint_eq(t.kid_len, 7);
    ck_assert(memcmp(t.kid, "ec-p256", 7) == 0);
    ck_assert_uint_eq(t.sig_len, 64);
    ck_assert_ptr_eq(t.signing_input, tok);
    ck_assert_uint_eq(t.signing_input_len, (size_t)(strrchr(tok, '.') - tok));
    ck_assert_str_eq(json_string_value(json_object_get(t.payload, "sub")), "user1");
    pc_jwt_token_clear(&t);
    pc_jwt_token_clear(&t); /* idempotent */
    ck_assert_ptr_null(t.header);
    free(tok);
}
END_TEST

START_TEST(test_parse_options)
{
    static const char *const crit_ok[] = {"urn:pc:test"};
    pc_jwt_parse_opts_t opts = {0};

    opts.crit_allowed = crit_ok;
    opts.n_crit_allowed = 1;
    ck_assert_int_eq(fx_auth("crit_allowed", g_jwks, &opts, &g_policy), PC_JWT_OK);
    ck_assert_int_eq(fx_auth("crit_exp", g_jwks, &opts, &g_policy), PC_JWT_ERR_CRIT);
    opts.max_len = 16384;
    ck_assert_int_eq(fx_auth("too_large", g_jwks, &opts, &g_policy), PC_JWT_OK);
    opts.max_len = 1000;
    ck_assert_int_eq(fx_auth("big_ok", g_jwks, &opts, &g_policy), PC_JWT_ERR_TOO_LARGE);
    ck_assert_int_eq(fx_auth("valid_RS256", g_jwks, &opts, &g_policy), PC_JWT_OK);
}
END_TEST

/* Every prefix and a few byte flips of a valid token must fail cleanly. */
START_TEST(test_parse_mutations)
{
    size_t len;
    char *tok = fx_read("valid_HS256.jwt", &len);
    pc_jwt_token_t t;

    for (size_t n = 0; n < len; n++) {
        pc_jwt_result_t r = pc_jwt_authenticate(tok, n, NULL, g_jwks, &g_policy, fx_now, &t);
        ck_assert_int_ne(r, PC_JWT_OK);
    }
    for (size_t i = 0; i < len; i++) {
        char save = tok[i];
        tok[i] = save == 'A' ? 'B' : 'A';
        ck_assert_int_ne(pc_jwt_authenticate(tok, len, NULL, g_jwks, &g_policy, fx_now, &t),
                         PC_JWT_OK);
        tok[i] = save;
    }
    ck_assert_int_eq(pc_jwt_authenticate(tok, len, NULL, g_jwks, &g_policy, fx_now, &t),
                     PC_JWT_OK);
    pc_jwt_token_clear(&t);
    free(tok);
}
END_TEST

/* ---- keys ---- */

START_TEST(test_jwks_load)
{
    static const struct {
        const char *kid;
        pc_jwt_alg_t alg;
        size_t sig_len;
    } want[] = {
        {"rsa-rs256", PC_JWT_RS256, 256}, {"rsa-ps512", PC_JWT_PS512, 256},
        {"ec-p256", PC_JWT_ES256, 64},    {"ec-p384", PC_JWT_ES384, 96},
        {"ec-p521", PC_JWT_ES512, 132},   {"ed-1", PC_JWT_EDDSA, 64},
        {"hs384", PC_JWT_HS384, 48},
    };

    ck_assert_uint_eq(pc_jwk_set_count(g_jwks), 13);
    ck_assert_uint_eq(pc_jwk_set_skipped(g_jwks), 4);
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
        const pc_jwk_t *found = NULL;
        for (size_t i = 0; i < pc_jwk_set_count(g_jwks); i++) {
            const pc_jwk_t *k = pc_jwk_set_get(g_jwks, i);
            if (k->kid && strcmp(k->kid, want[w].kid) == 0)
                found = k;
        }
        ck_assert_msg(found != NULL, "kid %s missing", want[w].kid);
        ck_assert_int_eq(found->alg, want[w].alg);
        ck_assert_uint_eq(found->sig_len, want[w].sig_len);
    }
    ck_assert_ptr_null(pc_jwk_set_get(g_jwks, 13));
}
END_TEST

START_TEST(test_jwks_alg_rules)
{
    char err[256];
    pc_jwk_set_t *s;

    /* RSA without alg and without a configured default: refused. */
    s = fx_jwks_set("jwks_rsa_noalg.json", NULL, err, sizeof(err));
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err, "no alg"));
    /* A default that does not fit RSA does not help either. */
    ck_assert_ptr_null(fx_jwks_set("jwks_rsa_noalg.json", "ES256", err, sizeof(err)));
    s = fx_jwks_set("jwks_rsa_noalg.json", "PS256", err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(pc_jwk_set_get(s, 0)->alg, PC_JWT_PS256);
    pc_jwk_set_unref(s);
    /* JWK alg must fit the key: an ES384 label on a P-256 key fails. */
    ck_assert_ptr_null(fx_jwks_set("jwks_badalg.json", NULL, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "does not fit"));
    /* A bare JWK, alg derived from the curve. */
    s = fx_jwks_set("jwk_single.json", NULL, err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(pc_jwk_set_get(s, 0)->alg, PC_JWT_ES384);
    ck_assert_str_eq(pc_jwk_set_get(s, 0)->kid, "single");
    pc_jwk_set_unref(s);
    /* A configured default for EC must fit the curve, else derivation. */
    s = fx_jwks_set("jwk_single.json", "ES256", err, sizeof(err));
    ck_assert_int_eq(pc_jwk_set_get(s, 0)->alg, PC_JWT_ES384);
    pc_jwk_set_unref(s);
    ck_assert_ptr_null(fx_jwks_set("jwk_single.json", "XS256", err, sizeof(err)));
}
END_TEST

static pc_jwk_set_t *jwks_str(const char *json, char *err, size_t errlen)
{
    return pc_jwk_set_from_jwks(json, strlen(json), NULL, err, errlen);
}

START_TEST(test_jwks_malformed)
{
    char err[256];
    size_t len;
    char *single = fx_read("jwk_single.json", &len);
    json_t *jwk = json_loads(single, 0, NULL), *keys = json_array();
    char *text;

    ck_assert_ptr_null(jwks_str("", err, sizeof(err)));
    ck_assert_ptr_null(jwks_str("[]", err, sizeof(err)));
    ck_assert_ptr_null(jwks_str("{\"keys\":{}}", err, sizeof(err)));
    ck_assert_ptr_null(jwks_str("{\"keys\":[]}", err, sizeof(err)));
    ck_assert_ptr_null(jwks_str("{\"keys\":[1]}", err, sizeof(err)));
    ck_assert_ptr_null(jwks_str("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\",\"alg\":\"HS256\"}]}",
                                err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "at least 32"));
    ck_assert_ptr_null(jwks_str("{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RS256\",\"n\":\"AQAB\","
                                "\"e\":\"AQAB\"}]}",
                                err, sizeof(err)));
    ck_assert_ptr_null(jwks_str("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\","
                                "\"y\":\"AA\"}]}",
                                err, sizeof(err)));
    ck_assert_ptr_null(jwks_str("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"}]}",
                                err, sizeof(err)));
    ck_assert_ptr_null(jwks_str("{\"kty\":\"EC\",\"kty\":\"EC\"}", err, sizeof(err)));
    /* Only unsupported keys: nothing usable. */
    ck_assert_ptr_null(jwks_str("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"secp256k1\"}]}", err,
                                sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "1 skipped"));

    /* A point that is not on the curve: y replaced by x. */
    json_object_set(jwk, "y", json_object_get(jwk, "x"));
    text = json_dumps(jwk, 0);
    ck_assert_ptr_null(jwks_str(text, err, sizeof(err)));
    free(text);
    json_decref(jwk);

    /* More than PC_JWK_SET_MAX keys. */
    jwk = json_loads(single, 0, NULL);
    for (int i = 0; i <= PC_JWK_SET_MAX; i++)
        json_array_append(keys, jwk);
    json_decref(jwk);
    jwk = json_pack("{s:o}", "keys", keys);
    text = json_dumps(jwk, 0);
    ck_assert_ptr_null(jwks_str(text, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "more than"));
    free(text);
    json_decref(jwk);
    free(single);
}
END_TEST

START_TEST(test_pem_load)
{
    char err[256];
    pc_jwk_set_t *s;

    /* RSA needs an alg; EC and Ed25519 derive theirs. */
    ck_assert_ptr_null(fx_pem_set("rsa_pub.pem", NULL, NULL, err, sizeof(err)));
    ck_assert_ptr_null(fx_pem_set("rsa_pub.pem", "HS256", NULL, err, sizeof(err)));
    ck_assert_ptr_null(fx_pem_set("rsa_pub.pem", "ES256", NULL, err, sizeof(err)));
    ck_assert_ptr_null(fx_pem_set("ec256_pub.pem", "ES384", NULL, err, sizeof(err)));
    ck_assert_ptr_null(fx_pem_set("rsa1024_pub.pem", "RS256", NULL, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "1024 bits"));
    ck_assert_ptr_null(fx_pem_set("ec_k1_pub.pem", NULL, NULL, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "unsupported key type"));
    ck_assert_ptr_null(fx_pem_set("ec_k1_pub.pem", "ES256", NULL, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "does not fit"));
    /* A private key in the config is a mistake we refuse to paper over. */
    ck_assert_ptr_null(fx_pem_set("rsa_priv.pem", "RS256", NULL, err, sizeof(err)));
    ck_assert_ptr_null(pc_jwk_set_from_pem("garbage", 7, "RS256", NULL, err, sizeof(err)));

    s = fx_pem_set("ed25519_pub.pem", NULL, "ed", err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(pc_jwk_set_get(s, 0)->alg, PC_JWT_EDDSA);
    ck_assert_int_eq(fx_auth("valid_EdDSA", s, NULL, &g_policy), PC_JWT_ERR_KID_UNKNOWN);
    pc_jwk_set_unref(s);
    s = fx_pem_set("ed25519_pub.pem", NULL, "ed-1", err, sizeof(err));
    ck_assert_int_eq(fx_auth("valid_EdDSA", s, NULL, &g_policy), PC_JWT_OK);
    pc_jwk_set_unref(s);
    s = fx_pem_set("ec521_pub.pem", NULL, NULL, err, sizeof(err));
    ck_assert_int_eq(pc_jwk_set_get(s, 0)->alg, PC_JWT_ES512);
    ck_assert_int_eq(fx_auth("valid_ES512", s, NULL, &g_policy), PC_JWT_OK);
    pc_jwk_set_unref(s);
    s = fx_pem_set("rsa_pub.pem", "PS384", "rsa-ps384", err, sizeof(err));
    ck_assert_int_eq(fx_auth("valid_PS384", s, NULL, &g_policy), PC_JWT_OK);
    ck_assert_int_eq(fx_auth("valid_RS384", s, NULL, &g_policy), PC_JWT_ERR_KID_UNKNOWN);
    pc_jwk_set_unref(s);
}
END_TEST

START_TEST(test_hmac_load)
{
    unsigned char secret[64] = {0};
    char err[256];
    pc_jwk_set_t *s;

    ck_assert_ptr_null(pc_jwk_set_hmac(secret, 31, "HS256", NULL, err, sizeof(err)));
    ck_assert_ptr_null(pc_jwk_set_hmac(secret, 47, "HS384", NULL, err, sizeof(err)));
    ck_assert_ptr_null(pc_jwk_set_hmac(secret, 63, "HS512", NULL, err, sizeof(err)));
    ck_assert_ptr_null(pc_jwk_set_hmac(secret, 64, "RS256", NULL, err, sizeof(err)));
    ck_assert_ptr_null(pc_jwk_set_hmac(secret, 64, NULL, NULL, err, sizeof(err)));
    s = pc_jwk_set_hmac(secret, 32, "HS256", "k", err, sizeof(err));
    ck_assert_ptr_nonnull(s);
    ck_assert_uint_eq(pc_jwk_set_get(s, 0)->sig_len, 32);
    pc_jwk_set_unref(s);
    s = fx_hmac_set("hs512.key", "HS512", NULL);
    ck_assert_int_eq(fx_auth("valid_HS512", s, NULL, &g_policy), PC_JWT_OK);
    ck_assert_int_eq(fx_auth("valid_HS384", s, NULL, &g_policy), PC_JWT_ERR_KID_UNKNOWN);
    pc_jwk_set_unref(s);
}
END_TEST

START_TEST(test_merge_and_refcount)
{
    char err[256];
    pc_jwk_set_t *a = fx_pem_set("rsa_pub.pem", "RS256", NULL, err, sizeof(err));
    pc_jwk_set_t *b = fx_hmac_set("hs256.key", "HS256", NULL);
    pc_jwk_set_t *m = pc_jwk_set_merge(a, b, err, sizeof(err));
    pc_jwk_set_t *big;

    ck_assert_ptr_nonnull(m);
    pc_jwk_set_unref(a);
    pc_jwk_set_unref(b);
    ck_assert_uint_eq(pc_jwk_set_count(m), 2);
    ck_assert_int_eq(fx_auth("valid_RS256_nokid", m, NULL, &g_policy), PC_JWT_OK);
    ck_assert_int_eq(fx_auth("valid_HS256_nokid", m, NULL, &g_policy), PC_JWT_OK);
    ck_assert_int_eq(fx_auth("alg_confusion", m, NULL, &g_policy), PC_JWT_ERR_SIGNATURE);
    ck_assert_ptr_eq(pc_jwk_set_ref(m), m);
    pc_jwk_set_unref(m);
    ck_assert_int_eq(fx_auth("valid_RS256_nokid", m, NULL, &g_policy), PC_JWT_OK);

    big = pc_jwk_set_merge(g_jwks, g_jwks, err, sizeof(err));
    for (int i = 0; i < 4; i++) {
        pc_jwk_set_t *bigger = pc_jwk_set_merge(big, m, err, sizeof(err));
        pc_jwk_set_unref(big);
        big = bigger;
    }
    ck_assert_uint_eq(pc_jwk_set_count(big), 34);
    ck_assert_ptr_null(pc_jwk_set_merge(big, big, err, sizeof(err)));
    /* Duplicate kids: still verifies, tries stay bounded. */
    ck_assert_int_eq(fx_auth("valid_ES384", big, NULL, &g_policy), PC_JWT_OK);
    pc_jwk_set_unref(big);
    pc_jwk_set_unref(m);
    pc_jwk_set_unref(NULL);
}
END_TEST

/* Threads verify with one shared set while its creator drops its reference,
 * as happens when a JWKS refresh swaps the set. */
typedef struct fx_thread {
    pc_jwk_set_t *set;
    const char *tok;
    size_t len;
    int failures;
} fx_thread_t;

static void *fx_thread_main(void *arg)
{
    fx_thread_t *t = arg;
    pc_jwt_token_t tok;

    for (int i = 0; i < 200; i++) {
        if (pc_jwt_authenticate(t->tok, t->len, NULL, t->set, &g_policy, fx_now, &tok) !=
            PC_JWT_OK)
            t->failures++;
        pc_jwt_token_clear(&tok);
    }
    pc_jwk_set_unref(t->set);
    return NULL;
}

START_TEST(test_threads_shared_set)
{
    static const char *const names[] = {"valid_RS256.jwt", "valid_ES256.jwt", "valid_PS256.jwt",
                                        "valid_EdDSA.jwt", "valid_HS256.jwt", "valid_ES512.jwt"};
    enum { N = 6 };
    pthread_t th[N];
    fx_thread_t ctx[N];
    char err[256];
    pc_jwk_set_t *set = fx_jwks_set("jwks.json", NULL, err, sizeof(err));

    for (int i = 0; i < N; i++) {
        ctx[i].set = pc_jwk_set_ref(set);
        ctx[i].tok = fx_read(names[i], &ctx[i].len);
        ctx[i].failures = 0;
        ck_assert_int_eq(pthread_create(&th[i], NULL, fx_thread_main, &ctx[i]), 0);
    }
    pc_jwk_set_unref(set); /* the threads now hold the only references */
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(ctx[i].failures, 0);
        free((char *)ctx[i].tok);
    }
}
END_TEST

/* ---- claims ---- */

static pc_jwt_result_t claims_of(const char *json, const pc_jwt_claims_policy_t *p, int64_t now)
{
    json_t *j = json_loads(json, JSON_REJECT_DUPLICATES, NULL);
    pc_jwt_result_t r;

    ck_assert_ptr_nonnull(j);
    r = pc_jwt_check_claims(j, p, now);
    json_decref(j);
    return r;
}

START_TEST(test_claims_times)
{
    pc_jwt_claims_policy_t p;

    pc_jwt_claims_policy_init(&p);
    ck_assert_int_eq(p.leeway, 60);
    p.leeway = 0;
    ck_assert_int_eq(claims_of("{\"exp\":1000}", &p, 999), PC_JWT_OK);
    ck_assert_int_eq(claims_of("{\"exp\":1000}", &p, 1000), PC_JWT_ERR_EXPIRED);
    ck_assert_int_eq(claims_of("{\"exp\":1000.5}", &p, 1000), PC_JWT_OK);
    ck_assert_int_eq(claims_of("{\"exp\":-5}", &p, 1000), PC_JWT_ERR_EXPIRED);
    ck_assert_int_eq(claims_of("{\"exp\":1e300}", &p, 1000), PC_JWT_OK);
    ck_assert_int_eq(claims_of("{\"exp\":9223372036854775807}", &p, 1000), PC_JWT_OK);
    ck_assert_int_eq(claims_of("{\"exp\":null}", &p, 1000), PC_JWT_ERR_EXP_TYPE);
    ck_assert_int_eq(claims_of("{}", &p, 1000), PC_JWT_ERR_EXP_MISSING);
    p.exp_optional = 1;
    ck_assert_int_eq(claims_of("{}", &p, 1000), PC_JWT_OK);
    p.leeway = 60;
    ck_assert_int_eq(claims_of("{\"exp\":1000}", &p, 1059), PC_JWT_OK);
    ck_assert_int_eq(claims_of("{\"exp\":1000}", &p, 1060), PC_JWT_ERR_EXPIRED);
    ck_assert_int_eq(claims_of("{\"nbf\":1060}", &p, 1000), PC_JWT_OK);
    ck_assert_int_eq(claims_of("{\"nbf\":1061}", &p, 1000), PC_JWT_ERR_NBF_FUTURE);
    ck_assert_int_eq(claims_of("{\"iat\":1061}", &p, 1000), PC_JWT_ERR_IAT_FUTURE);
    ck_assert_int_eq(claims_of("{\"iat\":[1]}", &p, 1000), PC_JWT_ERR_IAT_TYPE);
    p.max_age = 300;
    ck_assert_int_eq(claims_of("{}", &p, 1000), PC_JWT_ERR_IAT_MISSING);
    ck_assert_int_eq(claims_of("{\"iat\":640}", &p, 1000), PC_JWT_OK);
    ck_assert_int_eq(claims_of("{\"iat\":639}", &p, 1000), PC_JWT_ERR_TOO_OLD);
    ck_assert_int_eq(claims_of("{\"iat\":-1e300}", &p, 1000), PC_JWT_ERR_TOO_OLD);
}
END_TEST

START_TEST(test_claims_iss_aud)
{
    static const char *const iss[] = {"a", "b"};
    static const char *const aud[] = {"api"};
    pc_jwt_claims_policy_t p;

    pc_jwt_claims_policy_init(&p);
    p.exp_optional = 1;
    ck_assert_int_eq(claims_of("{\"iss\":1,\"aud\":[]}", &p, 0), PC_JWT_OK); /* unchecked */
    p.issuers = iss;
    p.n_issuers = 2;
    p.audiences = aud;
    p.n_audiences = 1;
    ck_assert_int_eq(claims_of("{\"iss\":\"b\",\"aud\":\"api\"}", &p, 0), PC_JWT_OK);
    ck_assert_int_eq(claims_of("{\"iss\":\"B\",\"aud\":\"api\"}", &p, 0), PC_JWT_ERR_ISS);
    ck_assert_int_eq(claims_of("{\"iss\":\"a \",\"aud\":\"api\"}", &p, 0), PC_JWT_ERR_ISS);
    ck_assert_int_eq(claims_of("{\"iss\":[\"a\"],\"aud\":\"api\"}", &p, 0), PC_JWT_ERR_ISS);
    ck_assert_int_eq(claims_of("{\"aud\":\"api\"}", &p, 0), PC_JWT_ERR_ISS_MISSING);
    ck_assert_int_eq(claims_of("{\"iss\":\"a\"}", &p, 0), PC_JWT_ERR_AUD_MISSING);
    ck_assert_int_eq(claims_of("{\"iss\":\"a\",\"aud\":[\"x\",\"api\"]}", &p, 0), PC_JWT_OK);
    ck_assert_int_eq(claims_of("{\"iss\":\"a\",\"aud\":[\"x\"]}", &p, 0), PC_JWT_ERR_AUD);
    ck_assert_int_eq(claims_of("{\"iss\":\"a\",\"aud\":[]}", &p, 0), PC_JWT_ERR_AUD);
    ck_assert_int_eq(claims_of("{\"iss\":\"a\",\"aud\":[\"api\",1]}", &p, 0), PC_JWT_ERR_AUD);
    ck_assert_int_eq(claims_of("{\"iss\":\"a\",\"aud\":{\"api\":1}}", &p, 0), PC_JWT_ERR_AUD);
    ck_assert_int_eq(claims_of("{\"iss\":\"a\",\"aud\":\"apix\"}", &p, 0), PC_JWT_ERR_AUD);
}
END_TEST

/* Checks the "nested" fixture token against one match (after verifying). */
static pc_jwt_result_t nested_match(const char *path, pc_jwt_match_op_t op, json_t *value)
{
    pc_jwt_claim_match_t m = {path, op, value};
    pc_jwt_claims_policy_t p = g_policy;
    pc_jwt_result_t r;
    char err[128];

    ck_assert_int_eq(pc_jwt_claim_match_validate(&m, err, sizeof(err)), 0);
    p.matches = &m;
    p.n_matches = 1;
    r = fx_auth("nested", g_jwks, NULL, &p);
    json_decref(value);
    return r;
}

START_TEST(test_claims_matches)
{
    static const char *const req_ok[] = {"realm_access.roles", "tenant"};
    static const char *const req_bad[] = {"realm_access.groups"};
    pc_jwt_claims_policy_t p = g_policy;
    pc_jwt_claim_match_t bad = {"x", PC_JWT_MATCH_ONE_OF, NULL};
    json_t *v;
    char err[128];

    ck_assert_int_eq(nested_match("tenant", PC_JWT_MATCH_EQUALS, json_string("acme")), PC_JWT_OK);
    ck_assert_int_eq(nested_match("tenant", PC_JWT_MATCH_EQUALS, json_string("acm")),
                     PC_JWT_ERR_CLAIM_MISMATCH);
    ck_assert_int_eq(nested_match("level", PC_JWT_MATCH_EQUALS, json_integer(3)), PC_JWT_OK);
    ck_assert_int_eq(nested_match("level", PC_JWT_MATCH_EQUALS, json_real(3.0)), PC_JWT_OK);
    ck_assert_int_eq(nested_match("level", PC_JWT_MATCH_EQUALS, json_string("3")),
                     PC_JWT_ERR_CLAIM_MISMATCH);
    ck_assert_int_eq(nested_match("active", PC_JWT_MATCH_EQUALS, json_true()), PC_JWT_OK);
    ck_assert_int_eq(nested_match("active", PC_JWT_MATCH_EQUALS, json_false()),
                     PC_JWT_ERR_CLAIM_MISMATCH);
    ck_assert_int_eq(nested_match("tenant", PC_JWT_MATCH_ONE_OF, json_pack("[ss]", "x", "acme")),
                     PC_JWT_OK);
    ck_assert_int_eq(nested_match("tenant", PC_JWT_MATCH_ONE_OF, json_pack("[s]", "x")),
                     PC_JWT_ERR_CLAIM_MISMATCH);
    ck_assert_int_eq(
        nested_match("realm_access.roles", PC_JWT_MATCH_CONTAINS, json_string("admin")),
        PC_JWT_OK);
    ck_assert_int_eq(
        nested_match("realm_access.roles", PC_JWT_MATCH_CONTAINS, json_string("root")),
        PC_JWT_ERR_CLAIM_MISMATCH);
    ck_assert_int_eq(nested_match("realm_access", PC_JWT_MATCH_CONTAINS, json_string("roles")),
                     PC_JWT_ERR_CLAIM_MISMATCH);
    ck_assert_int_eq(nested_match("realm_access.roles.x", PC_JWT_MATCH_EQUALS, json_string("a")),
                     PC_JWT_ERR_CLAIM_MISMATCH);
    /* A claim name with dots of its own. */
    ck_assert_int_eq(
        nested_match("https://example.com/org", PC_JWT_MATCH_EQUALS, json_string("acme-org")),
        PC_JWT_OK);

    p.required = req_ok;
    p.n_required = 2;
    ck_assert_int_eq(fx_auth("nested", g_jwks, NULL, &p), PC_JWT_OK);
    p.required = req_bad;
    p.n_required = 1;
    ck_assert_int_eq(fx_auth("nested", g_jwks, NULL, &p), PC_JWT_ERR_CLAIM_MISSING);

    ck_assert_int_eq(pc_jwt_claim_match_validate(&bad, err, sizeof(err)), -1);
    bad.value = v = json_pack("[si]", "a", 1);
    ck_assert_int_eq(pc_jwt_claim_match_validate(&bad, err, sizeof(err)), -1);
    json_decref(v);
    bad.op = PC_JWT_MATCH_EQUALS;
    bad.value = v = json_object();
    ck_assert_int_eq(pc_jwt_claim_match_validate(&bad, err, sizeof(err)), -1);
    json_decref(v);
}
END_TEST

START_TEST(test_scopes)
{
    static const char *const rw[] = {"read", "write"};
    static const char *const ra[] = {"read", "admin"};
    static const char *const aw[] = {"admin", "write"};
    static const char *const none[] = {"rea", "ad"};
    json_t *str = json_pack("{s:s}", "scope", "read  write");
    json_t *scp = json_pack("{s:[ss]}", "scp", "read", "admin");
    json_t *azure = json_pack("{s:s}", "scp", "read admin");
    pc_jwt_claims_policy_t p = g_policy;

    ck_assert(pc_jwt_scopes_has_all(str, rw, 2));
    ck_assert(!pc_jwt_scopes_has_all(str, ra, 2));
    ck_assert(pc_jwt_scopes_has_any(str, aw, 2));
    ck_assert(!pc_jwt_scopes_has_any(str, none, 2));
    ck_assert(pc_jwt_scopes_has_all(scp, ra, 2));
    ck_assert(!pc_jwt_scopes_has_all(scp, rw, 2));
    ck_assert(pc_jwt_scopes_has_all(azure, ra, 2));
    ck_assert(!pc_jwt_scope_has(str, ""));
    ck_assert(pc_jwt_scopes_has_all(str, NULL, 0));
    ck_assert(!pc_jwt_scopes_has_any(str, NULL, 0));

    p.scopes_all = rw;
    p.n_scopes_all = 2;
    ck_assert_int_eq(fx_auth("scope_str", g_jwks, NULL, &p), PC_JWT_OK);
    ck_assert_int_eq(fx_auth("scope_scp", g_jwks, NULL, &p), PC_JWT_ERR_SCOPE);
    p.n_scopes_all = 0;
    p.scopes_any = aw;
    p.n_scopes_any = 2;
    ck_assert_int_eq(fx_auth("scope_scp", g_jwks, NULL, &p), PC_JWT_OK);
    ck_assert_int_eq(fx_auth("valid_ES256", g_jwks, NULL, &p), PC_JWT_ERR_SCOPE);
    json_decref(str);
    json_decref(scp);
    json_decref(azure);
}
END_TEST

static Suite *jwt_suite(void)
{
    Suite *s = suite_create("jwt");
    TCase *tc;

    tc = tcase_create("fixtures");
    tcase_add_loop_test(tc, test_fixture_case, 0, (int)(sizeof(fx_cases) / sizeof(fx_cases[0])));
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_add_test(tc, test_base64url);
    tcase_add_test(tc, test_alg_names_and_reasons);
    tcase_add_test(tc, test_parse_shapes);
    tcase_add_test(tc, test_parse_fields);
    tcase_add_test(tc, test_parse_options);
    tcase_add_test(tc, test_parse_mutations);
    suite_add_tcase(s, tc);

    tc = tcase_create("keys");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_jwks_load);
    tcase_add_test(tc, test_jwks_alg_rules);
    tcase_add_test(tc, test_jwks_malformed);
    tcase_add_test(tc, test_pem_load);
    tcase_add_test(tc, test_hmac_load);
    tcase_add_test(tc, test_merge_and_refcount);
    tcase_add_test(tc, test_threads_shared_set);
    suite_add_tcase(s, tc);

    tc = tcase_create("claims");
    tcase_add_test(tc, test_claims_times);
    tcase_add_test(tc, test_claims_iss_aud);
    tcase_add_test(tc, test_claims_matches);
    tcase_add_test(tc, test_scopes);
    suite_add_tcase(s, tc);
    return s;
}

static void fx_load_globals(void)
{
    char err[256];
    char *now = fx_read("now.txt", NULL);

    fx_now = strtoll(now, NULL, 10);
    free(now);
    g_jwks = fx_jwks_set("jwks.json", NULL, err, sizeof(err));
    if (!g_jwks) {
        fprintf(stderr, "test_jwt: jwks.json: %s\n", err);
        abort();
    }
    g_rs_pem = fx_pem_set("rsa_pub.pem", "RS256", NULL, err, sizeof(err));
    g_rs_cert = fx_pem_set("rsa_cert.pem", "RS256", NULL, err, sizeof(err));
    g_ec_pem = fx_pem_set("ec256_pub.pem", NULL, NULL, err, sizeof(err));
    g_hs = fx_hmac_set("hs256.key", "HS256", NULL);
    if (!g_rs_pem || !g_rs_cert || !g_ec_pem || !g_hs) {
        fprintf(stderr, "test_jwt: cannot load PEM/HMAC fixtures\n");
        abort();
    }
    pc_jwt_claims_policy_init(&g_policy);
    g_policy.issuers = g_issuers;
    g_policy.n_issuers = 1;
    g_policy.audiences = g_audiences;
    g_policy.n_audiences = 2;
}

int main(void)
{
    SRunner *sr;
    int failed;

    fx_dir = getenv("PC_JWT_FIXTURES");
    if (!fx_dir || !*fx_dir) {
        fprintf(stderr, "test_jwt: PC_JWT_FIXTURES not set; skipping\n");
        return getenv("PC_NO_SKIP") ? EXIT_FAILURE : 77; /* CI: a skip is a failure */
    }
    fx_load_globals();
    sr = srunner_create(jwt_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    pc_jwk_set_unref(g_jwks);
    pc_jwk_set_unref(g_rs_pem);
    pc_jwk_set_unref(g_rs_cert);
    pc_jwk_set_unref(g_ec_pem);
    pc_jwk_set_unref(g_hs);
    return failed ? 1 : 0;
}
