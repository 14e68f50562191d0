/* gateway/lifecycle/chain.h: runs a route's plugin chain, one phase at a time, and
 * owns the suspension tokens (pc_async_*). The chain position lives in the
 * request, so a suspended plugin is never called again for the same hook. */
#ifndef PC_CHAIN_H
#define PC_CHAIN_H

#include "lifecycle/request.h"

struct pc_worker;

typedef enum pc_phase { PC_PHASE_HEADERS = 0, PC_PHASE_BODY } pc_phase_t;

typedef enum pc_chain_result {
    PC_CHAIN_DONE = 0,   /* every plugin continued */
    PC_CHAIN_RESPONDED,  /* r->response_set */
    PC_CHAIN_SUSPENDED,  /* waiting for pc_async_end */
} pc_chain_result_t;

/* Runs from r->chain_pos; resets chain_pos to 0 when the phase is done. */
pc_chain_result_t pc_chain_run(pc_request_t *r, pc_phase_t phase);
void pc_chain_on_response(pc_request_t *r);
void pc_chain_on_log(pc_request_t *r);

/* Called by the core when r is resumed by a token: applies the verdict. */
pc_chain_result_t pc_chain_resume(pc_request_t *r, pc_phase_t phase);
/* Abandons the pending token of r (it times out now): shutdown, request
 * timeout, or the client gone; why goes to the log. */
void pc_chain_abandon(pc_request_t *r, const char *why);
/* Worker end: frees tokens whose plugin never ended them. */
void pc_chain_free_abandoned(struct pc_worker *w);

#endif
