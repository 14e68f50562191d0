/* plugins/openapi/oa_rcheck.h: "validate_responses": an operation's response
 * schemas compiled at load, and the check of a relayed response in on_log.
 * Report only, as for the schema plugin's responses: the client already has
 * the response; the check is counted in
 * portcullis_schema_responses_total{decision} (valid, invalid, malformed,
 * skipped: over PC_RESPONSE_CAPTURE_MAX or broken off) and an invalid one
 * is logged (warn) with its first error. The status picks the schema: the
 * exact code, then its class ("2XX"), then "default"; none: not checked. */
#ifndef PC_OA_RCHECK_H
#define PC_OA_RCHECK_H

#include "../schema/schema_load.h"

#include <portcullis/plugin.h>

typedef struct pc_oa_rset pc_oa_rset_t;

/* responses: {"200"|"2XX"|"default": schema} (oa_import.h), compiled with
 * load; key names it in errors. 0 or -1 after pc_err_set. */
int pc_oa_rset_create(const json_t *responses, pc_sload_t *load, const char *key,
                      pc_oa_rset_t **out, pc_err_t *err);
void pc_oa_rset_free(pc_oa_rset_t *s);
/* start(): the counter (shared with the schema plugin's, same name). */
void pc_oa_rcheck_metrics(pc_env_t *env);
/* on_log, after pc_response_body_keep in on_headers. */
void pc_oa_rcheck(pc_request_t *r, const pc_oa_rset_t *s);

#endif
