/* plugins/openapi/oa_rcheck.c: see oa_rcheck.h. */
#include "oa_rcheck.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct oa_rschema {
    char key[16];          /* "200", "2XX", "default" */
    pc_schema_t *schema;
} oa_rschema_t;

struct pc_oa_rset {
    oa_rschema_t *v;
    size_t n;
};

static _Atomic(pc_metric_t *) responses_total;

void pc_oa_rcheck_metrics(pc_env_t *env)
{
    static const char *const labels[] = {"decision", NULL};
    atomic_store(&responses_total,
                 pc_metric_counter(env, "portcullis_schema_responses_total",
                                   "Upstream responses validated (report only), by decision",
                                   labels));
}

int pc_oa_rset_create(const json_t *responses, pc_sload_t *load, const char *key,
                      pc_oa_rset_t **out, pc_err_t *err)
{
    pc_oa_rset_t *s = pc_xcalloc(1, sizeof(*s));
    *out = s;
    s->v = pc_xcalloc(json_object_size(responses) + 1, sizeof(*s->v));
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)responses, k, v) {
        char path[1300];
        snprintf(path, sizeof(path), "%s.responses.%s", key, k);
        oa_rschema_t *e = &s->v[s->n];
        snprintf(e->key, sizeof(e->key), "%s", k);
        if (!(e->schema = pc_sload_compile(load, v, path, NULL, err)))
            return -1;
        s->n++;
    }
    return 0;
}

void pc_oa_rset_free(pc_oa_rset_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        pc_schema_free(s->v[i].schema);
    free(s->v);
    free(s);
}

static const pc_schema_t *oa_rschema(const pc_oa_rset_t *s, int status)
{
    char exact[16], cls[16];
    snprintf(exact, sizeof(exact), "%d", status);
    snprintf(cls, sizeof(cls), "%dXX", status / 100);
    const pc_schema_t *by_class = NULL, *by_default = NULL;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i].key, exact) == 0)
            return s->v[i].schema;
        if (strcmp(s->v[i].key, cls) == 0)
            by_class = s->v[i].schema;
        else if (strcmp(s->v[i].key, "default") == 0)
            by_default = s->v[i].schema;
    }
    return by_class ? by_class : by_default;
}

static void oa_count(const char *decision)
{
    const char *v[] = {decision};
    pc_metric_add(atomic_load_explicit(&responses_total, memory_order_relaxed), v, 1);
}

static void *oa_ralloc(void *ud, size_t size)
{
    return pc_alloc(ud, size);
}

void pc_oa_rcheck(pc_request_t *r, const pc_oa_rset_t *s)
{
    int status = pc_request_upstream_status(r);
    const pc_schema_t *schema = status ? oa_rschema(s, status) : NULL;
    if (!schema)
        return;
    size_t len = 0;
    bool truncated = false;
    const char *body = pc_response_body(r, &len, &truncated);
    if (!body || truncated) {
        oa_count("skipped");
        return;
    }
    pc_json_error_t je;
    const pc_json_t *doc = pc_json_parse(body, len, NULL, oa_ralloc, r, &je);
    if (!doc) {
        oa_count("malformed");
        pc_rlog(r, PC_LOG_WARN, "response %d is not acceptable JSON: %s at byte %zu", status,
                je.msg, je.offset);
        return;
    }
    pc_schema_error_t e1;
    pc_schema_errors_t errs = {.max = 1, .e = &e1};
    if (pc_schema_validate(schema, doc, &errs)) {
        oa_count("valid");
        return;
    }
    oa_count("invalid");
    pc_rlog(r, PC_LOG_WARN, "response %d does not match the document: %s %s (%s)", status,
            errs.n ? e1.instance : "", errs.n ? e1.message : "", errs.n ? e1.schema : "");
}
