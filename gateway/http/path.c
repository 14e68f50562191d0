/* gateway/http/path.c: request-path canonicalisation (rules in path.h).
 *
 * One left-to-right pass over the input writes the output directly. Dot
 * segments are resolved at each segment end by rewinding the output, which
 * keeps the whole thing O(n): a byte is scanned backwards at most once, when
 * the segment that holds it is dropped. No allocation. */
#include "http/path.h"
#include "base/util.h"

#include <stdbool.h>
#include <ctype.h>
#include <string.h>

/* What a raw input byte is, before any context is taken into account. */
typedef enum path_class {
    PATH_KEEP,      /* pchar that RFC 3986 allows raw: copied */
    PATH_ENCODE,    /* not allowed raw, but harmless: percent-encoded */
    PATH_SLASH,     /* segment separator */
    PATH_PCT,       /* start of an escape */
    PATH_HIGH,      /* >= 0x80: part of a UTF-8 sequence */
    PATH_NUL,
    PATH_CONTROL,
    PATH_BACKSLASH,
    PATH_BAD_CHAR,  /* '#', '?' */
} path_class_t;

/* UTF-8 decoder state: how many continuation bytes are still due, and the
 * range the next one must fall in. The narrowed ranges after E0, ED, F0 and
 * F4 are what rule out overlong forms, surrogates and code points above
 * U+10FFFF (RFC 3629 section 4). */
typedef struct path_utf8 {
    unsigned need;
    unsigned char lo, hi;
} path_utf8_t;

typedef struct path_out {
    char *buf;
    size_t len;     /* bytes written so far; buf[0] is always '/' */
    size_t seg;     /* where the current segment starts in buf */
    path_utf8_t u8;
} path_out_t;

static const char path_hex[] = "0123456789ABCDEF";

static bool path_is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool path_is_unreserved(unsigned char c)
{
    return path_is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static path_class_t path_classify(unsigned char c)
{
    if (c >= 0x80)
        return PATH_HIGH;
    if (path_is_alnum(c))
        return PATH_KEEP;
    switch (c) {
    case '-': case '.': case '_': case '~':                       /* unreserved */
    case '!': case '$': case '&': case '\'': case '(': case ')':  /* sub-delims */
    case '*': case '+': case ',': case ';': case '=':
    case ':': case '@':
        return PATH_KEEP;
    case ' ': case '"': case '<': case '>': case '[': case ']':
    case '^': case '`': case '{': case '|': case '}':
        return PATH_ENCODE;
    case '/':
        return PATH_SLASH;
    case '%':
        return PATH_PCT;
    case '\\':
        return PATH_BACKSLASH;
    case '#': case '?':
        return PATH_BAD_CHAR;
    case '\0':
        return PATH_NUL;
    default:
        return PATH_CONTROL; /* 0x01-0x1F and 0x7F: everything else is listed */
    }
}

/* Feed one byte >= 0x80 to the decoder; -1 when it cannot be valid UTF-8. */
static int path_utf8_feed(path_utf8_t *u, unsigned char b)
{
    if (u->need > 0) {
        if (b < u->lo || b > u->hi)
            return -1;
        u->need--;
        u->lo = 0x80;
        u->hi = 0xBF;
        return 0;
    }
    u->lo = 0x80;
    u->hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
        u->need = 1;
    } else if (b >= 0xE0 && b <= 0xEF) {
        u->need = 2;
        if (b == 0xE0)
            u->lo = 0xA0; /* below is overlong */
        else if (b == 0xED)
            u->hi = 0x9F; /* above is a surrogate */
    } else if (b >= 0xF0 && b <= 0xF4) {
        u->need = 3;
        if (b == 0xF0)
            u->lo = 0x90; /* below is overlong */
        else if (b == 0xF4)
            u->hi = 0x8F; /* above is past U+10FFFF */
    } else {
        return -1; /* stray continuation, C0/C1 overlong lead, or F5-FF */
    }
    return 0;
}

static void path_put_pct(path_out_t *o, unsigned char b)
{
    o->buf[o->len++] = '%';
    o->buf[o->len++] = path_hex[b >> 4];
    o->buf[o->len++] = path_hex[b & 0x0F];
}

/* The segment just written is complete. Drop it if it is "." or "..", and
 * open the next one (after a '/' when more input follows). Empty segments
 * write nothing, which is what merges runs of '/'. */
static pc_path_err_t path_end_segment(path_out_t *o, bool more)
{
    const char *s = o->buf + o->seg;
    size_t n = o->len - o->seg;

    if (n >= 2 && s[0] == '.' && (s[1] == ';' || (n >= 3 && s[1] == '.' && s[2] == ';')))
        return PC_PATH_DOT_PARAM;
    if (n == 1 && s[0] == '.') {
        o->len = o->seg;
    } else if (n == 2 && s[0] == '.' && s[1] == '.') {
        o->len = o->seg;
        if (o->len > 1) {
            /* buf[len - 1] is the '/' ending the parent; rewind past the parent. */
            o->len--;
            while (o->buf[o->len - 1] != '/')
                o->len--;
        }
    } else if (n > 0 && more) {
        o->buf[o->len++] = '/';
    }
    o->seg = o->len;
    return PC_PATH_OK;
}

/* in[*i] is '%'. Validate and emit one escape, advancing *i past it. */
static pc_path_err_t path_escape(path_out_t *o, const unsigned char *in, size_t len, size_t *i)
{
    if (len - *i < 3)
        return PC_PATH_BAD_ESCAPE;
    int hi = pc_hex_digit((unsigned char)in[*i + 1]);
    int lo = pc_hex_digit((unsigned char)in[*i + 2]);
    if (hi < 0 || lo < 0)
        return PC_PATH_BAD_ESCAPE;
    unsigned char b = (unsigned char)(hi << 4 | lo);
    *i += 3;

    if (b >= 0x80) {
        if (path_utf8_feed(&o->u8, b) != 0)
            return PC_PATH_BAD_UTF8;
        path_put_pct(o, b);
        return PC_PATH_OK;
    }
    if (b == 0)
        return PC_PATH_NUL;
    if (b == '/')
        return PC_PATH_ENCODED_SLASH;
    if (b == '\\')
        return PC_PATH_BACKSLASH;
    if (o->u8.need > 0)
        return PC_PATH_BAD_UTF8;
    if (path_is_unreserved(b))
        o->buf[o->len++] = (char)b;
    else
        path_put_pct(o, b); /* reserved meaning survives: never decoded */
    return PC_PATH_OK;
}

/* The body of pc_path_canonicalize: in[0] is known to be '/'. */
static pc_path_err_t path_run(path_out_t *o, const unsigned char *in, size_t len)
{
    pc_path_err_t err = PC_PATH_OK;
    size_t i = 1;

    o->buf[0] = '/';
    o->len = o->seg = 1;
    while (i < len && err == PC_PATH_OK) {
        unsigned char c = in[i];
        path_class_t cls = path_classify(c);

        if (cls == PATH_PCT) {
            err = path_escape(o, in, len, &i);
            continue;
        }
        if (cls == PATH_HIGH) {
            if (path_utf8_feed(&o->u8, c) != 0)
                return PC_PATH_BAD_UTF8;
            path_put_pct(o, c);
            i++;
            continue;
        }
        switch (cls) {
        case PATH_NUL:       return PC_PATH_NUL;
        case PATH_CONTROL:   return PC_PATH_CONTROL;
        case PATH_BACKSLASH: return PC_PATH_BACKSLASH;
        case PATH_BAD_CHAR:  return PC_PATH_BAD_CHAR;
        default:             break;
        }
        /* Plain ASCII from here on: it cannot sit inside a UTF-8 sequence. */
        if (o->u8.need > 0)
            return PC_PATH_BAD_UTF8;
        if (cls == PATH_KEEP)
            o->buf[o->len++] = (char)c;
        else if (cls == PATH_ENCODE)
            path_put_pct(o, c);
        else
            err = path_end_segment(o, true);
        i++;
    }
    if (err != PC_PATH_OK)
        return err;
    if (o->u8.need > 0)
        return PC_PATH_BAD_UTF8;
    return path_end_segment(o, false);
}

pc_path_err_t pc_path_canonicalize(const char *raw, size_t len, char *out, size_t *out_len)
{
    PC_ASSERT(out != NULL && out_len != NULL);
    PC_ASSERT(raw != NULL || len == 0);

    out[0] = '\0';
    *out_len = 0;
    if (len == 0)
        return PC_PATH_EMPTY;
    if (len > PC_PATH_MAX_IN)
        return PC_PATH_TOO_LONG;
    if (raw[0] != '/')
        return PC_PATH_NOT_ABSOLUTE;

    path_out_t o = { .buf = out };
    pc_path_err_t err = path_run(&o, (const unsigned char *)raw, len);
    if (err != PC_PATH_OK) {
        out[0] = '\0';
        return err;
    }
    out[o.len] = '\0';
    *out_len = o.len;
    return PC_PATH_OK;
}

const char *pc_path_strerror(pc_path_err_t e)
{
    switch (e) {
    case PC_PATH_OK:            return "ok";
    case PC_PATH_EMPTY:         return "empty path";
    case PC_PATH_NOT_ABSOLUTE:  return "path must start with '/'";
    case PC_PATH_BAD_ESCAPE:    return "malformed percent-escape in path";
    case PC_PATH_ENCODED_SLASH: return "encoded '/' in path";
    case PC_PATH_NUL:           return "NUL byte in path";
    case PC_PATH_BACKSLASH:     return "backslash in path";
    case PC_PATH_BAD_UTF8:      return "invalid UTF-8 in path";
    case PC_PATH_CONTROL:       return "control character in path";
    case PC_PATH_TOO_LONG:      return "path too long";
    case PC_PATH_BAD_CHAR:      return "'#' or '?' in path";
    case PC_PATH_DOT_PARAM:     return "dot segment with parameters in path";
    }
    return "invalid path"; /* out-of-range value from a caller */
}

size_t pc_path_split_query(const char *target, size_t len)
{
    PC_ASSERT(target != NULL || len == 0);
    const char *q = len ? memchr(target, '?', len) : NULL;
    return q ? (size_t)(q - target) : len;
}

int pc_path_double_encoded(const char *canon, size_t len)
{
    for (size_t i = 0; i + 5 <= len; i++)
        if (canon[i] == '%' && canon[i + 1] == '2' && canon[i + 2] == '5' &&
            isxdigit((unsigned char)canon[i + 3]) && isxdigit((unsigned char)canon[i + 4]))
            return 1;
    return 0;
}
