/* tests/unit/test_json_read.c: the strict JSON reader (plugins/schema/
 * json_read.h): every refusal with its code and offset, the tree it
 * builds, the exact-number rules, a differential run against jansson over
 * the JSON-Schema-Test-Suite files and random documents, and random
 * literals against strtod. */
#include "json_diff.h"
#include "schema/json_read.h"

#include <check.h>
#include <dirent.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static json_diff_arena_t *arena;

static void setup(void)
{
    arena = json_diff_arena_new();
}

static void teardown(void)
{
    json_diff_arena_free(arena);
    arena = NULL;
}

static const pc_json_t *parse_lim(const char *s, size_t n, const pc_json_limits_t *lim, pc_json_error_t *err)
{
    return pc_json_parse(s, n, lim, json_diff_arena_alloc, arena, err);
}

static const pc_json_t *parse(const char *s)
{
    pc_json_error_t err;
    const pc_json_t *v = parse_lim(s, strlen(s), NULL, &err);
    ck_assert_msg(v, "refused %s: %s at %zu", s, err.msg, err.offset);
    return v;
}

/* ---- refusals ---- */

typedef struct bad_case {
    const char *in;
    size_t len;
    pc_json_err_t code;
    size_t offset;
} bad_case_t;

#define BAD(in, code, off) { in, sizeof(in) - 1, PC_JSON_##code, off }

static const bad_case_t bad[] = {
    BAD("", SYNTAX, 0),
    BAD("   ", SYNTAX, 3),
    BAD("[1,]", SYNTAX, 3),
    BAD("{\"a\":1,}", SYNTAX, 7),
    BAD("[1 2]", SYNTAX, 3),
    BAD("[1,,2]", SYNTAX, 3),
    BAD("// c\n1", SYNTAX, 0),
    BAD("/*c*/1", SYNTAX, 0),
    BAD("[1]//", SYNTAX, 3),
    BAD("NaN", SYNTAX, 0),
    BAD("Infinity", SYNTAX, 0),
    BAD("-Infinity", SYNTAX, 1),
    BAD("01", SYNTAX, 1),
    BAD("-01", SYNTAX, 2),
    BAD("+1", SYNTAX, 0),
    BAD(".5", SYNTAX, 0),
    BAD("1.", SYNTAX, 2),
    BAD("1.e5", SYNTAX, 2),
    BAD("1e", SYNTAX, 2),
    BAD("1e+", SYNTAX, 3),
    BAD("-", SYNTAX, 1),
    BAD("0x10", SYNTAX, 1),
    BAD("'a'", SYNTAX, 0),
    BAD("\"a\tb\"", SYNTAX, 2),
    BAD("\"a\nb\"", SYNTAX, 2),
    BAD("\"\x01\"", SYNTAX, 1),
    BAD("\"\0\"", SYNTAX, 1),
    BAD("1 2", SYNTAX, 2),
    BAD("{} {}", SYNTAX, 3),
    BAD("[", SYNTAX, 1),
    BAD("]", SYNTAX, 0),
    BAD("{\"a\"}", SYNTAX, 4),
    BAD("{\"a\" 1}", SYNTAX, 5),
    BAD("{1:2}", SYNTAX, 1),
    BAD("{'a':2}", SYNTAX, 1),
    BAD("tru", SYNTAX, 0),
    BAD("nul", SYNTAX, 0),
    BAD("True", SYNTAX, 0),
    BAD("\"\\x\"", SYNTAX, 1),
    BAD("\"\\u12\"", SYNTAX, 1),
    BAD("\"\\u12G4\"", SYNTAX, 1),
    BAD("\"\\U0041\"", SYNTAX, 1),
    BAD("\"abc", SYNTAX, 0),
    BAD("\"abc\\", SYNTAX, 4),
    BAD("\xEF\xBB\xBF{}", SYNTAX, 0),
    BAD("[1]\0", SYNTAX, 3),
    BAD("true\0", SYNTAX, 4), /* jansson accepts this one (json_diff.c) */
    BAD("1\0", SYNTAX, 1),
    BAD("[1\0]", SYNTAX, 2),
    BAD("[true\0]", SYNTAX, 5),
    BAD("\x80", SYNTAX, 0),
    /* UTF-8 */
    BAD("\"\xC0\x80\"", UTF8, 1),
    BAD("\"\xC1\xBF\"", UTF8, 1),
    BAD("\"\xE0\x80\x80\"", UTF8, 1),
    BAD("\"\xE0\x9F\xBF\"", UTF8, 1),
    BAD("\"\xF0\x8F\xBF\xBF\"", UTF8, 1),
    BAD("\"\xED\xA0\x80\"", UTF8, 1),
    BAD("\"\xED\xBF\xBF\"", UTF8, 1),
    BAD("\"\xF4\x90\x80\x80\"", UTF8, 1),
    BAD("\"\xF5\x80\x80\x80\"", UTF8, 1),
    BAD("\"\xFF\"", UTF8, 1),
    BAD("\"\x80\"", UTF8, 1),
    BAD("\"ab\xE2\x82\"", UTF8, 3),
    BAD("\"\xE2\x82", UTF8, 1),
    BAD("\"\xF0\x9F\x98\"", UTF8, 1),
    BAD("{\"\xC3\":1}", UTF8, 2),
    BAD("\"\\uD800\"", UTF8, 1),
    BAD("\"\\uDBFF\"", UTF8, 1),
    BAD("\"\\uDC00\"", UTF8, 1),
    BAD("\"\\uDC00\\uD800\"", UTF8, 1),
    BAD("\"\\uD800\\u0041\"", UTF8, 1),
    BAD("\"\\uD800\\uD800\"", UTF8, 1),
    BAD("\"\\uD800x\"", UTF8, 1),
    BAD("\"x\\uD83D\"", UTF8, 2),
    /* duplicates, after unescaping */
    BAD("{\"a\":1,\"a\":2}", DUP_KEY, 7),
    BAD("{\"a\":1,\"\\u0061\":2}", DUP_KEY, 7),
    BAD("{\"\\/\":1,\"/\":2}", DUP_KEY, 8),
    BAD("{\"\xC3\xA9\":1,\"\\u00e9\":2}", DUP_KEY, 8),
    BAD("{\"a\\u0000\":1,\"a\\u0000\":2}", DUP_KEY, 13),
    BAD("[{\"x\":{\"b\":1,\"c\":2,\"b\":3}}]", DUP_KEY, 19),
    BAD("{\"k0\":0,\"k1\":0,\"k2\":0,\"k3\":0,\"k4\":0,\"k5\":0,\"k6\":0,\"k7\":0,\"k8\":0,"
        "\"k9\":0,\"k10\":0,\"k11\":0,\"k12\":0,\"k13\":0,\"k14\":0,\"k15\":0,\"k16\":0,"
        "\"k17\":0,\"k\\u0031\\u0030\":0}",
        DUP_KEY, 135),
};

START_TEST(test_refusals)
{
    const bad_case_t *c = &bad[_i];
    pc_json_error_t err = {0};
    const pc_json_t *v = parse_lim(c->in, c->len, NULL, &err);
    ck_assert_msg(!v, "case %d accepted", _i);
    ck_assert_msg(err.code == c->code, "case %d: code %d, want %d (%s)", _i, err.code, c->code, err.msg);
    ck_assert_msg(err.offset == c->offset, "case %d: offset %zu, want %zu (%s)", _i, err.offset, c->offset,
                  err.msg);
    ck_assert_ptr_nonnull(err.msg);
}
END_TEST

/* Each byte string that is refused whole is also refused when cut short;
 * the reader never reads past len (ASan watches the heap copy). */
START_TEST(test_never_reads_past_len)
{
    static const char *docs[] = {"{\"a\":[1,2.5e3,\"x\\u00e9\xC3\xA9\"],\"b\":null}", "\"\\uD83D\\uDE00\"",
                                 "-12.5e-3", "true", "[[[]]]"};
    for (size_t d = 0; d < sizeof docs / sizeof *docs; d++) {
        size_t n = strlen(docs[d]);
        for (size_t cut = 0; cut <= n; cut++) {
            char *copy = malloc(cut ? cut : 1);
            memcpy(copy, docs[d], cut);
            pc_json_error_t err;
            const pc_json_t *v = parse_lim(copy, cut, NULL, &err);
            /* only the whole document, and "-12.5e-3" cut after a digit, parse */
            if (cut == n)
                ck_assert_msg(v, "%s refused: %s", docs[d], err.msg);
            else if (d != 2)
                ck_assert_msg(!v, "%.*s accepted", (int)cut, docs[d]);
            free(copy);
        }
    }
}
END_TEST

/* ---- limits ---- */

static char *nested(unsigned depth)
{
    char *s = malloc(2 * depth + 2);
    memset(s, '[', depth);
    s[depth] = '1';
    memset(s + depth + 1, ']', depth);
    s[2 * depth + 1] = '\0';
    return s;
}

START_TEST(test_depth)
{
    pc_json_error_t err;
    char *ok = nested(64), *deep = nested(65);
    ck_assert_ptr_nonnull(parse_lim(ok, strlen(ok), NULL, &err));
    ck_assert_ptr_null(parse_lim(deep, strlen(deep), NULL, &err));
    ck_assert_int_eq(err.code, PC_JSON_TOO_DEEP);
    ck_assert_uint_eq(err.offset, 64);
    free(ok);
    free(deep);
    pc_json_limits_t lim = {.max_depth = 3};
    ck_assert_ptr_nonnull(parse_lim("[{\"a\":[1]}]", 11, &lim, &err));
    ck_assert_ptr_null(parse_lim("[{\"a\":[[1]]}]", 13, &lim, &err));
    ck_assert_int_eq(err.code, PC_JSON_TOO_DEEP);
    ck_assert_uint_eq(err.offset, 7);
    /* deeper than the inline frame stack: the frames move to the heap */
    lim.max_depth = 5000;
    char *big = nested(5000);
    const pc_json_t *v = parse_lim(big, strlen(big), &lim, &err);
    ck_assert_ptr_nonnull(v);
    for (int i = 0; i < 5000; i++)
        v = v->u.items[0];
    ck_assert_int_eq(v->type, PC_JSON_NUMBER);
    free(big);
}
END_TEST

START_TEST(test_members_nodes_strings)
{
    pc_json_error_t err;
    pc_json_limits_t lim = {.max_members = 2};
    ck_assert_ptr_nonnull(parse_lim("[1,2]", 5, &lim, &err));
    ck_assert_ptr_null(parse_lim("[1,2,3]", 7, &lim, &err));
    ck_assert_int_eq(err.code, PC_JSON_TOO_MANY);
    ck_assert_ptr_null(parse_lim("{\"a\":1,\"b\":2,\"c\":3}", 19, &lim, &err));
    ck_assert_int_eq(err.code, PC_JSON_TOO_MANY);

    lim = (pc_json_limits_t){.max_nodes = 4};
    ck_assert_ptr_nonnull(parse_lim("[1,[2]]", 7, &lim, &err));
    ck_assert_int_eq(err.code, PC_JSON_OK);
    ck_assert_ptr_null(parse_lim("[1,[2,3]]", 9, &lim, &err)); /* 5 values */
    ck_assert_int_eq(err.code, PC_JSON_TOO_MANY);
    lim.max_nodes = 3;
    ck_assert_ptr_nonnull(parse_lim("[1,2]", 5, &lim, &err));
    ck_assert_ptr_null(parse_lim("[1,[2]]", 7, &lim, &err));
    ck_assert_ptr_null(parse_lim("[1,2,3]", 7, &lim, &err));
    ck_assert_int_eq(err.code, PC_JSON_TOO_MANY);
    ck_assert_uint_eq(err.offset, 5);

    lim = (pc_json_limits_t){.max_string = 3};
    ck_assert_ptr_nonnull(parse_lim("\"abc\"", 5, &lim, &err));
    ck_assert_ptr_null(parse_lim("\"abcd\"", 6, &lim, &err));
    ck_assert_int_eq(err.code, PC_JSON_TOO_LONG);
    /* decoded bytes count: two escapes make four bytes of UTF-8 */
    ck_assert_ptr_null(parse_lim("\"\\u00e9\\u00e9\"", 14, &lim, &err));
    ck_assert_int_eq(err.code, PC_JSON_TOO_LONG);
    ck_assert_ptr_null(parse_lim("{\"abcd\":1}", 10, &lim, &err));
    ck_assert_int_eq(err.code, PC_JSON_TOO_LONG);
    ck_assert_uint_eq(err.offset, 1);
}
END_TEST

static int fail_after;
static void *failing_alloc(void *ud, size_t n)
{
    if (fail_after-- <= 0)
        return NULL;
    return json_diff_arena_alloc(ud, n);
}

START_TEST(test_nomem)
{
    const char *doc = "{\"a\":[1,2,{\"b\":\"c\"}],\"d\":\"e\"}";
    int allocs_needed = -1;
    for (int k = 0; k < 20 && allocs_needed < 0; k++) {
        fail_after = k;
        pc_json_error_t err;
        const pc_json_t *v = pc_json_parse(doc, strlen(doc), NULL, failing_alloc, arena, &err);
        if (v)
            allocs_needed = k;
        else
            ck_assert_int_eq(err.code, PC_JSON_NOMEM);
    }
    ck_assert_int_gt(allocs_needed, 0);
}
END_TEST

/* ---- the tree ---- */

START_TEST(test_tree)
{
    const pc_json_t *v = parse(" {\"s\": \"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\xC3\xA9\","
                               " \"n\": [0, -0, 1.5, -2e3, true, false, null], \"e\": {}, \"z\": [] } \r\n\t");
    ck_assert_int_eq(v->type, PC_JSON_OBJECT);
    ck_assert_uint_eq(v->len, 4);
    ck_assert_str_eq(v->u.members[0].key, "s");
    const pc_json_t *s = pc_json_get(v, "s", 1);
    ck_assert_int_eq(s->type, PC_JSON_STRING);
    const char want[] = "a\"\\/\b\f\n\r\tA\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xC3\xA9";
    ck_assert_uint_eq(s->len, sizeof want - 1);
    ck_assert_mem_eq(s->u.str, want, sizeof want);
    const pc_json_t *n = pc_json_get(v, "n", 1);
    ck_assert_uint_eq(n->len, 7);
    ck_assert_int_eq(n->u.items[0]->num_flags, PC_JSON_NUM_INT | PC_JSON_NUM_I64);
    ck_assert_int_eq(n->u.items[1]->num_flags, PC_JSON_NUM_INT | PC_JSON_NUM_I64 | PC_JSON_NUM_NEG);
    ck_assert(signbit(n->u.items[1]->u.num.d));
    ck_assert_int_eq(n->u.items[2]->num_flags, 0);
    ck_assert(n->u.items[2]->u.num.d == 1.5);
    ck_assert(n->u.items[3]->u.num.d == -2000.0);
    ck_assert_uint_eq(n->u.items[3]->len, 4);
    ck_assert_mem_eq(n->u.items[3]->u.num.text, "-2e3", 4);
    ck_assert_int_eq(n->u.items[4]->type, PC_JSON_TRUE);
    ck_assert_int_eq(n->u.items[5]->type, PC_JSON_FALSE);
    ck_assert_int_eq(n->u.items[6]->type, PC_JSON_NULL);
    ck_assert_uint_eq(pc_json_get(v, "e", 1)->len, 0);
    ck_assert_int_eq(pc_json_get(v, "z", 1)->type, PC_JSON_ARRAY);
    ck_assert_ptr_null(pc_json_get(v, "x", 1));
    ck_assert_ptr_null(pc_json_get(n, "s", 1));
    for (uint32_t i = 0; i < v->len; i++)
        ck_assert_uint_eq(v->u.members[i].khash, pc_json_key_hash(v->u.members[i].key, v->u.members[i].klen));

    /* an odd member count above PC_JSON_INDEX_MIN: the index needs padding
     * before the values (ASan, with json_diff.c's exact-size blocks) */
    v = parse("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7,\"h\":8,\"i\":9,\"j\":10,"
              "\"k\":11,\"l\":12,\"m\":13,\"n\":14,\"o\":15,\"p\":16,\"q\":17}");
    ck_assert_uint_eq(v->len, 17);
    for (int i = 0; i < 17; i++) {
        char k = (char)('a' + i);
        ck_assert_int_eq(pc_json_get(v, &k, 1)->u.num.i, i + 1);
    }

    /* a key holding NUL, told apart by klen */
    v = parse("{\"a\\u0000b\": 1, \"a\": 2}");
    ck_assert_uint_eq(v->u.members[0].klen, 3);
    ck_assert_int_eq(pc_json_get(v, "a\0b", 3)->u.num.i, 1);
    ck_assert_int_eq(pc_json_get(v, "a", 1)->u.num.i, 2);
    ck_assert_ptr_null(pc_json_get(v, "a\0c", 3));
}
END_TEST

START_TEST(test_numbers)
{
    const pc_json_t *v = parse("[9223372036854775807, -9223372036854775808, 9223372036854775808,"
                               " -9223372036854775809, 123456789012345678901234567890, 1e400, -1e400,"
                               " 1e-400, 0.1, 1E2, 9007199254740993, 4.9406564584124654e-324]");
    const pc_json_t *const *it = v->u.items;
    ck_assert(it[0]->num_flags & PC_JSON_NUM_I64);
    ck_assert_int_eq(it[0]->u.num.i, INT64_MAX);
    ck_assert(it[1]->num_flags & PC_JSON_NUM_I64);
    ck_assert_int_eq(it[1]->u.num.i, INT64_MIN);
    ck_assert_int_eq(it[2]->num_flags, PC_JSON_NUM_INT);
    ck_assert(it[2]->u.num.d == 9223372036854775808.0);
    ck_assert_int_eq(it[3]->num_flags, PC_JSON_NUM_INT | PC_JSON_NUM_NEG);
    ck_assert(it[4]->u.num.d == 123456789012345678901234567890.0);
    ck_assert(isinf(it[5]->u.num.d) && it[5]->u.num.d > 0);
    ck_assert(isinf(it[6]->u.num.d) && it[6]->u.num.d < 0);
    ck_assert(it[7]->u.num.d == 0.0);
    ck_assert(it[8]->u.num.d == 0.1);
    ck_assert(it[9]->u.num.d == 100.0);
    ck_assert_int_eq(it[9]->num_flags, 0);
    ck_assert_int_eq(it[10]->u.num.i, 9007199254740993);
    ck_assert(it[10]->u.num.d == 9007199254740992.0);
    ck_assert(it[11]->u.num.d == 4.9406564584124654e-324);
}
END_TEST

/* Random literals of every shape: our double must be strtod's, bit for
 * bit (glibc's strtod is correctly rounded); the fast path has no say. */
START_TEST(test_doubles_vs_strtod)
{
    unsigned long long x = 88172645463325252ull;
    char lit[80];
    for (int n = 0; n < 300000; n++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int len = 0;
        if (x & 1)
            lit[len++] = '-';
        int ni = (int)((x >> 1) % 21) + 1, nf = (int)((x >> 8) % 24) - 4, ne = (int)((x >> 16) % 8) - 2;
        unsigned long long y = x;
        for (int i = 0; i < ni; i++) {
            y = y * 6364136223846793005ull + 1442695040888963407ull;
            lit[len++] = (char)('0' + (i == 0 && ni > 1 ? 1 + (y >> 33) % 9 : (y >> 33) % 10));
        }
        if (nf > 0) {
            lit[len++] = '.';
            for (int i = 0; i < nf; i++) {
                y = y * 6364136223846793005ull + 1442695040888963407ull;
                lit[len++] = (char)('0' + (y >> 33) % 10);
            }
        }
        if (ne > 0) {
            len += snprintf(lit + len, sizeof lit - (size_t)len, "e%s%d", (x >> 40) & 1 ? "-" : "",
                            (int)((x >> 41) % (ne > 3 ? 330 : 30)));
        }
        pc_json_error_t err;
        const pc_json_t *v = parse_lim(lit, (size_t)len, NULL, &err);
        lit[len] = '\0';
        if (!v)
            ck_abort_msg("%s refused", lit);
        double want = strtod(lit, NULL);
        /* if + abort: Check writes a record for every ck_assert that passes */
        if (memcmp(&want, &v->u.num.d, sizeof want) != 0)
            ck_abort_msg("%s: %.17g, strtod %.17g", lit, v->u.num.d, want);
        if (n % 1000 == 0) {
            json_diff_arena_free(arena);
            arena = json_diff_arena_new();
        }
    }
}
END_TEST

static const pc_json_t *num(const char *lit)
{
    const pc_json_t *v = parse(lit);
    ck_assert_int_eq(v->type, PC_JSON_NUMBER);
    return v;
}

/* The process locale must not matter: under a locale whose decimal mark
 * is ',' (de_DE, compiled here with localedef into a scratch LOCPATH:
 * needs the locales package, scripts/install-deps.sh), literals that take
 * strtod's path and the fast path read the same as in "C". */
START_TEST(test_locale_independent)
{
    static const char *lits[] = {"1.2345678901234567890123e-7", "3.14159265358979323846264338327950288",
                                 "1e-320", "123456789012345678901234567890.5", "751.31", "2.5e300"};
    double want[6];
    for (int i = 0; i < 6; i++)
        want[i] = strtod(lits[i], NULL);
    char dir[] = "/tmp/pc_json_locale_XXXXXX", cmd[256];
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(cmd, sizeof cmd, "localedef -i de_DE -f UTF-8 %s/de_DE.UTF-8 >/dev/null 2>&1", dir);
    int rc = system(cmd);
    setenv("LOCPATH", dir, 1);
    const char *set = setlocale(LC_NUMERIC, "de_DE.UTF-8");
    ck_assert_msg(set, "cannot build the de_DE locale (localedef exit %d; the locales package?)", rc);
    ck_assert_msg(strtod("1.5", NULL) == 1.0, "the de_DE locale is not in effect");
    for (int i = 0; i < 6; i++) {
        const pc_json_t *v = num(lits[i]);
        ck_assert_msg(memcmp(&v->u.num.d, &want[i], sizeof want[i]) == 0, "%s: %.17g under de_DE", lits[i],
                      v->u.num.d);
    }
    setlocale(LC_NUMERIC, "C");
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

/* ---- exact numbers ---- */

typedef struct cmp_case {
    const char *a, *b;
    int want;
} cmp_case_t;

static const cmp_case_t cmps[] = {
    {"1e400", "2e399", 1},
    {"-1e400", "-2e399", -1},
    {"1e400", "10e399", 0},
    {"0", "-0", 0},
    {"0e5", "-0.000e-7", 0},
    {"0", "1e-400", -1},
    {"-1e-400", "0", -1},
    {"1.0", "1", 0},
    {"100", "1e2", 0},
    {"1.5", "15e-1", 0},
    {"0.1", "0.10000000000000001", -1},
    {"9007199254740993", "9007199254740992", 1},
    {"9007199254740993", "9007199254740992.0", 1},
    {"12345678901234567890123", "12345678901234567890124", -1},
    {"123456789012345678901230", "12345678901234567890123e1", 0},
    {"-5", "-4", -1},
    {"-5", "4", -1},
    {"5", "-4", 1},
    {"0.001", "1e-3", 0},
    {"99.99", "100", -1},
    {"1e-100000000000000000000000000", "1e-99999999999999999999999999", -1},
    {"123.456", "123.4560000", 0},
    {"123.456", "123.4561", -1},
    {"-0.5", "-0.49999999999999999999999", -1},
};

START_TEST(test_num_cmp)
{
    const cmp_case_t *c = &cmps[_i];
    const pc_json_t *a = num(c->a), *b = num(c->b);
    int r = pc_json_num_cmp(a, b), s = pc_json_num_cmp(b, a);
    ck_assert_msg((r > 0) - (r < 0) == c->want, "%s vs %s: %d", c->a, c->b, r);
    ck_assert_msg((s > 0) - (s < 0) == -c->want, "%s vs %s reversed: %d", c->a, c->b, s);
    ck_assert(pc_json_equal(a, b) == (c->want == 0));
}
END_TEST

typedef struct mul_case {
    const char *a, *d;
    bool want;
} mul_case_t;

static const mul_case_t muls[] = {
    {"620.03", "0.01", true},
    {"19.99", "0.01", true},
    {"0.3", "0.1", true},
    {"1e308", "0.01", true},
    {"1e400", "0.01", true},
    {"1e400", "3", false},
    {"3e400", "3", true},
    {"7", "2", false},
    {"8", "2", true},
    {"7.5", "2.5", true},
    {"7.5", "2", false},
    {"1", "0.3", false},
    {"0", "5", true},
    {"-0.0", "0.7", true},
    {"0.1", "1", false},
    {"-10", "5", true},
    {"10", "-5", false},
    {"10", "0", false},
    {"10", "0.0", false},
    {"1e-5", "1e-6", true},
    {"1e-6", "1e-5", false},
    {"20", "4", true},
    {"4", "20", false},
    {"4.0", "2.00", true},
    {"123456789012345678901234567890", "10", true},
    {"123456789012345678901234567891", "10", false},
    {"1.23456789012345678901234567891", "0.00000000000000000000000000001", true},
    {"12345678901234567890123", "12345678901234567890123", true},
    {"24691357802469135780246", "12345678901234567890123", true},
    {"24691357802469135780247", "12345678901234567890123", false},
    {"2.4691357802469135780246e40", "1.2345678901234567890123", true},
    {"18446744073709551615", "18446744073709551615", true},
    {"36893488147419103230", "18446744073709551615", true},
    {"9999999999999999999", "3", true},
    /* beyond the work bound with a 20+ digit divisor: "not a multiple" */
    {"1e2000000", "12345678901234567890123", false},
    {"1e2000000", "1e-1", true},
};

START_TEST(test_multiple_of)
{
    const mul_case_t *c = &muls[_i];
    ck_assert_msg(pc_json_num_multiple_of(num(c->a), num(c->d)) == c->want, "%s multipleOf %s", c->a, c->d);
}
END_TEST

START_TEST(test_is_integer)
{
    static const char *yes[] = {"1", "-0", "1.0", "1e2", "10e-1", "0.0", "1e400", "1.5e1", "-12.000e0",
                                "123456789012345678901234567890"};
    static const char *no[] = {"1.5", "1e-1", "0.5e0", "1.000000000000000000001", "-0.1", "15e-2",
                               "123456789012345678901234567890e-31"};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        ck_assert_msg(pc_json_num_is_integer(num(yes[i])), "%s", yes[i]);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        ck_assert_msg(!pc_json_num_is_integer(num(no[i])), "%s", no[i]);
}
END_TEST

START_TEST(test_equal)
{
    ck_assert(pc_json_equal(parse("{\"a\":1,\"b\":[1,2,{\"c\":null}]}"), parse("{\"b\":[1.0,2e0,{\"c\":null}],\"a\":1}")));
    ck_assert(!pc_json_equal(parse("[1,2]"), parse("[2,1]")));
    ck_assert(!pc_json_equal(parse("[1,2]"), parse("[1,2,3]")));
    ck_assert(!pc_json_equal(parse("{\"a\":1}"), parse("{\"a\":1,\"b\":1}")));
    ck_assert(!pc_json_equal(parse("{\"a\":1}"), parse("{\"b\":1}")));
    ck_assert(!pc_json_equal(parse("1"), parse("true")));
    ck_assert(!pc_json_equal(parse("0"), parse("false")));
    ck_assert(!pc_json_equal(parse("\"1\""), parse("1")));
    ck_assert(pc_json_equal(parse("\"\\u00e9\""), parse("\"\xC3\xA9\"")));
    ck_assert(!pc_json_equal(parse("\"a\\u0000\""), parse("\"a\"")));
    ck_assert(!pc_json_equal(parse("null"), parse("{}")));
    ck_assert(pc_json_equal(parse("[]"), parse("[ ]")));
    ck_assert(!pc_json_equal(parse("[]"), parse("{}")));

    /* large objects (indexed), reordered */
    char a[4096], b[4096];
    size_t la = 0, lb = 0;
    a[la++] = b[lb++] = '{';
    for (int i = 0; i < 100; i++) {
        la += (size_t)snprintf(a + la, sizeof a - la, "%s\"k%d\":%d", i ? "," : "", i, i);
        lb += (size_t)snprintf(b + lb, sizeof b - lb, "%s\"k%d\":%d.0", i ? "," : "", 99 - i, 99 - i);
    }
    a[la++] = b[lb++] = '}';
    a[la] = b[lb] = '\0';
    const pc_json_t *x = parse(a), *y = parse(b);
    ck_assert(pc_json_equal(x, y));
    for (int i = 0; i < 100; i++) {
        char k[8];
        int kl = snprintf(k, sizeof k, "k%d", i);
        const pc_json_t *v = pc_json_get(y, k, (size_t)kl);
        ck_assert_ptr_nonnull(v);
        ck_assert(v->u.num.d == i);
    }
    ck_assert_ptr_null(pc_json_get(y, "k100", 4));
    b[lb - 2] = '1'; /* "k0":0.1 */
    ck_assert(!pc_json_equal(x, parse(b)));
}
END_TEST

/* ---- corpora ---- */

/* The suite sits beside the checkout: $PC_SRCDIR/../shared for the main
 * checkout, one level further up for a worktree under /work/wt. A missing
 * suite fails: it is how large numbers and Unicode get exercised. */
static const char *suite_dir(char *buf, size_t n)
{
    const char *env = getenv("PC_JSON_SUITE");
    if (env)
        return env;
    const char *src = getenv("PC_SRCDIR");
    static const char *rel[] = {"/../shared/conformance/JSON-Schema-Test-Suite/tests",
                                "/../../shared/conformance/JSON-Schema-Test-Suite/tests"};
    struct stat st;
    for (size_t i = 0; src && i < 2; i++) {
        snprintf(buf, n, "%s%s", src, rel[i]);
        if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
            return buf;
    }
    return NULL;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    fclose(f);
    return buf;
}

/* Calls fn on every *.json under dir; returns how many. */
static int walk(const char *dir, void (*fn)(const char *path, const char *buf, size_t len))
{
    DIR *d = opendir(dir);
    ck_assert_msg(d, "cannot open %s", dir);
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            count += walk(path, fn);
        } else if (strlen(e->d_name) > 5 && strcmp(e->d_name + strlen(e->d_name) - 5, ".json") == 0) {
            size_t len;
            char *buf = slurp(path, &len);
            ck_assert_ptr_nonnull(buf);
            fn(path, buf, len);
            free(buf);
            count++;
        }
    }
    closedir(d);
    return count;
}

static void parse_file(const char *path, const char *buf, size_t len)
{
    pc_json_error_t err;
    ck_assert_msg(parse_lim(buf, len, NULL, &err), "%s: %s at %zu", path, err.msg, err.offset);
    char why[256];
    const char *w = json_diff_jansson(buf, len, why, sizeof why);
    ck_assert_msg(!w, "%s: %s", path, w);
}

START_TEST(test_conformance_suite)
{
    char buf[4096];
    const char *dir = suite_dir(buf, sizeof buf);
    ck_assert_msg(dir, "JSON-Schema-Test-Suite not found (PC_JSON_SUITE or PC_SRCDIR/../shared)");
    int n = walk(dir, parse_file);
    ck_assert_int_ge(n, 100);
}
END_TEST

/* Random documents, valid ones and ones with a byte changed. */
typedef struct rnd {
    unsigned long long s;
    char *out;
    size_t len, cap;
} rnd_t;

static unsigned rnd_next(rnd_t *r)
{
    r->s ^= r->s << 13, r->s ^= r->s >> 7, r->s ^= r->s << 17;
    return (unsigned)(r->s >> 11);
}

static void put(rnd_t *r, const char *s)
{
    size_t n = strlen(s);
    if (r->len + n + 1 > r->cap) {
        r->cap = (r->len + n + 1) * 2;
        r->out = realloc(r->out, r->cap);
    }
    memcpy(r->out + r->len, s, n);
    r->len += n;
}

static void gen_string(rnd_t *r)
{
    static const char *parts[] = {"a", "key", "\\u0061", "\\n", "\\\"", "\\\\", "\\/", "\xC3\xA9", "\xE2\x82\xAC",
                                  "\xF0\x9F\x98\x80", "\\uD83D\\uDE00", "\\u00e9", " ", "\\u0000", "b", "c"};
    put(r, "\"");
    for (unsigned i = rnd_next(r) % 5; i > 0; i--)
        put(r, parts[rnd_next(r) % (sizeof parts / sizeof *parts)]);
    put(r, "\"");
}

static void gen_value(rnd_t *r, int depth)
{
    static const char *nums[] = {"0", "-0", "1", "-1", "1.5", "1e2", "1E-2", "12345678901234567890", "0.1",
                                 "-9223372036854775808", "9223372036854775807", "3.14159265358979323846",
                                 "1e308", "2.5e-308", "123456.789e3", "100000000000000000000000"};
    unsigned k = depth > 5 ? rnd_next(r) % 5 : rnd_next(r) % 7;
    switch (k) {
    case 0: put(r, nums[rnd_next(r) % (sizeof nums / sizeof *nums)]); break;
    case 1: gen_string(r); break;
    case 2: put(r, rnd_next(r) % 2 ? "true" : "false"); break;
    case 3: put(r, "null"); break;
    case 4: gen_string(r); break;
    case 5:
        put(r, "[");
        for (unsigned i = rnd_next(r) % 5; i > 0; i--) {
            gen_value(r, depth + 1);
            if (i > 1)
                put(r, rnd_next(r) % 4 ? "," : " , ");
        }
        put(r, "]");
        break;
    default:
        put(r, "{");
        for (unsigned i = rnd_next(r) % 20; i > 0; i--) {
            gen_string(r);
            put(r, ":");
            gen_value(r, depth + 1);
            if (i > 1)
                put(r, ",");
        }
        put(r, "}");
    }
}

START_TEST(test_random_vs_jansson)
{
    rnd_t r = {.s = 0x9E3779B97F4A7C15ull};
    static const char mut[] = "\"\\,:[]{}0-.eE+u\x80\xC3\xED\xF4 \x01";
    int both_ok = 0, both_bad = 0;
    for (int n = 0; n < 20000; n++) {
        r.len = 0;
        gen_value(&r, 0);
        if (n % 2) {
            unsigned flips = 1 + rnd_next(&r) % 3;
            for (unsigned i = 0; i < flips && r.len; i++)
                r.out[rnd_next(&r) % r.len] = mut[rnd_next(&r) % (sizeof mut - 1)];
        }
        char why[256];
        const char *w = json_diff_jansson(r.out, r.len, why, sizeof why);
        if (w)
            ck_abort_msg("%.*s: %s", (int)r.len, r.out, w);
        pc_json_error_t err;
        if (parse_lim(r.out, r.len, NULL, &err))
            both_ok++;
        else
            both_bad++;
        if (n % 500 == 0) {
            json_diff_arena_free(arena);
            arena = json_diff_arena_new();
        }
    }
    free(r.out);
    /* both kinds must have been exercised */
    ck_assert_int_gt(both_ok, 5000);
    ck_assert_int_gt(both_bad, 2000);
}
END_TEST

static Suite *json_suite(void)
{
    Suite *s = suite_create("json_read");
    TCase *tc = tcase_create("rules");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_refusals, 0, (int)(sizeof bad / sizeof *bad));
    tcase_add_test(tc, test_never_reads_past_len);
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_members_nodes_strings);
    tcase_add_test(tc, test_nomem);
    tcase_add_test(tc, test_tree);
    tcase_add_test(tc, test_numbers);
    tcase_add_test(tc, test_locale_independent);
    tcase_add_loop_test(tc, test_num_cmp, 0, (int)(sizeof cmps / sizeof *cmps));
    tcase_add_loop_test(tc, test_multiple_of, 0, (int)(sizeof muls / sizeof *muls));
    tcase_add_test(tc, test_is_integer);
    tcase_add_test(tc, test_equal);
    suite_add_tcase(s, tc);

    TCase *corp = tcase_create("corpora");
    tcase_set_timeout(corp, 300);
    tcase_add_checked_fixture(corp, setup, teardown);
    tcase_add_test(corp, test_doubles_vs_strtod);
    tcase_add_test(corp, test_conformance_suite);
    tcase_add_test(corp, test_random_vs_jansson);
    suite_add_tcase(s, corp);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(json_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
