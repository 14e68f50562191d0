/* tests/unit/test_schema_conformance.c: the JSON-Schema-Test-Suite
 * (found by suite_files.h; the test fails without it) against
 * plugins/schema: every top-level file of draft2020-12 and draft7
 * (required), every top-level file of their optional/ directories, and
 * optional/format/ for the formats we assert (run with format assertion
 * on). Each file is read with pc_json_parse, so big numbers keep their
 * literal. "http://localhost:1234/..." is served from the suite's
 * remotes/, the draft metaschemas from tests/unit/schema-meta/. Every test
 * runs twice (first failure, and errors collected) and both verdicts must
 * match the suite's, except where excluded[] says why not.
 */
#include "schema.h"
#include "suite_files.h"

#include <check.h>
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Known failures: draft directory, file (relative to it), group
 * description, test description (NULL: the whole group), and why. The
 * required files have none. */
static const struct {
    const char *draft, *file, *group, *test, *why;
} excluded[] = {
    {"draft2020-12", "optional/cross-draft.json", "refs to historic drafts are processed as historic drafts", NULL,
     "2019-09 is read as 2020-12: only 2020-12 and draft-07 are supported"},
    {"draft7", "optional/content.json", "validation of string-encoded content based on media type",
     "an invalid JSON document", "contentMediaType is an annotation here, never asserted"},
    {"draft7", "optional/content.json", "validation of binary string-encoding",
     "an invalid base64 string (% is not a valid character)", "contentEncoding is an annotation here"},
    {"draft7", "optional/content.json", "validation of binary-encoded media type documents",
     "a validly-encoded invalid JSON document", "contentMediaType is an annotation here"},
    {"draft7", "optional/content.json", "validation of binary-encoded media type documents",
     "an invalid base64 string that is valid JSON", "contentEncoding is an annotation here"},
};

static const char *suite;
static char meta[PATH_MAX];

/* snprintf into a PATH_MAX buffer; a path that does not fit fails. */
static void pathf(char *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char *out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, PATH_MAX, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= PATH_MAX) {
        fprintf(stderr, "path too long: %s\n", fmt);
        exit(EXIT_FAILURE);
    }
}

/* ---- a bump arena for every document read (kept to the end) ---- */

typedef struct chunk {
    struct chunk *next;
    size_t used, cap;
    max_align_t data[];
} chunk_t;

static chunk_t *chunks;

static void *arena_alloc(void *ud, size_t n)
{
    (void)ud;
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (!chunks || chunks->used + n > chunks->cap) {
        size_t cap = n > (1u << 20) ? n : (1u << 20);
        chunk_t *c = malloc(sizeof *c + cap);
        ck_assert_ptr_nonnull(c);
        c->next = chunks;
        c->used = 0;
        c->cap = cap;
        chunks = c;
    }
    void *p = (char *)chunks->data + chunks->used;
    chunks->used += n;
    return p;
}

static void arena_free(void)
{
    while (chunks) {
        chunk_t *n = chunks->next;
        free(chunks);
        chunks = n;
    }
}

static const pc_json_t *read_doc(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = arena_alloc(NULL, (size_t)len + 1);
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    ck_assert_uint_eq(got, (size_t)len);
    pc_json_limits_t lim = {.max_depth = 256, .max_string = 16u << 20};
    pc_json_error_t err;
    const pc_json_t *doc = pc_json_parse(buf, (size_t)len, &lim, arena_alloc, NULL, &err);
    ck_assert_msg(doc != NULL, "%s: offset %zu: %s", path, err.offset, err.msg);
    return doc;
}

/* ---- the loader: remotes and metaschemas from disk, never the network ---- */

static const pc_json_t *loader(void *ud, const char *uri)
{
    (void)ud;
    static const struct {
        const char *prefix, *dir, *suffix;
    } map[] = {
        {"http://localhost:1234/", "remotes/", ""},
        {"https://json-schema.org/draft/2020-12/schema", "draft2020-12/schema", ".json"},
        {"https://json-schema.org/draft/2020-12/meta/", "draft2020-12/meta/", ".json"},
        {"http://json-schema.org/draft-07/schema", "draft-07/schema", ".json"},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        size_t pl = strlen(map[i].prefix);
        if (strncmp(uri, map[i].prefix, pl))
            continue;
        const char *rest = uri + pl;
        if (i != 0 && i != 2 && *rest)
            continue;
        char path[PATH_MAX];
        if (i == 0)
            pathf(path, "%s/remotes/%s", suite, rest);
        else
            pathf(path, "%s/%s%s%s", meta, map[i].dir, rest, map[i].suffix);
        return read_doc(path);
    }
    return NULL;
}

/* ---- running files ---- */

typedef struct counts {
    unsigned pass, fail, skip;
} counts_t;

static const char *cur_draft;

static bool is_excluded(const char *file, const char *group, const char *test)
{
    for (size_t i = 0; i < sizeof excluded / sizeof excluded[0]; i++)
        if (!strcmp(excluded[i].draft, cur_draft) && !strcmp(excluded[i].file, file) &&
            !strcmp(excluded[i].group, group) && (!excluded[i].test || !strcmp(excluded[i].test, test)))
            return true;
    return false;
}

static const char *str_of(const pc_json_t *o, const char *key)
{
    const pc_json_t *v = pc_json_get(o, key, strlen(key));
    return v && v->type == PC_JSON_STRING ? v->u.str : "";
}

static void run_group(const char *file, const pc_json_t *g, pc_schema_draft_t draft, bool formats, counts_t *n)
{
    const char *gdesc = str_of(g, "description");
    const pc_json_t *schema = pc_json_get(g, "schema", 6), *tests = pc_json_get(g, "tests", 5);
    ck_assert_ptr_nonnull(schema);
    ck_assert_ptr_nonnull(tests);
    pc_schema_opts_t opts = {.default_draft = draft, .formats = formats, .loader = loader};
    char err[256];
    pc_schema_t *s = pc_schema_compile(schema, NULL, &opts, err, sizeof err);
    for (uint32_t i = 0; i < tests->len; i++) {
        const pc_json_t *t = tests->u.items[i];
        const char *tdesc = str_of(t, "description");
        bool want = pc_json_get(t, "valid", 5)->type == PC_JSON_TRUE;
        const pc_json_t *data = pc_json_get(t, "data", 4);
        bool fast = false, full = false;
        pc_schema_error_t e[8];
        pc_schema_errors_t errs = {.max = 8, .e = e};
        if (s) {
            fast = pc_schema_validate(s, data, NULL);
            full = pc_schema_validate(s, data, &errs);
        }
        bool ok = s && fast == want && full == want && (full || errs.n > 0);
        if (is_excluded(file, gdesc, tdesc)) {
            n->skip++;
            continue;
        }
        if (ok) {
            n->pass++;
            continue;
        }
        n->fail++;
        if (!s)
            fprintf(stderr, "FAIL %s | %s | %s: compile: %s\n", file, gdesc, tdesc, err);
        else
            fprintf(stderr, "FAIL %s | %s | %s: want %s, got %s/%s (%u errors)\n", file, gdesc, tdesc,
                    want ? "valid" : "invalid", fast ? "valid" : "invalid", full ? "valid" : "invalid", errs.n);
    }
    pc_schema_free(s);
}

static void run_file(const char *dir, const char *name, pc_schema_draft_t draft, bool formats, counts_t *n)
{
    char path[PATH_MAX];
    pathf(path, "%s/%s", dir, name);
    const pc_json_t *doc = read_doc(path);
    ck_assert_msg(doc != NULL, "cannot read %s", path);
    ck_assert_int_eq(doc->type, PC_JSON_ARRAY);
    for (uint32_t i = 0; i < doc->len; i++)
        run_group(name, doc->u.items[i], draft, formats, n);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.json file directly in dir/sub, sorted; names are "sub/file". */
static size_t run_dir(const char *dir, const char *sub, pc_schema_draft_t draft, counts_t *n)
{
    char path[PATH_MAX];
    pathf(path, "%s/%s", dir, sub);
    DIR *d = opendir(path);
    ck_assert_msg(d != NULL, "the JSON-Schema-Test-Suite is missing: %s", path);
    char *names[256];
    size_t k = 0;
    struct dirent *de;
    while ((de = readdir(d)) && k < 256) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".json")) {
            char name[PATH_MAX];
            pathf(name, "%s%s%s", sub, *sub ? "/" : "", de->d_name);
            names[k++] = strdup(name);
        }
    }
    closedir(d);
    qsort(names, k, sizeof *names, cmp_str);
    for (size_t i = 0; i < k; i++) {
        run_file(dir, names[i], draft, false, n);
        free(names[i]);
    }
    return k;
}

/* The formats we assert (formats.h); draft7 has no duration or uuid file. */
static const char *const asserted[] = {"date-time", "date", "time", "duration", "email", "hostname", "ipv4",
                                       "ipv6", "uri", "uri-reference", "uuid", "regex"};

static void run_formats(const char *dir, pc_schema_draft_t draft, counts_t *n)
{
    for (size_t i = 0; i < sizeof asserted / sizeof asserted[0]; i++) {
        char name[PATH_MAX], path[PATH_MAX];
        pathf(name, "optional/format/%s.json", asserted[i]);
        pathf(path, "%s/%s", dir, name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        fclose(f);
        run_file(dir, name, draft, true, n);
    }
}

static void run_draft(const char *sub, pc_schema_draft_t draft)
{
    char dir[PATH_MAX];
    suite = suite_root();
    pathf(dir, "%s/tests/%s", suite, sub);
    counts_t req = {0}, opt = {0};
    cur_draft = sub;
    ck_assert_uint_gt(run_dir(dir, "", draft, &req), 30);
    run_dir(dir, "optional", draft, &opt);
    run_formats(dir, draft, &opt);
    printf("%s: required %u passed, %u failed, %u excluded; optional %u passed, %u failed, %u excluded\n", sub,
           req.pass, req.fail, req.skip, opt.pass, opt.fail, opt.skip);
    fflush(stdout);
    arena_free();
    ck_assert_uint_eq(req.fail, 0);
    ck_assert_uint_eq(opt.fail, 0);
    ck_assert_uint_gt(req.pass, 900);
}

START_TEST(draft2020_12)
{
    run_draft("draft2020-12", PC_SCHEMA_2020_12);
}
END_TEST

START_TEST(draft7)
{
    run_draft("draft7", PC_SCHEMA_DRAFT7);
}
END_TEST

static Suite *conformance_suite(void)
{
    Suite *s = suite_create("schema_conformance");
    TCase *tc = tcase_create("suite");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, draft2020_12);
    tcase_add_test(tc, draft7);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    const char *src = getenv("PC_SRCDIR");
    if (!src || !*src)
        src = PC_TOP_SRCDIR;
    pathf(meta, "%s/tests/unit/schema-meta", src);
    SRunner *sr = srunner_create(conformance_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
