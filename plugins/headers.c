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

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct hd_pair {
    char *name;
    char *value;
} hd_pair_t;

typedef struct hd_side {
    hd_pair_t *set, *add;
    size_t nset, nadd;
    char **remove;
    size_t nremove;
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

static int hd_pairs(const json_t *obj, const char *path, hd_pair_t **out, size_t *n, pc_err_t *err)
{
    if (!obj)
        return 0;
    if (!json_is_object(obj))
        return pc_err_set(err, path, "must be an object of header names to values");
    *out = calloc(json_object_size(obj) + 1, sizeof(**out));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        if (!hd_token(k))
            return pc_err_set(err, path, "invalid header name \"%s\"", k);
        if (hd_reserved(k))
            return pc_err_set(err, path, "%s is set by the gateway itself", k);
        if (!json_is_string(v) || !hd_value_ok(json_string_value(v)))
            return pc_err_set(err, path, "%s: must be a string without control characters", k);
        (*out)[*n].name = strdup(k);
        (*out)[*n].value = strdup(json_string_value(v));
        (*n)++;
    }
    return 0;
}

static int hd_side_parse(const json_t *node, const char *key, hd_side_t *s, pc_err_t *err)
{
    const json_t *side = json_object_get(node, key);
    if (!side)
        return 0;
    if (!json_is_object(side))
        return pc_err_set(err, key, "must be an object with set, add and remove");
    const char *k;
    json_t *v;
    char path[64];
    json_object_foreach((json_t *)side, k, v) {
        snprintf(path, sizeof(path), "%s.%s", key, k);
        if (strcmp(k, "set") == 0) {
            if (hd_pairs(v, path, &s->set, &s->nset, err))
                return -1;
        } else if (strcmp(k, "add") == 0) {
            if (hd_pairs(v, path, &s->add, &s->nadd, err))
                return -1;
        } else if (strcmp(k, "remove") == 0) {
            if (!json_is_array(v))
                return pc_err_set(err, path, "must be an array of header names");
            s->remove = calloc(json_array_size(v) + 1, sizeof(char *));
            size_t i;
            json_t *e;
            json_array_foreach(v, i, e) {
                if (!json_is_string(e) || !hd_token(json_string_value(e)))
                    return pc_err_set(err, path, "[%zu]: must be a header name", i);
                s->remove[s->nremove++] = strdup(json_string_value(e));
            }
        } else {
            return pc_err_set(err, path, "unknown key");
        }
    }
    return 0;
}

static void hd_side_free(hd_side_t *s)
{
    for (size_t i = 0; i < s->nset; i++) {
        free(s->set[i].name);
        free(s->set[i].value);
    }
    for (size_t i = 0; i < s->nadd; i++) {
        free(s->add[i].name);
        free(s->add[i].value);
    }
    for (size_t i = 0; i < s->nremove; i++)
        free(s->remove[i]);
    free(s->set);
    free(s->add);
    free(s->remove);
}

static void hd_conf_free(void *conf)
{
    hd_conf_t *c = conf;
    if (!c)
        return;
    hd_side_free(&c->req);
    hd_side_free(&c->resp);
    free(c);
}

static int hd_conf_create(const json_t *node, void **conf, pc_err_t *err)
{
    hd_conf_t *c = calloc(1, sizeof(*c));
    *conf = c;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)node, k, v)
        if (strcmp(k, "request") != 0 && strcmp(k, "response") != 0)
            return pc_err_set(err, k, "unknown key");
    if (hd_side_parse(node, "request", &c->req, err) || hd_side_parse(node, "response", &c->resp, err))
        return -1;
    return 0;
}

static pc_status_t hd_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    const hd_side_t *s = &((hd_conf_t *)conf)->req;
    for (size_t i = 0; i < s->nremove; i++)
        pc_upstream_header_remove(r, s->remove[i]);
    for (size_t i = 0; i < s->nset; i++)
        pc_upstream_header_set(r, s->set[i].name, s->set[i].value);
    for (size_t i = 0; i < s->nadd; i++)
        pc_upstream_header_add(r, s->add[i].name, s->add[i].value);
    /* Response edits are recorded now so that they also apply to answers
     * the gateway gives itself (denials by later plugins, errors). */
    const hd_side_t *o = &((hd_conf_t *)conf)->resp;
    for (size_t i = 0; i < o->nremove; i++)
        pc_response_header_remove(r, o->remove[i]);
    for (size_t i = 0; i < o->nset; i++)
        pc_response_header_set(r, o->set[i].name, o->set[i].value);
    for (size_t i = 0; i < o->nadd; i++)
        pc_response_header_add(r, o->add[i].name, o->add[i].value);
    return PC_CONTINUE;
}

const pc_plugin_t pc_plugin_headers = {
    .abi = PC_PLUGIN_ABI,
    .name = "headers",
    .conf_create = hd_conf_create,
    .conf_free = hd_conf_free,
    .on_headers = hd_on_headers,
};
