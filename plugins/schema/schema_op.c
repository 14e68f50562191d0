/* plugins/schema/schema_op.c: see schema_op.h. Loading an op's node
 * (schema_load.h), then the checks of a request, head first, body last. */
#include "schema_op.h"
#include "schema_load.h"
#include "schema_params.h"
#include "schema_problem.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX_DEPTH 64
/* Internal: a refusal that report mode let through (PC_CONTINUE outside). */
#define SOP_REPORTED ((pc_status_t)100)

typedef struct sop_part {
    pc_schema_t *schema;      /* NULL: not checked */
    pc_pdecl_t *decls;        /* declared properties (query, path, headers) */
    size_t ndecls;
} sop_part_t;

struct pc_sop {
    pc_sload_t load;
    pc_sop_env_t env;
    pc_conf_strings_t ctypes;
    bool body_required;
    sop_part_t body, query, path, headers;
};

/* ---- metrics (process-wide, registered by the plugins' start) ------------------- */

static _Atomic(pc_metric_t *) requests_total;

void pc_sop_metrics(pc_env_t *env)
{
    static const char *const labels[] = {"decision", "reason", NULL};
    atomic_store(&requests_total,
                 pc_metric_counter(env, "portcullis_schema_requests_total",
                                   "Requests checked by JSON Schema, by decision and reason",
                                   labels));
}

static void count(const char *decision, const char *reason)
{
    const char *v[] = {decision, reason};
    pc_metric_add(atomic_load_explicit(&requests_total, memory_order_relaxed), v, 1);
}

/* ---- loading ---------------------------------------------------------------------- */

typedef struct sop_node {
    pc_conf_strings_t content_types;
    bool body_required;
} sop_node_t;

static const pc_conf_field_t sop_fields[] = {
    {.key = "content_types", .type = PC_CONF_STRINGS, .offset = offsetof(sop_node_t, content_types),
     .flags = PC_CONF_SINGLE | PC_CONF_NONEMPTY, .max = 32},
    {.key = "body", .type = PC_CONF_ANY},
    {.key = "body_required", .type = PC_CONF_BOOL, .offset = offsetof(sop_node_t, body_required),
     .def = 1},
    {.key = "query", .type = PC_CONF_ANY},
    {.key = "path", .type = PC_CONF_ANY},
    {.key = "headers", .type = PC_CONF_ANY},
    {0},
};

/* The properties an object schema declares, each with the type its value is read as. */
static void part_decls(pc_sop_t *op, sop_part_t *part, const pc_json_t *tree)
{
    const pc_json_t *s = pc_sload_deref(&op->load, tree, tree);
    const pc_json_t *props = s && s->type == PC_JSON_OBJECT ? pc_json_get(s, "properties", 10) : NULL;
    if (!props || props->type != PC_JSON_OBJECT)
        return;
    part->decls = pc_xcalloc(props->len ? props->len : 1, sizeof(*part->decls));
    for (uint32_t i = 0; i < props->len; i++) {
        const pc_json_member_t *m = &props->u.members[i];
        const pc_json_t *p = pc_sload_deref(&op->load, tree, m->value);
        pc_pdecl_t *d = &part->decls[part->ndecls++];
        d->name = m->key;
        d->nlen = m->klen;
        d->type = pc_ptype_of(p);
        if (d->type == PC_PT_ARRAY && p)
            d->item = pc_ptype_of(pc_sload_deref(&op->load, tree, pc_json_get(p, "items", 5)));
    }
}

static int part_load(pc_sop_t *op, sop_part_t *part, const json_t *node, const char *name,
                     const char *key, pc_err_t *err)
{
    const json_t *v = json_object_get(node, name);
    if (!v)
        return 0;
    char k[256];
    snprintf(k, sizeof(k), "%s.%s", key, name);
    const pc_json_t *tree = NULL;
    part->schema = pc_sload_compile(&op->load, v, k, &tree, err);
    if (!part->schema)
        return -1;
    if (part != &op->body)
        part_decls(op, part, tree);
    return 0;
}

int pc_sop_create(const json_t *node, const char *key, const pc_sop_env_t *env, pc_sop_t **out,
                  pc_err_t *err)
{
    *out = NULL;
    if (!json_is_object(node))
        return pc_err_set(err, key, "must be an object (content_types, body, query, path, headers)");
    pc_sop_t *op = pc_xcalloc(1, sizeof(*op));
    sop_node_t n = {0};
    int rc = pc_conf_parse(node, key, sop_fields, &n, err);
    op->ctypes = n.content_types;
    op->body_required = n.body_required;
    op->env = *env;
    op->env.schema_dir = env->schema_dir ? pc_xstrdup(env->schema_dir) : NULL;
    if (!op->env.max_errors)
        op->env.max_errors = 10;
    if (rc == 0)
        rc = pc_sload_init(&op->load, op->env.schema_dir, env->formats, env->default_draft,
                           "schema_dir", err);
    if (rc == 0 && (part_load(op, &op->body, node, "body", key, err) < 0 ||
                    part_load(op, &op->query, node, "query", key, err) < 0 ||
                    part_load(op, &op->path, node, "path", key, err) < 0 ||
                    part_load(op, &op->headers, node, "headers", key, err) < 0))
        rc = -1;
    if (rc == 0 && op->body.schema && !op->ctypes.n) {
        op->ctypes.v = pc_xcalloc(1, sizeof(char *));
        op->ctypes.v[op->ctypes.n++] = pc_xstrdup("application/json");
    }
    if (rc < 0) {
        pc_sop_free(op);
        return -1;
    }
    *out = op;
    return 0;
}

static void part_free(sop_part_t *p)
{
    pc_schema_free(p->schema);
    free(p->decls);
}

void pc_sop_free(pc_sop_t *op)
{
    if (!op)
        return;
    part_free(&op->body);
    part_free(&op->query);
    part_free(&op->path);
    part_free(&op->headers);
    pc_conf_strings_free(&op->ctypes);
    pc_sload_free(&op->load);
    free((char *)op->env.schema_dir);
    free(op);
}

bool pc_sop_wants_body(const pc_sop_t *op)
{
    return op->body.schema || op->ctypes.n;
}

/* ---- refusing ----------------------------------------------------------------------- */

static void *req_alloc(void *ud, size_t size)
{
    return pc_alloc(ud, size);
}

/* Every refusal goes through here: counted, logged, and in report mode let through. */
static pc_status_t refuse(pc_request_t *r, const pc_sop_t *op, int status, const char *reason,
                          const char *detail, const char *in, const pc_schema_errors_t *errs)
{
    char safe[sizeof(errs->e[0].instance)];
    const char *first = errs && errs->n ? errs->e[0].message : detail;
    const char *at = errs && errs->n ? pc_sproblem_log_safe(safe, sizeof(safe), errs->e[0].instance) : "";
    if (op->env.report) {
        count("reported", reason);
        pc_rlog(r, PC_LOG_WARN, "report mode: would refuse %d %s (%s%s%s%s)", status, reason,
                in ? in : "", at[0] ? " " : "", at, first ? first : "");
        return SOP_REPORTED;
    }
    count("denied", reason);
    pc_rlog(r, PC_LOG_INFO, "refused %d %s (%s%s%s: %s)", status, reason, in ? in : "",
            at[0] ? " " : "", at, first ? first : "");
    if (!errs)
        return pc_deny(r, status, reason, detail);
    json_t *extra = pc_sproblem_errors(errs, in, op->load.base_uri);
    pc_status_t st = pc_deny_json(r, status, reason, detail, extra);
    json_decref(extra);
    return st;
}

static pc_status_t validate(pc_request_t *r, const pc_sop_t *op, const sop_part_t *part,
                            const pc_json_t *v, const char *in)
{
    /* The common case first, at full speed (the walk ends at a failure);
     * only a refusal walks again to collect its errors. */
    if (pc_schema_validate(part->schema, v, NULL))
        return PC_CONTINUE;
    pc_schema_errors_t errs = {.max = op->env.max_errors};
    errs.e = pc_alloc(r, errs.max * sizeof(*errs.e));
    pc_schema_validate(part->schema, v, &errs);
    char detail[96];
    snprintf(detail, sizeof(detail), "the %s does not match its schema", in);
    return refuse(r, op, 400, "schema.invalid", detail, in, &errs);
}

/* ---- the head ------------------------------------------------------------------------- */

static bool has_body(pc_request_t *r)
{
    const char *cl = pc_request_header(r, "content-length");
    return pc_request_header(r, "transfer-encoding") || (cl && strspn(cl, "0") != strlen(cl));
}

static pc_status_t check_ctype(pc_request_t *r, const pc_sop_t *op)
{
    const char *ct = pc_request_header(r, "content-type");
    if (!ct && !has_body(r))
        return PC_CONTINUE;
    bool json;
    switch (pc_ctype_match(ct, (const char *const *)op->ctypes.v, op->ctypes.n, &json)) {
    case PC_CTYPE_OK:
        return PC_CONTINUE;
    case PC_CTYPE_CHARSET:
        return refuse(r, op, 415, "schema.content_type",
                      "JSON is UTF-8 (RFC 8259): a charset other than utf-8 is refused", NULL, NULL);
    case PC_CTYPE_UNLISTED:
        break;
    }
    char detail[256];
    snprintf(detail, sizeof(detail), "%s; expected %s%s", ct ? "Content-Type not accepted"
             : "a body needs a Content-Type", op->ctypes.v[0], op->ctypes.n > 1 ? " or another listed type" : "");
    return refuse(r, op, 415, "schema.content_type", detail, NULL, NULL);
}

static pc_status_t check_query(pc_request_t *r, const pc_sop_t *op)
{
    size_t bad = 0;
    const pc_json_t *q = pc_query_object(pc_request_query(r), op->query.decls, op->query.ndecls,
                                         req_alloc, r, &bad);
    if (!q) {
        char detail[128];
        snprintf(detail, sizeof(detail),
                 "malformed query string at byte %zu (bad percent-escape, invalid UTF-8 or an "
                 "empty name)", bad);
        return refuse(r, op, 400, "schema.query_malformed", detail, "query", NULL);
    }
    return validate(r, op, &op->query, q, "query");
}

/* Path parameters are decoded here (the canonical path keeps escapes). */
static pc_status_t check_path(pc_request_t *r, const pc_sop_t *op, const pc_sop_params_t *pp)
{
    size_t n = op->path.ndecls;
    const char **vals = pc_alloc(r, (n ? n : 1) * sizeof(*vals));
    for (size_t i = 0; i < n; i++) {
        const pc_pdecl_t *d = &op->path.decls[i];
        const char *raw = NULL;
        for (unsigned j = 0; pp && j < pp->n; j++)
            if (strlen(pp->name[j]) == d->nlen && memcmp(pp->name[j], d->name, d->nlen) == 0)
                raw = pp->value[j];
        if (!pp && strlen(d->name) == d->nlen)
            raw = pc_request_param(r, d->name);
        if (!raw) {
            vals[i] = NULL;
            continue;
        }
        char *dec = pc_alloc(r, strlen(raw) + 1);
        if (pc_pct_decode(raw, strlen(raw), false, dec) < 0)
            return refuse(r, op, 400, "schema.path_malformed",
                          "a path parameter has a bad percent-escape or invalid UTF-8", "path", NULL);
        vals[i] = dec;
    }
    const pc_json_t *obj = pc_params_object(op->path.decls, vals, n, req_alloc, r);
    return validate(r, op, &op->path, obj, "path");
}

static pc_status_t check_headers(pc_request_t *r, const pc_sop_t *op)
{
    size_t n = op->headers.ndecls;
    const char **vals = pc_alloc(r, (n ? n : 1) * sizeof(*vals));
    for (size_t i = 0; i < n; i++) {
        const pc_pdecl_t *d = &op->headers.decls[i];
        const char *v = strlen(d->name) == d->nlen ? pc_request_header(r, d->name) : NULL;
        if (v && !pc_utf8_valid(v, strlen(v)))
            return refuse(r, op, 400, "schema.header_malformed", "a header is not valid UTF-8",
                          "headers", NULL);
        vals[i] = v;
    }
    const pc_json_t *obj = pc_params_object(op->headers.decls, vals, n, req_alloc, r);
    return validate(r, op, &op->headers, obj, "headers");
}

pc_status_t pc_sop_check_head(pc_request_t *r, const pc_sop_t *op, const pc_sop_params_t *pp)
{
    pc_status_t st = op->ctypes.n ? check_ctype(r, op) : PC_CONTINUE;
    if (st == PC_CONTINUE && op->query.schema)
        st = check_query(r, op);
    if (st == PC_CONTINUE && op->path.schema)
        st = check_path(r, op, pp);
    if (st == PC_CONTINUE && op->headers.schema)
        st = check_headers(r, op);
    if (st == PC_CONTINUE && !pc_sop_wants_body(op))
        count("allowed", "none");
    return st == SOP_REPORTED ? PC_CONTINUE : st;
}

/* ---- the body ---------------------------------------------------------------------------- */

pc_status_t pc_sop_check_body(pc_request_t *r, const pc_sop_t *op)
{
    if (!pc_sop_wants_body(op))
        return PC_CONTINUE;
    size_t len = 0;
    const char *body = pc_request_body(r, &len);
    bool json = false;
    const char *ct = pc_request_header(r, "content-type");
    if (ct)
        pc_ctype_match(ct, (const char *const *)op->ctypes.v, op->ctypes.n, &json);
    if (!op->body.schema || (len > 0 && !json)) {
        count("allowed", "none");
        return PC_CONTINUE;
    }
    if (len == 0) {
        if (!op->body_required) {
            count("allowed", "none");
            return PC_CONTINUE;
        }
        pc_status_t st = refuse(r, op, 400, "schema.body_missing", "a JSON body is required",
                                "body", NULL);
        return st == SOP_REPORTED ? PC_CONTINUE : st;
    }
    pc_json_limits_t lim = {.max_depth = BODY_MAX_DEPTH};
    pc_json_error_t je;
    const pc_json_t *doc = pc_json_parse(body, len, &lim, req_alloc, r, &je);
    if (!doc) {
        char detail[160];
        snprintf(detail, sizeof(detail), "the body is not acceptable JSON: %s at byte %zu",
                 je.msg ? je.msg : "error", je.offset);
        pc_status_t st = refuse(r, op, 400, "schema.body_malformed", detail, "body", NULL);
        return st == SOP_REPORTED ? PC_CONTINUE : st;
    }
    pc_status_t st = validate(r, op, &op->body, doc, "body");
    if (st == PC_CONTINUE)
        count("allowed", "none");
    return st == SOP_REPORTED ? PC_CONTINUE : st;
}
