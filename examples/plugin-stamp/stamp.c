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
#include <portcullis/plugin.h>

#include <stddef.h>
#include <stdlib.h>
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

/* The options, read by the core's table-driven parser: unknown keys,
 * types, lengths and the JSON path of every error are its business. */
static const pc_conf_field_t stamp_fields[] = {
    {.key = "header", .type = PC_CONF_TOKEN, .offset = offsetof(stamp_conf_t, header),
     .max = 64, .def_str = "X-Stamp"},
    {.key = "value", .type = PC_CONF_STRING, .offset = offsetof(stamp_conf_t, value),
     .flags = PC_CONF_REQUIRED, .max = STAMP_MAX_VALUE},
    {0},
};

static void stamp_conf_free(void *conf)
{
    pc_conf_fields_free(stamp_fields, conf);
    free(conf);
}

/* Main thread, at load time. On error, *conf (if set) is freed by the core
 * with stamp_conf_free. What a table cannot say is code after the call. */
static int stamp_conf_create(const json_t *node, void **conf, pc_err_t *err)
{
    stamp_conf_t *c = pc_xcalloc(1, sizeof(*c));
    *conf = c;
    if (pc_conf_parse(node, NULL, stamp_fields, c, err) != 0)
        return -1;
    if (stamp_reserved(c->header))
        return pc_err_set(err, "header", "\"%s\" is managed by the gateway", c->header);
    if (!stamp_value_ok(c->value))
        return pc_err_set(err, "value", "must not hold control characters");
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
