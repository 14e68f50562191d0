/* plugins/openapi/openapi.c: the `openapi` plugin: routes generated from an
 * OpenAPI 3.0/3.1 document, read once at load.
 *
 *   {"type": "openapi",
 *    "document": {"file": "/etc/portcullis/petstore.yaml"},  JSON or YAML
 *    "mode": "enforce" | "report",
 *    "on_deny": "forbid" (403) | "hide" (404),
 *    "formats": true,                 "format" asserts in the schemas
 *    "validate_responses": false,     true: JSON responses checked against the
 *                                     document, report only (oa_rcheck.h)
 *    "base_path": "/v1",              overrides the servers' base path
 *    "unverified_schemes": ["api_key"], security schemes the gateway cannot
 *                                     verify, left to the upstream (noted)
 *    "consumers": {"client_id": [...], "subject": [...], "group": [...]},
 *                                     who may call the operations at all
 *                                     (allow-list consumers; absent: anyone)
 *    "group_claim": "groups"}         the claim path holding groups
 *
 * The importer (oa_import.h) turns the document into allow-list entries
 * and one schema_op per operation; this file owns their lifetimes and the
 * per-request order: the allow-list decides (method, typed path, scopes),
 * then the matched operation checks the head and, in on_body, the body.
 * docs/filtering.md, "Routes from OpenAPI", has the table of what is
 * supported.
 */
#include <portcullis/plugin.h>

#include "../allowlist/al_template.h"
#include "../allowlist/allowlist.h"
#include "../schema/schema.h"
#include "../schema/schema_op.h"
#include "oa_import.h"
#include "oa_rcheck.h"
#include "yaml_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OA_DOC_MAX (16u * 1024u * 1024u)
#define OA_DOC_NODES 4000000u   /* after alias expansion (yaml_json.h) */

typedef struct oa_conf {
    pc_conf_strings_t unverified; /* security schemes left to the upstream */
    int mode;              /* 0 enforce, 1 report */
    int on_deny;           /* 0 forbid, 1 hide */
    bool formats;
    bool validate_responses;
    char *base_path;
    pc_allowlist_t *al;
    pc_sop_t **ops;
    size_t nops;
    size_t *entry_op;      /* allow-list entry -> ops[] */
    size_t nentries;
    pc_oa_rset_t **rsets;  /* validate_responses: per op, NULL when none */
    pc_sload_t rload;      /* the responses' schemas */
    bool rload_init;
} oa_conf_t;

/* "consumers", read here only to be checked under its own path; the
 * allow-list parses the same shape again in every generated list. */
typedef struct oa_consumers {
    pc_conf_strings_t client_id, subject, group;
} oa_consumers_t;

static const pc_conf_field_t oa_consumer_fields[] = {
    {.key = "client_id", .type = PC_CONF_STRINGS, .offset = offsetof(oa_consumers_t, client_id)},
    {.key = "subject", .type = PC_CONF_STRINGS, .offset = offsetof(oa_consumers_t, subject)},
    {.key = "group", .type = PC_CONF_STRINGS, .offset = offsetof(oa_consumers_t, group)},
    {0},
};

typedef struct oa_ctx {
    const pc_sop_t *op;    /* the matched operation, when it checks a body */
    const pc_oa_rset_t *rset; /* its response schemas, when they are checked */
} oa_ctx_t;

static const char *const oa_modes[] = {"enforce", "report", NULL};
static const char *const oa_denies[] = {"forbid", "hide", NULL};

static const pc_conf_field_t oa_fields[] = {
    {.key = "document", .type = PC_CONF_OBJECT, .flags = PC_CONF_REQUIRED},
    {.key = "mode", .type = PC_CONF_ENUM, .offset = offsetof(oa_conf_t, mode),
     .values = oa_modes},
    {.key = "on_deny", .type = PC_CONF_ENUM, .offset = offsetof(oa_conf_t, on_deny),
     .values = oa_denies},
    {.key = "formats", .type = PC_CONF_BOOL, .offset = offsetof(oa_conf_t, formats), .def = 1},
    {.key = "validate_responses", .type = PC_CONF_BOOL,
     .offset = offsetof(oa_conf_t, validate_responses)},
    {.key = "base_path", .type = PC_CONF_STRING, .offset = offsetof(oa_conf_t, base_path),
     .flags = PC_CONF_EMPTY_OK, .max = 256},
    {.key = "unverified_schemes", .type = PC_CONF_STRINGS,
     .offset = offsetof(oa_conf_t, unverified), .max = 64},
    {.key = "consumers", .type = PC_CONF_OBJECT},
    {.key = "group_claim", .type = PC_CONF_ANY},
    {0},
};

static void oa_conf_free(void *conf)
{
    oa_conf_t *c = conf;
    pc_allowlist_free(c->al);
    for (size_t i = 0; i < c->nops; i++) {
        pc_sop_free(c->ops[i]);
        if (c->rsets)
            pc_oa_rset_free(c->rsets[i]);
    }
    free(c->ops);
    free(c->rsets);
    if (c->rload_init)
        pc_sload_free(&c->rload);
    free(c->entry_op);
    pc_conf_fields_free(oa_fields, c);
    free(c);
}

/* What -t prints: one summary line, one per operation, and a warning for
 * everything accepted without being checked. */
static void oa_describe(const pc_oa_t *oa, pc_err_t *err)
{
    pc_conf_note(err, "document",
                 "OpenAPI %s: %zu operations (%zu allow-list entries), base path \"%s\"; "
                 "parameters validated: %zu path, %zu query, %zu header; %zu request bodies; "
                 "%zu response schemas; %zu component schemas", oa->version, oa->nops,
                 json_array_size(oa->entries), oa->base_path, oa->nparams[0], oa->nparams[1],
                 oa->nparams[2], oa->nbodies, oa->nresponses, oa->nschemas);
    for (size_t i = 0; i < oa->nops; i++) {
        char scopes[512] = "";
        size_t n = 0, e;
        for (e = 0; e < json_array_size(oa->entries); e++) {
            if (oa->entry_op[e] != i)
                continue;
            json_t *sc = json_object_get(json_array_get(oa->entries, e), "scopes");
            char *s = sc ? json_dumps(sc, JSON_COMPACT) : NULL;
            int w = snprintf(scopes + n, sizeof(scopes) - n, "%s%s", n ? " or " : "",
                             s ? s : "anonymous");
            free(s);
            n = w < 0 || (size_t)w >= sizeof(scopes) - n ? sizeof(scopes) - 1 : n + (size_t)w;
        }
        const json_t *sop = oa->ops[i].sop;
        pc_conf_note(err, "document", "%s: %s %s%s%s%s%s; scopes %s", oa->ops[i].id,
                     oa->ops[i].method, oa->ops[i].path,
                     json_object_get(sop, "path") ? ", path" : "",
                     json_object_get(sop, "query") ? ", query" : "",
                     json_object_get(sop, "headers") ? ", headers" : "",
                     oa->ops[i].body ? ", body" : "", scopes);
    }
    size_t i;
    const json_t *note;
    json_array_foreach(oa->notes, i, note)
        pc_conf_warn(err, "document", "%s", json_string_value(note));
}

/* The allow-list would name a template by its place in the generated lists;
 * the operator needs the operation's pointer in the document. */
static int oa_templates(const pc_oa_t *oa, pc_err_t *err)
{
    for (size_t i = 0; i < oa->nops; i++) {
        al_tmpl_t t;
        char msg[256];
        if (al_tmpl_parse(oa->ops[i].path, &t, msg, sizeof(msg)))
            return pc_err_set(err, "document", "%s: the path template \"%s\": %s", oa->ops[i].ptr,
                              oa->ops[i].path, msg);
        al_tmpl_free(&t);
    }
    return 0;
}

static int oa_consumers_check(const json_t *consumers, pc_err_t *err)
{
    oa_consumers_t tmp = {0};
    int rc = consumers ? pc_conf_parse(consumers, "consumers", oa_consumer_fields, &tmp, err) : 0;
    pc_conf_fields_free(oa_consumer_fields, &tmp);
    return rc;
}

/* The allow-list node: one list per security alternative (oa_import.h),
 * each with the instance's consumers. */
static json_t *oa_allowlist_node(const oa_conf_t *c, const pc_oa_t *oa, const json_t *node)
{
    const json_t *consumers = json_object_get(node, "consumers");
    json_t *lists = json_array();
    size_t k;
    json_t *entries;
    json_array_foreach(oa->lists, k, entries) {
        char name[32];
        snprintf(name, sizeof(name), k ? "openapi.%zu" : "openapi", k + 1);
        json_t *l = json_pack("{s:s,s:O}", "name", name, "entries", entries);
        if (consumers)
            json_object_set(l, "consumers", (json_t *)consumers);
        json_array_append_new(lists, l);
    }
    json_t *al = json_pack("{s:s,s:s,s:o}", "mode", oa_modes[c->mode], "on_deny",
                           oa_denies[c->on_deny], "lists", lists);
    const json_t *gc = json_object_get(node, "group_claim");
    if (gc)
        json_object_set(al, "group_claim", (json_t *)gc);
    return al;
}

static int oa_build(oa_conf_t *c, const pc_oa_t *oa, const json_t *conf_node, pc_err_t *err)
{
    if (oa_templates(oa, err))
        return -1;
    json_t *node = oa_allowlist_node(c, oa, conf_node);
    int rc = pc_allowlist_create(node, &c->al, err);
    json_decref(node);
    if (rc)
        return -1;
    c->nentries = json_array_size(oa->entries);
    c->entry_op = pc_xcalloc(c->nentries + 1, sizeof(*c->entry_op));
    memcpy(c->entry_op, oa->entry_op, c->nentries * sizeof(*c->entry_op));
    c->ops = pc_xcalloc(oa->nops + 1, sizeof(*c->ops));
    pc_sop_env_t env = {.formats = c->formats, .default_draft = PC_SCHEMA_2020_12,
                        .max_errors = 10, .report = c->mode == 1};
    if (c->validate_responses) {
        c->rsets = pc_xcalloc(oa->nops + 1, sizeof(*c->rsets));
        if (pc_sload_init(&c->rload, NULL, c->formats, PC_SCHEMA_2020_12, "validate_responses",
                          err) < 0)
            return -1;
        c->rload_init = true;
    }
    for (size_t i = 0; i < oa->nops; i++) {
        char key[1200];
        snprintf(key, sizeof(key), "document: %s", oa->ops[i].ptr);
        if (pc_sop_create(oa->ops[i].sop, key, &env, &c->ops[i], err))
            return -1;
        c->nops++;
        if (c->rsets && json_object_size(oa->ops[i].responses) &&
            pc_oa_rset_create(oa->ops[i].responses, &c->rload, key, &c->rsets[i], err))
            return -1;
    }
    return 0;
}

static int oa_conf_create(const json_t *node, void **conf, pc_err_t *err)
{
    oa_conf_t *c = pc_xcalloc(1, sizeof(*c));
    *conf = c;
    if (pc_conf_parse(node, NULL, oa_fields, c, err))
        return -1;
    if (c->base_path && c->base_path[0] && c->base_path[0] != '/')
        return pc_err_set(err, "base_path", "must be \"\" or start with '/'");
    const json_t *gc = json_object_get(node, "group_claim");
    if (gc && (!json_is_string(gc) || json_string_length(gc) == 0))
        return pc_err_set(err, "group_claim", "must be a claim path such as \"groups\"");
    if (oa_consumers_check(json_object_get(node, "consumers"), err))
        return -1;
    size_t len;
    char *text = pc_conf_file(json_object_get(node, "document"), "document", OA_DOC_MAX, &len,
                              err);
    if (!text)
        return -1;
    char msg[1024] = "";
    json_t *doc = pc_doc_parse(text, len, OA_DOC_NODES, msg, sizeof(msg));
    free(text);
    if (!doc)
        return pc_err_set(err, "document", "%s", msg);
    pc_oa_t oa;
    pc_oa_opts_t opts = {.base_path = c->base_path, .responses = c->validate_responses,
                         .unverified = (const char *const *)c->unverified.v,
                         .nunverified = c->unverified.n};
    int rc = pc_oa_import(doc, &opts, &oa, msg, sizeof(msg));
    json_decref(doc);
    if (rc)
        pc_err_set(err, "document", "%s", msg);
    else if ((rc = oa_build(c, &oa, node, err)) == 0)
        oa_describe(&oa, err);
    pc_oa_free(&oa);
    return rc;
}

static int oa_start(void *conf, pc_env_t *env, pc_err_t *err)
{
    oa_conf_t *c = conf;
    pc_sop_metrics(env);
    if (c->rsets)
        pc_oa_rcheck_metrics(env);
    return pc_allowlist_start(c->al, env, err);
}

static pc_status_t oa_on_headers(pc_request_t *r, void *conf, void *ctx)
{
    const oa_conf_t *c = conf;
    oa_ctx_t *x = ctx;
    pc_allowlist_hit_t hit;
    pc_status_t st = pc_allowlist_decide(r, c->al, &hit);
    if (st != PC_CONTINUE || hit.entry < 0 || (size_t)hit.entry >= c->nentries)
        return st; /* refused, or let through by report mode without a match */
    size_t i = c->entry_op[hit.entry];
    const pc_sop_t *op = c->ops[i];
    if (c->rsets && c->rsets[i]) {
        pc_response_body_keep(r);
        x->rset = c->rsets[i];
    }
    pc_sop_params_t pp = {.n = hit.nparams};
    for (unsigned k = 0; k < hit.nparams && k < 8; k++) {
        pp.name[k] = hit.params[k].name;
        pp.value[k] = hit.params[k].value;
    }
    st = pc_sop_check_head(r, op, &pp);
    if (st == PC_CONTINUE && pc_sop_wants_body(op))
        x->op = op;
    return st;
}

/* The core calls on_body for every request of the route, bodyless ones
 * too (with an empty body), so a required body is enforced here. */
static pc_status_t oa_on_body(pc_request_t *r, void *conf, void *ctx)
{
    const oa_ctx_t *x = ctx;
    return x->op ? pc_sop_check_body(r, x->op) : PC_CONTINUE;
}

static void oa_on_log(pc_request_t *r, void *conf, void *ctx)
{
    const oa_ctx_t *x = ctx;
    if (x->rset)
        pc_oa_rcheck(r, x->rset);
}

const pc_plugin_t pc_plugin_openapi = {
    .abi = PC_PLUGIN_ABI,
    .name = "openapi",
    .flags = PC_PLUGIN_NEEDS_BODY | PC_PLUGIN_SEES_RESPONSE_BODY,
    .req_ctx_size = sizeof(oa_ctx_t),
    .conf_create = oa_conf_create,
    .start = oa_start,
    .conf_free = oa_conf_free,
    .on_headers = oa_on_headers,
    .on_body = oa_on_body,
    .on_log = oa_on_log,
};
