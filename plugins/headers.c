/* plugins/headers.c: add, set and remove request headers (towards the
 * upstream) and response headers (towards the client).
 *
 *   {"type": "headers",
 *    "request":  {"set": {"X-Env": "prod"}, "add": {...}, "remove": ["X-Debug"]},
 *    "response": {"set": {"Strict-Transport-Security": "max-age=63072000"}}}
 *
 * Removes run first, then sets, then adds, in that order for each side.
 */
#include <portcullis/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct hd_pair {
    char *name;
    char *value;
} hd_pair_t;

typedef struct hd_pairs {
    hd_pair_t *v;
    size_t n;
} hd_pairs_t;

typedef struct hd_side {
    hd_pairs_t set, add;
    pc_conf_strings_t remove;
} hd_side_t;

typedef struct hd_conf {
    hd_side_t req, resp;
} hd_conf_t;

static int hd_token(const char *s)
{
    return pc_conf_token(s, 256);
}

/* Framing, hop-by-hop and forwarding fields belong to the core. */
static int hd_reserved(const char *name)
{
    static const char *const reserved[] = {
        "content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection",
        "te", "trailer", "upgrade", "expect", "host",
    };
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return 1;
    return 0;
}

static int hd_value_ok(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return 0;
    return 1;
}

/* "set" and "add": an object of header names to values. */
static int hd_pairs(const json_t *obj, const char *path, void *field, pc_err_t *err)
{
    hd_pairs_t *p = field;
    if (!json_is_object(obj))
        return pc_err_set(err, path, "must be an object of header names to values");
    p->v = pc_xcalloc(json_object_size(obj) + 1, sizeof(*p->v));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (!hd_token(k))
            return pc_err_set(err, path, "invalid header name \"%s\"", k);
        if (hd_reserved(k))
            return pc_err_set(err, path, "%s is set by the gateway itself", k);
        if (!json_is_string(v) || !hd_value_ok(json_string_value(v)))
            return pc_err_set(err, path, "%s: must be a string without control characters", k);
        p->v[p->n].name = pc_xstrdup(k);
        p->v[p->n].value = pc_xstrdup(json_string_value(v));
        p->n++;
    }
    return 0;
}

/* "remove": header names. */
static int hd_remove(const json_t *arr, const char *path, void *field, pc_err_t *err)
{
    pc_conf_strings_t *names = field;
    if (!json_is_array(arr))
        return pc_err_set(err, path, "must be an array of header names");
    names->v = pc_xcalloc(json_array_size(arr) + 1, sizeof(char *));
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        char p[128];
        snprintf(p, sizeof(p), "%.80s[%zu]", path, i);
        if (!json_is_string(e) || !hd_token(json_string_value(e)))
            return pc_err_set(err, p, "must be a header name");
        names->v[names->n++] = pc_xstrdup(json_string_value(e));
    }
    return 0;
}

static const pc_conf_field_t hd_side_fields[] = {
    {.key = "set", .type = PC_CONF_CUSTOM, .offset = offsetof(hd_side_t, set), .parse = hd_pairs},
    {.key = "add", .type = PC_CONF_CUSTOM, .offset = offsetof(hd_side_t, add), .parse = hd_pairs},
    {.key = "remove", .type = PC_CONF_CUSTOM, .offset = offsetof(hd_side_t, remove),
     .parse = hd_remove},
    {0},
};

static int hd_side(const json_t *v, const char *path, void *field, pc_err_t *err)
{
    if (!json_is_object(v))
        return pc_err_set(err, path, "must be an object with set, add and remove");
    return pc_conf_parse(v, path, hd_side_fields, field, err);
}

static const pc_conf_field_t hd_fields[] = {
    {.key = "request", .type = PC_CONF_CUSTOM, .offset = offsetof(hd_conf_t, req),
     .parse = hd_side},
    {.key = "response", .type = PC_CONF_CUSTOM, .offset = offsetof(hd_conf_t, resp),
     .parse = hd_side},
    {0},
};

static void hd_pairs_free(hd_pairs_t *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].value);
    }
    free(p->v);
}

static void hd_side_free(hd_side_t *s)
{
    hd_pairs_free(&s->set);
    hd_pairs_free(&s->add);
    pc_conf_strings_free(&s->remove);
}

static void hd_conf_free(void *conf)
{
    hd_conf_t *c = conf;
    hd_side_free(&c->req);
    hd_side_free(&c->resp);
    free(c);
}

static int hd_conf_create(const json_t *node, void **conf, pc_err_t *err)
{
    hd_conf_t *c = pc_xcalloc(1, sizeof(*c));
    *conf = c;
    return pc_conf_parse(node, NULL, hd_fields, c, err);
}

static pc_status_t hd_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    const hd_side_t *s = &((hd_conf_t *)conf)->req;
    for (size_t i = 0; i < s->remove.n; i++)
        pc_upstream_header_remove(r, s->remove.v[i]);
    for (size_t i = 0; i < s->set.n; i++)
        pc_upstream_header_set(r, s->set.v[i].name, s->set.v[i].value);
    for (size_t i = 0; i < s->add.n; i++)
        pc_upstream_header_add(r, s->add.v[i].name, s->add.v[i].value);
    /* Response edits are recorded now so that they also apply to answers
     * the gateway gives itself (denials by later plugins, errors). */
    const hd_side_t *o = &((hd_conf_t *)conf)->resp;
    for (size_t i = 0; i < o->remove.n; i++)
        pc_response_header_remove(r, o->remove.v[i]);
    for (size_t i = 0; i < o->set.n; i++)
        pc_response_header_set(r, o->set.v[i].name, o->set.v[i].value);
    for (size_t i = 0; i < o->add.n; i++)
        pc_response_header_add(r, o->add.v[i].name, o->add.v[i].value);
    return PC_CONTINUE;
}

const pc_plugin_t pc_plugin_headers = {
    .abi = PC_PLUGIN_ABI,
    .name = "headers",
    .conf_create = hd_conf_create,
    .conf_free = hd_conf_free,
    .on_headers = hd_on_headers,
};
