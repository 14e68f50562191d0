/* tests/unit/test_path.c: pc_path_canonicalize() rules, idempotence, and a
 * random-input comparison against a naive multi-pass reference. */
#include "http/path.h"
#include "base/util.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct path_case {
    const char *in;
    size_t len;
    pc_path_err_t err;
    const char *out; /* expected output when err is PC_PATH_OK */
} path_case_t;

/* sizeof keeps embedded NULs in the input. */
#define OK(in, out) { in, sizeof(in) - 1, PC_PATH_OK, out }
#define ERR(in, e) { in, sizeof(in) - 1, PC_PATH_##e, NULL }

static const path_case_t cases[] = {
    /* basics and absoluteness */
    OK("/", "/"),
    OK("/a", "/a"),
    OK("/a/b/c", "/a/b/c"),
    OK("/a/", "/a/"),
    OK("/a/b/", "/a/b/"),
    ERR("", EMPTY),
    ERR("a/b", NOT_ABSOLUTE),
    ERR("*", NOT_ABSOLUTE),
    ERR("http://h/a", NOT_ABSOLUTE),
    ERR("./a", NOT_ABSOLUTE),
    ERR("%2Fa", NOT_ABSOLUTE),

    /* slash runs */
    OK("//", "/"),
    OK("///a", "/a"),
    OK("/a//b", "/a/b"),
    OK("/a///b//", "/a/b/"),

    /* RFC 3986 5.4.1 normal examples, base /b/c/d;p */
    OK("/b/c/g", "/b/c/g"),
    OK("/b/c/./g", "/b/c/g"),
    OK("/b/c/g/", "/b/c/g/"),
    OK("/b/c/.", "/b/c/"),
    OK("/b/c/./", "/b/c/"),
    OK("/b/c/..", "/b/"),
    OK("/b/c/../", "/b/"),
    OK("/b/c/../g", "/b/g"),
    OK("/b/c/../..", "/"),
    OK("/b/c/../../", "/"),
    OK("/b/c/../../g", "/g"),
    OK("/b/c/d;p", "/b/c/d;p"),

    /* RFC 3986 5.4.2 abnormal examples */
    OK("/b/c/../../../g", "/g"),
    OK("/b/c/../../../../g", "/g"),
    OK("/./g", "/g"),
    OK("/../g", "/g"),
    OK("/b/c/g.", "/b/c/g."),
    OK("/b/c/.g", "/b/c/.g"),
    OK("/b/c/g..", "/b/c/g.."),
    OK("/b/c/..g", "/b/c/..g"),
    OK("/b/c/./../g", "/b/g"),
    OK("/b/c/./g/.", "/b/c/g/"),
    OK("/b/c/g/./h", "/b/c/g/h"),
    OK("/b/c/g/../h", "/b/c/h"),
    OK("/b/c/g;x=1/./y", "/b/c/g;x=1/y"),
    OK("/b/c/g;x=1/../y", "/b/c/y"),

    /* RFC 3986 5.2.4 examples */
    OK("/a/b/c/./../../g", "/a/g"),
    OK("/mid/content=5/../6", "/mid/6"),

    /* more dot segments */
    OK("/.", "/"),
    OK("/..", "/"),
    OK("/./", "/"),
    OK("/../", "/"),
    OK("/...", "/..."),
    OK("/a/.../b", "/a/.../b"),
    OK("/a/./", "/a/"),
    OK("/a/..//b", "/b"),
    OK("/a//..", "/"),
    OK("/a/b//../c", "/a/c"),
    OK("/a/./././b", "/a/b"),
    OK("/../../../etc/passwd", "/etc/passwd"),

    /* encoded dots are dots */
    OK("/a/%2e%2e/b", "/b"),
    OK("/a/%2E%2E/b", "/b"),
    OK("/a/.%2e/b", "/b"),
    OK("/a/%2e./b", "/b"),
    OK("/a/%2e/b", "/a/b"),
    OK("/a/%2e%2e", "/"),
    OK("/a/%2e", "/a/"),
    OK("/a/%2e%2E%2e", "/a/..."),
    OK("/%2e%2e/%2e%2e/etc/passwd", "/etc/passwd"),
    OK("/a%2Eb", "/a.b"),

    /* unreserved escapes decode, mixed case, others stay encoded uppercase */
    OK("/%41%42c", "/ABc"),
    OK("/%61%7a%30%39", "/az09"),
    OK("/%7e%7E%2d%5f", "/~~-_"),
    OK("/%3a", "/%3A"),
    OK("/%3A", "/%3A"),
    OK("/a%3bb", "/a%3Bb"),
    OK("/a%40b%21", "/a%40b%21"),
    OK("/a%20b", "/a%20b"),
    OK("/%0a", "/%0A"),
    OK("/%7f", "/%7F"),
    OK("/a%23b", "/a%23b"),
    OK("/a%3fb", "/a%3Fb"),

    /* double-decoding attempts: %25 is never decoded, so nothing decodes twice */
    OK("/%25", "/%25"),
    OK("/%252F", "/%252F"),
    OK("/%252f", "/%252f"),
    OK("/%25%32%46", "/%252F"),
    OK("/%25%32%65%25%32%65/x", "/%252e%252e/x"),
    OK("/%2541", "/%2541"),
    OK("/%25c0%25af", "/%25c0%25af"),

    /* malformed escapes */
    ERR("/%", BAD_ESCAPE),
    ERR("/a%", BAD_ESCAPE),
    ERR("/%4", BAD_ESCAPE),
    ERR("/%zz", BAD_ESCAPE),
    ERR("/%4g", BAD_ESCAPE),
    ERR("/%g4", BAD_ESCAPE),
    ERR("/%%41", BAD_ESCAPE),
    ERR("/% 41", BAD_ESCAPE),
    ERR("/%-1", BAD_ESCAPE),

    /* refused escapes */
    ERR("/%00", NUL),
    ERR("/a%00.html", NUL),
    ERR("/%2F", ENCODED_SLASH),
    ERR("/%2f", ENCODED_SLASH),
    ERR("/a%2f..%2fb", ENCODED_SLASH),
    ERR("/%5C", BACKSLASH),
    ERR("/%5c..%5c", BACKSLASH),

    /* raw bytes */
    ERR("/a\0b", NUL),
    ERR("/\0", NUL),
    ERR("/a\\b", BACKSLASH),
    ERR("/..\\..\\x", BACKSLASH),
    ERR("/a\tb", CONTROL),
    ERR("/a\nb", CONTROL),
    ERR("/a\rb", CONTROL),
    ERR("/\x1f", CONTROL),
    ERR("/\x01", CONTROL),
    ERR("/a\x7f", CONTROL),
    ERR("/a#b", BAD_CHAR),
    ERR("/#", BAD_CHAR),
    ERR("/a?b", BAD_CHAR),
    OK("/!$&'()*+,;=:@-._~", "/!$&'()*+,;=:@-._~"),
    OK("/a b", "/a%20b"),
    OK("/\"<>^`{|}[]", "/%22%3C%3E%5E%60%7B%7C%7D%5B%5D"),
    OK("/%22%3c%3e", "/%22%3C%3E"),

    /* UTF-8: raw, encoded and mixed all end up encoded, uppercase */
    OK("/caf\xc3\xa9", "/caf%C3%A9"),
    OK("/caf%c3%a9", "/caf%C3%A9"),
    OK("/caf%C3%a9", "/caf%C3%A9"),
    OK("/caf\xc3%a9", "/caf%C3%A9"),
    OK("/caf%c3\xa9", "/caf%C3%A9"),
    OK("/\xc2\x80", "/%C2%80"),
    OK("/\xe2\x82\xac", "/%E2%82%AC"),
    OK("/\xe0\xa0\x80", "/%E0%A0%80"),
    OK("/\xed\x9f\xbf", "/%ED%9F%BF"),
    OK("/\xee\x80\x80", "/%EE%80%80"),
    OK("/\xef\xbf\xbf", "/%EF%BF%BF"),
    OK("/\xf0\x90\x80\x80", "/%F0%90%80%80"),
    OK("/\xf0\x9f\x98\x80/x", "/%F0%9F%98%80/x"),
    OK("/\xf4\x8f\xbf\xbf", "/%F4%8F%BF%BF"),
    OK("/%e6%97%a5/..", "/"),

    /* invalid UTF-8: overlong (raw and encoded), surrogates, range, truncation */
    ERR("/\xc0\xaf", BAD_UTF8),
    ERR("/%c0%af", BAD_UTF8),
    ERR("/%C0%AE%C0%AE/x", BAD_UTF8),
    ERR("/\xc0%af", BAD_UTF8),
    ERR("/\xc1\xbf", BAD_UTF8),
    ERR("/\xe0\x80\xaf", BAD_UTF8),
    ERR("/%e0%80%af", BAD_UTF8),
    ERR("/\xe0\x9f\xbf", BAD_UTF8),
    ERR("/\xf0\x80\x80\xaf", BAD_UTF8),
    ERR("/%f0%8f%bf%bf", BAD_UTF8),
    ERR("/\xed\xa0\x80", BAD_UTF8),
    ERR("/%ed%bf%bf", BAD_UTF8),
    ERR("/\xf4\x90\x80\x80", BAD_UTF8),
    ERR("/\xf5\x80\x80\x80", BAD_UTF8),
    ERR("/\xf8\x88\x80\x80\x80", BAD_UTF8),
    ERR("/\xff", BAD_UTF8),
    ERR("/\x80", BAD_UTF8),
    ERR("/%80", BAD_UTF8),
    ERR("/\xc3", BAD_UTF8),
    ERR("/%c3", BAD_UTF8),
    ERR("/\xc3/", BAD_UTF8),
    ERR("/\xc3" "a", BAD_UTF8),
    ERR("/%c3%41", BAD_UTF8),
    ERR("/\xe2\x82", BAD_UTF8),
    ERR("/%e2%82/", BAD_UTF8),
    ERR("/\xc3\xa9\xa9", BAD_UTF8),
    ERR("/\xc3\xc3\xa9", BAD_UTF8),

    /* dot segments with ;params (Tomcat/Jetty traversal) */
    ERR("/a/..;/b", DOT_PARAM),
    ERR("/..;", DOT_PARAM),
    ERR("/a/.;/b", DOT_PARAM),
    ERR("/a/..;jsessionid=1/b", DOT_PARAM),
    ERR("/a/%2e%2e;x/b", DOT_PARAM),
    OK("/a/..%3B/b", "/a/..%3B/b"),
    OK("/a/...;/b", "/a/...;/b"),
    OK("/a/;/b", "/a/;/b"),
    OK("/a/b;c/..", "/a/"),
};

static pc_path_err_t canon(const char *in, size_t len, char **out, size_t *out_len)
{
    *out = pc_xmalloc(PC_PATH_OUT_SIZE(len));
    return pc_path_canonicalize(in, len, *out, out_len);
}

START_TEST(test_table)
{
    const path_case_t *c = &cases[_i];
    char *out;
    size_t n;
    pc_path_err_t err = canon(c->in, c->len, &out, &n);

    ck_assert_msg(err == c->err, "case %d: got %s, want %s (out '%s')", _i,
                  pc_path_strerror(err), pc_path_strerror(c->err), out);
    if (err == PC_PATH_OK) {
        ck_assert_str_eq(out, c->out);
        ck_assert_uint_eq(n, strlen(c->out));
    } else {
        ck_assert_str_eq(out, "");
        ck_assert_uint_eq(n, 0);
    }
    free(out);
}
END_TEST

START_TEST(test_table_idempotent)
{
    const path_case_t *c = &cases[_i];
    char *once, *twice;
    size_t n1, n2;

    if (canon(c->in, c->len, &once, &n1) == PC_PATH_OK) {
        ck_assert_int_eq(canon(once, n1, &twice, &n2), PC_PATH_OK);
        ck_assert_str_eq(twice, once);
        free(twice);
    }
    free(once);
}
END_TEST

START_TEST(test_too_long)
{
    size_t max = PC_PATH_MAX_IN;
    char *in = pc_xmalloc(max + 1);
    char *out = pc_xmalloc(PC_PATH_OUT_SIZE(max + 1));
    size_t n;

    memset(in, 'a', max + 1);
    in[0] = '/';
    ck_assert_int_eq(pc_path_canonicalize(in, max + 1, out, &n), PC_PATH_TOO_LONG);
    ck_assert_int_eq(pc_path_canonicalize(in, max, out, &n), PC_PATH_OK);
    ck_assert_uint_eq(n, max);
    free(in);
    free(out);
}
END_TEST

/* The worst case expansion fills PC_PATH_OUT_SIZE exactly (ASan checks the
 * bound, since the buffer is allocated to that size). */
START_TEST(test_worst_expansion)
{
    size_t len = 1000;
    char *in = pc_xmalloc(len);
    char *out;
    size_t n;

    in[0] = '/';
    memset(in + 1, ' ', len - 1);
    ck_assert_int_eq(canon(in, len, &out, &n), PC_PATH_OK);
    ck_assert_uint_eq(n, 1 + 3 * (len - 1));
    free(out);
    free(in);
}
END_TEST

START_TEST(test_split_query)
{
    ck_assert_uint_eq(pc_path_split_query("/a?b", 4), 2);
    ck_assert_uint_eq(pc_path_split_query("/a?b?c", 6), 2);
    ck_assert_uint_eq(pc_path_split_query("/a", 2), 2);
    ck_assert_uint_eq(pc_path_split_query("?x", 2), 0);
    ck_assert_uint_eq(pc_path_split_query("/a?", 3), 2);
    ck_assert_uint_eq(pc_path_split_query("/a?b", 2), 2); /* len bounds the search */
    ck_assert_uint_eq(pc_path_split_query("", 0), 0);
    ck_assert_uint_eq(pc_path_split_query(NULL, 0), 0);
}
END_TEST

static int double_encoded(const char *raw)
{
    char out[256];
    size_t n;
    ck_assert_int_eq(pc_path_canonicalize(raw, strlen(raw), out, &n), PC_PATH_OK);
    return pc_path_double_encoded(out, n);
}

START_TEST(test_double_encoding_detected)
{
    ck_assert(double_encoded("/a/%252e%252e%252fadmin"));
    ck_assert(double_encoded("/%252F"));
    ck_assert(double_encoded("/x%2541"));
    ck_assert(double_encoded("/x/%25ff"));
    ck_assert(!double_encoded("/a/%25"));      /* a literal '%' */
    ck_assert(!double_encoded("/a/%25z1"));
    ck_assert(!double_encoded("/a/%25g0/x"));
    ck_assert(!double_encoded("/a/%2e%2e/b"));  /* single encoding, decoded */
    ck_assert(!double_encoded("/a/b%3A"));
    ck_assert(!double_encoded("/"));
    ck_assert(!pc_path_double_encoded("%25", 3));
    ck_assert(pc_path_double_encoded("%2500", 5));
}
END_TEST

START_TEST(test_strerror)
{
    for (int e = PC_PATH_OK; e <= PC_PATH_DOT_PARAM; e++) {
        const char *s = pc_path_strerror((pc_path_err_t)e);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_gt(strlen(s), 0);
        for (int f = PC_PATH_OK; f < e; f++)
            ck_assert_str_ne(s, pc_path_strerror((pc_path_err_t)f));
    }
    ck_assert_str_eq(pc_path_strerror((pc_path_err_t)999), "invalid path");
}
END_TEST

/* ---- naive reference: one rule per pass, RFC 5.2.4 loop taken literally ---- */

typedef struct ref_unit {
    unsigned char b;
    bool enc;
} ref_unit_t;

static int ref_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t ref_tokenise(const char *in, size_t len, ref_unit_t *u)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        if (in[i] != '%') {
            u[n++] = (ref_unit_t){ (unsigned char)in[i++], false };
            continue;
        }
        if (i + 2 >= len || ref_hex(in[i + 1]) < 0 || ref_hex(in[i + 2]) < 0)
            return SIZE_MAX;
        u[n++] = (ref_unit_t){ (unsigned char)(ref_hex(in[i + 1]) * 16 + ref_hex(in[i + 2])), true };
        i += 3;
    }
    return n;
}

static bool ref_refused_byte(ref_unit_t u)
{
    if (u.b == 0)
        return true;
    if (u.enc)
        return u.b == '/' || u.b == '\\';
    return u.b < 0x20 || u.b == 0x7f || u.b == '\\' || u.b == '#' || u.b == '?';
}

/* Decode code points explicitly rather than with a state machine. */
static bool ref_utf8_ok(const ref_unit_t *u, size_t n)
{
    for (size_t k = 0; k < n;) {
        unsigned b = u[k].b;
        if (b < 0x80) {
            k++;
            continue;
        }
        int cnt = b >= 0xF8 ? -1 : b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : -1;
        if (cnt < 0)
            return false;
        uint32_t cp = b & (0x3Fu >> cnt);
        for (int j = 1; j <= cnt; j++) {
            if (k + j >= n || (u[k + j].b & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (u[k + j].b & 0x3F);
        }
        uint32_t min = cnt == 1 ? 0x80 : cnt == 2 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        k += (size_t)cnt + 1;
    }
    return true;
}

static void ref_render(const ref_unit_t *u, size_t n, char *s)
{
    size_t o = 0;
    for (size_t k = 0; k < n; k++) {
        unsigned char b = u[k].b;
        bool unreserved = b < 0x80 && (strchr("-._~", b) || (b >= 'a' && b <= 'z') ||
                                       (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9'));
        if ((!u[k].enc && b == '/') || (b != 0 && unreserved) ||
            (!u[k].enc && b != 0 && strchr("!$&'()*+,;=:@", b)))
            s[o++] = (char)b;
        else
            o += (size_t)sprintf(s + o, "%%%02X", b);
    }
    s[o] = '\0';
}

static void ref_merge_slashes(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++)
        if (!(*r == '/' && w > s && w[-1] == '/'))
            *w++ = *r;
    *w = '\0';
}

static bool ref_has_dot_param(const char *s)
{
    for (const char *p = s; (p = strchr(p, '/')) != NULL; p++)
        if (!strncmp(p, "/.;", 3) || !strncmp(p, "/..;", 4))
            return true;
    return false;
}

/* RFC 3986 5.2.4, rules B, C and E (A and D cannot apply: input starts with '/'). */
static void ref_remove_dots(char *in, char *out)
{
    size_t o = 0;
    out[0] = '\0';
    while (*in) {
        if (!strncmp(in, "/./", 3)) {
            in += 2;
        } else if (!strcmp(in, "/.")) {
            in[1] = '\0';
        } else if (!strncmp(in, "/../", 4) || !strcmp(in, "/..")) {
            if (in[3])
                in += 3;
            else
                in[1] = '\0';
            char *slash = strrchr(out, '/');
            o = slash ? (size_t)(slash - out) : 0;
            out[o] = '\0';
        } else {
            size_t n = 1 + strcspn(in + 1, "/");
            memcpy(out + o, in, n);
            o += n;
            out[o] = '\0';
            in += n;
        }
    }
}

/* 0 and the canonical form in out, or -1 when the rules refuse the input. */
static int ref_canon(const char *in, size_t len, char *out)
{
    int rc = -1;
    ref_unit_t *u = pc_xmalloc((len + 1) * sizeof(*u));
    char *s = pc_xmalloc(3 * len + 1);

    if (len == 0 || len > PC_PATH_MAX_IN || in[0] != '/')
        goto done;
    size_t n = ref_tokenise(in, len, u);
    if (n == SIZE_MAX)
        goto done;
    for (size_t k = 0; k < n; k++)
        if (ref_refused_byte(u[k]))
            goto done;
    if (!ref_utf8_ok(u, n))
        goto done;
    ref_render(u, n, s);
    ref_merge_slashes(s);
    if (ref_has_dot_param(s))
        goto done;
    ref_remove_dots(s, out);
    rc = 0;
done:
    free(s);
    free(u);
    return rc;
}

/* ---- random inputs ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* The first SAFE_FRAGMENTS entries never cause a refusal on their own; half
 * the rounds use only those, so plenty of inputs get through to the output
 * comparison. The rest aim at each refusal rule. */
enum { SAFE_FRAGMENTS = 26 };
static const char *const fragments[] = {
    "/", "/", "/", "//", ".", "..", ".", "%2e", "%2E", "a", "b", "%41", "%7e", "%3a", "%3A",
    "%25", "\xe2\x82\xac", "%E2%82%AC", "%c3%a9", "\xc3%a9", ";", " ", "~", "%20", ":", "@",
    "%", "%z", "%c3", "%a9", "\xc3", "\xa9", "\xc0\xaf", "%C0%AF", "?", "\\", "%2F",
    "\xed\xa0\x80", "\xf0\x9f\x98\x80", "\x01", "%00", "%5c",
};

static size_t random_input(char *buf, size_t cap)
{
    size_t len = 0;
    unsigned parts = rng_next() % 16;
    bool safe = rng_next() % 2 == 0;
    size_t nfrag = safe ? SAFE_FRAGMENTS : PC_ARRAY_LEN(fragments);

    if (rng_next() % 10 != 0)
        buf[len++] = '/';
    for (unsigned p = 0; p < parts; p++) {
        if (!safe && rng_next() % 8 == 0) {
            if (len < cap)
                buf[len++] = (char)(rng_next() & 0xFF);
            continue;
        }
        const char *f = fragments[rng_next() % nfrag];
        size_t n = strlen(f);
        if (len + n > cap)
            break;
        memcpy(buf + len, f, n);
        len += n;
    }
    return len;
}

static void check_canonical_shape(const char *out, size_t n)
{
    ck_assert_uint_eq(strlen(out), n);
    ck_assert(out[0] == '/');
    ck_assert_ptr_null(strstr(out, "//"));
    ck_assert_ptr_null(strstr(out, "/./"));
    ck_assert_ptr_null(strstr(out, "/../"));
    ck_assert(!(n >= 2 && !strcmp(out + n - 2, "/.")));
    ck_assert(!(n >= 3 && !strcmp(out + n - 3, "/..")));
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)out[k];
        ck_assert(c > 0x20 && c < 0x7f);
        if (c == '%') {
            ck_assert(strchr("0123456789ABCDEF", out[k + 1]) && out[k + 1]);
            ck_assert(strchr("0123456789ABCDEF", out[k + 2]) && out[k + 2]);
        }
    }
}

START_TEST(test_random_vs_reference)
{
    enum { ROUNDS = 100000, CAP = 64 };
    char buf[CAP];
    char ref[3 * CAP + 1];

    for (int r = 0; r < ROUNDS; r++) {
        size_t len = random_input(buf, CAP);
        /* exact-size copies, so ASan sees any over-read or over-write */
        char *in = pc_xmalloc(len ? len : 1);
        memcpy(in, buf, len);
        char *out, *again;
        size_t n, n2;
        pc_path_err_t err = canon(in, len, &out, &n);
        int ref_rc = ref_canon(in, len, ref);

        ck_assert_msg((err == PC_PATH_OK) == (ref_rc == 0), "round %d: %s vs reference %d", r,
                      pc_path_strerror(err), ref_rc);
        if (err == PC_PATH_OK) {
            ck_assert_str_eq(out, ref);
            ck_assert_uint_le(n, 3 * len);
            check_canonical_shape(out, n);
            ck_assert_int_eq(canon(out, n, &again, &n2), PC_PATH_OK);
            ck_assert_str_eq(again, out);
            free(again);
        }
        free(out);
        free(in);
    }
}
END_TEST

static Suite *path_suite(void)
{
    Suite *s = suite_create("path");
    TCase *tc = tcase_create("rules");
    tcase_add_loop_test(tc, test_table, 0, (int)PC_ARRAY_LEN(cases));
    tcase_add_loop_test(tc, test_table_idempotent, 0, (int)PC_ARRAY_LEN(cases));
    tcase_add_test(tc, test_too_long);
    tcase_add_test(tc, test_worst_expansion);
    tcase_add_test(tc, test_split_query);
    tcase_add_test(tc, test_strerror);
    tcase_add_test(tc, test_double_encoding_detected);
    suite_add_tcase(s, tc);

    TCase *prop = tcase_create("property");
    tcase_set_timeout(prop, 120);
    tcase_add_test(prop, test_random_vs_reference);
    suite_add_tcase(s, prop);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(path_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
