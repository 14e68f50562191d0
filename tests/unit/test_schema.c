/* tests/unit/test_schema.c: plugins/schema/schema.h beyond the
 * conformance suite: what an error says (instance pointer, schema
 * location, message, excerpt), the bounded error list, compile errors with
 * their location, "$ref" cycles, patterns that would backtrack for ever,
 * deep instances, draft differences and format assertion. */
#include "schema.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- trees from text: a static bump buffer, reset by each test ---- */

static _Alignas(max_align_t) char heap[8u << 20];
static size_t heap_used;

static void *bump(void *ud, size_t n)
{
    (void)ud;
    n = (n + 15u) & ~(size_t)15u;
    if (heap_used + n > sizeof heap)
        return NULL;
    void *p = heap + heap_used;
    heap_used += n;
    return p;
}

static const pc_json_t *parse_lim(const char *text, unsigned depth)
{
    size_t len = strlen(text);
    char *buf = bump(NULL, len + 1);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, text, len + 1);
    pc_json_limits_t lim = {.max_depth = depth};
    pc_json_error_t err;
    const pc_json_t *x = pc_json_parse(buf, len, &lim, bump, NULL, &err);
    ck_assert_msg(x != NULL, "parse: %s at %zu: %.80s", err.msg, err.offset, text);
    return x;
}

static const pc_json_t *parse(const char *text)
{
    return parse_lim(text, 0);
}

static pc_schema_t *compile(const char *text, const pc_schema_opts_t *opts)
{
    char err[256];
    pc_schema_t *s = pc_schema_compile(parse(text), NULL, opts, err, sizeof err);
    ck_assert_msg(s != NULL, "compile: %s", err);
    return s;
}

static void compile_fails(const char *text, const char *want)
{
    char err[256];
    pc_schema_t *s = pc_schema_compile(parse(text), NULL, NULL, err, sizeof err);
    ck_assert_msg(s == NULL, "compiled: %s", text);
    ck_assert_msg(strstr(err, want) != NULL, "error \"%s\" lacks \"%s\"", err, want);
}

static void setup(void)
{
    heap_used = 0;
}

/* ---- error reports ---- */

START_TEST(errors_point_at_instance_and_schema)
{
    pc_schema_t *s = compile("{\"type\": \"object\", \"required\": [\"id\"],"
                             " \"properties\": {\"items\": {\"type\": \"array\", \"items\": {\"$ref\": \"#/$defs/line\"}},"
                             "  \"a/b~c\": {\"type\": \"string\"}},"
                             " \"$defs\": {\"line\": {\"properties\": {\"price\": {\"minimum\": 0}}}}}",
                             NULL);
    const pc_json_t *x = parse("{\"items\": [{\"price\": 1}, {\"price\": -1.5}], \"a/b~c\": 5}");
    pc_schema_error_t e[8];
    pc_schema_errors_t errs = {.max = 8, .e = e};
    ck_assert(!pc_schema_validate(s, x, &errs));
    ck_assert(!pc_schema_validate(s, x, NULL));
    ck_assert_uint_eq(errs.n, 3);
    ck_assert(!errs.truncated);
    ck_assert_str_eq(e[0].instance, "/items/1/price");
    ck_assert_str_eq(e[0].schema, "/$defs/line/properties/price/minimum");
    ck_assert_str_eq(e[0].keyword, "minimum");
    ck_assert_str_eq(e[0].message, "must be >= 0");
    ck_assert_str_eq(e[0].excerpt, "-1.5");
    ck_assert_str_eq(e[1].instance, "/a~1b~0c");
    ck_assert_str_eq(e[1].schema, "/properties/a~1b~0c/type");
    ck_assert_str_eq(e[1].message, "must be string");
    ck_assert_str_eq(e[2].instance, "");
    ck_assert_str_eq(e[2].keyword, "required");
    ck_assert_str_eq(e[2].message, "must have property 'id'");
    pc_schema_free(s);
}
END_TEST

START_TEST(error_list_is_bounded)
{
    pc_schema_t *s = compile("{\"items\": {\"type\": \"string\"}}", NULL);
    const pc_json_t *x = parse("[1, 2, 3, 4, 5]");
    pc_schema_error_t e[2];
    pc_schema_errors_t errs = {.max = 2, .e = e};
    ck_assert(!pc_schema_validate(s, x, &errs));
    ck_assert_uint_eq(errs.n, 2);
    ck_assert(errs.truncated);
    ck_assert_str_eq(e[1].instance, "/1");
    errs = (pc_schema_errors_t){.max = 0, .e = NULL};
    ck_assert(!pc_schema_validate(s, x, &errs));
    ck_assert_uint_eq(errs.n, 0);
    ck_assert(errs.truncated);
    errs = (pc_schema_errors_t){.max = 2, .e = e};
    ck_assert(pc_schema_validate(s, parse("[\"a\"]"), &errs));
    ck_assert_uint_eq(errs.n, 0);
    ck_assert(!errs.truncated);
    pc_schema_free(s);
}
END_TEST

START_TEST(excerpt_is_escaped_and_short)
{
    pc_schema_t *s = compile("{\"type\": \"number\"}", NULL);
    pc_schema_error_t e[1];
    pc_schema_errors_t errs = {.max = 1, .e = e};
    ck_assert(!pc_schema_validate(s, parse("\"q\\\"b\\\\s\\nnl\\u0001\""), &errs));
    ck_assert_str_eq(e[0].excerpt, "\"q\\\"b\\\\s\\nnl\\u0001\"");
    ck_assert(!pc_schema_validate(s, parse("\"0123456789012345678901234567890123456789xyz\""), &errs));
    ck_assert_str_eq(e[0].excerpt, "\"012345678901234567890123456789012345678...");
    ck_assert(!pc_schema_validate(s, parse("{\"k\": [1, {\"z\": null}]}"), &errs));
    ck_assert_str_eq(e[0].excerpt, "{\"k\":[1,{\"z\":null}]}");
    /* a multi-byte character is never cut */
    ck_assert(!pc_schema_validate(s, parse("\"01234567890123456789012345678901234567\\u00e9\""), &errs));
    ck_assert_str_eq(e[0].excerpt, "\"01234567890123456789012345678901234567...");
    pc_schema_free(s);
}
END_TEST

START_TEST(applicators_report_once)
{
    pc_schema_t *s = compile("{\"anyOf\": [{\"type\": \"string\"}, {\"type\": \"integer\"}],"
                             " \"not\": {\"const\": 1.5}}",
                             NULL);
    pc_schema_error_t e[4];
    pc_schema_errors_t errs = {.max = 4, .e = e};
    ck_assert(!pc_schema_validate(s, parse("1.5"), &errs));
    ck_assert_uint_eq(errs.n, 2);
    ck_assert_str_eq(e[0].keyword, "anyOf");
    ck_assert_str_eq(e[0].schema, "/anyOf");
    ck_assert_str_eq(e[1].keyword, "not");
    ck_assert(pc_schema_validate(s, parse("2"), &errs));
    pc_schema_free(s);
}
END_TEST

START_TEST(unevaluated_properties_reported)
{
    pc_schema_t *s = compile("{\"allOf\": [{\"properties\": {\"a\": true}}],"
                             " \"properties\": {\"b\": true}, \"unevaluatedProperties\": false}",
                             NULL);
    pc_schema_error_t e[4];
    pc_schema_errors_t errs = {.max = 4, .e = e};
    ck_assert(pc_schema_validate(s, parse("{\"a\": 1, \"b\": 2}"), &errs));
    ck_assert(!pc_schema_validate(s, parse("{\"a\": 1, \"c\": 2}"), &errs));
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_str_eq(e[0].instance, "/c");
    ck_assert_str_eq(e[0].keyword, "unevaluatedProperties");
    ck_assert_str_eq(e[0].schema, "/unevaluatedProperties");
    pc_schema_free(s);
}
END_TEST

START_TEST(messages_read_well)
{
    static const struct {
        const char *schema, *instance, *keyword, *message;
    } m[] = {
        {"{\"minItems\": 1}", "[]", "minItems", "must have at least 1 item"},
        {"{\"maxProperties\": 2}", "{\"a\": 1, \"b\": 2, \"c\": 3}", "maxProperties", "must have at most 2 properties"},
        {"{\"minLength\": 1}", "\"\"", "minLength", "must have at least 1 character"},
        {"{\"contains\": {\"type\": \"null\"}}", "[1]", "contains", "must contain at least 1 matching item"},
        {"{\"type\": [\"integer\", \"null\"]}", "1.5", "type", "must be null or integer"},
        {"{\"exclusiveMinimum\": 0}", "0", "exclusiveMinimum", "must be > 0"},
        {"{\"multipleOf\": 0.01}", "1.001", "multipleOf", "must be a multiple of 0.01"},
        {"{\"pattern\": \"^a\"}", "\"b\"", "pattern", "must match the pattern \"^a\""},
        {"{\"additionalProperties\": false}", "{\"x\": 1}", "additionalProperties", "must not have additional properties"},
        {"{\"dependentRequired\": {\"a\": [\"b\"]}}", "{\"a\": 1}", "dependentRequired",
         "must have property 'b' when 'a' is present"},
        {"{\"oneOf\": [true, true]}", "1", "oneOf", "must match exactly one schema in oneOf (matches 0 and 1)"},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        pc_schema_t *s = compile(m[i].schema, NULL);
        pc_schema_error_t e[1];
        pc_schema_errors_t errs = {.max = 1, .e = e};
        ck_assert_msg(!pc_schema_validate(s, parse(m[i].instance), &errs), "%s", m[i].schema);
        ck_assert_str_eq(e[0].keyword, m[i].keyword);
        ck_assert_str_eq(e[0].message, m[i].message);
        pc_schema_free(s);
    }
}
END_TEST

/* ---- compile errors ---- */

START_TEST(compile_errors_name_the_location)
{
    compile_fails("{\"properties\": {\"price\": {\"multipleOf\": 0}}}",
                  "/properties/price/multipleOf: must be a number > 0");
    compile_fails("{\"type\": \"strin\"}", "/type: must be a type name");
    compile_fails("{\"items\": {\"minLength\": -1}}", "/items/minLength: must be a non-negative integer");
    compile_fails("{\"pattern\": \"(\"}", "/pattern: invalid regular expression");
    compile_fails("{\"patternProperties\": {\"[\": true}}", "/patternProperties/[: invalid regular expression");
    compile_fails("{\"$ref\": \"#/$defs/nope\"}", "/$ref: cannot resolve");
    compile_fails("{\"$ref\": \"other.json\"}", "/$ref: cannot resolve");
    compile_fails("{\"required\": [\"a\", 1]}", "/required: must be an array of strings");
    compile_fails("{\"allOf\": []}", "/allOf: must be a non-empty array");
    compile_fails("{\"properties\": {\"a\": 5}}", "/properties/a: must be a schema");
    compile_fails("5", "a schema must be an object or a boolean");
}
END_TEST

START_TEST(ref_cycle_without_progress_is_refused)
{
    compile_fails("{\"$defs\": {\"a\": {\"$ref\": \"#/$defs/b\"}, \"b\": {\"allOf\": [{\"$ref\": \"#/$defs/a\"}]}},"
                  " \"$ref\": \"#/$defs/a\"}",
                  "cycle");
    compile_fails("{\"anyOf\": [{\"type\": \"string\"}, {\"$ref\": \"#\"}]}", "cycle");
    /* a cycle that moves into the instance is fine, and an unused one
     * is never compiled */
    pc_schema_t *s = compile("{\"type\": \"object\", \"properties\": {\"next\": {\"$ref\": \"#\"},"
                             " \"v\": {\"type\": \"integer\"}}, \"$defs\": {\"x\": {\"$ref\": \"#/$defs/x\"}}}",
                             NULL);
    char deep[4096] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "{\"next\": ");
    strcat(deep, "{\"v\": \"x\"}");
    for (int i = 0; i < 40; i++)
        strcat(deep, "}");
    pc_schema_error_t e[1];
    pc_schema_errors_t errs = {.max = 1, .e = e};
    ck_assert(!pc_schema_validate(s, parse(deep), &errs));
    ck_assert_str_eq(e[0].keyword, "type");
    ck_assert_uint_eq(strncmp(e[0].instance, "/next/next/next/", 16), 0);
    pc_schema_free(s);
}
END_TEST

START_TEST(deep_instance_is_bounded)
{
    pc_schema_t *s = compile("{\"items\": {\"$ref\": \"#\"}, \"type\": \"array\"}", NULL);
    enum { DEPTH = 1500 };
    char *deep = malloc(2 * DEPTH + 1);
    memset(deep, '[', DEPTH);
    memset(deep + DEPTH, ']', DEPTH);
    deep[2 * DEPTH] = '\0';
    /* well within the bound: valid */
    deep[DEPTH - 100] = '\0';
    char *shallow = malloc(201);
    memset(shallow, '[', 100);
    memset(shallow + 100, ']', 100);
    shallow[200] = '\0';
    ck_assert(pc_schema_validate(s, parse_lim(shallow, 2000), NULL));
    deep[DEPTH - 100] = '[';
    const pc_json_t *x = parse_lim(deep, 2000);
    pc_schema_error_t e[2];
    pc_schema_errors_t errs = {.max = 2, .e = e};
    ck_assert(!pc_schema_validate(s, x, NULL));
    ck_assert(!pc_schema_validate(s, x, &errs));
    ck_assert_uint_ge(errs.n, 1);
    ck_assert_str_eq(e[0].message, "schema recursion too deep");
    free(deep);
    free(shallow);
    pc_schema_free(s);
}
END_TEST

START_TEST(catastrophic_pattern_is_bounded)
{
    pc_schema_opts_t opts = {.regex_match_limit = 10000};
    pc_schema_t *s = compile("{\"properties\": {\"p\": {\"pattern\": \"^(a+)+$\"}},"
                             " \"not\": {\"properties\": {\"p\": {\"pattern\": \"^(a|a)+$\"}}}}",
                             &opts);
    char body[128] = "{\"p\": \"";
    for (int i = 0; i < 40; i++)
        strcat(body, "a");
    strcat(body, "!\"}");
    const pc_json_t *x = parse(body);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pc_schema_error_t e[4];
    pc_schema_errors_t errs = {.max = 4, .e = e};
    ck_assert(!pc_schema_validate(s, x, NULL));
    ck_assert(!pc_schema_validate(s, x, &errs));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 2);
    ck_assert_uint_ge(errs.n, 1);
    ck_assert_str_eq(e[0].keyword, "pattern");
    /* a limit hit under "not" does not turn into a pass */
    pc_schema_t *n = compile("{\"not\": {\"pattern\": \"^(a|a)+$\"}}", &opts);
    *strrchr(body, '}') = '\0';
    ck_assert(!pc_schema_validate(n, parse(strchr(body, ':') + 2), NULL));
    pc_schema_free(n);
    pc_schema_free(s);
}
END_TEST

/* ---- drafts and formats ---- */

START_TEST(draft7_ref_overrides_siblings)
{
    const char *d7 = "{\"$schema\": \"http://json-schema.org/draft-07/schema#\","
                     " \"definitions\": {\"a\": {\"type\": \"integer\"}}, \"$ref\": \"#/definitions/a\", \"maximum\": 0}";
    const char *d2020 = "{\"$defs\": {\"a\": {\"type\": \"integer\"}}, \"$ref\": \"#/$defs/a\", \"maximum\": 0}";
    pc_schema_t *s7 = compile(d7, NULL), *s20 = compile(d2020, NULL);
    ck_assert(pc_schema_validate(s7, parse("5"), NULL));
    ck_assert(!pc_schema_validate(s7, parse("5.5"), NULL));
    ck_assert(!pc_schema_validate(s20, parse("5"), NULL));
    pc_schema_free(s7);
    pc_schema_free(s20);
    /* the default draft applies without "$schema": draft-07 "items" array */
    pc_schema_opts_t opts = {.default_draft = PC_SCHEMA_DRAFT7};
    pc_schema_t *s = compile("{\"items\": [{\"type\": \"string\"}], \"additionalItems\": false}", &opts);
    ck_assert(pc_schema_validate(s, parse("[\"a\"]"), NULL));
    ck_assert(!pc_schema_validate(s, parse("[\"a\", 1]"), NULL));
    pc_schema_free(s);
}
END_TEST

START_TEST(formats_assert_only_when_asked)
{
    const char *text = "{\"properties\": {\"d\": {\"format\": \"date\"}, \"x\": {\"format\": \"no-such-format\"}}}";
    pc_schema_opts_t on = {.formats = true};
    pc_schema_t *a = compile(text, &on), *b = compile(text, NULL);
    const pc_json_t *bad = parse("{\"d\": \"2020-13-01\", \"x\": \"anything\"}");
    pc_schema_error_t e[2];
    pc_schema_errors_t errs = {.max = 2, .e = e};
    ck_assert(!pc_schema_validate(a, bad, &errs));
    ck_assert_uint_eq(errs.n, 1);
    ck_assert_str_eq(e[0].keyword, "format");
    ck_assert_str_eq(e[0].instance, "/d");
    ck_assert(pc_schema_validate(a, parse("{\"d\": \"2020-12-01\", \"x\": \"anything\"}"), NULL));
    ck_assert(pc_schema_validate(b, bad, NULL));
    pc_schema_free(a);
    pc_schema_free(b);
}
END_TEST

/* const and enum values are copied into the schema, a large object's
 * member index with them (an instance in another member order needs it) */
static void big_object(char *out, size_t cap, bool reversed, int changed)
{
    snprintf(out, cap, "{");
    for (int k = 0; k < 24; k++) {
        int i = reversed ? 23 - k : k;
        snprintf(out + strlen(out), cap - strlen(out), "%s\"k%02d\": %d", k ? ", " : "", i, i == changed ? -1 : i);
    }
    snprintf(out + strlen(out), cap - strlen(out), "}");
}

START_TEST(const_survives_its_document)
{
    char obj[512], rev[512], text[1200];
    big_object(obj, sizeof obj, false, -1);
    snprintf(text, sizeof text, "{\"properties\": {\"c\": {\"const\": %s}, \"e\": {\"enum\": [1, %s]}}}", obj, obj);
    pc_schema_t *s = compile(text, NULL);
    memset(heap, 0xA5, heap_used); /* the schema's document is gone */
    heap_used = 0;
    big_object(rev, sizeof rev, true, -1);
    snprintf(text, sizeof text, "{\"c\": %s, \"e\": %s}", rev, rev);
    ck_assert(pc_schema_validate(s, parse(text), NULL));
    big_object(rev, sizeof rev, true, 7);
    snprintf(text, sizeof text, "{\"c\": %s}", rev);
    ck_assert(!pc_schema_validate(s, parse(text), NULL));
    snprintf(text, sizeof text, "{\"e\": %s}", rev);
    ck_assert(!pc_schema_validate(s, parse(text), NULL));
    pc_schema_free(s);
}
END_TEST

/* long arrays are checked by hashing (a hostile body costs O(n)); equal
 * values that differ in spelling or member order still collide */
START_TEST(unique_items_long_arrays)
{
    pc_schema_t *s = compile("{\"uniqueItems\": true}", NULL);
    enum { N = 50000 };
    char *text = malloc(N * 12 + 64);
    size_t o = (size_t)sprintf(text, "[");
    for (int i = 0; i < N; i++)
        o += (size_t)sprintf(text + o, "%s%d", i ? "," : "", i);
    strcpy(text + o, "]");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert(pc_schema_validate(s, parse_lim(text, 0), NULL));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 2);
    strcpy(text + o, ",7.0]");
    pc_schema_error_t e[1];
    pc_schema_errors_t errs = {.max = 1, .e = e};
    ck_assert(!pc_schema_validate(s, parse(text), &errs));
    ck_assert_str_eq(e[0].message, "must not have duplicate items (7 and 50000)");
    o = (size_t)sprintf(text, "[{\"a\": 1, \"b\": [0, -0]}");
    for (int i = 0; i < 40; i++)
        o += (size_t)sprintf(text + o, ",{\"a\": %d}", i + 2);
    strcpy(text + o, ",{\"b\": [0e3, 0], \"a\": 1.0}]");
    ck_assert(!pc_schema_validate(s, parse(text), NULL));
    strcpy(text + o, ",{\"b\": [0, 1], \"a\": 1}]");
    ck_assert(pc_schema_validate(s, parse(text), NULL));
    free(text);
    pc_schema_free(s);
}
END_TEST

START_TEST(numbers_are_exact)
{
    pc_schema_t *s = compile("{\"multipleOf\": 0.01, \"maximum\": 18446744073709551616}", NULL);
    ck_assert(pc_schema_validate(s, parse("620.03"), NULL));
    ck_assert(!pc_schema_validate(s, parse("620.031"), NULL));
    ck_assert(pc_schema_validate(s, parse("18446744073709551616"), NULL));
    ck_assert(!pc_schema_validate(s, parse("18446744073709551617"), NULL));
    pc_schema_free(s);
    /* multipleOf in 64 bits where the literals fit, exact beyond */
    static const struct {
        const char *d, *a;
        bool ok;
    } m[] = {
        {"0.01", "1e-2", true},         {"0.01", "0.0100", true},       {"0.01", "-0.03", true},
        {"0.01", "1.005", false},       {"0.01", "7e-3", false},        {"0.01", "0", true},
        {"0.01", "12345678901234567.89", true}, {"0.01", "12345678901234567.891", false},
        {"1e-5", "0.00001", true},      {"3", "9e1", true},             {"3", "10", false},
        {"2.5e1", "75", true},          {"2.5e1", "50.5", false},       {"0.3", "0.9", true},
        {"7", "1e30", false},           {"5", "1e30", true},            {"0.0001", "1e-5", false},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++) {
        char text[64];
        snprintf(text, sizeof text, "{\"multipleOf\": %s}", m[i].d);
        s = compile(text, NULL);
        ck_assert_msg(pc_schema_validate(s, parse(m[i].a), NULL) == m[i].ok, "%s of %s", m[i].a, m[i].d);
        pc_schema_free(s);
    }
}
END_TEST

/* a "$ref" into a place no keyword makes a schema still works, and its
 * errors say where that place is */
START_TEST(ref_into_unknown_keyword)
{
    pc_schema_t *s = compile("{\"x-defs\": {\"n~m\": {\"type\": \"integer\"}}, \"$ref\": \"#/x-defs/n~0m\"}", NULL);
    pc_schema_error_t e[1];
    pc_schema_errors_t errs = {.max = 1, .e = e};
    ck_assert(pc_schema_validate(s, parse("3"), NULL));
    ck_assert(!pc_schema_validate(s, parse("\"a\""), &errs));
    ck_assert_str_eq(e[0].schema, "/x-defs/n~0m/type");
    pc_schema_free(s);
}
END_TEST

static const pc_json_t *one_doc(void *ud, const char *uri)
{
    (void)ud;
    if (strcmp(uri, "https://example.com/money.json"))
        return NULL;
    return parse("{\"$defs\": {\"amount\": {\"type\": \"number\", \"minimum\": 0}}}");
}

START_TEST(loader_documents)
{
    pc_schema_opts_t opts = {.loader = one_doc};
    char err[256];
    pc_schema_t *s = pc_schema_compile(parse("{\"$ref\": \"money.json#/$defs/amount\"}"),
                                       "https://example.com/order.json", &opts, err, sizeof err);
    ck_assert_msg(s != NULL, "%s", err);
    pc_schema_error_t e[1];
    pc_schema_errors_t errs = {.max = 1, .e = e};
    ck_assert(pc_schema_validate(s, parse("3"), NULL));
    ck_assert(!pc_schema_validate(s, parse("-3"), &errs));
    ck_assert_str_eq(e[0].schema, "https://example.com/money.json#/$defs/amount/minimum");
    pc_schema_free(s);
}
END_TEST

static Suite *schema_suite(void)
{
    Suite *s = suite_create("schema");
    TCase *tc = tcase_create("schema");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, errors_point_at_instance_and_schema);
    tcase_add_test(tc, error_list_is_bounded);
    tcase_add_test(tc, excerpt_is_escaped_and_short);
    tcase_add_test(tc, applicators_report_once);
    tcase_add_test(tc, unevaluated_properties_reported);
    tcase_add_test(tc, messages_read_well);
    tcase_add_test(tc, compile_errors_name_the_location);
    tcase_add_test(tc, ref_cycle_without_progress_is_refused);
    tcase_add_test(tc, deep_instance_is_bounded);
    tcase_add_test(tc, catastrophic_pattern_is_bounded);
    tcase_add_test(tc, draft7_ref_overrides_siblings);
    tcase_add_test(tc, formats_assert_only_when_asked);
    tcase_add_test(tc, const_survives_its_document);
    tcase_add_test(tc, unique_items_long_arrays);
    tcase_add_test(tc, numbers_are_exact);
    tcase_add_test(tc, ref_into_unknown_keyword);
    tcase_add_test(tc, loader_documents);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(schema_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
