/* gateway/store/store_verdict.h: the limit script's answer read as
 * verdicts. gateway/store/ratelimit.lua answers a batch of checks with one
 * flat array, PC_STC_VALUES integers per check, in the order they were
 * sent. That array comes from a server we do not control, so nothing in
 * it is believed before it was checked against what was asked. Pure
 * functions, any thread; the reply stays the caller's. */
#ifndef PC_STORE_VERDICT_H
#define PC_STORE_VERDICT_H

#include <portcullis/plugin.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct redisReply;

#define PC_STC_VALUES 8 /* integers per check in the script's reply */

/* The reply has the shape of an answer to nchecks checks: an array of
 * PC_STC_VALUES * nchecks elements (their types are pc_stc_verdict's). */
bool pc_stc_reply_shaped(const struct redisReply *rep, size_t nchecks);

/* One check's PC_STC_VALUES elements (el): granted, then the result of the
 * grant (remaining, reset, retry, limit index) and the one for requests
 * beyond it (reset, retry, limit index), as pc_rl_take computes them. The
 * check asked for at most `asked` grants on nlimits limits. 0 with the
 * verdict filled in, or -1 (nothing filled in) when el cannot be the
 * script's answer to it: a non-integer, a negative or a value beyond 2^53,
 * more granted than asked, a limit index out of range. */
int pc_stc_verdict(struct redisReply *const *el, uint64_t asked, size_t nlimits,
                   uint64_t *granted, pc_limit_result_t *res, pc_limit_result_t *over);

#endif
