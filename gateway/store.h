/* gateway/store.h: the process's store behind the pc_store_* calls of
 * plugin.h. The memory store answers synchronously; a networked store
 * (Redis) answers from the worker's loop. */
#ifndef PC_STORE_H
#define PC_STORE_H

#include <stddef.h>

#include "conf.h"

/* Main thread, at startup: creates the process-wide store from the first
 * generation's "store" section. The store is fixed for the process's life
 * (a reload may not change it). */
int pc_store_init(const pc_conf_t *c);
void pc_store_shutdown(void);

#endif
