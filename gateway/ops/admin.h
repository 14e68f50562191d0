/* gateway/ops/admin.h: the admin API (loopback by default, never the public
 * port): /healthz, /readyz, /metrics, /config and POST /revocations, as a
 * function from a request to a response. The HTTP listener that serves it
 * is gateway/front/admin_http.h. */
#ifndef PC_ADMIN_H
#define PC_ADMIN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "worker.h"

#define PC_ADMIN_BODY_MAX 4096u    /* request bodies beyond are refused (413) */

typedef struct pc_admin_view {
    pc_worker_t *workers;
    unsigned nworkers;
    atomic_bool ready;
    _Atomic unsigned generation;
    const char *config_path;
} pc_admin_view_t;

typedef struct pc_admin_req {
    const char *method;
    const char *path;
    const char *content_type;      /* NULL if absent */
    const char *body;              /* the first PC_ADMIN_BODY_MAX bytes */
    size_t body_len;
    bool body_too_large;           /* the body went on beyond them */
} pc_admin_req_t;

typedef struct pc_admin_resp {
    unsigned status;
    const char *content_type;
    char *body;                    /* malloc'd: the listener frees it */
    size_t len;
    const char *allow;             /* an Allow header, or NULL */
    bool no_store;                 /* Cache-Control: no-store */
} pc_admin_resp_t;

/* Whether the listener should keep the body of this request (else it
 * discards what arrives). */
bool pc_admin_wants_body(const char *method, const char *path);

/* The answer to q. The admin listener's thread: it may block on the store
 * (POST /revocations: pc_store_sync_flag_set). */
void pc_admin_answer(const pc_admin_view_t *v, const pc_admin_req_t *q, pc_admin_resp_t *out);

#endif
