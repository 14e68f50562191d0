/* plugins/jwt/jwt_http.c: credential extraction and the small HTTP parsers
 * of the jwt plugin. See jwt_http.h. */
#include "jwt_http.h"

#include <portcullis/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#define JWT_MAX_AGE_CAP (10L * 365 * 86400)

static int jwt_is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 6750 b64token characters, as a table: this runs over every byte of
 * every token on the request path. */
static const unsigned char jwt_b64token_tab[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1,
    ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1,
    ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1, ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1,
    ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1, ['-'] = 1, ['.'] = 1,
    ['_'] = 1, ['~'] = 1, ['+'] = 1, ['/'] = 1,
};

jwt_authz_t jwt_http_bearer(const char *value, size_t len, const char **tok, size_t *toklen)
{
    static const char scheme[] = "bearer";
    const size_t sl = sizeof(scheme) - 1;
    size_t i, start;

    *tok = NULL;
    *toklen = 0;
    while (len && (value[len - 1] == ' ' || value[len - 1] == '\t'))
        len--;
    i = 0;
    while (i < len && (value[i] == ' ' || value[i] == '\t'))
        i++;
    value += i;
    len -= i;
    /* The scheme is the first token; only "Bearer" is ours. */
    if (len < sl || strncasecmp(value, scheme, sl) != 0)
        return JWT_AUTHZ_OTHER;
    if (len > sl && value[sl] != ' ' && value[sl] != '\t')
        return JWT_AUTHZ_OTHER; /* "Bearerx": another scheme */
    i = sl;
    if (i == len || value[i] != ' ')
        return JWT_AUTHZ_MALFORMED; /* "Bearer" alone, or a tab after it */
    while (i < len && value[i] == ' ')
        i++;
    start = i;
    while (i < len && jwt_b64token_tab[(unsigned char)value[i]])
        i++;
    if (i == start)
        return JWT_AUTHZ_MALFORMED;
    while (i < len && value[i] == '=')
        i++;
    if (i != len)
        return JWT_AUTHZ_MALFORMED; /* a second token, a comma, a control character */
    *tok = value + start;
    *toklen = len - start;
    return JWT_AUTHZ_BEARER;
}

/* Shared by cookies (';' separated, spaces around) and query strings ('&'). */
static int jwt_find_pair(const char *s, size_t len, char sep, int trim, const char *name,
                         const char **val, size_t *vlen)
{
    size_t nlen = strlen(name), i = 0;
    int found = 0;

    *val = NULL;
    *vlen = 0;
    while (i < len) {
        size_t end = i, eq;
        while (end < len && s[end] != sep)
            end++;
        size_t a = i, b = end;
        if (trim) {
            while (a < b && (s[a] == ' ' || s[a] == '\t'))
                a++;
            while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
                b--;
        }
        for (eq = a; eq < b && s[eq] != '='; eq++)
            ;
        size_t klen = eq - a;
        if (trim)
            while (klen && (s[a + klen - 1] == ' ' || s[a + klen - 1] == '\t'))
                klen--;
        if (eq < b && klen == nlen && memcmp(s + a, name, nlen) == 0) {
            size_t va = eq + 1, vb = b;
            if (trim)
                while (va < vb && (s[va] == ' ' || s[va] == '\t'))
                    va++;
            if (trim && vb - va >= 2 && s[va] == '"' && s[vb - 1] == '"') {
                va++;
                vb--;
            }
            if (found++ == 0) {
                *val = s + va;
                *vlen = vb - va;
            }
            if (found == 2)
                return 2;
        }
        i = end + 1;
    }
    return found;
}

int jwt_http_cookie(const char *hdr, size_t len, const char *name, const char **val,
                    size_t *vlen)
{
    return jwt_find_pair(hdr, len, ';', 1, name, val, vlen);
}

int jwt_http_query(const char *query, size_t len, const char *name, const char **val,
                   size_t *vlen)
{
    return jwt_find_pair(query, len, '&', 0, name, val, vlen);
}

/* A delta-seconds value: digits, optionally quoted; -1 if malformed. */
static long jwt_delta_seconds(const char *s, size_t n)
{
    long v = 0;

    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    }
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (v < JWT_MAX_AGE_CAP)
            v = v * 10 + (s[i] - '0');
    }
    return v > JWT_MAX_AGE_CAP ? JWT_MAX_AGE_CAP : v;
}

long jwt_http_max_age(const char *cc, int *no_cache)
{
    long max_age = -1, s_maxage = -1;
    const char *p = cc;

    *no_cache = 0;
    if (!cc)
        return -1;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        const char *eq = memchr(start, '=', (size_t)(end - start));
        size_t nlen = (size_t)((eq ? eq : end) - start);
        while (nlen && (start[nlen - 1] == ' ' || start[nlen - 1] == '\t'))
            nlen--;
        const char *v = eq ? eq + 1 : end;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        if (nlen == 7 && strncasecmp(start, "max-age", 7) == 0 && eq)
            max_age = jwt_delta_seconds(v, (size_t)(end - v));
        else if (nlen == 8 && strncasecmp(start, "s-maxage", 8) == 0 && eq)
            s_maxage = jwt_delta_seconds(v, (size_t)(end - v));
        else if ((nlen == 8 && strncasecmp(start, "no-store", 8) == 0) ||
                 (nlen == 8 && strncasecmp(start, "no-cache", 8) == 0))
            *no_cache = 1;
    }
    return s_maxage >= 0 ? s_maxage : max_age;
}

char *jwt_http_form_escape(const char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = pc_xmalloc(len * 3 + 1), *o = out;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (jwt_is_alnum(c) || c == '*' || c == '-' || c == '.' || c == '_') {
            *o++ = (char)c;
        } else if (c == ' ') {
            *o++ = '+';
        } else {
            *o++ = '%';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o = '\0';
    return out;
}

char *jwt_http_basic_credentials(const char *id, const char *secret, size_t secret_len)
{
    char *eid = jwt_http_form_escape(id, strlen(id));
    char *esec = jwt_http_form_escape(secret, secret_len);
    size_t n = strlen(eid) + 1 + strlen(esec);
    char *plain = pc_xmalloc(n + 1);
    char *out = pc_xmalloc(6 + (n + 2) / 3 * 4 + 1);

    snprintf(plain, n + 1, "%s:%s", eid, esec);
    memcpy(out, "Basic ", 6);
    EVP_EncodeBlock((unsigned char *)out + 6, (const unsigned char *)plain, (int)n);
    /* secrets do not linger in freed memory */
    memset(plain, 0, n);
    memset(esec, 0, strlen(esec));
    free(plain);
    free(esec);
    free(eid);
    return out;
}

int jwt_http_value_ok(const char *s, size_t len)
{
    if (len > 8192)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}
