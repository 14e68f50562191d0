/* tests/unit/test_jwt_plugin.c: the jwt plugin's own modules -
 * plugins/jwt/jwt_http.c (credential extraction, Cache-Control, form
 * encoding), jwt_cache.c (bounded set-associative cache, expiry, key-set
 * serials, negative entries) and jwt_conf.c (validation with JSON paths).
 * The request path itself is covered end to end by tests/e2e/test_jwt_*.py. */
#include "conf/conf.h"
#include "jwt_cache.h"
#include "jwt_http.h"
#include "jwt_plugin.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const pc_plugin_t pc_plugin_jwt;

/* ---- jwt_http ------------------------------------------------------------------ */

START_TEST(test_bearer)
{
    static const struct {
        const char *in;
        jwt_authz_t want;
        const char *tok;
    } cases[] = {
        {"Bearer abc.def.ghi", JWT_AUTHZ_BEARER, "abc.def.ghi"},
        {"bearer abc", JWT_AUTHZ_BEARER, "abc"},
        {"BEARER   a-b_c~d+e/f==", JWT_AUTHZ_BEARER, "a-b_c~d+e/f=="},
        {"  Bearer abc  \t", JWT_AUTHZ_BEARER, "abc"},
        {"Basic YWxhZGRpbjpvcGVuc2VzYW1l", JWT_AUTHZ_OTHER, NULL},
        {"Bearerabc", JWT_AUTHZ_OTHER, NULL},
        {"Bear", JWT_AUTHZ_OTHER, NULL},
        {"", JWT_AUTHZ_OTHER, NULL},
        {"Bearer", JWT_AUTHZ_MALFORMED, NULL},
        {"Bearer ", JWT_AUTHZ_MALFORMED, NULL},
        {"Bearer\tabc", JWT_AUTHZ_MALFORMED, NULL},
        {"Bearer a b", JWT_AUTHZ_MALFORMED, NULL},
        {"Bearer a,b", JWT_AUTHZ_MALFORMED, NULL},
        {"Bearer a=b", JWT_AUTHZ_MALFORMED, NULL},
        {"Bearer =", JWT_AUTHZ_MALFORMED, NULL},
        {"Bearer a\"b", JWT_AUTHZ_MALFORMED, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *tok;
        size_t len;
        jwt_authz_t got = jwt_http_bearer(cases[i].in, strlen(cases[i].in), &tok, &len);
        ck_assert_msg(got == cases[i].want, "%s: %d", cases[i].in, got);
        if (cases[i].tok) {
            ck_assert_uint_eq(len, strlen(cases[i].tok));
            ck_assert(memcmp(tok, cases[i].tok, len) == 0);
        }
    }
    /* not NUL-terminated: len is the bound */
    const char *tok;
    size_t len;
    ck_assert_int_eq(jwt_http_bearer("Bearer abcXYZ", 10, &tok, &len), JWT_AUTHZ_BEARER);
    ck_assert_uint_eq(len, 3);
}
END_TEST

START_TEST(test_cookie_query)
{
    const char *v;
    size_t n;
    const char *h = "a=1; access_token=tok1;b=2 ;  c = 3";
    ck_assert_int_eq(jwt_http_cookie(h, strlen(h), "access_token", &v, &n), 1);
    ck_assert(n == 4 && memcmp(v, "tok1", 4) == 0);
    ck_assert_int_eq(jwt_http_cookie(h, strlen(h), "c", &v, &n), 1);
    ck_assert(n == 1 && *v == '3');
    ck_assert_int_eq(jwt_http_cookie(h, strlen(h), "access", &v, &n), 0);
    h = "access_token=\"q\"; access_token=x";
    ck_assert_int_eq(jwt_http_cookie(h, strlen(h), "access_token", &v, &n), 2);
    ck_assert(n == 1 && *v == 'q');
    h = "access_token";
    ck_assert_int_eq(jwt_http_cookie(h, strlen(h), "access_token", &v, &n), 0);
    h = "access_token=";
    ck_assert_int_eq(jwt_http_cookie(h, strlen(h), "access_token", &v, &n), 1);
    ck_assert_uint_eq(n, 0);

    const char *q = "a=1&access_token=abc&b";
    ck_assert_int_eq(jwt_http_query(q, strlen(q), "access_token", &v, &n), 1);
    ck_assert(n == 3 && memcmp(v, "abc", 3) == 0);
    q = "xaccess_token=1&access_token_2=2";
    ck_assert_int_eq(jwt_http_query(q, strlen(q), "access_token", &v, &n), 0);
    q = "access_token=1&access_token=2";
    ck_assert_int_eq(jwt_http_query(q, strlen(q), "access_token", &v, &n), 2);
}
END_TEST

START_TEST(test_max_age)
{
    int nc;
    ck_assert_int_eq(jwt_http_max_age(NULL, &nc), -1);
    ck_assert_int_eq(jwt_http_max_age("max-age=600", &nc), 600);
    ck_assert_int_eq(nc, 0);
    ck_assert_int_eq(jwt_http_max_age("public, Max-Age = 30 ,x", &nc), 30);
    ck_assert_int_eq(jwt_http_max_age("max-age=600, s-maxage=60", &nc), 60);
    ck_assert_int_eq(jwt_http_max_age("max-age=\"90\"", &nc), 90);
    ck_assert_int_eq(jwt_http_max_age("max-age=abc", &nc), -1);
    ck_assert_int_eq(jwt_http_max_age("max-age", &nc), -1);
    ck_assert_int_eq(jwt_http_max_age("max-age=99999999999999999999", &nc), 10L * 365 * 86400);
    ck_assert_int_eq(jwt_http_max_age("no-cache, max-age=5", &nc), 5);
    ck_assert_int_eq(nc, 1);
    ck_assert_int_eq(jwt_http_max_age("private, no-store", &nc), -1);
    ck_assert_int_eq(nc, 1);
}
END_TEST

START_TEST(test_form_and_basic)
{
    char *e = jwt_http_form_escape("a b&c=d/é~*-._", strlen("a b&c=d/é~*-._"));
    ck_assert_str_eq(e, "a+b%26c%3Dd%2F%C3%A9%7E*-._");
    free(e);
    /* RFC 6749 §2.3.1: id and secret are form-encoded before base64 */
    char *b = jwt_http_basic_credentials("gw client", "s3cret:&", 8);
    ck_assert_str_eq(b, "Basic Z3crY2xpZW50OnMzY3JldCUzQSUyNg==");
    free(b);
    ck_assert(jwt_http_value_ok("read write", 10));
    ck_assert(jwt_http_value_ok("a\tb", 3));
    ck_assert(!jwt_http_value_ok("a\r\nX-Evil: 1", 12));
    ck_assert(!jwt_http_value_ok("a\x7f", 2));
}
END_TEST

/* ---- jwt_cache -------------------------------------------------------------- */

static jwt_ident_t *ident(const char *sub)
{
    json_t *c = json_pack("{ss}", "sub", sub);
    char **hv = calloc(1, sizeof(char *));
    hv[0] = strdup(sub);
    jwt_ident_t *id = jwt_ident_new(c, "revoked:jti:x", 13, hv, 1);
    json_decref(c);
    return id;
}

START_TEST(test_cache_basic)
{
    jwt_cache_t *c = jwt_cache_new(100);
    unsigned char k1[32], k2[32];
    int neg;
    ck_assert_uint_le(jwt_cache_capacity(c), 100);
    ck_assert_uint_ge(jwt_cache_capacity(c), 64);
    jwt_cache_key(c, "token-1", 7, k1);
    jwt_cache_key(c, "token-2", 7, k2);
    ck_assert(memcmp(k1, k2, 32) != 0);
    jwt_ident_t *a = ident("alice");
    ck_assert_ptr_null(jwt_cache_get(c, k1, 1000, 1, &neg));
    jwt_cache_put(c, k1, 1000, 5000, 1, a, 0);
    jwt_ident_unref(a); /* the cache holds its own */
    jwt_ident_t *got = jwt_cache_get(c, k1, 4999, 1, &neg);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got->subject, "alice");
    ck_assert_str_eq(got->rkey, "revoked:jti:x");
    ck_assert_ptr_null(jwt_cache_get(c, k2, 2000, 1, &neg));
    /* another key set: stale, dropped */
    ck_assert_ptr_null(jwt_cache_get(c, k1, 2000, 2, &neg));
    ck_assert_uint_eq(jwt_cache_count(c), 0);
    /* deadline reached: dead */
    a = ident("alice");
    jwt_cache_put(c, k1, 1000, 5000, 1, a, 0);
    ck_assert_ptr_null(jwt_cache_get(c, k1, 5000, 1, &neg));
    /* never stored when already dead */
    jwt_cache_put(c, k1, 6000, 6000, 1, a, 0);
    ck_assert_uint_eq(jwt_cache_count(c), 0);
    /* negative entries */
    jwt_cache_put(c, k2, 1000, 2000, 0, NULL, 1);
    ck_assert_ptr_null(jwt_cache_get(c, k2, 1500, 0, &neg));
    ck_assert_int_eq(neg, 1);
    ck_assert_ptr_null(jwt_cache_get(c, k2, 2500, 0, &neg));
    ck_assert_int_eq(neg, 0);
    /* replace in place */
    jwt_cache_put(c, k1, 1000, 9000, 3, a, 0);
    jwt_ident_t *b = ident("bob");
    jwt_cache_put(c, k1, 1000, 9000, 3, b, 0);
    ck_assert_uint_eq(jwt_cache_count(c), 1);
    ck_assert_str_eq(jwt_cache_get(c, k1, 1000, 3, &neg)->subject, "bob");
    jwt_ident_unref(a);
    jwt_ident_unref(b);
    jwt_cache_stats_t st = jwt_cache_stats(c);
    ck_assert_uint_ge(st.hits, 2);
    ck_assert_uint_ge(st.stale, 1);
    ck_assert_uint_ge(st.expired, 1);
    jwt_cache_free(c);
}
END_TEST

START_TEST(test_cache_bounded)
{
    jwt_cache_t *c = jwt_cache_new(64);
    unsigned char k[32];
    char tok[32];
    int neg;
    size_t cap = jwt_cache_capacity(c);
    for (int i = 0; i < 10000; i++) {
        snprintf(tok, sizeof(tok), "tok-%d", i);
        jwt_cache_key(c, tok, strlen(tok), k);
        jwt_ident_t *id = ident(tok);
        jwt_cache_put(c, k, 0, 1000000, 1, id, 0);
        jwt_ident_unref(id);
        ck_assert_uint_le(jwt_cache_count(c), cap);
    }
    ck_assert_uint_eq(jwt_cache_count(c), cap);
    ck_assert_uint_ge(jwt_cache_stats(c).evictions, 10000 - cap);
    /* the most recent one is there; LRU keeps a hot entry */
    snprintf(tok, sizeof(tok), "tok-%d", 9999);
    jwt_cache_key(c, tok, strlen(tok), k);
    ck_assert_ptr_nonnull(jwt_cache_get(c, k, 1, 1, &neg));
    jwt_cache_free(c);
    ck_assert_ptr_null(jwt_cache_new(0));
    jwt_cache_t *tiny = jwt_cache_new(3);
    ck_assert_uint_eq(jwt_cache_capacity(tiny), 3);
    jwt_cache_free(tiny);
}
END_TEST

/* ---- jwt_conf ----------------------------------------------------------------- */

static const char *EC_JWKS =
    "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"ec\",\"alg\":\"ES256\","
    "\"x\":\"DI4lePkSrwoWNlcOmE_ZKt1tTvW4Fd4UtRivElIY7bE\","
    "\"y\":\"AQk1fkXM6k50S6iwKMysa0xhHfQ4MbZ2J5oKacT5_Sc\"}]}";

static int conf_try(const char *json, pc_diag_t *d, void **conf)
{
    json_error_t je;
    json_t *n = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    ck_assert_msg(n != NULL, "bad test JSON: %s: %s", json, je.text);
    pc_err_t err = {d, "plugins.auth", 0};
    *conf = NULL;
    int rc = pc_plugin_jwt.conf_create(n, conf, &err);
    json_decref(n);
    return rc;
}

static void conf_ok(const char *json)
{
    pc_diag_t d = {0};
    void *conf;
    int rc = conf_try(json, &d, &conf);
    ck_assert_msg(rc == 0, "%s: %s", json, d.nerrors ? d.errors[0] : "?");
    pc_plugin_jwt.conf_free(conf);
    pc_diag_free(&d);
}

static void conf_bad(const char *json, const char *path)
{
    pc_diag_t d = {0};
    void *conf;
    int rc = conf_try(json, &d, &conf);
    ck_assert_msg(rc == -1, "accepted: %s", json);
    ck_assert_msg(d.nerrors && strstr(d.errors[0], path), "%s: want %s, got %s", json, path,
                  d.nerrors ? d.errors[0] : "nothing");
    if (conf)
        pc_plugin_jwt.conf_free(conf);
    pc_diag_free(&d);
}

START_TEST(test_conf)
{
    char buf[4096];
#define BASE "\"issuer\":\"https://i\",\"audiences\":[\"a\"]"
    snprintf(buf, sizeof(buf), "{" BASE ",\"keys\":{\"jwks\":%s}}", EC_JWKS);
    conf_ok(buf);
    snprintf(buf, sizeof(buf),
             "{" BASE ",\"keys\":[{\"jwks\":%s}],\"algorithms\":[\"ES256\"],\"leeway_s\":0,"
             "\"max_age_s\":60,\"require\":[\"sub\"],\"claims\":{\"t\":{\"equals\":\"x\"},"
             "\"azp\":{\"one_of\":[\"a\",\"b\"]},\"r.x\":{\"contains\":1}},"
             "\"scopes\":{\"any\":[\"a\",\"b\"]},\"token\":{\"cookie\":\"at\",\"query\":true,"
             "\"max_bytes\":4096},\"realm\":\"r\",\"claims_to_headers\":{\"sub\":\"X-S\"},"
             "\"cache\":{\"enabled\":false},\"revocation\":{\"on_error\":\"allow\"},"
             "\"optional\":true,\"require_exp\":false}",
             EC_JWKS);
    conf_ok(buf);
    conf_ok("{" BASE ",\"jwks\":{\"url\":\"https://idp/jwks\",\"min_refresh_s\":5,"
            "\"max_refresh_s\":50,\"unknown_kid_refresh_s\":3,\"unknown_kid_wait_ms\":0,"
            "\"timeout_ms\":300,\"default_alg\":\"PS256\"}}");
    conf_ok("{\"issuer\":\"https://i\",\"audiences\":[\"a\"],\"discovery\":true}");
    conf_ok("{\"mode\":\"introspection\",\"introspection\":{\"url\":\"http://i/x\","
            "\"client_id\":\"c\",\"client_secret\":\"s\",\"auth\":\"client_secret_post\"}}");

    conf_bad("{" BASE "}", "plugins.auth: no keys");
    conf_bad("{\"audiences\":[\"a\"],\"discovery\":true}", "plugins.auth.issuer");
    conf_bad("{\"issuer\":[\"a\",\"b\"],\"audiences\":[\"a\"],\"discovery\":true}",
             "plugins.auth.discovery");
    conf_bad("{" BASE ",\"jwks\":{\"url\":\"file:///etc/passwd\"}}", "plugins.auth.jwks.url");
    conf_bad("{" BASE ",\"jwks\":{\"url\":\"https://x/j\",\"min_refresh_s\":0}}",
             "plugins.auth.jwks.min_refresh_s");
    conf_bad("{" BASE ",\"jwks\":{\"url\":\"https://x/j\",\"min_refresh_s\":100,"
             "\"max_refresh_s\":10}}", "plugins.auth.jwks.max_refresh_s");
    conf_bad("{" BASE ",\"discovery\":true,\"jwks\":{\"url\":\"https://x/j\"}}",
             "plugins.auth.jwks.url");
    conf_bad("{" BASE ",\"keys\":{\"hmac\":\"0123456789abcdef0123456789abcdef\"}}",
             "needs \"alg\"");
    conf_bad("{" BASE ",\"keys\":{\"hmac\":\"short\",\"alg\":\"HS256\"}}",
             "plugins.auth.keys.hmac");
    conf_bad("{" BASE ",\"keys\":{\"pem\":\"x\",\"jwk\":{}}}", "plugins.auth.keys");
    conf_bad("{" BASE ",\"keys\":{\"pem\":{\"file\":\"relative.pem\"}}}",
             "plugins.auth.keys.pem");
    conf_bad("{" BASE ",\"keys\":{\"pem\":{\"file\":\"/nonexistent.pem\"}}}",
             "plugins.auth.keys.pem");
    conf_bad("{" BASE ",\"algorithms\":[\"NONE\"],\"discovery\":false,\"jwks\":{\"url\":"
             "\"https://x\"}}", "plugins.auth.algorithms[0]");
    conf_bad("{" BASE ",\"token\":{\"header\":false}}", "plugins.auth.token");
    conf_bad("{" BASE ",\"token\":{\"query\":\"a&b\"}}", "plugins.auth.token.query");
    conf_bad("{" BASE ",\"realm\":\"a\\\"b\"}", "plugins.auth.realm");
    conf_bad("{" BASE ",\"claims_to_headers\":{\"sub\":\"X-A\",\"iss\":\"x-a\"}}",
             "plugins.auth.claims_to_headers.iss");
    conf_bad("{" BASE ",\"claims_to_headers\":{\"sub\":\"Bad Header\"}}",
             "plugins.auth.claims_to_headers.sub");
    conf_bad("{" BASE ",\"claims\":{\"azp\":{\"one_of\":\"a\"}}}", "plugins.auth.claims.azp");
    conf_bad("{" BASE ",\"scopes\":{\"all\":[]}}", "plugins.auth.scopes.all");
    conf_bad("{" BASE ",\"scopes\":{\"all\":[\"a\"],\"any\":[\"b\"]}}", "plugins.auth.scopes");
    conf_bad("{" BASE ",\"cache\":{\"max_entries\":0}}", "plugins.auth.cache.max_entries");
    conf_bad("{" BASE ",\"revocation\":{\"on_error\":\"maybe\"}}",
             "plugins.auth.revocation.on_error");
    conf_bad("{" BASE ",\"introspection\":{}}", "plugins.auth.introspection");
    conf_bad("{" BASE ",\"jwks\":{\"url\":\"https://x/j\",\"typo\":1}}", "plugins.auth.jwks.typo");
    conf_bad("{\"mode\":\"introspection\"}", "plugins.auth.introspection");
    conf_bad("{\"mode\":\"introspection\",\"keys\":{},\"introspection\":{}}",
             "plugins.auth.keys");
    conf_bad("{\"mode\":\"introspection\",\"introspection\":{\"url\":\"http://idp/x\","
             "\"client_id\":\"c\"}}", "plugins.auth.introspection.client_secret");
    conf_bad("{\"mode\":\"introspection\",\"introspection\":{\"url\":\"http://idp/x\","
             "\"client_id\":\"c\",\"client_secret\":{\"env\":\"PC_NO_SUCH_VAR_EVER\"}}}",
             "plugins.auth.introspection.client_secret");
    conf_bad("{\"mode\":\"introspection\",\"introspection\":{\"url\":\"http://idp/x\","
             "\"client_id\":\"c\",\"client_secret\":\"s\",\"auth\":\"private_key_jwt\"}}",
             "plugins.auth.introspection.auth");
    conf_bad("{\"mode\":\"oauth\"}", "plugins.auth.mode");
#undef BASE
}
END_TEST

static Suite *jwt_plugin_suite(void)
{
    Suite *s = suite_create("jwt_plugin");
    TCase *tc = tcase_create("jwt_plugin");
    tcase_add_test(tc, test_bearer);
    tcase_add_test(tc, test_cookie_query);
    tcase_add_test(tc, test_max_age);
    tcase_add_test(tc, test_form_and_basic);
    tcase_add_test(tc, test_cache_basic);
    tcase_add_test(tc, test_cache_bounded);
    tcase_add_test(tc, test_conf);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(jwt_plugin_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
