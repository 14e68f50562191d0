/* tests/unit/test_admin.c: gateway/ops/admin.c, the admin API as a function
 * from request to response, without a socket: the read-only endpoints, the
 * method rules and their Allow headers, and POST /revocations against the
 * memory store (every refusal, the expiry, and the flag it leaves in the
 * namespace the jwt plugin checks). */
#include "conf/conf.h"
#include "ops/admin.h"
#include "store/store.h"
#include "store/store_ns.h"

#include <portcullis/plugin.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pc_admin_view_t view = {.config_path = "/etc/p\"c.json"};

static pc_admin_resp_t ask(const char *method, const char *path, const char *ct, const char *body)
{
    pc_admin_req_t q = {method, path, ct, body ? body : "", body ? strlen(body) : 0, false};
    pc_admin_resp_t r;
    pc_admin_answer(&view, &q, &r);
    return r;
}

static void expect(pc_admin_resp_t *r, unsigned status, const char *type, const char *part)
{
    ck_assert_uint_eq(r->status, status);
    ck_assert_str_eq(r->content_type, type);
    if (part)
        ck_assert_msg(r->body && memmem(r->body, r->len, part, strlen(part)),
                      "%u: no \"%s\" in %.*s", status, part, (int)r->len, r->body);
    free(r->body);
    r->body = NULL;
}

START_TEST(test_read_only_endpoints)
{
    atomic_store(&view.ready, false);
    atomic_store(&view.generation, 7);
    pc_admin_resp_t r = ask("GET", "/healthz", NULL, NULL);
    ck_assert(r.no_store && !r.allow);
    expect(&r, 200, "application/json", "{\"status\":\"ok\"}");
    r = ask("GET", "/readyz", NULL, NULL);
    expect(&r, 503, "application/json", "{\"ready\":false}");
    atomic_store(&view.ready, true);
    r = ask("HEAD", "/readyz", NULL, NULL);
    expect(&r, 200, "application/json", "{\"ready\":true}");
    r = ask("GET", "/config", NULL, NULL);
    expect(&r, 200, "application/json", "\"generation\":7,\"path\":\"/etc/p\\\"c.json\"");
    r = ask("GET", "/metrics", NULL, NULL);
    expect(&r, 200, "text/plain; version=0.0.4", "portcullis_config_generation 7\n");
    r = ask("GET", "/nope", NULL, NULL);
    expect(&r, 404, "application/problem+json", "admin.not_found");
    r = ask("DELETE", "/healthz", NULL, NULL);
    ck_assert_str_eq(r.allow, "GET, HEAD");
    expect(&r, 405, "application/problem+json", "admin.method_not_allowed");
    r = ask("GET", "/revocations", NULL, NULL);
    ck_assert_str_eq(r.allow, "POST");
    ck_assert(!r.no_store);
    expect(&r, 405, "application/problem+json", "admin.method_not_allowed");
    ck_assert(pc_admin_wants_body("POST", "/revocations"));
    ck_assert(!pc_admin_wants_body("GET", "/revocations"));
    ck_assert(!pc_admin_wants_body("POST", "/healthz"));
}
END_TEST

static const struct bad_case {
    const char *ct, *body, *detail;
    unsigned status;
} bad[] = {
    {NULL, "{\"jti\":\"a\",\"ttl\":1}", "Content-Type must be application/json", 415},
    {"text/plain", "{\"jti\":\"a\",\"ttl\":1}", "Content-Type", 415},
    {"application/jsonx", "{\"jti\":\"a\",\"ttl\":1}", "Content-Type", 415},
    {"application/json", "not json", "body is not JSON", 400},
    {"application/json", "{\"jti\":\"a\",\"jti\":\"b\",\"ttl\":1}", "repeats a key", 400},
    {"application/json", "[1]", "must be a JSON object", 400},
    {"application/json", "{\"jti\":\"a\",\"ttl\":1,\"x\":1}", "unknown key", 400},
    {"application/json", "{\"ttl\":1}", "jti: required", 400},
    {"application/json", "{\"jti\":\"\",\"ttl\":1}", "jti: required", 400},
    {"application/json", "{\"jti\":\"a\\u0001\",\"ttl\":1}", "no control characters", 400},
    {"application/json", "{\"jti\":\"a\"}", "exactly one of exp", 400},
    {"application/json", "{\"jti\":\"a\",\"ttl\":1,\"exp\":1}", "exactly one of exp", 400},
    {"application/json", "{\"jti\":\"a\",\"exp\":-5}", "exp: must be a positive integer", 400},
    {"application/json", "{\"jti\":\"a\",\"ttl\":0}", "ttl: must be an integer", 400},
    {"application/json", "{\"jti\":\"a\",\"ttl\":1.5}", "ttl: must be an integer", 400},
};

START_TEST(test_revocation_refusals)
{
    const struct bad_case *k = &bad[_i];
    pc_admin_resp_t r = ask("POST", "/revocations", k->ct, k->body);
    ck_assert_msg(r.status == k->status, "case %d: status %u", _i, r.status);
    expect(&r, k->status, "application/problem+json", k->detail);
}
END_TEST

static void flag_cb(void *data, int rc, int present)
{
    *(int *)data = rc == 0 ? present : -1;
}

static int revoked(const char *jti)
{
    int present = -2;
    pc_store_flag_check(pc_store_ns_named(PC_STORE_NS_REVOKED_JTI), jti, strlen(jti), flag_cb,
                        &present);
    return present;
}

START_TEST(test_revocation_sets_the_flag)
{
    pc_conf_t c;
    memset(&c, 0, sizeof(c));
    c.store_max_bytes = 1u << 20;
    ck_assert_int_eq(pc_store_init(&c), 0);
    ck_assert_int_eq(revoked("jti-1"), 0);
    long long before = (long long)time(NULL);
    pc_admin_resp_t r = ask("POST", "/revocations", "application/json; charset=utf-8",
                            "{\"jti\":\"jti-1\",\"ttl\":60}");
    long long after = (long long)time(NULL);
    ck_assert(r.no_store);
    const char *at = r.body ? strstr(r.body, "\"expires_at\":") : NULL;
    ck_assert_ptr_nonnull(at);
    long long expires = atoll(at + strlen("\"expires_at\":"));
    ck_assert(expires >= before + 60 && expires <= after + 60);
    expect(&r, 201, "application/json", "{\"jti\":\"jti-1\"");
    ck_assert_int_eq(revoked("jti-1"), 1);
    ck_assert_int_eq(revoked("jti-2"), 0);
    /* a long jti is flagged under its hash, found the same way */
    char body[1200], jti[1025];
    memset(jti, 'j', 1024);
    jti[1024] = '\0';
    snprintf(body, sizeof(body), "{\"jti\":\"%s\",\"exp\":%lld}", jti, (long long)time(NULL) + 5);
    r = ask("POST", "/revocations", "application/json", body);
    expect(&r, 201, "application/json", NULL);
    ck_assert_int_eq(revoked(jti), 1);
    /* over 1024 bytes: refused */
    snprintf(body, sizeof(body), "{\"jti\":\"%sj\",\"ttl\":5}", jti);
    r = ask("POST", "/revocations", "application/json", body);
    expect(&r, 400, "application/problem+json", "1 to 1024 bytes");
    /* expired beyond any leeway: nothing to do */
    r = ask("POST", "/revocations", "application/json", "{\"jti\":\"old\",\"exp\":1000}");
    expect(&r, 204, "application/json", NULL);
    ck_assert_int_eq(revoked("old"), 0);
    /* a body the listener cut off */
    pc_admin_req_t q = {"POST", "/revocations", "application/json", "{", 1, true};
    pc_admin_answer(&view, &q, &r);
    expect(&r, 413, "application/problem+json", "body over 4096 bytes");
    pc_store_shutdown();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("admin");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, test_read_only_endpoints);
    tcase_add_loop_test(tc, test_revocation_refusals, 0, (int)(sizeof(bad) / sizeof(bad[0])));
    tcase_add_test(tc, test_revocation_sets_the_flag);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
