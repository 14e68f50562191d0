/* plugins/schema/schema_op.h: what one operation (a route's method, or an
 * OpenAPI operation) checks on a request, shared by the `schema` plugin and
 * the `openapi` plugin.
 *
 * Node shape (docs/filtering.md):
 *   {"content_types": ["application/json"],   a body's Content-Type must be one
 *                                              of these (parameters such as
 *                                              charset ignored), else 415
 *    "body": <schema>,                         the JSON body
 *    "body_required": true,
 *    "query": <schema>, "path": <schema>, "headers": <schema>}
 *                                              object schemas; each value is
 *                                              typed by its property's "type"
 *                                              before validation (?limit=42 is
 *                                              an integer)
 * A <schema> is inline JSON Schema or {"$ref": "file.json#/..."} relative
 * to the schema directory.
 */
#ifndef PC_SCHEMA_OP_H
#define PC_SCHEMA_OP_H

#include <portcullis/plugin.h>
#include <stdbool.h>

typedef struct pc_sop pc_sop_t;

typedef struct pc_sop_env {
    const char *schema_dir;  /* absolute directory for $ref to files, or NULL */
    bool formats;            /* "format" asserts */
    int default_draft;       /* PC_SCHEMA_2020_12 or PC_SCHEMA_DRAFT7 */
    unsigned max_errors;     /* errors listed in a 400; default 10 */
    bool report;             /* "mode": "report": count and log, refuse nothing */
} pc_sop_env_t;

/* Path parameters for the "path" schema: name/value pairs (values as in the
 * canonical path, percent-decoding is the op's job). NULL: the route
 * template's own (pc_request_param). */
typedef struct pc_sop_params {
    unsigned n;
    const char *name[8];
    const char *value[8];
} pc_sop_params_t;

/* Registers portcullis_schema_requests_total{decision,reason} (decision:
 * allowed, denied, reported), shared by every op; a plugin's start() calls
 * it. Before, ops count nothing. */
void pc_sop_metrics(pc_env_t *env);

/* key: the JSON path of node for messages ("requests.POST"). */
int pc_sop_create(const json_t *node, const char *key, const pc_sop_env_t *env, pc_sop_t **out,
                  pc_err_t *err);
void pc_sop_free(pc_sop_t *op);
/* True when the op has a body schema or content types (so the body is read). */
bool pc_sop_wants_body(const pc_sop_t *op);

/* Content-Type, query, path and headers. PC_CONTINUE or PC_RESPOND (400 or
 * 415 problem+json set, counted, logged; in report mode only counted and
 * logged, and PC_CONTINUE). */
pc_status_t pc_sop_check_head(pc_request_t *r, const pc_sop_t *op, const pc_sop_params_t *pp);
/* The buffered body (on_body). Same results; 400 with "errors". */
pc_status_t pc_sop_check_body(pc_request_t *r, const pc_sop_t *op);

#endif
