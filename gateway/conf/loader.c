/* gateway/conf/loader.c: the loader's plumbing shared by every section:
 * the name maps (upstream, plugin and route names to their index), JSON
 * paths for messages ("routes[2].match.path"), escaping of untrusted text,
 * and the error and warning sinks that count the errors of one load. */
#include "conf/conf_int.h"
#include "base/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t smap_slot(const smap_t *m, const char *key)
{
    size_t i = (size_t)pc_hash64(key, strlen(key)) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

const unsigned *pc_ld_map_get(const smap_t *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t i = smap_slot(m, key);
    return m->keys[i] ? &m->vals[i] : NULL;
}

void pc_ld_map_put(smap_t *m, const char *key, unsigned val)
{
    if (2 * (m->n + 1) > m->cap) {
        smap_t g = {NULL, NULL, m->cap ? 2 * m->cap : 16, 0};
        g.keys = pc_xcalloc(g.cap, sizeof(*g.keys));
        g.vals = pc_xcalloc(g.cap, sizeof(*g.vals));
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i])
                pc_ld_map_put(&g, m->keys[i], m->vals[i]);
        free(m->keys);
        free(m->vals);
        *m = g;
    }
    size_t i = smap_slot(m, key);
    if (!m->keys[i])
        m->n++;
    m->keys[i] = key;
    m->vals[i] = val;
}

void pc_ld_map_free(smap_t *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* ---- loader state, paths and messages ----------------------------------- */

void pc_ld_err(ld_t *l, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pc_ld_err(ld_t *l, const char *path, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    l->nerr++;
    pc_diag_error(l->d, path, "%s", msg);
}

void pc_ld_warn(ld_t *l, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pc_ld_warn(ld_t *l, const char *path, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    pc_diag_warn(l->d, path, "%s", msg);
}

/* Untrusted text for a message: printable ASCII only (anything else as
 * \xHH, quotes and backslashes escaped), at most max input bytes. out must
 * hold 4 * max + 4 bytes. */
const char *pc_ld_esc(char *out, size_t outlen, const char *s, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i = 0;
    for (; s[i] && i < max && o + 5 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        } else {
            out[o++] = (char)c;
        }
    }
    if (s[i] && o + 4 < outlen) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* base + "." + key (escaped), truncated to fit; base may be p->s itself. */
const char *pc_ld_key(jp_t *p, const char *base, const char *key)
{
    char k[SHOW_LEN];
    pc_ld_esc(k, sizeof(k), key, SHOW_MAX);
    size_t bl = base ? strlen(base) : 0, kl = strlen(k);
    if (bl > sizeof(p->s) - sizeof(k) - 2)
        bl = sizeof(p->s) - sizeof(k) - 2;
    memmove(p->s, base ? base : "", bl);
    if (bl)
        p->s[bl++] = '.';
    memcpy(p->s + bl, k, kl + 1);
    return p->s;
}

const char *pc_ld_idx(jp_t *p, const char *base, size_t i)
{
    snprintf(p->s, sizeof(p->s), "%.500s[%zu]", base, i);
    return p->s;
}
