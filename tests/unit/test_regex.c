/* tests/unit/test_regex.c: ECMA-262 patterns on PCRE2 (schema/regex.h).
 *
 * The spec is the JSON-Schema-Test-Suite: optional/ecmascript-regex.json
 * and non-bmp-regex.json (draft 2020-12 and draft-07), and the required
 * pattern.json and patternProperties.json, wherever a case's outcome is
 * decided by the patterns and trivial subschemas: a "pattern" schema on
 * string data, and a patternProperties schema (additionalProperties false
 * or absent) on object data whose subschemas are booleans, one "type" or
 * one "maximum" (tiny_validate). Other cases need the validator and are
 * its tests.
 * Then limits (a catastrophic pattern ends quickly with -1), threads, and
 * the translation's refusals. */
#include "schema/regex.h"
#include "suite_files.h"

#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int match(const char *pattern, const char *s, size_t len)
{
    char err[160];
    pc_regex_t *re = pc_regex_compile(pattern, strlen(pattern), 0, 0, err, sizeof err);
    ck_assert_msg(re != NULL, "/%s/: %s", pattern, err);
    int rc = pc_regex_match(re, s, len);
    pc_regex_free(re);
    return rc;
}

/* The subschemas patternProperties.json uses: true, false, {"type": T},
 * {"maximum": N}. Returns -1 for any other (the case is not decidable
 * here), else whether v is valid against sub. */
static int tiny_validate(json_t *sub, json_t *v)
{
    if (json_is_boolean(sub))
        return json_is_true(sub);
    if (!json_is_object(sub) || json_object_size(sub) != 1)
        return -1;
    const char *type = json_string_value(json_object_get(sub, "type"));
    json_t *max = json_object_get(sub, "maximum");
    if (max)
        return !json_is_number(v) || json_number_value(v) <= json_number_value(max);
    if (!type)
        return -1;
    if (strcmp(type, "integer") == 0)
        return json_is_integer(v) || (json_is_real(v) && floor(json_real_value(v)) == json_real_value(v));
    if (strcmp(type, "number") == 0)
        return json_is_number(v);
    if (strcmp(type, "string") == 0)
        return json_is_string(v);
    if (strcmp(type, "null") == 0)
        return json_is_null(v);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(v);
    return -1;
}

/* A patternProperties schema (with additionalProperties false or absent,
 * nothing else that constrains objects) on an object: 1 valid, 0 invalid,
 * -1 when some subschema is beyond tiny_validate. */
static int pattern_properties(json_t *schema, json_t *obj)
{
    json_t *pp = json_object_get(schema, "patternProperties"), *v, *sub;
    json_t *ap = json_object_get(schema, "additionalProperties");
    const char *key, *pat;
    if (!json_is_object(pp) || (ap && !json_is_false(ap)) || json_object_get(schema, "properties"))
        return -1;
    int ok = 1;
    json_object_foreach(obj, key, v) {
        bool any = false;
        json_object_foreach(pp, pat, sub) {
            if (match(pat, key, strlen(key)) != 1)
                continue;
            any = true;
            int r = tiny_validate(sub, v);
            if (r < 0)
                return -1;
            ok &= r;
        }
        if (!any && ap)
            ok = 0;
    }
    return ok;
}

/* Runs the decidable cases of one file; returns mismatches, counts runs. */
static int check_file(const char *rel, bool required, int *run)
{
    json_t *doc = suite_load(rel);
    ck_assert_msg(doc || !required, "suite file %s missing", rel);
    if (!doc)
        return 0;
    int bad = 0;
    size_t gi, ti;
    json_t *g, *t;
    json_array_foreach(doc, gi, g) {
        json_t *schema = json_object_get(g, "schema");
        const char *pattern = json_string_value(json_object_get(schema, "pattern"));
        json_array_foreach(json_object_get(g, "tests"), ti, t) {
            json_t *data = json_object_get(t, "data");
            bool want = json_is_true(json_object_get(t, "valid")), got;
            if (pattern && json_is_string(data)) {
                got = match(pattern, json_string_value(data), json_string_length(data)) == 1;
            } else if (!pattern && json_is_object(data)) {
                int r = pattern_properties(schema, data);
                if (r < 0)
                    continue;
                got = r == 1;
            } else {
                continue;
            }
            (*run)++;
            if (got != want) {
                bad++;
                fprintf(stderr, "%s: %s / %s: want %s\n", rel,
                        json_string_value(json_object_get(g, "description")),
                        json_string_value(json_object_get(t, "description")),
                        want ? "valid" : "invalid");
            }
        }
    }
    json_decref(doc);
    return bad;
}

START_TEST(suite_files)
{
    static const struct {
        const char *rel;
        bool required;
    } files[] = {
        {"draft2020-12/optional/ecmascript-regex.json", true},
        {"draft2020-12/optional/non-bmp-regex.json", true},
        {"draft2020-12/pattern.json", true},
        {"draft2020-12/patternProperties.json", true},
        {"draft7/optional/ecmascript-regex.json", false},
        {"draft7/optional/non-bmp-regex.json", false},
        {"draft7/pattern.json", false},
        {"draft7/patternProperties.json", false},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        int run = 0, bad = check_file(files[i].rel, files[i].required, &run);
        printf("regex %s: %d/%d cases pass\n", files[i].rel, run - bad, run);
        ck_assert_msg(bad == 0, "%s: %d of %d cases fail", files[i].rel, bad, run);
        ck_assert(run > 0 || !files[i].required);
    }
}
END_TEST

/* Where ECMA and PCRE2 differ, each pinned (pattern, subject, result). */
typedef struct diff_case {
    const char *pattern;
    const char *subject;
    size_t len;
    int want;
} diff_case_t;

#define D(p, s, w) { p, s, sizeof(s) - 1, w }

static const diff_case_t diffs[] = {
    D("^a$", "a\n", 0),                  /* $ only at the very end */
    D("^.$", "\n", 0), D("^.$", "\r", 0), D("^.$", "\xe2\x80\xa8", 0), D("^.$", "\xc3\xa9", 1),
    D("^\\v$", "\x0b", 1), D("^\\v$", "\n", 0),   /* \v is one character */
    D("^[]$", "", 0), D("[]", "a", 0), D("^[^]$", "\n", 1),
    D("^[\\S]$", "a", 1), D("^[\\S]$", " ", 0), D("^[^a\\S]$", " ", 1), D("^[^a\\S]$", "a", 0),
    D("^[^ \\S]$", " ", 0), D("^[^ \\S]$", "\t", 1),
    D("^[[:a]+$", "[:a", 1),             /* no POSIX classes */
    D("^\\u{1F432}$", "\xf0\x9f\x90\xb2", 1), D("^\\ud83d\\udc32$", "\xf0\x9f\x90\xb2", 1),
    D("\\ud800", "a", 0),                /* a lone surrogate never matches */
    D("^\\x41\\u0042\\cc\\0$", "AB\x03\0", 1),
    D("\\1(a)", "a", 1),                 /* a forward reference matches empty */
    D("^(?<x>a)\\k<x>$", "aa", 1),
    D("\\bé", " é", 0), D("\\bé", "aé", 1), D("\\w", "é", 0), D("^\\W$", "é", 1),
    D("^\\p{Lu}\\P{Lu}$", "Éa", 1), D("^\\p{Script=Greek}+$", "πβ", 1),
    D("^\\p{gc=Nd}$", "\xd9\xa3", 1), D("^\\p{Assigned}$", "a", 1),
    D("^\\P{Assigned}$", "\xcd\xb8", 1),   /* U+0378 is unassigned */
    D("^\\p{ASCII_Hex_Digit}+$", "09aF", 1), D("^\\p{Emoji}$", "\xf0\x9f\x90\xb2", 1), D("(?<!a)b", "ab", 0), D("(?<=a)b", "ab", 1),
    D("a|b", "xb", 1), D("^\\/$", "/", 1),
};

START_TEST(ecma_semantics)
{
    const diff_case_t *c = &diffs[_i];
    ck_assert_msg(match(c->pattern, c->subject, c->len) == c->want, "/%s/ on case %d: want %d",
                  c->pattern, _i, c->want);
}
END_TEST

/* Refused, as ECMA ("u" flag) refuses them, or as PCRE2 cannot run them. */
static const char *const refused[] = {
    "\\a", "\\e", "\\z", "\\Z", "\\A", "\\Q", "\\K", "\\h", "\\R", "\\N", "\\X", "\\G",
    "\\-", "\\c1", "\\x4", "\\u12", "\\u{110000}", "\\01", "\\2(a)", "\\k<n>(?<m>a)",
    "a**", "a*+", "a{2}+", "*a", "+", "(?=a)*", "(?<=a)+", "\\b*", "^*", "a{", "a}", "]",
    "{1}", "a{2,1}", "[b-a]", "[\\d-z]", "[a-\\d]", "[\\B]", "[\\1]", "(?i)a", "(?#c)",
    "(?P<n>a)", "(?>a)", "(?|a)", "(*UTF)a", "(a", "a)", "[a", "\\p{Nope}", "\\p{gc=Nope}",
    "\\p{Foo=Bar}", "\\pL", "\\p{Greek}", "\\p{letter}", "\\p{CWKCF}", "(?<1a>x)",
    "(?<=a+)b", "\xff", "\xc3", "\xed\xa0\x80",
    "[\\ud800]",
};

START_TEST(refusals)
{
    char err[160] = "";
    const char *p = refused[_i];
    pc_regex_t *re = pc_regex_compile(p, strlen(p), 0, 0, err, sizeof err);
    ck_assert_msg(re == NULL, "/%s/ compiled", p);
    ck_assert_msg(err[0] != '\0', "/%s/: no message", p);
}
END_TEST

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

START_TEST(catastrophic_is_bounded)
{
    char s[64];
    memset(s, 'a', 40);
    s[40] = 'b';
    const char *p = "^(a+)+$";
    pc_regex_t *re = pc_regex_compile(p, strlen(p), 0, 0, NULL, 0);
    ck_assert_ptr_nonnull(re);
    double t0 = now_ms();
    int rc = pc_regex_match(re, s, 41);
    double ms = now_ms() - t0;
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(ms < 50, "took %.1f ms", ms);
    ck_assert_int_eq(pc_regex_match(re, s, 40), 1);   /* the limit is per match */
    pc_regex_free(re);

    /* A tiny match limit stops even a linear scan; the default does not. */
    const char *q = "^(a|b)*$", *subj = "abababababababababab!";
    re = pc_regex_compile(q, strlen(q), 10, 0, NULL, 0);
    ck_assert_ptr_nonnull(re);
    ck_assert_int_eq(pc_regex_match(re, subj, strlen(subj)), -1);
    pc_regex_free(re);
    re = pc_regex_compile(q, strlen(q), 0, 0, NULL, 0);
    ck_assert_int_eq(pc_regex_match(re, subj, strlen(subj)), 0);
    ck_assert_int_eq(pc_regex_match(re, subj, strlen(subj) - 1), 1);
    pc_regex_free(re);
}
END_TEST

START_TEST(invalid_subject_and_limits)
{
    pc_regex_t *re = pc_regex_compile("a", 1, 0, 0, NULL, 0);
    ck_assert_int_eq(pc_regex_match(re, "\xff" "a", 2), -1);   /* not UTF-8 */
    ck_assert_int_eq(pc_regex_match(re, NULL, 0), 0);
    pc_regex_free(re);
    char big[PC_REGEX_MAX_LEN + 2];
    memset(big, 'a', sizeof big);
    ck_assert_ptr_null(pc_regex_compile(big, sizeof big, 0, 0, NULL, 0));
    ck_assert(pc_regex_valid("(?<=a+)b", 8));
    ck_assert(!pc_regex_valid("(?<=a+", 6));
}
END_TEST

typedef struct thread_arg {
    const pc_regex_t *re;
    int bad;
} thread_arg_t;

static void *matcher(void *p)
{
    thread_arg_t *a = p;
    char s[32];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(s, sizeof s, "id-%d%s", i, i % 2 ? "x" : "");
        if (pc_regex_match(a->re, s, (size_t)n) != (i % 2 ? 0 : 1))
            a->bad++;
    }
    return NULL;
}

/* One compiled pattern, four threads matching at once (run under TSan or
 * ASan builds to see races and leaks of the per-thread state). */
START_TEST(threads_share_one_pattern)
{
    const char *p = "^id-\\d+$";
    pc_regex_t *re = pc_regex_compile(p, strlen(p), 0, 0, NULL, 0);
    pthread_t th[4];
    thread_arg_t args[4];
    for (int i = 0; i < 4; i++) {
        args[i] = (thread_arg_t){re, 0};
        ck_assert_int_eq(pthread_create(&th[i], NULL, matcher, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(args[i].bad, 0);
    }
    pc_regex_free(re);
}
END_TEST

static Suite *regex_suite(void)
{
    Suite *s = suite_create("regex");
    TCase *tc = tcase_create("regex");
    tcase_add_test(tc, suite_files);
    tcase_add_loop_test(tc, ecma_semantics, 0, (int)(sizeof diffs / sizeof diffs[0]));
    tcase_add_loop_test(tc, refusals, 0, (int)(sizeof refused / sizeof refused[0]));
    tcase_add_test(tc, catastrophic_is_bounded);
    tcase_add_test(tc, invalid_subject_and_limits);
    tcase_add_test(tc, threads_share_one_pattern);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(regex_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
