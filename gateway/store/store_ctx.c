/* gateway/store/store_ctx.c: the helpers of the store context shared by
 * store.c and store_check.c (see store_ctx.h). */
#include "store/store_ctx.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/util.h"

#include <hiredis/hiredis.h>

#include <stdio.h>
#include <string.h>

void pc_st_metrics_register(pc_store_t *st)
{
    static const struct {
        int kind;
        const char *name, *help;
    } m[PC_SM_KINDS] = {
        [PC_SM_ERRORS] = {PC_METRIC_COUNTER, "portcullis_store_errors_total",
                          "Store calls Redis could not answer (store.on_error then applied)."},
        [PC_SM_TIMEOUTS] = {PC_METRIC_COUNTER, "portcullis_store_redis_timeouts_total",
                            "Redis commands that missed store.command_timeout_ms."},
        [PC_SM_FALLBACKS] = {PC_METRIC_COUNTER, "portcullis_store_fallbacks_total",
                             "Store calls answered from the local memory store (fail_open)."},
        [PC_SM_RECONNECTS] = {PC_METRIC_COUNTER, "portcullis_store_redis_reconnects_total",
                              "Redis connections re-established after a loss."},
        [PC_SM_REDIS_UP] = {PC_METRIC_GAUGE, "portcullis_store_redis_connections_up",
                            "Worker connections to Redis that are up."},
        [PC_SM_CHECKS] = {PC_METRIC_COUNTER, "portcullis_store_redis_checks_total",
                          "Rate-limit checks sent to Redis (one key each, several per batch)."},
        [PC_SM_LEASE_ADMITTED] = {PC_METRIC_COUNTER, "portcullis_ratelimit_lease_admitted_total",
                                  "Requests admitted from a worker's lease, without a Redis "
                                  "round trip."},
        [PC_SM_LEASE_REFUSED] = {PC_METRIC_COUNTER, "portcullis_ratelimit_lease_refused_total",
                                 "Requests refused locally, within the retry time Redis gave."},
    };
    for (unsigned k = 0; k < PC_SM_KINDS; k++) {
        st->metric[k] = pc_metric_register(m[k].kind, m[k].name, m[k].help, NULL);
        PC_ASSERT(st->metric[k]);
    }
}

uint64_t pc_st_now_ms(void)
{
    return pc_clock_wall_ms();
}

void pc_st_log_unavailable(pc_store_t *st, const char *why)
{
    uint64_t now = pc_clock_mono_ms();
    uint64_t last = atomic_load_explicit(&st->last_log_ms, memory_order_relaxed);
    if (last && now - last < 10000)
        return;
    if (!atomic_compare_exchange_strong(&st->last_log_ms, &last, now))
        return;
    if (st->fail_open)
        pc_log_write(PC_LOG_WARN,
                     "store: redis cannot answer (%s): answering from this gateway's memory store "
                     "(on_error fail_open; limits are per gateway until redis is back)",
                     why);
    else
        pc_log_write(PC_LOG_WARN,
                     "store: redis cannot answer (%s): store calls fail (on_error fail_closed)",
                     why);
}

int pc_st_mem_limit(pc_store_t *st, const void *key, size_t klen, const pc_rl_limit_t *l,
                    size_t n, pc_limit_result_t *out)
{
    pc_rl_result_t res = {0};
    int rc = st->mem ? pc_mstore_limit(st->mem, key, klen, l, n, pc_st_now_ms(), &res) : -1;
    *out = (pc_limit_result_t){res.allowed, res.limit, res.remaining, res.reset_ms,
                               res.retry_after_ms, 0};
    return rc == 0 ? 0 : -1;
}

void pc_st_why(const redisReply *rep, char *why, size_t len)
{
    if (rep && rep->type == REDIS_REPLY_ERROR)
        snprintf(why, len, "error reply: %.120s", rep->str);
    else if (rep)
        snprintf(why, len, "unexpected reply type %d", rep->type);
    else
        snprintf(why, len, "unreachable, or slower than command_timeout_ms");
}

size_t pc_store_redis_key(char *out, const char *prefix, const void *key, size_t klen,
                          const char *suffix)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *k = key;
    size_t n = strlen(prefix);
    memcpy(out, prefix, n);
    out[n++] = '{';
    for (size_t i = 0; i < klen && i < PC_MSTORE_MAX_KEY; i++) {
        unsigned char c = k[i];
        if (c == '{' || c == '}' || c == '%') {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '}';
    size_t s = strlen(suffix);
    memcpy(out + n, suffix, s);
    n += s;
    out[n] = '\0';
    return n;
}
