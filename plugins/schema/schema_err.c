/* plugins/schema/schema_err.c: filling one pc_schema_error_t (only when a
 * failure is reported, so none of this is on the fast path). */
#include "schema_int.h"

#include <stdio.h>
#include <string.h>

typedef struct sbuf {
    char *p;
    size_t cap, len;
    bool full;
} sbuf_t;

/* Appends n bytes unless they do not fit (then nothing more is added, so
 * an escape or a UTF-8 sequence is never cut). */
static void put(sbuf_t *b, const char *s, size_t n)
{
    if (b->full || b->len + n >= b->cap) {
        b->full = true;
        return;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static size_t utf8_len(unsigned char ch)
{
    return ch < 0x80 ? 1 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : 2;
}

/* JSON string escaping; bytes >= 0x80 are kept (the tree holds valid
 * UTF-8), whole characters at a time. */
static void put_escaped(sbuf_t *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len && !b->full;) {
        unsigned char ch = (unsigned char)s[i];
        char esc[8];
        if (ch == '"' || ch == '\\') {
            esc[0] = '\\';
            esc[1] = (char)ch;
            put(b, esc, 2);
        } else if (ch == '\n' || ch == '\r' || ch == '\t') {
            esc[0] = '\\';
            esc[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
            put(b, esc, 2);
        } else if (ch < 0x20 || ch == 0x7F) {
            snprintf(esc, sizeof esc, "\\u%04x", ch);
            put(b, esc, 6);
        } else {
            size_t n = utf8_len(ch);
            if (i + n > len)
                n = len - i;
            put(b, s + i, n);
            i += n;
            continue;
        }
        i++;
    }
}

static void put_json(sbuf_t *b, const pc_json_t *x, unsigned depth)
{
    switch (x->type) {
    case PC_JSON_NULL:
        put(b, "null", 4);
        break;
    case PC_JSON_FALSE:
        put(b, "false", 5);
        break;
    case PC_JSON_TRUE:
        put(b, "true", 4);
        break;
    case PC_JSON_NUMBER:
        put(b, x->u.num.text, x->len);
        break;
    case PC_JSON_STRING:
        put(b, "\"", 1);
        put_escaped(b, x->u.str, x->len);
        put(b, "\"", 1);
        break;
    case PC_JSON_ARRAY:
        put(b, "[", 1);
        for (uint32_t i = 0; i < x->len && !b->full; i++) {
            if (i)
                put(b, ",", 1);
            if (depth > 4)
                put(b, "...", 3);
            else
                put_json(b, x->u.items[i], depth + 1);
        }
        put(b, "]", 1);
        break;
    case PC_JSON_OBJECT:
        put(b, "{", 1);
        for (uint32_t i = 0; i < x->len && !b->full; i++) {
            if (i)
                put(b, ",", 1);
            put(b, "\"", 1);
            put_escaped(b, x->u.members[i].key, x->u.members[i].klen);
            put(b, "\":", 2);
            if (depth > 4)
                put(b, "...", 3);
            else
                put_json(b, x->u.members[i].value, depth + 1);
        }
        put(b, "}", 1);
        break;
    default:
        break;
    }
}

void pc_schema_excerpt(char *out, size_t cap, const pc_json_t *x)
{
    /* at most 40 bytes of text, "..." after a cut */
    char tmp[41];
    sbuf_t b = {tmp, sizeof tmp, 0, false};
    tmp[0] = '\0';
    put_json(&b, x, 0);
    snprintf(out, cap, "%s%s", tmp, b.full ? "..." : "");
}

/* RFC 6901: "~" is "~0" and "/" is "~1"; a frame chain is written root
 * first. A pointer that does not fit ends with "...". */
static void put_pointer(sbuf_t *b, const pc_ipath_t *ip)
{
    const pc_ipath_t *chain[64];
    size_t n = 0;
    for (; ip; ip = ip->up)
        if (n < sizeof chain / sizeof chain[0])
            chain[n++] = ip;
        else
            chain[n - 1] = ip; /* very deep: keep the root end */
    while (n-- > 0 && !b->full) {
        const pc_ipath_t *f = chain[n];
        put(b, "/", 1);
        if (!f->key) {
            char idx[16];
            put(b, idx, (size_t)snprintf(idx, sizeof idx, "%u", f->idx));
            continue;
        }
        for (uint32_t i = 0; i < f->klen; i++) {
            if (f->key[i] == '~')
                put(b, "~0", 2);
            else if (f->key[i] == '/')
                put(b, "~1", 2);
            else if ((unsigned char)f->key[i] < 0x20)
                put(b, "?", 1); /* controls never reach a log line */
            else
                put(b, &f->key[i], 1);
        }
    }
}

void pc_schema_err_fill(pc_schema_error_t *e, const pc_snode_t *n, const char *kw, const pc_ipath_t *ip,
                        const pc_json_t *x, const char *msg)
{
    sbuf_t b = {e->instance, sizeof e->instance - 3, 0, false};
    e->instance[0] = '\0';
    put_pointer(&b, ip);
    if (b.full)
        strcat(e->instance, "...");
    const char *path = n ? n->path : "";
    if (n && n->kind == PC_SN_FALSE)
        snprintf(e->schema, sizeof e->schema, "%s", path);
    else
        snprintf(e->schema, sizeof e->schema, "%s/%s", path, kw);
    e->keyword = kw;
    snprintf(e->message, sizeof e->message, "%s", msg);
    pc_schema_excerpt(e->excerpt, sizeof e->excerpt, x);
}
