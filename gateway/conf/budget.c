/* gateway/conf/budget.c: the memory a config's connection limits can
 * take, against the machine's RAM (see budget.h). Every connection that
 * is busy holds one libmicrohttpd pool; with max_header_bytes at 1 MiB and
 * the default 10,000 connections per worker that is tens of GB, which is
 * worth saying before the kernel does. */
#include "conf/budget.h"

#include <unistd.h>

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    return a && b > UINT64_MAX / a ? UINT64_MAX : a * b;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

size_t pc_budget_pool_bytes(const pc_limits_t *lim)
{
    return lim->max_header_bytes + lim->max_url_bytes + 8192;
}

uint64_t pc_budget_worst_bytes(const pc_conf_t *c)
{
    uint64_t per_worker = 0;
    for (size_t i = 0; i < c->nlisteners; i++) {
        const pc_listener_conf_t *l = &c->listeners[i];
        per_worker = sat_add(per_worker, sat_mul(l->max_connections,
                                                 pc_budget_pool_bytes(&l->limits)));
    }
    return sat_mul(per_worker, c->workers ? c->workers : 1);
}

bool pc_budget_exceeds(uint64_t worst, uint64_t ram_bytes, unsigned percent)
{
    if (percent > 100)
        percent = 100;
    if (!ram_bytes)
        return false;
    /* floor(ram * percent / 100) without overflow, for percent <= 100 */
    uint64_t share = ram_bytes / 100 * percent + ram_bytes % 100 * percent / 100;
    return worst > share;
}

uint64_t pc_budget_ram_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? sat_mul((uint64_t)pages, (uint64_t)size) : 0;
}

void pc_budget_warn(const pc_conf_t *c, uint64_t ram_bytes, pc_diag_t *d)
{
    uint64_t worst = pc_budget_worst_bytes(c);
    if (!pc_budget_exceeds(worst, ram_bytes, PC_BUDGET_RAM_PERCENT))
        return;
    pc_diag_warn(d, "listen",
                 "workers x max_connections x (max_header_bytes + max_url_bytes + 8 KiB) "
                 "can reach %llu MiB, more than %u%% of this machine's %llu MiB",
                 (unsigned long long)(worst >> 20), PC_BUDGET_RAM_PERCENT,
                 (unsigned long long)(ram_bytes >> 20));
}
