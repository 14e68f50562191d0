/* plugins/schema/schema_uri.c: see schema_uri.h. */
#include "schema_uri.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct uri_parts {
    const char *scheme, *auth, *path, *query, *frag;
    size_t scheme_len, auth_len, path_len, query_len, frag_len;
    bool has_auth, has_query, has_frag;
} uri_parts_t;

static void uri_split(const char *s, uri_parts_t *u)
{
    memset(u, 0, sizeof *u);
    size_t i = strcspn(s, ":/?#");
    if (s[i] == ':' && i > 0) {
        u->scheme = s;
        u->scheme_len = i;
        s += i + 1;
    }
    if (s[0] == '/' && s[1] == '/') {
        s += 2;
        u->has_auth = true;
        u->auth = s;
        u->auth_len = strcspn(s, "/?#");
        s += u->auth_len;
    }
    u->path = s;
    u->path_len = strcspn(s, "?#");
    s += u->path_len;
    if (*s == '?') {
        u->has_query = true;
        u->query = ++s;
        u->query_len = strcspn(s, "#");
        s += u->query_len;
    }
    if (*s == '#') {
        u->has_frag = true;
        u->frag = s + 1;
        u->frag_len = strlen(s + 1);
    }
}

/* RFC 3986 5.2.4, in place on a NUL-terminated path. */
static void remove_dots(char *p)
{
    char *in = p, *out = p;
    while (*in) {
        if (!strncmp(in, "../", 3)) {
            in += 3;
        } else if (!strncmp(in, "./", 2)) {
            in += 2;
        } else if (!strncmp(in, "/./", 3)) {
            in += 2;
        } else if (!strcmp(in, "/.")) {
            in[1] = '\0';
        } else if (!strncmp(in, "/../", 4) || !strcmp(in, "/..")) {
            /* "/../x" becomes "/x" and "/.." becomes "/"; drop the last
             * output segment */
            if (in[3] == '/') {
                in += 3;
            } else {
                in += 2;
                *in = '/';
            }
            while (out > p && *--out != '/')
                ;
        } else if (!strcmp(in, ".") || !strcmp(in, "..")) {
            break;
        } else {
            do
                *out++ = *in++;
            while (*in && *in != '/');
        }
    }
    *out = '\0';
}

static char *put(char *o, const char *s, size_t n)
{
    memcpy(o, s, n);
    return o + n;
}

char *pc_uri_resolve(const char *base, const char *ref)
{
    uri_parts_t b, r;
    uri_split(base, &b);
    uri_split(ref, &r);
    size_t cap = strlen(base) + strlen(ref) + 8;
    char *out = malloc(cap), *path = malloc(cap);
    if (!out || !path) {
        free(out);
        free(path);
        return NULL;
    }
    const uri_parts_t *sch = r.scheme ? &r : &b;
    const uri_parts_t *auth = (r.scheme || r.has_auth) ? &r : &b;
    const uri_parts_t *query = &r;
    if (r.scheme || r.has_auth) {
        memcpy(path, r.path, r.path_len);
        path[r.path_len] = '\0';
    } else if (r.path_len == 0) {
        memcpy(path, b.path, b.path_len);
        path[b.path_len] = '\0';
        if (!r.has_query)
            query = &b;
    } else if (r.path[0] == '/') {
        memcpy(path, r.path, r.path_len);
        path[r.path_len] = '\0';
    } else {
        /* merge: the base path up to its last '/', then the reference */
        size_t keep = b.path_len;
        while (keep > 0 && b.path[keep - 1] != '/')
            keep--;
        char *q = path;
        if (b.has_auth && b.path_len == 0)
            *q++ = '/';
        q = put(q, b.path, keep);
        q = put(q, r.path, r.path_len);
        *q = '\0';
    }
    remove_dots(path);
    char *o = out;
    if (sch->scheme) {
        o = put(o, sch->scheme, sch->scheme_len);
        *o++ = ':';
    }
    if (auth->has_auth) {
        o = put(o, "//", 2);
        o = put(o, auth->auth, auth->auth_len);
    }
    o = put(o, path, strlen(path));
    if (query->has_query) {
        *o++ = '?';
        o = put(o, query->query, query->query_len);
    }
    if (r.has_frag) {
        *o++ = '#';
        o = put(o, r.frag, r.frag_len);
    }
    *o = '\0';
    free(path);
    return out;
}
