/* tests/unit/test_conf_fields.c: pc_conf_parse, the table-driven option
 * helper of the plugin SDK. Every field type with its bounds and default,
 * unknown keys (suggestion and list), required keys, the secret forms
 * (inline with its warning, env, file), string lists, custom callbacks
 * and nested tables with their JSON paths, escaped keys, and
 * pc_conf_fields_free. (The core's own tables run on the same engine:
 * test_conf.c pins their messages.) Errors
 * go through a real pc_err_t into a pc_diag_t, as the loader hands them to
 * a plugin's conf_create. */
#include "conf/conf.h"

#include <portcullis/plugin.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct sub {
    unsigned n;
    char *name;
} sub_t;

typedef struct opts {
    bool flag;
    unsigned count;
    uint64_t big;
    uint64_t window_ms;
    char *label;
    char *bucket;
    int colour;
    pc_conf_secret_t secret;
    pc_conf_strings_t names;
    bool allow_on_error;
    int custom_calls;
    sub_t sub;
} opts_t;

static const char *const colours[] = {"red", "green", "blue", NULL};

static int parse_even(const json_t *v, const char *key, void *field, pc_err_t *err)
{
    if (!json_is_integer(v) || json_integer_value(v) % 2)
        return pc_err_set(err, key, "must be an even integer");
    ++*(int *)field;
    return 0;
}

static const pc_conf_field_t sub_fields[] = {
    {.key = "n", .type = PC_CONF_UINT, .offset = offsetof(sub_t, n), .flags = PC_CONF_REQUIRED,
     .min = 1, .max = 9},
    {.key = "name", .type = PC_CONF_STRING, .offset = offsetof(sub_t, name), .def_str = "anon"},
    {0},
};

static int parse_sub(const json_t *v, const char *key, void *field, pc_err_t *err)
{
    return pc_conf_parse(v, key, sub_fields, field, err);
}

static const pc_conf_field_t fields[] = {
    {.key = "flag", .type = PC_CONF_BOOL, .offset = offsetof(opts_t, flag), .def = 1},
    {.key = "count", .type = PC_CONF_UINT, .offset = offsetof(opts_t, count), .min = 1,
     .max = 100, .def = 7},
    {.key = "big", .type = PC_CONF_U64, .offset = offsetof(opts_t, big), .min = 0,
     .max = (uint64_t)1 << 40},
    {.key = "window", .type = PC_CONF_DURATION, .offset = offsetof(opts_t, window_ms),
     .flags = PC_CONF_MS_ALIAS, .min = 1000, .max = 3600000, .def = 60000},
    {.key = "label", .type = PC_CONF_STRING, .offset = offsetof(opts_t, label), .max = 8,
     .def_str = "none"},
    {.key = "bucket", .type = PC_CONF_TOKEN, .offset = offsetof(opts_t, bucket), .max = 16},
    {.key = "colour", .type = PC_CONF_ENUM, .offset = offsetof(opts_t, colour), .values = colours,
     .def = 2},
    {.key = "secret", .type = PC_CONF_SECRET, .offset = offsetof(opts_t, secret)},
    {.key = "names", .type = PC_CONF_STRINGS, .offset = offsetof(opts_t, names),
     .flags = PC_CONF_SINGLE | PC_CONF_NONEMPTY, .max = 3},
    {.key = "on_error", .type = PC_CONF_ON_ERROR, .offset = offsetof(opts_t, allow_on_error)},
    {.key = "even", .type = PC_CONF_CUSTOM, .offset = offsetof(opts_t, custom_calls),
     .parse = parse_even},
    {.key = "sub", .type = PC_CONF_CUSTOM, .offset = offsetof(opts_t, sub), .parse = parse_sub},
    {.key = "free_form", .type = PC_CONF_ANY},
    {0},
};

static const pc_conf_field_t required_fields[] = {
    {.key = "must", .type = PC_CONF_BOOL, .offset = offsetof(opts_t, flag),
     .flags = PC_CONF_REQUIRED},
    {0},
};

typedef struct run {
    pc_diag_t d;
    opts_t o;
    int rc;
} run_t;

/* Parses json (single quotes stand for double ones) against tbl. */
static void run_tbl(run_t *r, const char *json, const pc_conf_field_t *tbl)
{
    char buf[2048];
    snprintf(buf, sizeof(buf), "%s", json);
    for (char *p = buf; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_error_t je;
    json_t *n = json_loads(buf, JSON_ALLOW_NUL, &je);
    ck_assert_msg(n != NULL, "bad test JSON %s: %s", buf, je.text);
    memset(r, 0, sizeof(*r));
    pc_err_t err = {&r->d, "plugins.p", 0};
    r->rc = pc_conf_parse(n, NULL, tbl, &r->o, &err);
    json_decref(n);
}

static void run(run_t *r, const char *json)
{
    run_tbl(r, json, fields);
}

static void done(run_t *r)
{
    pc_conf_fields_free(fields, &r->o);
    free(r->o.sub.name);
    pc_diag_free(&r->d);
}

/* json is refused with exactly one error, want. */
static void bad(const char *json, const char *want)
{
    run_t r;
    run(&r, json);
    ck_assert_msg(r.rc == -1, "accepted: %s", json);
    ck_assert_msg(r.d.nerrors == 1 && strcmp(r.d.errors[0], want) == 0,
                  "%s: want [%s], got %zu errors, first [%s]", json, want, r.d.nerrors,
                  r.d.nerrors ? r.d.errors[0] : "");
    done(&r);
}

START_TEST(test_defaults)
{
    run_t r;
    run(&r, "{}");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.d.nerrors, 0);
    ck_assert(r.o.flag);
    ck_assert_uint_eq(r.o.count, 7);
    ck_assert_uint_eq(r.o.big, 0);
    ck_assert_uint_eq(r.o.window_ms, 60000);
    ck_assert_str_eq(r.o.label, "none");
    ck_assert_ptr_null(r.o.bucket);
    ck_assert_int_eq(r.o.colour, 2);
    ck_assert_ptr_null(r.o.secret.s);
    ck_assert_uint_eq(r.o.names.n, 0);
    ck_assert(!r.o.allow_on_error);
    ck_assert_int_eq(r.o.custom_calls, 0);
    done(&r);

    /* An absent optional section: defaults only, no error. */
    opts_t o;
    memset(&o, 0, sizeof(o));
    pc_diag_t d = {0};
    pc_err_t err = {&d, "plugins.p", 0};
    ck_assert_int_eq(pc_conf_parse(NULL, "section", fields, &o, &err), 0);
    ck_assert_uint_eq(o.count, 7);
    ck_assert_str_eq(o.label, "none");
    ck_assert_uint_eq(d.nerrors, 0);
    pc_conf_fields_free(fields, &o);
    ck_assert_ptr_null(o.label);
}
END_TEST

START_TEST(test_values)
{
    run_t r;
    run(&r, "{'flag': false, 'count': 100, 'big': 1099511627776, 'window': '10m', "
            "'label': 'abcdefgh', 'bucket': 'a.b-c_d', 'colour': 'red', 'names': ['x', 'y'], "
            "'on_error': 'allow', 'even': 4, 'sub': {'n': 3}, 'free_form': [1, {'a': null}]}");
    ck_assert_msg(r.rc == 0, "%s", r.d.nerrors ? r.d.errors[0] : "");
    ck_assert(!r.o.flag);
    ck_assert_uint_eq(r.o.count, 100);
    ck_assert_uint_eq(r.o.big, (uint64_t)1 << 40);
    ck_assert_uint_eq(r.o.window_ms, 600000);
    ck_assert_str_eq(r.o.label, "abcdefgh");
    ck_assert_str_eq(r.o.bucket, "a.b-c_d");
    ck_assert_int_eq(r.o.colour, 0);
    ck_assert_uint_eq(r.o.names.n, 2);
    ck_assert_str_eq(r.o.names.v[1], "y");
    ck_assert(r.o.allow_on_error);
    ck_assert_int_eq(r.o.custom_calls, 1);
    ck_assert_uint_eq(r.o.sub.n, 3);
    ck_assert_str_eq(r.o.sub.name, "anon");
    done(&r);

    run(&r, "{'window_ms': 1500, 'names': 'solo', 'on_error': 'deny'}");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_uint_eq(r.o.window_ms, 1500);
    ck_assert_uint_eq(r.o.names.n, 1);
    ck_assert_str_eq(r.o.names.v[0], "solo");
    ck_assert(!r.o.allow_on_error);
    done(&r);
}
END_TEST

START_TEST(test_errors)
{
    bad("{'flag': 1}", "plugins.p.flag: must be true or false");
    bad("{'count': 0}", "plugins.p.count: must be an integer between 1 and 100");
    bad("{'count': 101}", "plugins.p.count: must be an integer between 1 and 100");
    bad("{'count': '5'}", "plugins.p.count: must be an integer between 1 and 100");
    bad("{'big': -1}", "plugins.p.big: must be an integer between 0 and 1099511627776");
    bad("{'window': '10 m'}",
        "plugins.p.window: must be a duration such as \"500ms\", \"30s\", \"10m\", \"1h\" or "
        "\"1d\"");
    bad("{'window': 60}",
        "plugins.p.window: must be a duration such as \"500ms\", \"30s\", \"10m\", \"1h\" or "
        "\"1d\"");
    bad("{'window': '999ms'}", "plugins.p.window: must be a duration from 1s to 1h");
    bad("{'window': '2h'}", "plugins.p.window: must be a duration from 1s to 1h");
    bad("{'window_ms': 999}", "plugins.p.window_ms: must be an integer between 1000 and 3600000");
    bad("{'window': '1m', 'window_ms': 60000}",
        "plugins.p.window: give window or window_ms, not both");
    bad("{'label': ''}", "plugins.p.label: must not be empty");
    bad("{'label': 'abcdefghi'}", "plugins.p.label: longer than 8 bytes");
    bad("{'label': 3}", "plugins.p.label: must be a string");
    bad("{'label': 'a\\u0000b'}", "plugins.p.label: must not contain NUL characters");
    bad("{'bucket': 'a b'}", "plugins.p.bucket: must be a name of 1 to 16 token characters "
                             "(A-Z a-z 0-9 and !#$%&'*+-.^_`|~)");
    bad("{'bucket': 'abcdefghijklmnopq'}", "plugins.p.bucket: must be a name of 1 to 16 token "
                                           "characters (A-Z a-z 0-9 and !#$%&'*+-.^_`|~)");
    bad("{'colour': 'pink'}", "plugins.p.colour: must be \"red\", \"green\" or \"blue\"");
    bad("{'on_error': 'ignore'}", "plugins.p.on_error: must be \"deny\" or \"allow\"");
    bad("{'names': []}", "plugins.p.names: must not be empty");
    bad("{'names': 3}", "plugins.p.names: must be a string or a list of strings");
    bad("{'names': ['a', 'b', 'c', 'd']}", "plugins.p.names: must hold at most 3 entries");
    bad("{'names': ['a', '']}", "plugins.p.names[1]: must be a non-empty string");
    bad("{'even': 3}", "plugins.p.even: must be an even integer");
    bad("{'sub': {}}", "plugins.p.sub.n: required");
    bad("{'sub': {'n': 10}}", "plugins.p.sub.n: must be an integer between 1 and 9");
    bad("{'sub': {'n': 1, 'nam': 'x'}}", "plugins.p.sub.nam: unknown key (did you mean \"name\"?)");
    bad("{'sub': 4}", "plugins.p.sub: must be an object");
}
END_TEST

START_TEST(test_unknown_keys)
{
    bad("{'cont': 5}", "plugins.p.cont: unknown key (did you mean \"count\"?)");
    bad("{'on-error': 'deny'}", "plugins.p.on-error: unknown key (did you mean \"on_error\"?)");
    bad("{'zzzzzzzz': 1}",
        "plugins.p.zzzzzzzz: unknown key (flag, count, big, window, label, bucket, colour, "
        "secret, names, on_error, even, sub, free_form)");
    /* the _ms alias is a key only for a field that has one */
    bad("{'count_ms': 5}",
        "plugins.p.count_ms: unknown key (flag, count, big, window, label, bucket, colour, "
        "secret, names, on_error, even, sub, free_form)");

    /* every problem is reported, not just the first */
    run_t r;
    run(&r, "{'flga': 1, 'count': 0, 'flag': 'yes'}");
    ck_assert_int_eq(r.rc, -1);
    ck_assert_uint_eq(r.d.nerrors, 3);
    ck_assert_str_eq(r.d.errors[0], "plugins.p.flga: unknown key (did you mean \"flag\"?)");
    ck_assert_str_eq(r.d.errors[1], "plugins.p.flag: must be true or false");
    ck_assert_str_eq(r.d.errors[2], "plugins.p.count: must be an integer between 1 and 100");
    done(&r);

    run_tbl(&r, "{}", required_fields);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_str_eq(r.d.errors[0], "plugins.p.must: required");
    pc_diag_free(&r.d);

    run_tbl(&r, "[1]", required_fields);
    ck_assert_int_eq(r.rc, -1);
    ck_assert_str_eq(r.d.errors[0], "plugins.p: must be an object");
    pc_diag_free(&r.d);
}
END_TEST

START_TEST(test_secrets)
{
    run_t r;
    run(&r, "{'secret': 'inline-value'}");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.o.secret.s, "inline-value");
    ck_assert_uint_eq(r.o.secret.len, 12);
    ck_assert_uint_eq(r.d.nwarnings, 1);
    ck_assert_ptr_nonnull(strstr(r.d.warnings[0], "plugins.p.secret: secret written inline"));
    done(&r);

    setenv("PC_TEST_FIELDS_SECRET", "from-env", 1);
    run(&r, "{'secret': {'env': 'PC_TEST_FIELDS_SECRET'}}");
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.o.secret.s, "from-env");
    ck_assert_uint_eq(r.d.nwarnings, 0);
    done(&r);
    unsetenv("PC_TEST_FIELDS_SECRET");

    char path[] = "/tmp/pc-fields-secret-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "from-file\n", 10), 10);
    close(fd);
    chmod(path, 0600);
    char json[256];
    snprintf(json, sizeof(json), "{'secret': {'file': '%s'}}", path);
    run(&r, json);
    ck_assert_int_eq(r.rc, 0);
    ck_assert_str_eq(r.o.secret.s, "from-file");
    ck_assert_uint_eq(r.o.secret.len, 9);
    ck_assert_uint_eq(r.d.nwarnings, 0);
    done(&r);
    unlink(path);

    bad("{'secret': {'env': 'PC_TEST_FIELDS_SURELY_UNSET'}}",
        "plugins.p.secret: environment variable PC_TEST_FIELDS_SURELY_UNSET is not set");
    bad("{'secret': {'file': 'relative'}}", "plugins.p.secret: file: must be an absolute path");
    bad("{'secret': {'vault': 'x'}}",
        "plugins.p.secret: must be a string, {\"env\": \"NAME\"} or {\"file\": \"/path\"}");
    bad("{'secret': ''}", "plugins.p.secret: must not be empty");
}
END_TEST

START_TEST(test_nested_path)
{
    /* A table read at a path inside the plugin's node names it. */
    json_t *n = json_pack("{s:{s:i}}", "inner", "count", 0);
    opts_t o;
    memset(&o, 0, sizeof(o));
    pc_diag_t d = {0};
    pc_err_t err = {&d, "plugins.p", 0};
    ck_assert_int_eq(pc_conf_parse(json_object_get(n, "inner"), "limits[2]", fields, &o, &err), -1);
    ck_assert_str_eq(d.errors[0],
                     "plugins.p.limits[2].count: must be an integer between 1 and 100");
    pc_conf_fields_free(fields, &o);
    pc_diag_free(&d);
    json_decref(n);
}
END_TEST

typedef struct shapes {
    size_t bytes;
} shapes_t;

static int parse_silent(const json_t *v, const char *key, void *field, pc_err_t *err)
{
    (void)v, (void)key, (void)field, (void)err;
    return -1;
}

static const pc_conf_field_t shape_fields[] = {
    {.key = "bytes", .type = PC_CONF_SIZE, .offset = offsetof(shapes_t, bytes), .min = 1,
     .max = 4096, .def = 512},
    {.key = "obj", .type = PC_CONF_OBJECT},
    {.key = "arr", .type = PC_CONF_ARRAY},
    {.key = "silent", .type = PC_CONF_CUSTOM, .parse = parse_silent},
    {0},
};

static int shapes(const char *json, shapes_t *o, pc_diag_t *d)
{
    json_t *n = json_loads(json, 0, NULL);
    ck_assert_ptr_nonnull(n);
    memset(o, 0, sizeof(*o));
    pc_err_t err = {d, "plugins.s", 0};
    int rc = pc_conf_parse(n, NULL, shape_fields, o, &err);
    json_decref(n);
    return rc;
}

START_TEST(test_shapes)
{
    shapes_t o;
    pc_diag_t d = {0};
    ck_assert_int_eq(shapes("{\"obj\": {}, \"arr\": []}", &o, &d), 0);
    ck_assert_uint_eq(o.bytes, 512);
    ck_assert_int_eq(shapes("{\"bytes\": 4096}", &o, &d), 0);
    ck_assert_uint_eq(o.bytes, 4096);
    ck_assert_uint_eq(d.nerrors, 0);
    ck_assert_int_eq(shapes("{\"bytes\": 4097, \"obj\": [], \"arr\": {}, \"silent\": 1}",
                            &o, &d), -1);
    ck_assert_uint_eq(d.nerrors, 4);
    ck_assert_str_eq(d.errors[0], "plugins.s.bytes: must be an integer between 1 and 4096");
    ck_assert_str_eq(d.errors[1], "plugins.s.obj: must be an object");
    ck_assert_str_eq(d.errors[2], "plugins.s.arr: must be an array");
    ck_assert_str_eq(d.errors[3], "plugins.s.silent: invalid value");
    pc_diag_free(&d);

    /* keys from the document are escaped in messages */
    ck_assert_int_eq(shapes("{\"by\\ntes\": 1}", &o, &d), -1);
    ck_assert_str_eq(d.errors[0], "plugins.s.by\\x0ates: unknown key (did you mean \"bytes\"?)");
    pc_diag_free(&d);
}
END_TEST

/* pc_conf_warn and pc_conf_note: paths like pc_err_set, neither fails the
 * load, and notes stay out of pc_diag_print (only `-t` prints them). */
START_TEST(test_warn_and_note)
{
    pc_diag_t d = {0};
    pc_err_t err = {&d, "plugins.api", 0};
    pc_conf_warn(&err, "document", "accepted, not validated: %s", "text/plain");
    pc_conf_note(&err, "document", "%d operations", 3);
    pc_conf_note(&err, NULL, "whole");
    ck_assert_int_eq(err.failed, 0);
    ck_assert_uint_eq(d.nerrors, 0);
    ck_assert_uint_eq(d.nwarnings, 1);
    ck_assert_str_eq(d.warnings[0], "plugins.api.document: accepted, not validated: text/plain");
    ck_assert_uint_eq(d.nnotes, 2);
    ck_assert_str_eq(d.notes[0], "plugins.api.document: 3 operations");
    ck_assert_str_eq(d.notes[1], "plugins.api: whole");
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    pc_diag_print(&d, f);
    fflush(f);
    ck_assert_ptr_null(strstr(buf, "operations"));
    pc_diag_print_notes(&d, f);
    fclose(f);
    ck_assert_ptr_nonnull(strstr(buf, "note: plugins.api.document: 3 operations\n"));
    free(buf);
    pc_diag_free(&d);
    ck_assert_uint_eq(d.nnotes, 0);
}
END_TEST

START_TEST(test_file)
{
    char path[] = "/tmp/pc-fields-file-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "-----BEGIN\n", 11), 11);
    close(fd);
    pc_diag_t d = {0};
    pc_err_t err = {&d, "plugins.k", 0};
    json_t *v = json_pack("{s:s}", "file", path);
    size_t len = 0;
    char *buf = pc_conf_file(v, "keys.pem", 64, &len, &err);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(len, 11); /* files are read as they are: no newline stripped */
    ck_assert_str_eq(buf, "-----BEGIN\n");
    free(buf);
    ck_assert_ptr_null(pc_conf_file(v, "keys.pem", 10, &len, &err));
    ck_assert_uint_eq(d.nwarnings, 0); /* not a secret: no permission warning */
    json_decref(v);
    unlink(path);

    v = json_pack("{s:s}", "file", "relative.pem");
    ck_assert_ptr_null(pc_conf_file(v, "keys.pem", 64, &len, &err));
    json_decref(v);
    v = json_pack("{s:s,s:i}", "file", path, "x", 1);
    ck_assert_ptr_null(pc_conf_file(v, "keys.pem", 64, &len, &err));
    json_decref(v);
    ck_assert_uint_eq(d.nerrors, 3);
    ck_assert_str_eq(d.errors[1], "plugins.k.keys.pem: file: must be an absolute path");
    ck_assert_str_eq(d.errors[2], "plugins.k.keys.pem: must be {\"file\": \"/path\"}");
    char want[128];
    snprintf(want, sizeof(want), "plugins.k.keys.pem: file \"%s\" is larger than 10 bytes", path);
    ck_assert_str_eq(d.errors[0], want);
    pc_diag_free(&d);
}
END_TEST

START_TEST(test_duration_helper)
{
    uint64_t ms = 0;
    ck_assert_int_eq(pc_conf_duration_ms("250ms", &ms), 0);
    ck_assert_uint_eq(ms, 250);
    ck_assert_int_eq(pc_conf_duration_ms("2d", &ms), 0);
    ck_assert_uint_eq(ms, 2 * 86400000ULL);
    ck_assert_int_eq(pc_conf_duration_ms("0s", &ms), -1);
    ck_assert_int_eq(pc_conf_duration_ms("1w", &ms), -1);
    ck_assert_int_eq(pc_conf_duration_ms("s", &ms), -1);
    ck_assert_int_eq(pc_conf_token("X-Api-Key", 16), 1);
    ck_assert_int_eq(pc_conf_token("X Api", 16), 0);
    ck_assert_int_eq(pc_conf_token("", 16), 0);
}
END_TEST

static Suite *fields_suite(void)
{
    Suite *s = suite_create("conf_fields");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_values);
    tcase_add_test(tc, test_errors);
    tcase_add_test(tc, test_unknown_keys);
    tcase_add_test(tc, test_secrets);
    tcase_add_test(tc, test_nested_path);
    tcase_add_test(tc, test_shapes);
    tcase_add_test(tc, test_file);
    tcase_add_test(tc, test_warn_and_note);
    tcase_add_test(tc, test_duration_helper);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fields_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
