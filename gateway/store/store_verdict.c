/* gateway/store/store_verdict.c: the limit script's answer read as
 * verdicts (contract in store_verdict.h). Kept apart from store_check.c,
 * which sends the checks, so that the unit tests and fuzz/fuzz_store_verdict.c
 * reach it without an event loop or a server. */
#include "store/store_verdict.h"

#include <hiredis/hiredis.h>

bool pc_stc_reply_shaped(const redisReply *rep, size_t nchecks)
{
    return rep && rep->type == REDIS_REPLY_ARRAY && nchecks &&
           rep->elements / PC_STC_VALUES == nchecks && rep->elements % PC_STC_VALUES == 0;
}

int pc_stc_verdict(redisReply *const *el, uint64_t asked, size_t nlimits, uint64_t *granted,
                   pc_limit_result_t *res, pc_limit_result_t *over)
{
    long long v[PC_STC_VALUES];
    for (size_t i = 0; i < PC_STC_VALUES; i++) {
        if (!el[i] || el[i]->type != REDIS_REPLY_INTEGER || el[i]->integer < 0 ||
            el[i]->integer > (long long)1 << 53)
            return -1;
        v[i] = el[i]->integer;
    }
    if ((uint64_t)v[0] > asked || (uint64_t)v[4] >= nlimits || (uint64_t)v[7] >= nlimits)
        return -1;
    *granted = (uint64_t)v[0];
    *res = (pc_limit_result_t){v[0] > 0, (unsigned)v[4], (uint64_t)v[1], (uint64_t)v[2],
                               (uint64_t)v[3], 0};
    *over = (pc_limit_result_t){0, (unsigned)v[7], 0, (uint64_t)v[5], (uint64_t)v[6], 0};
    return 0;
}
