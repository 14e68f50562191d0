/* gateway/front/admin_http.h: the admin listener, the HTTP side of the
 * admin API (gateway/ops/admin.h): its own libmicrohttpd daemon and thread,
 * separate from the workers' listeners. */
#ifndef PC_ADMIN_HTTP_H
#define PC_ADMIN_HTTP_H

#include "ops/admin.h"

typedef struct pc_admin pc_admin_t;

/* Main thread. Listens on address (a numeric IPv4 or IPv6 address) and
 * port; view must outlive the listener. NULL if it cannot listen. */
pc_admin_t *pc_admin_start(const char *address, unsigned port, pc_admin_view_t *view);
/* Main thread: stops the daemon (its thread ends) and frees it. NULL is fine. */
void pc_admin_stop(pc_admin_t *a);

#endif
