/* tests/unit/test_jwt_docs.c: plugins/jwt/jwt_docs.c, the identity
 * provider's discovery document and introspection answer, read without a
 * fetch: what is accepted, and each reason a document is refused. */
#include "jwt_docs.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#define ISS "https://idp.example/realms/acme"

static int discover(const char *body, char **uri, char *err)
{
    return jwt_discovery_parse(body, strlen(body), ISS, uri, err, 128);
}

START_TEST(test_discovery_gives_jwks_uri)
{
    char *uri = NULL, err[128] = "";
    const char *doc = "{\"issuer\": \"" ISS "\", \"authorization_endpoint\": \"x\","
                      " \"jwks_uri\": \"https://idp.example/certs\", \"scopes_supported\": []}";
    ck_assert_int_eq(discover(doc, &uri, err), 0);
    ck_assert_str_eq(uri, "https://idp.example/certs");
    free(uri);
    doc = "{\"jwks_uri\": \"http://10.0.0.1:8080/k\", \"issuer\": \"" ISS "\"}";
    ck_assert_int_eq(discover(doc, &uri, err), 0);
    ck_assert_str_eq(uri, "http://10.0.0.1:8080/k");
    free(uri);
}
END_TEST

/* body is refused with a reason containing why, and *uri stays put. */
static void refused(const char *body, size_t len, const char *why)
{
    char *uri = (char *)"untouched", err[128] = "";
    ck_assert_int_eq(jwt_discovery_parse(body, len, ISS, &uri, err, sizeof(err)), -1);
    ck_assert_str_eq(uri, "untouched");
    ck_assert_msg(strstr(err, why) != NULL, "%s: got \"%s\"", body, err);
}

#define REFUSED(body, why) refused(body, strlen(body), why)

START_TEST(test_discovery_refusals)
{
    REFUSED("", "not a JSON object");
    REFUSED("[]", "not a JSON object");
    REFUSED("{\"issuer\": \"" ISS "\", \"jwks_uri\": \"https://a/k\"", "not a JSON object");
    REFUSED("{\"issuer\": \"" ISS "\", \"issuer\": \"" ISS "\", \"jwks_uri\": \"https://a/k\"}",
            "not a JSON object"); /* duplicate members */
    REFUSED("{\"jwks_uri\": \"https://a/k\"}", "issuer");
    REFUSED("{\"issuer\": \"" ISS "/\", \"jwks_uri\": \"https://a/k\"}", "issuer");
    REFUSED("{\"issuer\": \"HTTPS://idp.example/realms/acme\", \"jwks_uri\": \"https://a/k\"}",
            "issuer");
    REFUSED("{\"issuer\": 1, \"jwks_uri\": \"https://a/k\"}", "issuer");
    REFUSED("{\"issuer\": \"" ISS "\\u0000x\", \"jwks_uri\": \"https://a/k\"}",
            "not a JSON object"); /* jansson refuses NUL: strcmp sees whole strings */
    REFUSED("{\"issuer\": \"" ISS "\"}", "jwks_uri");
    REFUSED("{\"issuer\": \"" ISS "\", \"jwks_uri\": \"file:///etc/passwd\"}", "jwks_uri");
    REFUSED("{\"issuer\": \"" ISS "\", \"jwks_uri\": \"//idp.example/k\"}", "jwks_uri");
    REFUSED("{\"issuer\": \"" ISS "\", \"jwks_uri\": [\"https://a/k\"]}", "jwks_uri");
    /* the length is the caller's: a valid document cut short is refused */
    const char *doc = "{\"issuer\": \"" ISS "\", \"jwks_uri\": \"https://a/k\"}";
    refused(doc, strlen(doc) - 1, "not a JSON object");
}
END_TEST

static int introspect(const char *body, json_t **claims)
{
    return jwt_introspect_parse(body, strlen(body), claims);
}

START_TEST(test_introspection_active_gives_claims)
{
    json_t *c = NULL;
    ck_assert_int_eq(introspect("{\"active\": true, \"sub\": \"u1\", \"exp\": 1700000000,"
                                " \"scope\": \"read write\"}", &c), 1);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(json_string_value(json_object_get(c, "sub")), "u1");
    ck_assert_int_eq(c->refcount, 1); /* the caller's reference */
    json_decref(c);
}
END_TEST

START_TEST(test_introspection_inactive_and_malformed)
{
    json_t *c = (json_t *)1;
    ck_assert_int_eq(introspect("{\"active\": false}", &c), 0);
    ck_assert_ptr_null(c);
    ck_assert_int_eq(introspect("{\"active\": false, \"sub\": \"u1\"}", &c), 0);
    static const char *const bad[] = {
        "", "null", "[{\"active\": true}]", "{\"active\": \"true\"}", "{\"active\": 1}",
        "{\"sub\": \"u1\"}", "{\"active\": true, \"active\": true}", "{\"active\": true",
        "{\"active\": null}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        c = (json_t *)1;
        ck_assert_msg(introspect(bad[i], &c) == -1, "%s", bad[i]);
        ck_assert_ptr_null(c);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("jwt_docs");
    TCase *tc = tcase_create("docs");
    tcase_add_test(tc, test_discovery_gives_jwks_uri);
    tcase_add_test(tc, test_discovery_refusals);
    tcase_add_test(tc, test_introspection_active_gives_claims);
    tcase_add_test(tc, test_introspection_inactive_and_malformed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
