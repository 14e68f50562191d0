/* tests/unit/test_formats.c: pc_format_check against every string case of
 * the JSON-Schema-Test-Suite's optional format tests (draft 2020-12 and
 * draft-07) for the formats we assert, plus cases the suite lacks.
 * Non-string data is the validator's business and skipped here. No case is
 * excluded. */
#include "schema/formats.h"
#include "suite_files.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const formats[] = {
    "date-time", "date", "time", "duration", "email", "hostname", "ipv4",
    "ipv6", "uri", "uri-reference", "uuid", "regex",
};
#define NFORMATS (sizeof formats / sizeof formats[0])

/* Checks every string case of one suite file whose schema has
 * "format": name; adds to *run, reports each mismatch. */
static int check_file(const char *rel, const char *name, bool required, int *run)
{
    json_t *doc = suite_load(rel);
    ck_assert_msg(doc || !required, "suite file %s missing", rel);
    if (!doc)
        return 0;
    pc_format_t f = pc_format_lookup(name);
    int bad = 0;
    size_t gi, ti;
    json_t *group, *test;
    json_array_foreach(doc, gi, group) {
        const char *sf = json_string_value(json_object_get(json_object_get(group, "schema"), "format"));
        if (!sf || strcmp(sf, name) != 0)
            continue;
        json_array_foreach(json_object_get(group, "tests"), ti, test) {
            json_t *data = json_object_get(test, "data");
            if (!json_is_string(data))
                continue;
            bool want = json_is_true(json_object_get(test, "valid"));
            bool got = pc_format_check(f, json_string_value(data), json_string_length(data));
            (*run)++;
            if (got != want) {
                bad++;
                fprintf(stderr, "%s: %s: \"%s\": want %s, got %s\n", rel,
                        json_string_value(json_object_get(test, "description")),
                        json_string_value(data), want ? "valid" : "invalid",
                        got ? "valid" : "invalid");
            }
        }
    }
    json_decref(doc);
    return bad;
}

START_TEST(suite_format)
{
    const char *name = formats[_i];
    char rel[256];
    int run = 0, bad = 0;
    snprintf(rel, sizeof rel, "draft2020-12/optional/format/%s.json", name);
    bad += check_file(rel, name, true, &run);
    snprintf(rel, sizeof rel, "draft7/optional/format/%s.json", name);
    bad += check_file(rel, name, false, &run);   /* draft-07 lacks duration and uuid */
    /* The regex format's ECMA-262 cases live in their own file. */
    if (strcmp(name, "regex") == 0) {
        bad += check_file("draft2020-12/optional/format/ecmascript-regex.json", name, true, &run);
        bad += check_file("draft7/optional/format/ecmascript-regex.json", name, false, &run);
    }
    printf("format %s: %d/%d suite cases pass\n", name, run - bad, run);
    ck_assert_int_gt(run, 0);
    ck_assert_msg(bad == 0, "format %s: %d of %d suite cases fail", name, bad, run);
}
END_TEST

START_TEST(lookup)
{
    for (size_t i = 0; i < NFORMATS; i++)
        ck_assert_int_eq(pc_format_lookup(formats[i]), (int)i + 1);
    ck_assert_int_eq(pc_format_lookup("idn-email"), PC_FORMAT_UNKNOWN);
    ck_assert_int_eq(pc_format_lookup("Date"), PC_FORMAT_UNKNOWN);
    ck_assert_int_eq(pc_format_lookup(NULL), PC_FORMAT_UNKNOWN);
    ck_assert(pc_format_check(PC_FORMAT_UNKNOWN, "anything", 8));
}
END_TEST

typedef struct extra_case {
    pc_format_t f;
    const char *s;
    size_t len;
    bool valid;
} extra_case_t;

#define C(f, s, v) { PC_FORMAT_##f, s, sizeof(s) - 1, v }

/* What the suite does not pin: embedded NULs, limits, edges of each
 * grammar. */
static const extra_case_t extra[] = {
    C(DATE_TIME, "2020-01-01T00:00:00Z\0", false),
    C(DATE_TIME, "2020-01-01 00:00:00Z", false),
    C(TIME, "23:59:60.5Z", true),
    C(TIME, "00:59:60+01:00", true),
    C(TIME, "12:00:00.Z", false),
    C(DURATION, "P1W", true),
    C(DURATION, "PT1S", true),
    C(DURATION, "P1DT", false),
    C(DURATION, "P1M1Y", false),
    C(EMAIL, "\"\"@example.com", true),
    C(EMAIL, "\"a\\\"b\"@example.com", true),
    C(EMAIL, "a@[IPv6:1::2:3.4.5.6]", true),
    C(EMAIL, "a@[IPv6:1::2:3.4.5]", false),
    C(EMAIL, "a@[ipv6:::1]", true),
    C(EMAIL, "a@[IPv7:::1]", false),
    C(EMAIL, "a\0b@example.com", false),
    C(EMAIL, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.com", false),
    C(HOSTNAME, "a", true),
    C(HOSTNAME, "xn--9n2bp8q", true),
    C(HOSTNAME, "XN--9n2bp8q", true),
    C(HOSTNAME, "xn--", false),
    C(HOSTNAME, "exa\0mple.com", false),
    C(IPV4, "1.2.3.04", false),
    C(IPV4, "1.2.3.4\0", false),
    C(IPV6, "1::2:3:4:5:6:7", true),
    C(IPV6, "1::2:3:4:5:6:7:8", false),
    C(IPV6, "::1.2.3.4", true),
    C(IPV6, "1.2.3.4::", false),
    C(URI, "http://[v1.x:y]/", true),
    C(URI, "http://[v1.]/", false),
    C(URI, "http://h/#a#b", false),
    C(URI, "a:", true),
    C(URI_REFERENCE, "?#", true),
    C(URI_REFERENCE, "a/b:c", true),
    C(UUID, "2eb8aa08-aa98-11ea-b4aa-73b441d1638\0", false),
    C(REGEX, "a\0b", true),
    C(REGEX, "(?<=a+)b", true),
    C(REGEX, "a{", false),
    C(REGEX, "\\p{Letter}\\p{gc=Lu}\\p{sc=Greek}", true),
    C(REGEX, "\\p{NoSuchProperty}", false),
    C(REGEX, "(?<n>a)(?<n>b)", false),
};

START_TEST(extra_cases)
{
    const extra_case_t *c = &extra[_i];
    ck_assert_msg(pc_format_check(c->f, c->s, c->len) == c->valid, "case %d (\"%s\"): want %s", _i,
                  c->s, c->valid ? "valid" : "invalid");
}
END_TEST

static Suite *formats_suite(void)
{
    Suite *s = suite_create("formats");
    TCase *tc = tcase_create("formats");
    tcase_add_loop_test(tc, suite_format, 0, (int)NFORMATS);
    tcase_add_test(tc, lookup);
    tcase_add_loop_test(tc, extra_cases, 0, (int)(sizeof extra / sizeof extra[0]));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(formats_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
