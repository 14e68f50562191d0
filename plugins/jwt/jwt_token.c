/* plugins/jwt/jwt_token.c: strict compact-JWS parsing, base64url, alg names
 * and result strings. See jwt_token.h for the contract. */
#include "jwt_token.h"

#include <stdlib.h>
#include <string.h>

/* Decoded header and payload usually fit here, which saves a malloc. */
#define JWT_SCRATCH_STACK 4096

static const struct {
    const char *name;
    size_t len;
} jwt_alg_names[PC_JWT_ALG_COUNT] = {
    [PC_JWT_ALG_INVALID] = {"invalid", 7},
    [PC_JWT_RS256] = {"RS256", 5},
    [PC_JWT_RS384] = {"RS384", 5},
    [PC_JWT_RS512] = {"RS512", 5},
    [PC_JWT_PS256] = {"PS256", 5},
    [PC_JWT_PS384] = {"PS384", 5},
    [PC_JWT_PS512] = {"PS512", 5},
    [PC_JWT_ES256] = {"ES256", 5},
    [PC_JWT_ES384] = {"ES384", 5},
    [PC_JWT_ES512] = {"ES512", 5},
    [PC_JWT_EDDSA] = {"EdDSA", 5},
    [PC_JWT_HS256] = {"HS256", 5},
    [PC_JWT_HS384] = {"HS384", 5},
    [PC_JWT_HS512] = {"HS512", 5},
};

static const struct {
    const char *reason;
    const char *text;
} jwt_results[PC_JWT_RESULT_COUNT] = {
    [PC_JWT_OK] = {"jwt.ok", "token valid"},
    [PC_JWT_ERR_TOO_LARGE] = {"jwt.too_large", "token exceeds the size limit"},
    [PC_JWT_ERR_MALFORMED] = {"jwt.malformed", "token is not three dot-separated parts"},
    [PC_JWT_ERR_JWE] = {"jwt.jwe", "encrypted token (JWE) not supported"},
    [PC_JWT_ERR_BASE64] = {"jwt.base64", "token part is not strict base64url"},
    [PC_JWT_ERR_HEADER_JSON] = {"jwt.header_json", "header is not a JSON object"},
    [PC_JWT_ERR_PAYLOAD_JSON] = {"jwt.payload_json", "payload is not a JSON object"},
    [PC_JWT_ERR_DUPLICATE_KEY] = {"jwt.duplicate_key", "duplicate member name in header or payload"},
    [PC_JWT_ERR_ALG_MISSING] = {"jwt.alg_missing", "header alg missing or not a string"},
    [PC_JWT_ERR_ALG_NONE] = {"jwt.alg_none", "unsecured token (alg none) refused"},
    [PC_JWT_ERR_ALG_UNSUPPORTED] = {"jwt.alg_unsupported", "header alg not supported"},
    [PC_JWT_ERR_TYP] = {"jwt.typ", "header typ not accepted"},
    [PC_JWT_ERR_CRIT] = {"jwt.crit", "header crit lists an extension not allowed"},
    [PC_JWT_ERR_HEADER_PARAM] = {"jwt.header_param", "header parameter has a wrong type or value"},
    [PC_JWT_ERR_KID_UNKNOWN] = {"jwt.kid_unknown", "no key with the token's kid"},
    [PC_JWT_ERR_NO_KEY] = {"jwt.no_key", "no key configured for the token's alg"},
    [PC_JWT_ERR_ALG_MISMATCH] = {"jwt.alg_mismatch", "token alg differs from the key's pinned alg"},
    [PC_JWT_ERR_SIG_LENGTH] = {"jwt.sig_length", "signature has the wrong length"},
    [PC_JWT_ERR_SIGNATURE] = {"jwt.signature", "signature does not verify"},
    [PC_JWT_ERR_INTERNAL] = {"jwt.internal", "internal error during verification"},
    [PC_JWT_ERR_EXP_MISSING] = {"jwt.exp_missing", "exp claim missing"},
    [PC_JWT_ERR_EXP_TYPE] = {"jwt.exp_type", "exp claim is not a number"},
    [PC_JWT_ERR_EXPIRED] = {"jwt.expired", "token expired"},
    [PC_JWT_ERR_NBF_TYPE] = {"jwt.nbf_type", "nbf claim is not a number"},
    [PC_JWT_ERR_NBF_FUTURE] = {"jwt.nbf_future", "token not valid yet (nbf)"},
    [PC_JWT_ERR_IAT_TYPE] = {"jwt.iat_type", "iat claim is not a number"},
    [PC_JWT_ERR_IAT_FUTURE] = {"jwt.iat_future", "token issued in the future (iat)"},
    [PC_JWT_ERR_IAT_MISSING] = {"jwt.iat_missing", "iat claim missing but a max age is set"},
    [PC_JWT_ERR_TOO_OLD] = {"jwt.too_old", "token older than the max age"},
    [PC_JWT_ERR_ISS_MISSING] = {"jwt.iss_missing", "iss claim missing"},
    [PC_JWT_ERR_ISS] = {"jwt.iss", "issuer not accepted"},
    [PC_JWT_ERR_AUD_MISSING] = {"jwt.aud_missing", "aud claim missing"},
    [PC_JWT_ERR_AUD] = {"jwt.aud", "audience not accepted"},
    [PC_JWT_ERR_CLAIM_MISSING] = {"jwt.claim_missing", "required claim missing"},
    [PC_JWT_ERR_CLAIM_MISMATCH] = {"jwt.claim_mismatch", "claim does not match the policy"},
    [PC_JWT_ERR_SCOPE] = {"jwt.scope", "required scope not granted"},
};

/* 0xff marks a byte outside the base64url alphabet. */
static const unsigned char jwt_b64_table[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3e, 0xff, 0xff,
    0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
    0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0xff, 0xff, 0xff, 0xff, 0x3f,
    0xff, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28,
    0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};

/* The accepted typ values (RFC 7519 §5.1, RFC 9068 §2.1), compared without
 * case as RFC 7515 §4.1.9 asks; "application/" may be omitted. */
static const char *const jwt_typ_ok[] = {"JWT", "application/jwt", "at+jwt", "application/at+jwt"};

static int jwt_ascii_caseeq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);

    if (alen != blen)
        return 0;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y - 'A' + 'a');
        if (x != y)
            return 0;
    }
    return 1;
}

int pc_jwt_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outcap,
                         size_t *outlen, int allow_pad)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t i, o = 0, rem;

    if (allow_pad) {
        size_t pad = 0;
        while (len > 0 && s[len - 1] == '=' && pad < 2) {
            len--;
            pad++;
        }
        if (pad && (len + pad) % 4 != 0)
            return -1;
    }
    rem = len % 4;
    if (rem == 1)
        return -1;
    if (len / 4 * 3 + (rem ? rem - 1 : 0) > outcap)
        return -1;
    for (i = 0; i + 4 <= len; i += 4) {
        unsigned a = jwt_b64_table[s[i]], b = jwt_b64_table[s[i + 1]];
        unsigned c = jwt_b64_table[s[i + 2]], d = jwt_b64_table[s[i + 3]];
        if ((a | b | c | d) & 0x80)
            return -1;
        out[o++] = (unsigned char)(a << 2 | b >> 4);
        out[o++] = (unsigned char)(b << 4 | c >> 2);
        out[o++] = (unsigned char)(c << 6 | d);
    }
    if (rem >= 2) {
        unsigned a = jwt_b64_table[s[i]], b = jwt_b64_table[s[i + 1]];
        unsigned c = rem == 3 ? jwt_b64_table[s[i + 2]] : 0;
        if ((a | b | c) & 0x80)
            return -1;
        out[o++] = (unsigned char)(a << 2 | b >> 4);
        if (rem == 2 && (b & 0x0f))
            return -1; /* non-canonical: bits past the last byte are set */
        if (rem == 3) {
            out[o++] = (unsigned char)(b << 4 | c >> 2);
            if (c & 0x03)
                return -1;
        }
    }
    *outlen = o;
    return 0;
}

pc_jwt_alg_t pc_jwt_alg_from_name(const char *name, size_t len)
{
    for (int a = PC_JWT_ALG_INVALID + 1; a < PC_JWT_ALG_COUNT; a++) {
        if (jwt_alg_names[a].len == len && memcmp(jwt_alg_names[a].name, name, len) == 0)
            return (pc_jwt_alg_t)a;
    }
    return PC_JWT_ALG_INVALID;
}

const char *pc_jwt_alg_name(pc_jwt_alg_t alg)
{
    if ((int)alg <= PC_JWT_ALG_INVALID || alg >= PC_JWT_ALG_COUNT)
        return jwt_alg_names[PC_JWT_ALG_INVALID].name;
    return jwt_alg_names[alg].name;
}

const char *pc_jwt_strerror(pc_jwt_result_t r)
{
    if ((int)r < 0 || r >= PC_JWT_RESULT_COUNT)
        return "unknown jwt result";
    return jwt_results[r].text;
}

const char *pc_jwt_reason(pc_jwt_result_t r)
{
    if ((int)r < 0 || r >= PC_JWT_RESULT_COUNT)
        return "jwt.unknown";
    return jwt_results[r].reason;
}

/* Decodes one part and parses it as a JSON object. bad is the code for
 * anything that is not an object (header or payload). */
static pc_jwt_result_t jwt_parse_object(const char *b64, size_t len, unsigned char *scratch,
                                        size_t cap, pc_jwt_result_t bad, json_t **out)
{
    json_error_t jerr;
    size_t n;
    json_t *j;

    if (pc_jwt_b64url_decode(b64, len, scratch, cap, &n, 0) == -1)
        return PC_JWT_ERR_BASE64;
    j = json_loadb((const char *)scratch, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return json_error_code(&jerr) == json_error_duplicate_key ? PC_JWT_ERR_DUPLICATE_KEY
                                                                   : bad;
    if (!json_is_object(j)) {
        json_decref(j);
        return bad;
    }
    *out = j;
    return PC_JWT_OK;
}

static pc_jwt_result_t jwt_check_alg(const json_t *hdr, pc_jwt_alg_t *alg)
{
    const json_t *v = json_object_get(hdr, "alg");
    const char *s;
    size_t n;

    if (!json_is_string(v))
        return PC_JWT_ERR_ALG_MISSING;
    s = json_string_value(v);
    n = json_string_length(v);
    /* Only for a precise log line: "none" would be unsupported anyway. */
    if (jwt_ascii_caseeq(s, n, "none"))
        return PC_JWT_ERR_ALG_NONE;
    *alg = pc_jwt_alg_from_name(s, n);
    return *alg == PC_JWT_ALG_INVALID ? PC_JWT_ERR_ALG_UNSUPPORTED : PC_JWT_OK;
}

static pc_jwt_result_t jwt_check_typ(const json_t *hdr)
{
    const json_t *v = json_object_get(hdr, "typ");

    if (!v)
        return PC_JWT_OK;
    if (!json_is_string(v))
        return PC_JWT_ERR_TYP;
    for (size_t i = 0; i < sizeof(jwt_typ_ok) / sizeof(jwt_typ_ok[0]); i++) {
        if (jwt_ascii_caseeq(json_string_value(v), json_string_length(v), jwt_typ_ok[i]))
            return PC_JWT_OK;
    }
    return PC_JWT_ERR_TYP;
}

static int jwt_crit_allowed(const json_t *name, const pc_jwt_parse_opts_t *opts)
{
    for (size_t i = 0; opts && i < opts->n_crit_allowed; i++) {
        const char *a = opts->crit_allowed[i];
        if (strlen(a) == json_string_length(name) && strcmp(a, json_string_value(name)) == 0)
            return 1;
    }
    return 0;
}

/* RFC 7515 §4.1.11: crit is a non-empty array of names that must be
 * understood. We understand only what the configuration allows, and each
 * listed name must actually be present in the header. */
static pc_jwt_result_t jwt_check_crit(const json_t *hdr, const pc_jwt_parse_opts_t *opts)
{
    const json_t *crit = json_object_get(hdr, "crit");
    size_t i;
    json_t *name;

    if (!crit)
        return PC_JWT_OK;
    if (!json_is_array(crit) || json_array_size(crit) == 0)
        return PC_JWT_ERR_CRIT;
    json_array_foreach(crit, i, name) {
        if (!json_is_string(name) || !jwt_crit_allowed(name, opts))
            return PC_JWT_ERR_CRIT;
        if (!json_object_get(hdr, json_string_value(name)))
            return PC_JWT_ERR_CRIT;
    }
    return PC_JWT_OK;
}

/* kid must be a string when present. b64=false (RFC 7797) changes what is
 * signed; we never implement it, so anything but true is refused even if a
 * crit allow-list were to let it through. */
static pc_jwt_result_t jwt_check_params(const json_t *hdr, pc_jwt_token_t *t)
{
    const json_t *kid = json_object_get(hdr, "kid");
    const json_t *b64 = json_object_get(hdr, "b64");

    if (kid) {
        if (!json_is_string(kid))
            return PC_JWT_ERR_HEADER_PARAM;
        t->kid = json_string_value(kid);
        t->kid_len = json_string_length(kid);
    }
    if (b64 && !json_is_true(b64))
        return PC_JWT_ERR_HEADER_PARAM;
    return PC_JWT_OK;
}

static pc_jwt_result_t jwt_check_header(const json_t *hdr, const pc_jwt_parse_opts_t *opts,
                                        pc_jwt_token_t *t)
{
    pc_jwt_result_t r;

    if ((r = jwt_check_alg(hdr, &t->alg)) != PC_JWT_OK)
        return r;
    if ((r = jwt_check_typ(hdr)) != PC_JWT_OK)
        return r;
    if ((r = jwt_check_crit(hdr, opts)) != PC_JWT_OK)
        return r;
    return jwt_check_params(hdr, t);
}

/* Splits "h.p.s" into its three spans; counts all dots so a JWE (four dots)
 * gets its own code. One memchr pass, no allocation. */
static pc_jwt_result_t jwt_split(const char *tok, size_t len, const char **dot1,
                                 const char **dot2)
{
    const char *end = tok + len, *p = tok, *d;
    const char *dots[2] = {NULL, NULL};
    size_t ndots = 0;

    while (p < end && (d = memchr(p, '.', (size_t)(end - p))) != NULL) {
        if (ndots < 2)
            dots[ndots] = d;
        ndots++;
        p = d + 1;
    }
    if (ndots == 4)
        return PC_JWT_ERR_JWE;
    if (ndots != 2 || dots[0] == tok || dots[1] == dots[0] + 1)
        return PC_JWT_ERR_MALFORMED;
    *dot1 = dots[0];
    *dot2 = dots[1];
    return PC_JWT_OK;
}

static pc_jwt_result_t jwt_decode_sig(const char *b64, size_t len, pc_jwt_token_t *t)
{
    /* Longer than any key's signature: say so rather than "bad base64". */
    if (len / 4 * 3 + (len % 4 > 1 ? len % 4 - 1 : 0) > PC_JWT_MAX_SIG_LEN)
        return PC_JWT_ERR_SIG_LENGTH;
    if (pc_jwt_b64url_decode(b64, len, t->sig, sizeof(t->sig), &t->sig_len, 0) == -1)
        return PC_JWT_ERR_BASE64;
    return PC_JWT_OK;
}

pc_jwt_result_t pc_jwt_parse(const char *tok, size_t len, const pc_jwt_parse_opts_t *opts,
                             pc_jwt_token_t *out)
{
    size_t max = opts && opts->max_len ? opts->max_len : PC_JWT_DEFAULT_MAX_LEN;
    unsigned char stack[JWT_SCRATCH_STACK], *scratch = stack;
    const char *d1, *d2, *end = tok + len;
    size_t cap;
    pc_jwt_result_t r;

    memset(out, 0, offsetof(pc_jwt_token_t, sig));
    if (len > max)
        return PC_JWT_ERR_TOO_LARGE;
    if ((r = jwt_split(tok, len, &d1, &d2)) != PC_JWT_OK)
        return r;
    cap = PC_JWT_B64_DECODED_MAX((size_t)(d2 - tok));
    if (cap > sizeof(stack) && !(scratch = malloc(cap)))
        return PC_JWT_ERR_INTERNAL;

    r = jwt_parse_object(tok, (size_t)(d1 - tok), scratch, cap, PC_JWT_ERR_HEADER_JSON,
                         &out->header);
    if (r != PC_JWT_OK)
        goto out;
    if ((r = jwt_check_header(out->header, opts, out)) != PC_JWT_OK)
        goto out;
    if ((r = jwt_decode_sig(d2 + 1, (size_t)(end - d2 - 1), out)) != PC_JWT_OK)
        goto out;
    r = jwt_parse_object(d1 + 1, (size_t)(d2 - d1 - 1), scratch, cap, PC_JWT_ERR_PAYLOAD_JSON,
                         &out->payload);
    if (r != PC_JWT_OK)
        goto out;
    out->signing_input = tok;
    out->signing_input_len = (size_t)(d2 - tok);

out:
    if (scratch != stack)
        free(scratch);
    if (r != PC_JWT_OK)
        pc_jwt_token_clear(out);
    return r;
}

void pc_jwt_token_clear(pc_jwt_token_t *t)
{
    if (!t)
        return;
    json_decref(t->header);
    json_decref(t->payload);
    memset(t, 0, offsetof(pc_jwt_token_t, sig));
}
