/* plugins/allowlist/allowlist.h: the API allow-list as a library, so that
 * the `allowlist` plugin and the `openapi` plugin (which generates its
 * entries from a document) share one matcher and one decision.
 *
 * Config shape (docs/filtering.md has the full table):
 *   {"mode": "enforce" | "report",
 *    "on_deny": "forbid" (403) | "hide" (404),
 *    "get_implies_head": false,
 *    "group_claim": "groups",              claim path with group/role values
 *    "lists": [
 *      {"name": "partner",
 *       "consumers": {"client_id": [...], "subject": [...], "group": [...]},
 *                                          absent: every consumer, anonymous too
 *       "entries": [
 *         {"id": "getOrder",               optional; openapi sets operationId
 *          "methods": ["GET"],
 *          "path": "/v1/orders/{id:uuid}/items/{n:int}/{slug:[a-z0-9-]{1,64}}",
 *          "scopes": ["orders:read"],      all required
 *          "get_implies_head": true,
 *          "query": {"params": {"limit": "int", "q": "string"},
 *                    "unknown": "refuse" | "allow"}}]}]}
 *
 * A request is allowed when some list that applies to its consumer holds
 * an entry matching method and canonical path whose scopes the token has
 * and whose query rules the query meets. Lookup walks a segment trie built
 * at load: its cost depends on the path, not on the number of entries.
 * Method-override headers are removed before the upstream and never acted
 * on; a "_method" query parameter is refused.
 */
#ifndef PC_ALLOWLIST_H
#define PC_ALLOWLIST_H

#include <portcullis/plugin.h>

typedef struct pc_allowlist pc_allowlist_t;

#define PC_ALLOWLIST_MAX_PARAMS 8

/* What the decision matched, for a caller that acts per entry (openapi). */
typedef struct pc_allowlist_hit {
    long entry;         /* index of the entry in config order over all lists; -1: none */
    const char *id;     /* the entry's "id", or NULL */
    const char *list;   /* the list's name, or NULL */
    unsigned nparams;   /* typed path parameters, in path order */
    struct {
        const char *name;
        const char *value; /* canonical (percent-encoded) segment bytes, NUL-terminated, request arena */
    } params[PC_ALLOWLIST_MAX_PARAMS];
} pc_allowlist_hit_t;

/* conf_create's work: node is the plugin's node ("type" removed) or a node
 * of that shape built by another plugin. Errors name the JSON path. */
int pc_allowlist_create(const json_t *node, pc_allowlist_t **out, pc_err_t *err);
/* start's work: registers the metrics (once per process; reloads share). */
int pc_allowlist_start(pc_allowlist_t *al, pc_env_t *env, pc_err_t *err);
void pc_allowlist_free(pc_allowlist_t *al);

/* on_headers' work. PC_CONTINUE (allowed, or refused in report mode: hit
 * says what matched) or PC_RESPOND (refused: 403/404 problem+json set,
 * counted and logged). hit may be NULL. */
pc_status_t pc_allowlist_decide(pc_request_t *r, const pc_allowlist_t *al, pc_allowlist_hit_t *hit);

#endif
