/* gateway/upstream/proxy.h: forwarding a request that passed its chain to an
 * upstream target, and collecting its answer in r->rbuf. Worker thread.
 * The front end turns that answer into its own response
 * (gateway/front/relay.h); the proxy wakes the request through
 * gateway/lifecycle/wait.h when the head or more body arrived. */
#ifndef PC_PROXY_H
#define PC_PROXY_H

#include "lifecycle/request.h"

/* Picks a target and starts the exchange. On failure (no usable target)
 * a response is set and -1 returned. */
int pc_proxy_start(pc_request_t *r);
/* Gives up on the exchange and sets an error response (status, reason). */
void pc_proxy_abort(pc_request_t *r, int status, const char *reason);
/* Request end: aborts a running exchange and releases the target. */
void pc_proxy_finish(pc_request_t *r);

/* Exposed for unit tests: header filtering rules. */
bool pc_proxy_hop_by_hop(const char *name, size_t len);
/* The path sent upstream: the canonical path with the route's prefix
 * rewrite applied. Arena-allocated. */
char *pc_proxy_upstream_path(pc_request_t *r);

#endif
