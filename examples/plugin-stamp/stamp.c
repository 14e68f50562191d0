/* examples/plugin-stamp/stamp.c: a plugin built outside the gateway's tree.
 * It sets one configured header on every request sent upstream:
 *
 *   "load":    ["/usr/local/lib/portcullis/plugins/stamp.so"],
 *   "plugins": {"stamp": {"type": "stamp", "header": "X-Stamp", "value": "edge-1"}}
 *
 * "value" is required; "header" defaults to X-Stamp. It includes only
 * <portcullis/plugin.h>, and builds with `make` against the installed SDK
 * (pkg-config portcullis-plugin): see README.md.
 */
#define _POSIX_C_SOURCE 200809L /* strdup under -std=c11 */

#include <portcullis/plugin.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STAMP_MAX_VALUE 1024

typedef struct stamp_conf {
    char *header;
    char *value;
} stamp_conf_t;

/* Framing, hop-by-hop and routing fields belong to the gateway. */
static int stamp_reserved(const char *name)
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

/* A field value: visible ASCII, spaces and tabs, nothing that could end the
 * header line. */
static int stamp_value_ok(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return 0;
    return 1;
}

static void stamp_conf_free(void *conf)
{
    stamp_conf_t *c = conf;
    free(c->header);
    free(c->value);
    free(c);
}

static int stamp_string(const json_t *node, const char *key, char **out, pc_err_t *err)
{
    const json_t *v = json_object_get(node, key);
    if (!v)
        return 0;
    if (!json_is_string(v))
        return pc_err_set(err, key, "must be a string");
    *out = strdup(json_string_value(v));
    return *out ? 0 : pc_err_set(err, key, "out of memory");
}

/* Main thread, at load time. On error, *conf (if set) is freed by the core
 * with stamp_conf_free. */
static int stamp_conf_create(const json_t *node, void **conf, pc_err_t *err)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)node, key, v) {
        if (strcmp(key, "header") != 0 && strcmp(key, "value") != 0)
            return pc_err_set(err, key, "unknown key (stamp takes \"header\" and \"value\")");
    }
    stamp_conf_t *c = calloc(1, sizeof(*c));
    if (!c)
        return pc_err_set(err, NULL, "out of memory");
    *conf = c;
    if (stamp_string(node, "header", &c->header, err) == -1 ||
        stamp_string(node, "value", &c->value, err) == -1)
        return -1;
    if (!c->header && !(c->header = strdup("X-Stamp")))
        return pc_err_set(err, "header", "out of memory");
    if (!pc_conf_token(c->header, 64))
        return pc_err_set(err, "header", "must be a header name (1 to 64 token characters)");
    if (stamp_reserved(c->header))
        return pc_err_set(err, "header", "\"%s\" is managed by the gateway", c->header);
    if (!c->value)
        return pc_err_set(err, "value", "required");
    if (strlen(c->value) > STAMP_MAX_VALUE || !stamp_value_ok(c->value))
        return pc_err_set(err, "value", "must be at most %d bytes without control characters",
                          STAMP_MAX_VALUE);
    return 0;
}

/* Worker thread, per request: the conf is shared and read-only. */
static pc_status_t stamp_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    const stamp_conf_t *c = conf;
    (void)ctx;
    pc_upstream_header_set(r, c->header, c->value);
    return PC_CONTINUE;
}

const pc_plugin_t pc_plugin_entry = {
    .abi = PC_PLUGIN_ABI,
    .name = "stamp",
    .conf_create = stamp_conf_create,
    .conf_free = stamp_conf_free,
    .on_headers = stamp_on_headers,
};
