/* plugins/openapi/oa_import.h: an OpenAPI 3.0/3.1 document (a jansson tree)
 * into what the allow-list and the per-operation checks take. Pure: no I/O,
 * no plugin state, so the unit tests and the fuzz target drive it directly.
 *
 * Out of the document come:
 *   - allow-list entries, one per operation and security alternative
 *     ({"id", "methods", "path", "scopes"}), grouped into lists, path parameters typed from
 *     their schemas: integer with minimum >= 0 -> {n:int}, other integers
 *     -> {n:-?[0-9]+}, string format uuid -> {n:uuid}, anything else {n}
 *     (the "path" schema checks the rest);
 *   - one schema_op node per operation (plugins/schema/schema_op.h):
 *     "path", "query", "headers" object schemas with their required lists,
 *     "body"/"content_types"/"body_required" from application/json and
 *     +json request bodies. Each schema is self-contained: component schemas
 *     it references are bundled under its "$defs" and every
 *     "#/components/schemas/Name..." reference becomes "#/$defs/Name...".
 *     3.0 schemas are translated to 2020-12 (docs/filtering.md has the table).
 *   - notes: what is accepted but not validated, for `portcullis -t`.
 * Anything the gateway cannot enforce faithfully is an error naming the JSON
 * pointer into the document: "/paths/~1pets/get/parameters/0/style:
 * \"deepObject\" is not supported".
 */
#ifndef PC_OA_IMPORT_H
#define PC_OA_IMPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct pc_oa_opts {
    const char *base_path; /* overrides the servers' base path; NULL: from "servers" */
    /* Security schemes (by name) the operator leaves to the upstream: a
     * requirement on one of them asks nothing of the gateway (no scope),
     * and each place one is required is noted (once). */
    const char *const *unverified;
    size_t nunverified;
    bool responses;        /* also the responses' JSON schemas (pc_oa_op_t) */
} pc_oa_opts_t;

typedef struct pc_oa_op {
    char *id;       /* operationId, or "GET /pets/{petId}" */
    char *method;   /* "GET" */
    char *path;     /* the allow-list template, base path included */
    char *ptr;      /* its pointer in the document: "/paths/~1pets/get" */
    json_t *sop;    /* the schema_op node */
    json_t *responses; /* with opts.responses: {"200"|"2XX"|"default": schema} of
                          the JSON responses, else NULL */
    bool body;      /* the op validates a body */
} pc_oa_op_t;

typedef struct pc_oa {
    char version[16];      /* "3.0.3" */
    char *base_path;       /* "" or "/v1" */
    json_t *entries;       /* the allow-list entries, config order */
    size_t *entry_op;      /* entries[i] belongs to ops[entry_op[i]] */
    json_t *lists;         /* the same entries as allow-list lists: list k holds
                              every operation's k-th security alternative (one
                              list may not hold one shape and method twice), so
                              entries[] is lists[0]'s, then lists[1]'s, ... */
    pc_oa_op_t *ops;
    size_t nops;
    size_t nparams[3];     /* path, query, header parameters validated */
    size_t nbodies;        /* request bodies validated */
    size_t nresponses;     /* response schemas (opts.responses) */
    size_t nschemas;       /* component schemas bundled (distinct names) */
    json_t *notes;         /* strings: "<pointer>: accepted, not validated: ..." */
} pc_oa_t;

#define PC_OA_MAX_PATH_PARAMS 8

/* 0, or -1 with "<pointer>: <text>" in err. On 0 out owns the result
 * (pc_oa_free); on -1 it is empty (pc_oa_free is harmless). */
int pc_oa_import(const json_t *doc, const pc_oa_opts_t *opts, pc_oa_t *out, char *err,
                 size_t errlen);
void pc_oa_free(pc_oa_t *oa);

/* JSON pointer helpers (RFC 6901), shared with the schema translator:
 * appends "/" + token escaped (~0, ~1) to ptr (of size len, truncated). */
void pc_oa_ptr_push(char *ptr, size_t len, const char *token);

#endif
