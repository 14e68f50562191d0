/* plugins/schema/schema_problem.h: the "errors" extension member of a
 * schema refusal (RFC 9457 §3.2), from the validator's bounded list. */
#ifndef PC_SCHEMA_PROBLEM_H
#define PC_SCHEMA_PROBLEM_H

#include "schema.h"

#include <jansson.h>

/* {"errors": [{"in", "instance", "schema", "keyword", "message",
 * "excerpt"?}, ...], "errors_truncated": true?}: at most errs->n entries
 * (the validator stopped at errs->max); in names the part checked ("body",
 * "query", "path", "headers"). A schema location in a file of the schema
 * directory is given relative to it (base_uri, "file:///dir/", or NULL),
 * and any other file: URI by its file name: clients do not learn the
 * gateway's paths. A new reference. */
json_t *pc_sproblem_errors(const pc_schema_errors_t *errs, const char *in, const char *base_uri);

/* s with control bytes as '?', into buf (NUL-terminated, truncated): an
 * instance pointer names the client's keys, and goes to the log. */
const char *pc_sproblem_log_safe(char *buf, size_t len, const char *s);

#endif
