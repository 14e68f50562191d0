/* plugins/openapi/yaml_json.c: YAML (libyaml's event parser) and JSON
 * documents into jansson trees. The contract and the typing rules are in
 * yaml_json.h. */
#include "yaml_json.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

typedef struct yj_anchor {
    char *name;
    json_t *value;
    size_t size; /* nodes once every alias inside is expanded */
} yj_anchor_t;

typedef struct yj_frame {
    json_t *node;    /* the open object or array */
    char *key;       /* object: the key waiting for its value, or NULL */
    char *anchor;    /* the anchor on this node, or NULL */
    size_t size;     /* this subtree's expanded size so far */
} yj_frame_t;

typedef struct yj {
    yj_frame_t stack[PC_YJ_MAX_DEPTH];
    unsigned depth;
    yj_anchor_t *anchors;
    size_t nanchors;
    size_t total, max_nodes;
    json_t *root;
    unsigned docs;
    char *err;
    size_t errlen;
} yj_t;

static int yj_fail(yj_t *y, const yaml_mark_t *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int yj_fail(yj_t *y, const yaml_mark_t *m, const char *fmt, ...)
{
    int n = snprintf(y->err, y->errlen, "line %zu, column %zu: ", m->line + 1, m->column + 1);
    if (n < 0 || (size_t)n >= y->errlen)
        n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(y->err + n, y->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* ---- scalars (YAML 1.2 core schema) --------------------------------------- */

static bool yj_is(const char *s, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(s, *words) == 0)
            return true;
    return false;
}

/* [-+]?[0-9]+ | 0o[0-7]+ | 0x[0-9a-fA-F]+ */
static int yj_int(const char *s, json_t **out)
{
    int base = 10;
    const char *d = s;
    if (s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
        base = s[1] == 'o' ? 8 : 16;
        d = s + 2;
    } else if (*d == '-' || *d == '+') {
        d++;
    }
    if (!*d)
        return 0;
    for (const char *p = d; *p; p++) {
        int ok = base == 16 ? isxdigit((unsigned char)*p)
               : base == 8  ? (*p >= '0' && *p <= '7')
                            : isdigit((unsigned char)*p);
        if (!ok)
            return 0;
    }
    errno = 0;
    char *end;
    long long v = base == 10 ? strtoll(s, &end, 10) : (long long)strtoull(d, &end, base);
    if (errno == ERANGE || (base != 10 && v < 0))
        return -1;
    *out = json_integer(v);
    return 1;
}

/* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static int yj_float(const char *s, json_t **out)
{
    static const char *const special[] = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF",
                                          "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN", NULL};
    if (yj_is(s, special))
        return -1;
    const char *p = s;
    if (*p == '-' || *p == '+')
        p++;
    size_t digits = 0;
    while (isdigit((unsigned char)*p))
        p++, digits++;
    if (*p == '.') {
        p++;
        while (isdigit((unsigned char)*p))
            p++, digits++;
    }
    if (!digits)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+')
            p++;
        if (!isdigit((unsigned char)*p))
            return 0;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p)
        return 0;
    double v = strtod(s, NULL);
    if (!isfinite(v))
        return -1;
    *out = json_real(v);
    return 1;
}

static json_t *yj_plain(yj_t *y, const yaml_event_t *ev)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    const char *s = (const char *)ev->data.scalar.value;
    if (yj_is(s, nulls))
        return json_null();
    if (yj_is(s, trues))
        return json_true();
    if (yj_is(s, falses))
        return json_false();
    json_t *v = NULL;
    int r = yj_int(s, &v);
    if (r == 0)
        r = yj_float(s, &v);
    if (r < 0) {
        yj_fail(y, &ev->start_mark, "the number %.40s cannot be represented in JSON", s);
        return NULL;
    }
    return r ? v : json_stringn(s, ev->data.scalar.length);
}

static json_t *yj_tagged(yj_t *y, const yaml_event_t *ev, const char *tag)
{
    const char *s = (const char *)ev->data.scalar.value;
    json_t *v = NULL;
    int r = 0;
    if (strcmp(tag, YAML_STR_TAG) == 0)
        return json_stringn(s, ev->data.scalar.length);
    if (strcmp(tag, YAML_INT_TAG) == 0)
        r = yj_int(s, &v);
    else if (strcmp(tag, YAML_FLOAT_TAG) == 0)
        r = yj_int(s, &v) == 1 ? 1 : yj_float(s, &v);
    else if (strcmp(tag, YAML_BOOL_TAG) == 0)
        v = strcmp(s, "true") == 0 ? json_true() : strcmp(s, "false") == 0 ? json_false() : NULL;
    else if (strcmp(tag, YAML_NULL_TAG) == 0)
        v = *s == '\0' || strcmp(s, "null") == 0 || strcmp(s, "~") == 0 ? json_null() : NULL;
    else {
        yj_fail(y, &ev->start_mark, "the tag %.60s is not supported", tag);
        return NULL;
    }
    if (r < 0 || !v) {
        json_decref(v);
        yj_fail(y, &ev->start_mark, "%.40s is not a valid %.40s", s, tag);
        return NULL;
    }
    return v;
}

static json_t *yj_scalar(yj_t *y, const yaml_event_t *ev)
{
    const char *tag = (const char *)ev->data.scalar.tag;
    if (tag && strcmp(tag, "!") != 0)
        return yj_tagged(y, ev, tag);
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || tag)
        return json_stringn((const char *)ev->data.scalar.value, ev->data.scalar.length);
    return yj_plain(y, ev);
}

/* ---- the tree --------------------------------------------------------------- */

static int yj_anchor_add(yj_t *y, char *name, json_t *v, size_t size)
{
    y->anchors = realloc(y->anchors, (y->nanchors + 1) * sizeof(*y->anchors));
    if (!y->anchors)
        abort();
    y->anchors[y->nanchors++] = (yj_anchor_t){name, json_incref(v), size};
    return 0;
}

static const yj_anchor_t *yj_anchor_find(const yj_t *y, const char *name)
{
    for (size_t i = y->nanchors; i-- > 0;)
        if (strcmp(y->anchors[i].name, name) == 0)
            return &y->anchors[i];
    return NULL;
}

static bool yj_wants_key(const yj_t *y)
{
    const yj_frame_t *f = y->depth ? &y->stack[y->depth - 1] : NULL;
    return f && json_is_object(f->node) && !f->key;
}

/* Places v (a new reference, taken) of expanded size `size` in the open
 * container or as the root. */
static int yj_place(yj_t *y, json_t *v, size_t size, const yaml_mark_t *m)
{
    if (size > y->max_nodes - y->total) {
        json_decref(v);
        return yj_fail(y, m, "the document is larger than %zu nodes once its aliases are expanded",
                       y->max_nodes);
    }
    y->total += size;
    if (!y->depth) {
        y->root = v;
        return 0;
    }
    yj_frame_t *f = &y->stack[y->depth - 1];
    f->size += size;
    if (json_is_array(f->node))
        return json_array_append_new(f->node, v) == 0 ? 0 : yj_fail(y, m, "out of memory");
    int rc = json_object_set_new_nocheck(f->node, f->key, v);
    free(f->key);
    f->key = NULL;
    return rc == 0 ? 0 : yj_fail(y, m, "out of memory");
}

static int yj_key(yj_t *y, const yaml_event_t *ev)
{
    yj_frame_t *f = &y->stack[y->depth - 1];
    const char *k = (const char *)ev->data.scalar.value;
    if (strlen(k) != ev->data.scalar.length)
        return yj_fail(y, &ev->start_mark, "a key holds a NUL byte");
    if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && strcmp(k, "<<") == 0)
        return yj_fail(y, &ev->start_mark, "merge keys (<<) are not supported");
    if (json_object_get(f->node, k))
        return yj_fail(y, &ev->start_mark, "duplicate key \"%.80s\"", k);
    f->key = strdup(k);
    if (ev->data.scalar.anchor)
        return yj_fail(y, &ev->start_mark, "anchors on keys are not supported");
    return f->key ? 0 : -1;
}

static int yj_open(yj_t *y, const yaml_event_t *ev, json_t *node, const yaml_char_t *anchor)
{
    if (yj_wants_key(y)) {
        json_decref(node);
        return yj_fail(y, &ev->start_mark, "a key must be a scalar");
    }
    if (y->depth == PC_YJ_MAX_DEPTH) {
        json_decref(node);
        return yj_fail(y, &ev->start_mark, "nested deeper than %d levels", PC_YJ_MAX_DEPTH);
    }
    y->stack[y->depth++] = (yj_frame_t){node, NULL, anchor ? strdup((const char *)anchor) : NULL, 1};
    return 0;
}

static int yj_close(yj_t *y, const yaml_event_t *ev)
{
    yj_frame_t f = y->stack[--y->depth];
    if (f.anchor)
        yj_anchor_add(y, f.anchor, f.node, f.size);
    /* The frame's nodes were counted in total as they came; count it once. */
    y->total -= f.size - 1;
    return yj_place(y, f.node, f.size, &ev->start_mark);
}

static int yj_event(yj_t *y, const yaml_event_t *ev)
{
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (y->docs++)
            return yj_fail(y, &ev->start_mark, "a second document is not supported");
        return 0;
    case YAML_SCALAR_EVENT: {
        if (yj_wants_key(y))
            return yj_key(y, ev);
        json_t *v = yj_scalar(y, ev);
        if (!v)
            return -1;
        if (ev->data.scalar.anchor)
            yj_anchor_add(y, strdup((const char *)ev->data.scalar.anchor), v, 1);
        return yj_place(y, v, 1, &ev->start_mark);
    }
    case YAML_ALIAS_EVENT: {
        if (yj_wants_key(y))
            return yj_fail(y, &ev->start_mark, "an alias cannot be a key");
        const yj_anchor_t *a = yj_anchor_find(y, (const char *)ev->data.alias.anchor);
        if (!a)
            return yj_fail(y, &ev->start_mark, "unknown or recursive alias *%.60s",
                           (const char *)ev->data.alias.anchor);
        return yj_place(y, json_incref(a->value), a->size, &ev->start_mark);
    }
    case YAML_SEQUENCE_START_EVENT:
        return yj_open(y, ev, json_array(), ev->data.sequence_start.anchor);
    case YAML_MAPPING_START_EVENT:
        return yj_open(y, ev, json_object(), ev->data.mapping_start.anchor);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return yj_close(y, ev);
    default:
        return 0;
    }
}

static void yj_clear(yj_t *y)
{
    for (unsigned i = 0; i < y->depth; i++) {
        json_decref(y->stack[i].node);
        free(y->stack[i].key);
        free(y->stack[i].anchor);
    }
    for (size_t i = 0; i < y->nanchors; i++) {
        free(y->anchors[i].name);
        json_decref(y->anchors[i].value);
    }
    free(y->anchors);
}

json_t *pc_yaml_to_json(const char *buf, size_t len, size_t max_nodes, char *err, size_t errlen)
{
    yj_t *y = calloc(1, sizeof(*y));
    if (!y)
        return NULL;
    y->max_nodes = max_nodes;
    y->err = err;
    y->errlen = errlen;
    yaml_parser_t p;
    yaml_parser_initialize(&p);
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    int rc = 0;
    for (bool done = false; !done && rc == 0;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = yj_fail(y, &p.problem_mark, "%s", p.problem ? p.problem : "invalid YAML");
            break;
        }
        rc = yj_event(y, &ev);
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&p);
    json_t *root = y->root;
    if (rc == 0 && !root) {
        snprintf(err, errlen, "the document is empty");
        rc = -1;
    }
    if (rc != 0) {
        json_decref(root);
        root = NULL;
    }
    yj_clear(y);
    free(y);
    return root;
}

json_t *pc_doc_parse(const char *buf, size_t len, size_t max_nodes, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
        i++;
    if (i == len || buf[i] != '{')
        return pc_yaml_to_json(buf, len, max_nodes, err, errlen);
    json_error_t je;
    json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        snprintf(err, errlen, "line %d, column %d: %s", je.line, je.column, je.text);
    return doc;
}
