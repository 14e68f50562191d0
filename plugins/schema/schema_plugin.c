/* plugins/schema/schema_plugin.c: the `schema` plugin (docs/filtering.md,
 * "Request validation (schema)").
 *
 *   {"type": "schema", "mode": "enforce", "schema_dir": "/etc/portcullis/schemas",
 *    "requests": {"POST": {"body": {"$ref": "order.json"}}, "*": {...}},
 *    "responses": {"200": {...}, "4XX": {...}, "default": {...}}}
 *
 * Each request whose method is listed in "requests" (or any other method
 * when "*" is) is checked by its op (schema_op.h); other methods pass.
 * Responses are validated in report mode only, from on_log, on the core's
 * copy of the relayed body (pc_response_body): counted and logged, never
 * changed.
 */
#include "schema_load.h"
#include "schema_op.h"
#include "schema_problem.h"

#include <portcullis/plugin.h>

#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SP_MAX_METHODS 16
#define SP_MAX_RESPONSES 32

typedef struct sp_method {
    char *name;               /* "POST", or "*" */
    pc_sop_t *op;
} sp_method_t;

typedef struct sp_response {
    char key[8];              /* "200", "4XX", "default" */
    pc_schema_t *schema;
} sp_response_t;

typedef struct sp_conf {
    int mode;                 /* 0 enforce, 1 report */
    char *schema_dir;
    bool formats;
    int draft;
    unsigned max_errors;
    sp_method_t methods[SP_MAX_METHODS];
    size_t nmethods;
    const sp_method_t *any;   /* "*" */
    sp_response_t responses[SP_MAX_RESPONSES];
    size_t nresponses;
    pc_sload_t rload;         /* the responses' documents */
    bool rload_init;
} sp_conf_t;

static const char *const sp_modes[] = {"enforce", "report", NULL};
static const char *const sp_drafts[] = {"2020-12", "draft-07", NULL};

static const pc_conf_field_t sp_fields[] = {
    {.key = "mode", .type = PC_CONF_ENUM, .offset = offsetof(sp_conf_t, mode), .values = sp_modes},
    {.key = "schema_dir", .type = PC_CONF_STRING, .offset = offsetof(sp_conf_t, schema_dir),
     .max = 4096},
    {.key = "formats", .type = PC_CONF_BOOL, .offset = offsetof(sp_conf_t, formats), .def = 1},
    {.key = "draft", .type = PC_CONF_ENUM, .offset = offsetof(sp_conf_t, draft), .values = sp_drafts},
    {.key = "max_errors", .type = PC_CONF_UINT, .offset = offsetof(sp_conf_t, max_errors),
     .min = 1, .max = 100, .def = 10},
    {.key = "requests", .type = PC_CONF_OBJECT, .flags = PC_CONF_REQUIRED},
    {.key = "responses", .type = PC_CONF_OBJECT},
    {0},
};

static pc_metric_t *_Atomic responses_total;

/* A method name as the request line spells it (RFC 9110 token, upper case by convention). */
static bool method_ok(const char *m)
{
    return strcmp(m, "*") == 0 || pc_conf_token(m, 32);
}

static int sp_requests(sp_conf_t *c, const json_t *reqs, const pc_sop_env_t *env, pc_err_t *err)
{
    const char *m;
    json_t *v;
    json_object_foreach((json_t *)reqs, m, v) {
        char key[64];
        snprintf(key, sizeof(key), "requests.%s", m);
        if (!method_ok(m))
            return pc_err_set(err, key, "must be a method name such as \"POST\", or \"*\"");
        if (c->nmethods == SP_MAX_METHODS)
            return pc_err_set(err, "requests", "at most %d methods", SP_MAX_METHODS);
        sp_method_t *e = &c->methods[c->nmethods];
        if (pc_sop_create(v, key, env, &e->op, err) < 0)
            return -1;
        e->name = pc_xstrdup(m);
        c->nmethods++;
        if (strcmp(m, "*") == 0)
            c->any = e;
    }
    return 0;
}

/* "200", "2XX" (any case) or "default". */
static bool response_key_ok(const char *k)
{
    if (strcmp(k, "default") == 0)
        return true;
    if (strlen(k) != 3 || k[0] < '1' || k[0] > '5')
        return false;
    bool wild = (k[1] == 'X' || k[1] == 'x') && (k[2] == 'X' || k[2] == 'x');
    return wild || (k[1] >= '0' && k[1] <= '9' && k[2] >= '0' && k[2] <= '9');
}

static int sp_responses(sp_conf_t *c, const json_t *resps, pc_err_t *err)
{
    if (pc_sload_init(&c->rload, c->schema_dir, c->formats, c->draft, "schema_dir", err) < 0)
        return -1;
    c->rload_init = true;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)resps, k, v) {
        char key[64];
        snprintf(key, sizeof(key), "responses.%.40s", k);
        if (!response_key_ok(k))
            return pc_err_set(err, key, "must be a status (\"200\"), a class (\"4XX\") or \"default\"");
        if (c->nresponses == SP_MAX_RESPONSES)
            return pc_err_set(err, "responses", "at most %d entries", SP_MAX_RESPONSES);
        sp_response_t *e = &c->responses[c->nresponses];
        snprintf(e->key, sizeof(e->key), "%s", k);
        if (e->key[1] == 'x' || e->key[1] == 'X')
            e->key[1] = e->key[2] = 'X';
        if (!(e->schema = pc_sload_compile(&c->rload, v, key, NULL, err)))
            return -1;
        c->nresponses++;
    }
    return 0;
}

static int sp_conf_create(const json_t *node, void **out, pc_err_t *err)
{
    sp_conf_t *c = pc_xcalloc(1, sizeof(*c));
    *out = c;
    if (pc_conf_parse(node, NULL, sp_fields, c, err) < 0)
        return -1;
    pc_sop_env_t env = {
        .schema_dir = c->schema_dir, .formats = c->formats, .max_errors = c->max_errors,
        .default_draft = c->draft, .report = c->mode == 1,
    };
    if (sp_requests(c, json_object_get(node, "requests"), &env, err) < 0)
        return -1;
    const json_t *resps = json_object_get(node, "responses");
    return resps ? sp_responses(c, resps, err) : 0;
}

static void sp_conf_free(void *conf)
{
    sp_conf_t *c = conf;
    for (size_t i = 0; i < c->nmethods; i++) {
        pc_sop_free(c->methods[i].op);
        free(c->methods[i].name);
    }
    for (size_t i = 0; i < c->nresponses; i++)
        pc_schema_free(c->responses[i].schema);
    if (c->rload_init)
        pc_sload_free(&c->rload);
    pc_conf_fields_free(sp_fields, c);
    free(c);
}

static int sp_start(void *conf, pc_env_t *env, pc_err_t *err)
{
    (void)conf;
    (void)err;
    pc_sop_metrics(env);
    static const char *const labels[] = {"decision", NULL};
    atomic_store(&responses_total,
                 pc_metric_counter(env, "portcullis_schema_responses_total",
                                   "Upstream responses validated (report only), by decision",
                                   labels));
    return 0;
}

static const pc_sop_t *sp_op(const sp_conf_t *c, pc_request_t *r)
{
    const char *m = pc_request_method(r);
    for (size_t i = 0; i < c->nmethods; i++)
        if (strcmp(c->methods[i].name, m) == 0)
            return c->methods[i].op;
    return c->any ? c->any->op : NULL;
}

static pc_status_t sp_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    (void)ctx;
    const sp_conf_t *c = conf;
    if (c->nresponses)
        pc_response_body_keep(r); /* only then does the core copy the response */
    const pc_sop_t *op = sp_op(conf, r);
    return op ? pc_sop_check_head(r, op, NULL) : PC_CONTINUE;
}

static pc_status_t sp_on_body(pc_request_t *r, void *conf, void *ctx)
{
    (void)ctx;
    const pc_sop_t *op = sp_op(conf, r);
    return op ? pc_sop_check_body(r, op) : PC_CONTINUE;
}

/* The exact status first, then its class, then "default". */
static const pc_schema_t *sp_response_schema(const sp_conf_t *c, int status)
{
    char exact[16], cls[16];
    snprintf(exact, sizeof(exact), "%d", status);
    snprintf(cls, sizeof(cls), "%dXX", status / 100);
    const pc_schema_t *by_class = NULL, *by_default = NULL;
    for (size_t i = 0; i < c->nresponses; i++) {
        const sp_response_t *e = &c->responses[i];
        if (strcmp(e->key, exact) == 0)
            return e->schema;
        if (strcmp(e->key, cls) == 0)
            by_class = e->schema;
        else if (strcmp(e->key, "default") == 0)
            by_default = e->schema;
    }
    return by_class ? by_class : by_default;
}

static void *sp_alloc(void *ud, size_t size)
{
    return pc_alloc(ud, size);
}

static void sp_count_response(const char *decision)
{
    const char *v[] = {decision};
    pc_metric_add(atomic_load_explicit(&responses_total, memory_order_relaxed), v, 1);
}

/* Report only: whatever is found, the client already has the response. */
static void sp_on_log(pc_request_t *r, void *conf, void *ctx)
{
    (void)ctx;
    const sp_conf_t *c = conf;
    int status = pc_request_upstream_status(r);
    const pc_schema_t *s = status && c->nresponses ? sp_response_schema(c, status) : NULL;
    if (!s)
        return;
    size_t len = 0;
    bool truncated = false;
    const char *body = pc_response_body(r, &len, &truncated);
    if (!body || truncated) {
        sp_count_response("skipped");
        pc_rlog(r, PC_LOG_DEBUG, "response %d not validated: body %s", status,
                body ? "incomplete or over the capture limit" : "absent");
        return;
    }
    pc_json_error_t je;
    const pc_json_t *doc = pc_json_parse(body, len, NULL, sp_alloc, r, &je);
    if (!doc) {
        sp_count_response("malformed");
        pc_rlog(r, PC_LOG_WARN, "response %d is not acceptable JSON: %s at byte %zu", status,
                je.msg, je.offset);
        return;
    }
    pc_schema_error_t e1;
    pc_schema_errors_t errs = {.max = 1, .e = &e1};
    if (pc_schema_validate(s, doc, &errs)) {
        sp_count_response("valid");
        return;
    }
    sp_count_response("invalid");
    char at[sizeof(e1.instance)];
    pc_rlog(r, PC_LOG_WARN, "response %d does not match its schema: %s %s (%s)", status,
            errs.n ? pc_sproblem_log_safe(at, sizeof(at), e1.instance) : "",
            errs.n ? e1.message : "", errs.n ? e1.schema : "");
}

const pc_plugin_t pc_plugin_schema = {
    .abi = PC_PLUGIN_ABI,
    .name = "schema",
    .flags = PC_PLUGIN_NEEDS_BODY | PC_PLUGIN_SEES_RESPONSE_BODY,
    .conf_create = sp_conf_create,
    .start = sp_start,
    .conf_free = sp_conf_free,
    .on_headers = sp_on_headers,
    .on_body = sp_on_body,
    .on_log = sp_on_log,
};
