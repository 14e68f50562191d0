/* plugins/schema/schema_load.c: see schema_load.h. */
#include "schema_load.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- long-lived bump memory ---------------------------------------------------- */

#define SARENA_CHUNK (64u * 1024)

typedef struct sa_chunk {
    struct sa_chunk *next;
    size_t used, cap;
    _Alignas(max_align_t) char data[];
} sa_chunk_t;

struct pc_slmem {
    sa_chunk_t *head;
};

pc_slmem_t *pc_slmem_new(void)
{
    return pc_xcalloc(1, sizeof(pc_slmem_t));
}

void pc_slmem_free(pc_slmem_t *a)
{
    if (!a)
        return;
    for (sa_chunk_t *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void *pc_slmem_alloc(void *ud, size_t size)
{
    pc_slmem_t *a = ud;
    size = (size + _Alignof(max_align_t) - 1) & ~(size_t)(_Alignof(max_align_t) - 1);
    sa_chunk_t *c = a->head;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > SARENA_CHUNK ? size : SARENA_CHUNK;
        c = pc_xmalloc(sizeof(*c) + cap);
        c->used = 0;
        c->cap = cap;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

/* ---- config values as strict trees ---------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        b->p = pc_xrealloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* The shortest text that reads back as the same double: 0.01 stays "0.01"
 * (a fixed 17 digits would turn 0.1 into 0.10000000000000001, and
 * "multipleOf": 0.1 into another number). */
static void sb_real(sbuf_t *b, double d)
{
    char t[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(t, sizeof(t), "%.*g", prec, d);
        if (strtod(t, NULL) == d)
            break;
    }
    sb_put(b, t, strlen(t));
}

static void sb_string(sbuf_t *b, const char *s, size_t n)
{
    json_t *str = json_stringn(s, n);
    char *enc = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;
    if (enc)
        sb_put(b, enc, strlen(enc));
    free(enc);
    json_decref(str);
}

static void sb_value(sbuf_t *b, const json_t *v)
{
    char t[32];
    const char *k;
    json_t *m;
    size_t i;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        sb_put(b, "{", 1);
        i = 0;
        json_object_foreach((json_t *)v, k, m) {
            if (i++)
                sb_put(b, ",", 1);
            sb_string(b, k, strlen(k));
            sb_put(b, ":", 1);
            sb_value(b, m);
        }
        sb_put(b, "}", 1);
        break;
    case JSON_ARRAY:
        sb_put(b, "[", 1);
        json_array_foreach(v, i, m) {
            if (i)
                sb_put(b, ",", 1);
            sb_value(b, m);
        }
        sb_put(b, "]", 1);
        break;
    case JSON_STRING:
        sb_string(b, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        snprintf(t, sizeof(t), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        sb_put(b, t, strlen(t));
        break;
    case JSON_REAL:
        sb_real(b, json_real_value(v));
        break;
    case JSON_TRUE: sb_put(b, "true", 4); break;
    case JSON_FALSE: sb_put(b, "false", 5); break;
    case JSON_NULL: sb_put(b, "null", 4); break;
    }
}

static const pc_json_limits_t schema_limits = {
    .max_depth = 128, .max_members = 100000, .max_nodes = 1000000, .max_string = 1u << 20,
};

/* Text copied into l's memory first: number literals point into it. */
static const pc_json_t *parse_kept(pc_sload_t *l, const char *text, size_t len,
                                   pc_json_error_t *je)
{
    char *kept = pc_slmem_alloc(l->mem, len + 1);
    memcpy(kept, text, len);
    kept[len] = '\0';
    return pc_json_parse(kept, len, &schema_limits, pc_slmem_alloc, l->mem, je);
}

const pc_json_t *pc_sload_tree(pc_sload_t *l, const json_t *v, const char *key, pc_err_t *err)
{
    sbuf_t b = {0};
    sb_value(&b, v);
    pc_json_error_t je;
    je.msg = "empty";
    const pc_json_t *t = b.p ? parse_kept(l, b.p, b.len, &je) : NULL;
    free(b.p);
    if (!t)
        pc_err_set(err, key, "schema cannot be read: %s", je.msg);
    return t;
}

/* ---- files of the schema directory ------------------------------------------------- */

typedef struct sl_doc {
    struct sl_doc *next;
    const char *uri;
    const pc_json_t *tree;
} sl_doc_t;

/* What the loader needs while a compile runs (the loader has no error sink of its own). */
typedef struct sl_ctx {
    pc_sload_t *l;
    const char *key;
    pc_err_t *err;
    bool failed;
} sl_ctx_t;

/* The path of a file URI inside the directory, or NULL (with why). */
static const char *file_in_dir(const pc_sload_t *l, const char *uri, char *path, size_t plen,
                               const char **why)
{
    size_t bl = strlen(l->base_uri);
    *why = "is not a file of schema_dir (only relative references to it are read)";
    if (strncmp(uri, l->base_uri, bl) != 0)
        return NULL;
    const char *rel = uri + bl;
    *why = "may not contain \"..\", '%', '?' or '\\'";
    if (!*rel || strstr(rel, "..") || strpbrk(rel, "%?\\"))
        return NULL;
    *why = "path too long";
    if ((size_t)snprintf(path, plen, "%s/%s", l->dir, rel) >= plen)
        return NULL;
    char real[PATH_MAX];
    *why = "cannot be resolved";
    if (!realpath(path, real))
        return NULL;
    size_t dl = strlen(l->dir_real);
    *why = "leads out of schema_dir";
    if (strncmp(real, l->dir_real, dl) != 0 || real[dl] != '/')
        return NULL;
    return path;
}

static const pc_json_t *doc_find(const pc_sload_t *l, const char *uri)
{
    for (const sl_doc_t *d = l->docs; d; d = d->next)
        if (strcmp(d->uri, uri) == 0)
            return d->tree;
    return NULL;
}

static const pc_json_t *sl_loader(void *ud, const char *uri)
{
    sl_ctx_t *c = ud;
    const pc_json_t *known = doc_find(c->l, uri);
    if (known)
        return known;
    if (!c->l->base_uri || c->failed)
        return NULL;
    char path[PATH_MAX];
    const char *why;
    if (!file_in_dir(c->l, uri, path, sizeof(path), &why)) {
        c->failed = true;
        pc_err_set(c->err, c->key, "$ref to %.200s: %s", uri, why);
        return NULL;
    }
    json_t *fv = json_pack("{s:s}", "file", path);
    size_t len = 0;
    char *text = pc_conf_file(fv, c->key, PC_SLOAD_FILE_MAX, &len, c->err);
    json_decref(fv);
    if (!text) {
        c->failed = true;
        return NULL;
    }
    pc_json_error_t je;
    const pc_json_t *t = parse_kept(c->l, text, len, &je);
    free(text);
    if (!t) {
        c->failed = true;
        pc_err_set(c->err, c->key, "%.200s: %s at byte %zu", path, je.msg, je.offset);
        return NULL;
    }
    sl_doc_t *d = pc_slmem_alloc(c->l->mem, sizeof(*d));
    size_t ul = strlen(uri);
    char *u = pc_slmem_alloc(c->l->mem, ul + 1);
    memcpy(u, uri, ul + 1);
    *d = (sl_doc_t){c->l->docs, u, t};
    c->l->docs = d;
    return t;
}

int pc_sload_init(pc_sload_t *l, const char *dir, bool formats, int default_draft,
                  const char *key, pc_err_t *err)
{
    memset(l, 0, sizeof(*l));
    l->mem = pc_slmem_new();
    l->opts.formats = formats;
    l->opts.default_draft = (pc_schema_draft_t)default_draft;
    if (!dir)
        return 0;
    char real[PATH_MAX];
    if (dir[0] != '/' || !realpath(dir, real))
        return pc_err_set(err, key, "must be an absolute path to a directory that exists");
    l->dir = dir;
    l->dir_real = pc_xstrdup(real);
    size_t n = strlen(dir) + 9;
    l->base_uri = pc_xmalloc(n);
    snprintf(l->base_uri, n, "file://%s/", dir);
    return 0;
}

void pc_sload_free(pc_sload_t *l)
{
    pc_slmem_free(l->mem);
    free(l->dir_real);
    free(l->base_uri);
    memset(l, 0, sizeof(*l));
}

/* "/properties/x/minimum: msg" from the compiler becomes an error on
 * "<key>.properties.x.minimum". */
static void compile_error(pc_err_t *err, const char *key, const char *msg)
{
    char path[512];
    size_t o = (size_t)snprintf(path, sizeof(path), "%s", key);
    const char *colon = msg[0] == '/' ? strstr(msg, ": ") : NULL;
    if (!colon) {
        pc_err_set(err, key, "%s", msg);
        return;
    }
    for (const char *p = msg; p < colon && o + 2 < sizeof(path); p++) {
        char c = *p;
        if (c == '/')
            c = '.';
        else if (c == '~' && (p[1] == '0' || p[1] == '1'))
            c = *++p == '0' ? '~' : '/';
        path[o++] = c;
    }
    path[o] = '\0';
    pc_err_set(err, path, "%s", colon + 2);
}

pc_schema_t *pc_sload_compile(pc_sload_t *l, const json_t *v, const char *key,
                              const pc_json_t **tree, pc_err_t *err)
{
    if (!json_is_object(v) && !json_is_boolean(v)) {
        pc_err_set(err, key, "must be a JSON Schema (an object or a boolean)");
        return NULL;
    }
    const pc_json_t *t = pc_sload_tree(l, v, key, err);
    if (!t)
        return NULL;
    sl_ctx_t c = {l, key, err, false};
    pc_schema_opts_t o = l->opts;
    o.loader = sl_loader;
    o.loader_ud = &c;
    char msg[512];
    pc_schema_t *s = pc_schema_compile(t, l->base_uri, &o, msg, sizeof(msg));
    if (!s && !c.failed)
        compile_error(err, key, msg);
    if (s && c.failed) { /* a file the compiler asked for was refused (err is set) */
        pc_schema_free(s);
        s = NULL;
    }
    if (tree)
        *tree = t;
    return s;
}

/* ---- following $ref for declared types ------------------------------------------------ */

static const pc_json_t *pointer_get(const pc_json_t *n, const char *ptr)
{
    while (n && *ptr == '/') {
        ptr++;
        char tok[256];
        size_t k = 0;
        for (; *ptr && *ptr != '/' && k + 1 < sizeof(tok); ptr++) {
            char c = *ptr;
            if (c == '~' && (ptr[1] == '0' || ptr[1] == '1'))
                c = *++ptr == '0' ? '~' : '/';
            tok[k++] = c;
        }
        tok[k] = '\0';
        if (n->type == PC_JSON_OBJECT) {
            n = pc_json_get(n, tok, k);
        } else if (n->type == PC_JSON_ARRAY) {
            char *end;
            unsigned long i = strtoul(tok, &end, 10);
            n = *end || !k || i >= n->len ? NULL : n->u.items[i];
        } else {
            n = NULL;
        }
    }
    return *ptr ? NULL : n;
}

const pc_json_t *pc_sload_deref(pc_sload_t *l, const pc_json_t *root, const pc_json_t *node)
{
    for (int hop = 0; node && hop < 8; hop++) {
        const pc_json_t *ref = node->type == PC_JSON_OBJECT ? pc_json_get(node, "$ref", 4) : NULL;
        if (!ref || ref->type != PC_JSON_STRING)
            return node;
        const char *hash = strchr(ref->u.str, '#');
        if (hash != ref->u.str) {
            /* another document: a file of the directory the compiler read */
            size_t fl = hash ? (size_t)(hash - ref->u.str) : strlen(ref->u.str);
            char uri[PATH_MAX + 16];
            if (!l->base_uri || (size_t)snprintf(uri, sizeof(uri), "%s%.*s", l->base_uri,
                                                 (int)fl, ref->u.str) >= sizeof(uri))
                return NULL;
            root = doc_find(l, uri);
            if (!root)
                return NULL;
        }
        node = hash ? pointer_get(root, hash + 1) : root;
    }
    return NULL;
}
