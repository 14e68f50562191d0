/* gateway/conf/budget.h: what a config's connection limits can cost in
 * memory, for the warning of `portcullis -t` (gateway/main.c; the loader
 * itself does not call it, so conf/ stays free of cycles). Pure functions
 * apart from the diagnostics sink and pc_budget_ram_bytes; any thread. */
#ifndef PC_BUDGET_H
#define PC_BUDGET_H

#include "conf/conf.h"

#include <stdbool.h>
#include <stdint.h>

/* Warn when the worst case passes this share of physical memory. */
#define PC_BUDGET_RAM_PERCENT 50u

/* libmicrohttpd's per-connection pool for a listener with these limits:
 * the request target and the header block must fit (so that our own
 * 414 and 431 answer first), plus 8 KiB for MHD's bookkeeping and the
 * response head. gateway/front/mhd.c sizes the pool with this. */
size_t pc_budget_pool_bytes(const pc_limits_t *lim);
/* The worst case of c: on every worker, every listener at max_connections
 * busy connections, each with its pool touched in full (idle ones cost
 * far less: gateway/front/idle.h). Saturates at UINT64_MAX. */
uint64_t pc_budget_worst_bytes(const pc_conf_t *c);
/* True when worst passes percent % (at most 100) of ram_bytes;
 * ram_bytes 0 (unknown) never does. */
bool pc_budget_exceeds(uint64_t worst, uint64_t ram_bytes, unsigned percent);
/* This machine's physical memory in bytes, 0 when unknown. */
uint64_t pc_budget_ram_bytes(void);
/* Adds a warning to d (path "listen") when c's worst case passes
 * PC_BUDGET_RAM_PERCENT of ram_bytes. */
void pc_budget_warn(const pc_conf_t *c, uint64_t ram_bytes, pc_diag_t *d);

#endif
