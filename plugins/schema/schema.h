/* plugins/schema/schema.h: JSON Schema (2020-12 and draft-07), compiled
 * once at load into a validator that runs without allocating.
 *
 * Compile: the schema documents are pc_json_t trees (json_read.h; schemas
 * from the config are dumped from jansson and read back, files in the
 * schema directory are read directly, so numbers keep their literal). The
 * draft is chosen by the root's "$schema" (default opts->default_draft).
 * "$ref" may point into the same document or to another document that the
 * loader provides (the config's schema directory, or the conformance
 * suite's remotes): never to the network. Cycles of "$ref" are fine when
 * an instance level is consumed between two visits ({"$ref": "#"} under
 * "properties"); a cycle that consumes nothing is a compile error.
 * Patterns compile with PCRE2 (UTF mode, match and depth limits, JIT when
 * available), so no schema or instance can hold a worker.
 *
 * Validate: walks the instance once against the compiled form. Thread-safe
 * on an immutable pc_schema_t; scratch comes from the caller.
 */
#ifndef PC_SCHEMA_H
#define PC_SCHEMA_H

#include "json_read.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum pc_schema_draft {
    PC_SCHEMA_2020_12 = 0,
    PC_SCHEMA_DRAFT7,
} pc_schema_draft_t;

/* Provides the document for an absolute URI without fragment
 * ("https://example.com/order.json", "file:///etc/pc/schemas/x.json"), or
 * NULL when there is none. The tree must live as long as the compiled
 * schema (give it the same lifetime as the registry's arena). */
typedef const pc_json_t *(*pc_schema_loader_fn)(void *ud, const char *uri);

typedef struct pc_schema_opts {
    pc_schema_draft_t default_draft;
    bool formats;                 /* "format" asserts (true) or annotates */
    pc_schema_loader_fn loader;   /* NULL: only the root document */
    void *loader_ud;
    uint32_t regex_match_limit;   /* PCRE2 match limit; 0: 100000 */
    uint32_t regex_depth_limit;   /* PCRE2 depth limit; 0: 1000 */
} pc_schema_opts_t;

typedef struct pc_schema pc_schema_t;

/* Compiles root, whose retrieval URI is base_uri (NULL: a local default).
 * Returns NULL with a message naming the schema location
 * ("/properties/price/multipleOf: must be a number > 0") in err. */
pc_schema_t *pc_schema_compile(const pc_json_t *root, const char *base_uri,
                               const pc_schema_opts_t *opts, char *err, size_t errlen);
void pc_schema_free(pc_schema_t *s);

/* One failed assertion. Strings are NUL-terminated and truncated to fit;
 * excerpt is at most 40 bytes of the offending value, JSON-escaped. */
typedef struct pc_schema_error {
    char instance[128];   /* RFC 6901 pointer into the instance: "/items/3/price" */
    char schema[128];     /* keyword location in the schema: "/properties/items/..." */
    const char *keyword;  /* "type", "required", "pattern", ... (static) */
    char message[96];     /* "must be >= 0" (client-safe) */
    char excerpt[48];
} pc_schema_error_t;

typedef struct pc_schema_errors {
    unsigned max;              /* capacity of e; 0: stop at the first failure */
    unsigned n;                /* filled */
    bool truncated;            /* more failures than max */
    pc_schema_error_t *e;
} pc_schema_errors_t;

/* True when instance is valid. errs may be NULL (fastest: first failure
 * ends the walk). */
bool pc_schema_validate(const pc_schema_t *s, const pc_json_t *instance, pc_schema_errors_t *errs);

#endif
