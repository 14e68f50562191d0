/* tests/unit/test_schema_op.c: the schema plugin's own parts: Content-Type
 * matching, strict percent-decoding, the query string typed by its schema,
 * the problem body's "errors" (pc_deny_json), and the plugin driven through
 * the harness's chain on fake requests (tests/unit/harness.h). */
#include <check.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "conf/conf_int.h"
#include "schema_load.h"
#include "schema_params.h"

extern const pc_plugin_t pc_plugin_schema;

/* Values live in one arena per test, as they live in a request's. */
static pc_arena_t *arena;

static void arena_setup(void) { arena = pc_arena_new(4096); }
static void arena_teardown(void) { pc_arena_free(arena); }

static void *heap_alloc(void *ud, size_t n)
{
    (void)ud;
    return pc_arena_alloc(arena, n);
}

/* ---- Content-Type ------------------------------------------------------------------- */

START_TEST(content_type_matching)
{
    const char *json[] = {"application/json"};
    bool is_json;
    ck_assert_int_eq(pc_ctype_match("application/json", json, 1, &is_json), PC_CTYPE_OK);
    ck_assert(is_json);
    ck_assert_int_eq(pc_ctype_match("Application/JSON ; charset=UTF-8", json, 1, &is_json),
                     PC_CTYPE_OK);
    ck_assert_int_eq(pc_ctype_match("application/json;charset=\"utf-8\"", json, 1, &is_json),
                     PC_CTYPE_OK);
    ck_assert_int_eq(pc_ctype_match("application/json; foo=bar", json, 1, &is_json), PC_CTYPE_OK);
    ck_assert_int_eq(pc_ctype_match("application/json; charset=latin1", json, 1, &is_json),
                     PC_CTYPE_CHARSET);
    ck_assert_int_eq(pc_ctype_match("application/jsonx", json, 1, &is_json), PC_CTYPE_UNLISTED);
    ck_assert_int_eq(pc_ctype_match("text/plain", json, 1, &is_json), PC_CTYPE_UNLISTED);
    ck_assert_int_eq(pc_ctype_match("json", json, 1, &is_json), PC_CTYPE_UNLISTED);
    ck_assert_int_eq(pc_ctype_match(NULL, json, 1, &is_json), PC_CTYPE_UNLISTED);
    const char *two[] = {"text/plain", "application/merge-patch+json"};
    ck_assert_int_eq(pc_ctype_match("text/plain; charset=iso-8859-1", two, 2, &is_json),
                     PC_CTYPE_OK);
    ck_assert(!is_json); /* a charset matters only for JSON */
    ck_assert_int_eq(pc_ctype_match("application/merge-patch+json", two, 2, &is_json),
                     PC_CTYPE_OK);
    ck_assert(is_json);
}
END_TEST

/* ---- decoding ----------------------------------------------------------------------- */

START_TEST(percent_decoding_is_strict)
{
    char out[64];
    ck_assert_int_eq(pc_pct_decode("a%20b+c", 7, true, out), 5);
    ck_assert_str_eq(out, "a b c");
    ck_assert_int_eq(pc_pct_decode("a+c", 3, false, out), 3);
    ck_assert_str_eq(out, "a+c");
    ck_assert_int_eq(pc_pct_decode("%C3%A9", 6, false, out), 2); /* é */
    ck_assert_int_eq(pc_pct_decode("%zz", 3, true, out), -1);
    ck_assert_int_eq(pc_pct_decode("%4", 2, true, out), -1);
    ck_assert_int_eq(pc_pct_decode("abc%", 4, true, out), -1);
    ck_assert_int_eq(pc_pct_decode("%00", 3, true, out), -1);
    ck_assert_int_eq(pc_pct_decode("%ff", 3, true, out), -1);       /* not UTF-8 */
    ck_assert_int_eq(pc_pct_decode("%ED%A0%80", 9, true, out), -1); /* a surrogate */
    ck_assert_int_eq(pc_pct_decode("%C0%AF", 6, true, out), -1);    /* overlong */
}
END_TEST

/* ---- typed values and the query string ---------------------------------------------- */

START_TEST(values_typed_by_declared_type)
{
    const pc_json_t *v = pc_pvalue("42", 2, PC_PT_INTEGER, heap_alloc, NULL);
    ck_assert_int_eq(v->type, PC_JSON_NUMBER);
    ck_assert(v->num_flags & PC_JSON_NUM_I64);
    ck_assert_int_eq(v->u.num.i, 42);
    static const char *const strings[] = {"4x2", " 42", "42 ", "042", "", "+1", "0x10", "1e"};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        v = pc_pvalue(strings[i], strlen(strings[i]), PC_PT_INTEGER, heap_alloc, NULL);
        ck_assert_msg(v->type == PC_JSON_STRING, "%s", strings[i]);
        ck_assert_str_eq(v->u.str, strings[i]);
    }
    v = pc_pvalue("-1.5e3", 6, PC_PT_NUMBER, heap_alloc, NULL);
    ck_assert_int_eq(v->type, PC_JSON_NUMBER);
    ck_assert(v->u.num.d == -1500.0);
    ck_assert_int_eq(pc_pvalue("true", 4, PC_PT_BOOLEAN, heap_alloc, NULL)->type, PC_JSON_TRUE);
    ck_assert_int_eq(pc_pvalue("false", 5, PC_PT_BOOLEAN, heap_alloc, NULL)->type, PC_JSON_FALSE);
    ck_assert_int_eq(pc_pvalue("True", 4, PC_PT_BOOLEAN, heap_alloc, NULL)->type, PC_JSON_STRING);
    ck_assert_int_eq(pc_pvalue("42", 2, PC_PT_STRING, heap_alloc, NULL)->type, PC_JSON_STRING);
    v = pc_pvalue_csv("1,2,x", 5, PC_PT_INTEGER, heap_alloc, NULL);
    ck_assert_int_eq(v->type, PC_JSON_ARRAY);
    ck_assert_uint_eq(v->len, 3);
    ck_assert_int_eq(v->u.items[1]->type, PC_JSON_NUMBER);
    ck_assert_int_eq(v->u.items[2]->type, PC_JSON_STRING);
}
END_TEST

static const pc_pdecl_t decls[] = {
    {"limit", 5, PC_PT_INTEGER, PC_PT_STRING},
    {"ids", 3, PC_PT_ARRAY, PC_PT_INTEGER},
};

START_TEST(query_object)
{
    size_t bad = 99;
    const pc_json_t *q = pc_query_object("limit=42&ids=1&ids=2&name=a%20b&flag", decls, 2,
                                         heap_alloc, NULL, &bad);
    ck_assert_ptr_nonnull(q);
    ck_assert_uint_eq(q->len, 4);
    const pc_json_t *limit = pc_json_get(q, "limit", 5);
    ck_assert_int_eq(limit->type, PC_JSON_NUMBER);
    const pc_json_t *ids = pc_json_get(q, "ids", 3);
    ck_assert_int_eq(ids->type, PC_JSON_ARRAY);
    ck_assert_uint_eq(ids->len, 2);
    ck_assert_int_eq(ids->u.items[1]->u.num.i, 2);
    ck_assert_str_eq(pc_json_get(q, "name", 4)->u.str, "a b");
    ck_assert_str_eq(pc_json_get(q, "flag", 4)->u.str, "");
    /* comma form for an array; a repeated scalar becomes a list (refused by its type) */
    q = pc_query_object("ids=3,4,5&limit=1&limit=2", decls, 2, heap_alloc, NULL, &bad);
    ck_assert_uint_eq(pc_json_get(q, "ids", 3)->len, 3);
    ck_assert_int_eq(pc_json_get(q, "limit", 5)->type, PC_JSON_ARRAY);
    /* empty, absent */
    ck_assert_uint_eq(pc_query_object(NULL, decls, 2, heap_alloc, NULL, &bad)->len, 0);
    ck_assert_uint_eq(pc_query_object("&&", decls, 2, heap_alloc, NULL, &bad)->len, 0);
    /* malformed: the offset of the bad part */
    ck_assert_ptr_null(pc_query_object("a=1&b=%zz", decls, 2, heap_alloc, NULL, &bad));
    ck_assert_uint_eq(bad, 4);
    ck_assert_ptr_null(pc_query_object("=1", decls, 2, heap_alloc, NULL, &bad));
    ck_assert_ptr_null(pc_query_object("a=%ff", decls, 2, heap_alloc, NULL, &bad));
}
END_TEST

/* ---- schemas from the config ------------------------------------------------------ */

/* Reals from jansson go back to the reader as their shortest spelling: at
 * 17 digits "multipleOf": 0.1 would become 0.10000000000000001, of which
 * 0.3 is not a multiple. */
START_TEST(config_reals_keep_their_value)
{
    pc_diag_t d = {0};
    pc_err_t err = {&d, "plugins.s", 0};
    pc_sload_t l;
    ck_assert_int_eq(pc_sload_init(&l, NULL, true, 0, "schema_dir", &err), 0);
    json_t *v = json_loads("{\"multipleOf\": 0.1, \"maximum\": 1e300}", 0, NULL);
    pc_schema_t *s = pc_sload_compile(&l, v, "requests.POST.body", NULL, &err);
    ck_assert_ptr_nonnull(s);
    pc_json_error_t je;
    const pc_json_t *n = pc_json_parse("0.3", 3, NULL, heap_alloc, NULL, &je);
    ck_assert(pc_schema_validate(s, n, NULL));
    n = pc_json_parse("0.35", 4, NULL, heap_alloc, NULL, &je);
    ck_assert(!pc_schema_validate(s, n, NULL));
    pc_schema_free(s);
    json_decref(v);
    /* a compile error names the JSON path below the key */
    v = json_loads("{\"properties\": {\"a~b\": {\"minimum\": \"x\"}}}", 0, NULL);
    ck_assert_ptr_null(pc_sload_compile(&l, v, "requests.POST.body", NULL, &err));
    ck_assert_uint_eq(d.nerrors, 1);
    ck_assert_msg(strncmp(d.errors[0], "plugins.s.requests.POST.body.properties.a~b.minimum: ",
                          53) == 0, "%s", d.errors[0]);
    json_decref(v);
    pc_sload_free(&l);
    pc_diag_free(&d);
}
END_TEST

/* ---- the plugin on fake requests --------------------------------------------------- */

static const char *plugin_conf =
    "{\"max_errors\": 2, \"requests\": {"
    " \"POST\": {\"body\": {\"type\": \"object\", \"required\": [\"a\", \"b\", \"c\"],"
    "                      \"properties\": {\"n\": {\"type\": \"integer\"}}}},"
    " \"GET\": {\"query\": {\"type\": \"object\", \"properties\": "
    "                       {\"limit\": {\"type\": \"integer\", \"maximum\": 100}}}}}}";

static pc_request_t *fake(harness_t *h, const char *method, const char *query, const char *body)
{
    pc_request_t *r = h_request(h);
    r->method = method;
    r->query = query;
    if (body) {
        h_header(r, "Content-Type", "application/json");
        h_header(r, "Content-Length", "1");
        r->body = pc_arena_strdup(r->arena, body);
        r->body_len = strlen(body);
    }
    return r;
}

/* The chain through both phases; the problem body parsed, or NULL when it went on. */
static json_t *run(harness_t *h, pc_request_t *r)
{
    pc_chain_result_t res = pc_chain_run(r, PC_PHASE_HEADERS);
    if (res == PC_CHAIN_DONE) {
        r->chain_pos = 0;
        res = pc_chain_run(r, PC_PHASE_BODY);
    }
    json_t *doc = NULL;
    if (res == PC_CHAIN_RESPONDED) {
        ck_assert_str_eq(r->resp_content_type, "application/problem+json");
        doc = json_loadb(r->resp_body, r->resp_body_len, 0, NULL);
        ck_assert_ptr_nonnull(doc);
    }
    h_complete(h, r);
    return doc;
}

START_TEST(problem_body_lists_bounded_errors)
{
    harness_t *h = h_new(0, NULL);
    h_add_plugin(h, &pc_plugin_schema, plugin_conf);
    json_t *doc = run(h, fake(h, "POST", NULL, "{\"n\": \"x\"}"));
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "status")), 400);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "type")),
                     "urn:portcullis:problem:schema.invalid");
    ck_assert_ptr_nonnull(json_object_get(doc, "request_id"));
    json_t *errs = json_object_get(doc, "errors");
    ck_assert_uint_eq(json_array_size(errs), 2); /* max_errors, of 4 faults */
    ck_assert(json_is_true(json_object_get(doc, "errors_truncated")));
    json_t *e = json_array_get(errs, 0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "in")), "body");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(e, "keyword")));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(e, "schema")));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(e, "message")));
    json_decref(doc);

    ck_assert_ptr_null(run(h, fake(h, "POST", NULL, "{\"a\": 1, \"b\": 2, \"c\": 3, \"n\": 4}")));
    ck_assert_ptr_null(run(h, fake(h, "DELETE", NULL, NULL))); /* not listed: passes */
    h_free(h);
}
END_TEST

START_TEST(query_checked_typed)
{
    harness_t *h = h_new(0, NULL);
    h_add_plugin(h, &pc_plugin_schema, plugin_conf);
    ck_assert_ptr_null(run(h, fake(h, "GET", "limit=42", NULL)));
    json_t *doc = run(h, fake(h, "GET", "limit=4x2", NULL));
    json_t *e = json_array_get(json_object_get(doc, "errors"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "in")), "query");
    ck_assert_str_eq(json_string_value(json_object_get(e, "instance")), "/limit");
    ck_assert_str_eq(json_string_value(json_object_get(e, "keyword")), "type");
    json_decref(doc);
    doc = run(h, fake(h, "GET", "limit=%4", NULL));
    ck_assert_str_eq(json_string_value(json_object_get(doc, "type")),
                     "urn:portcullis:problem:schema.query_malformed");
    json_decref(doc);
    h_free(h);
}
END_TEST

START_TEST(deny_json_keeps_standard_members)
{
    harness_t *h = h_new(0, NULL);
    pc_request_t *r = h_request(h);
    json_t *extra = json_pack("{s:i, s:s, s:[i]}", "status", 200, "type", "x", "more", 1);
    ck_assert_int_eq(pc_deny_json(r, 422, "t.reason", "d", extra), PC_RESPOND);
    json_decref(extra);
    json_t *doc = json_loadb(r->resp_body, r->resp_body_len, JSON_REJECT_DUPLICATES, NULL);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "status")), 422);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "type")),
                     "urn:portcullis:problem:t.reason");
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(doc, "more"), 0)), 1);
    ck_assert_int_eq(r->status, 422);
    json_decref(doc);
    h_complete(h, r);
    h_free(h);
}
END_TEST

/* The core's copy of the relayed response body (pc_response_body). */
START_TEST(response_body_capture)
{
    harness_t *h = h_new(0, NULL);
    pc_request_t *r = h_request(h);
    size_t len = 99;
    bool trunc = true;
    ck_assert_ptr_null(pc_response_body(r, &len, &trunc)); /* nothing relayed */
    ck_assert_uint_eq(len, 0);
    r->up_head_seen = true;
    ck_assert_ptr_null(pc_response_body(r, &len, &trunc)); /* nothing kept */
    pc_response_body_keep(r); /* no plugin of the route sees response bodies */
    ck_assert(!r->cap_wanted);
    h->route.sees_response_body = true;
    pc_response_body_keep(r);
    ck_assert(r->cap_wanted);
    r->up_content_length = -1;
    static char chunk[65536];
    memset(chunk, 'x', sizeof(chunk));
    pc_request_capture(r, "{\"a\":", 5);
    pc_request_capture(r, "1}", 2);
    r->up_done = true;
    const char *b = pc_response_body(r, &len, &trunc);
    ck_assert_uint_eq(len, 7);
    ck_assert(memcmp(b, "{\"a\":1}", 7) == 0);
    ck_assert(!trunc);
    for (int i = 0; i < 17; i++) /* 1 MiB + 64 KiB */
        pc_request_capture(r, chunk, sizeof(chunk));
    b = pc_response_body(r, &len, &trunc);
    ck_assert_uint_eq(len, PC_RESPONSE_CAPTURE_MAX);
    ck_assert(trunc);
    ck_assert(b[len - 1] == 'x');
    r->up_err = PC_UX_ERESET; /* broken off: never the whole body */
    r->cap_truncated = false;
    pc_response_body(r, &len, &trunc);
    ck_assert(trunc);
    /* a Content-Length decides, even before the exchange has ended */
    r->up_done = false;
    r->up_err = PC_UX_OK;
    r->up_content_length = PC_RESPONSE_CAPTURE_MAX;
    pc_response_body(r, &len, &trunc);
    ck_assert(!trunc);
    r->up_content_length = PC_RESPONSE_CAPTURE_MAX + 1;
    pc_response_body(r, &len, &trunc);
    ck_assert(trunc);
    pc_request_fail(r, 502, "upstream.failed", NULL); /* the gateway answered instead */
    ck_assert_ptr_null(pc_response_body(r, &len, &trunc));
    h_complete(h, r);
    h_free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("schema_op");
    TCase *tc = tcase_create("all");
    tcase_add_checked_fixture(tc, arena_setup, arena_teardown);
    tcase_add_test(tc, content_type_matching);
    tcase_add_test(tc, percent_decoding_is_strict);
    tcase_add_test(tc, values_typed_by_declared_type);
    tcase_add_test(tc, query_object);
    tcase_add_test(tc, problem_body_lists_bounded_errors);
    tcase_add_test(tc, query_checked_typed);
    tcase_add_test(tc, deny_json_keeps_standard_members);
    tcase_add_test(tc, response_body_capture);
    tcase_add_test(tc, config_reals_keep_their_value);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
