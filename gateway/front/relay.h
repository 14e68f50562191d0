/* gateway/front/relay.h: the client response of a proxied request, built
 * from what gateway/upstream/proxy.c collected (head in r->up_*, body in
 * r->rbuf). Worker thread. */
#ifndef PC_RELAY_H
#define PC_RELAY_H

#include "lifecycle/request.h"

struct MHD_Response;

/* The whole body when it is already in, else a reader that streams
 * r->rbuf and suspends r while it is empty. NULL if MHD refuses. */
struct MHD_Response *pc_relay_response(pc_request_t *r);

#endif
