/* gateway/store/redis_sync.c: the blocking Redis client for threads that
 * are no worker (contract in redis_sync.h): one hiredis context behind a
 * mutex, connected on first use and again after a failure once a backoff
 * has passed, with the same timeouts and the same bounded reader as the
 * asynchronous client. */
#include "store/redis_sync.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/util.h"
#include "store/redis_reply.h"

#include <hiredis/hiredis.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

struct pc_redis_sync {
    pthread_mutex_t lock;
    pc_redis_opts_t o;
    redisContext *c;
    uint64_t retry_at_ms;          /* no connect before (after a failure) */
    unsigned backoff_ms;
    pc_redis_bound_t bound;        /* c's reader */
    char where[160];
};

pc_redis_sync_t *pc_redis_sync_new(const pc_redis_opts_t *opts)
{
    pc_redis_sync_t *rs = pc_xcalloc(1, sizeof(*rs));
    pthread_mutex_init(&rs->lock, NULL);
    rs->o = *opts;
    if (!rs->o.connect_timeout_ms)
        rs->o.connect_timeout_ms = 500;
    if (!rs->o.command_timeout_ms)
        rs->o.command_timeout_ms = 200;
    rs->backoff_ms = PC_REDIS_BACKOFF_MIN_MS;
    pc_redis_addr_text(&rs->o.addr, rs->where, sizeof(rs->where));
    return rs;
}

void pc_redis_sync_free(pc_redis_sync_t *rs)
{
    if (!rs)
        return;
    if (rs->c)
        redisFree(rs->c);
    pthread_mutex_destroy(&rs->lock);
    free(rs);
}

static struct timeval ms_tv(unsigned ms)
{
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

static void rs_fail(pc_redis_sync_t *rs, const char *why)
{
    if (rs->c) {
        redisFree(rs->c);
        rs->c = NULL;
    }
    rs->retry_at_ms = pc_clock_mono_ms() + rs->backoff_ms;
    rs->backoff_ms = rs->backoff_ms * 2 > PC_REDIS_BACKOFF_MAX_MS ? PC_REDIS_BACKOFF_MAX_MS
                                                                  : rs->backoff_ms * 2;
    PC_LOG(PC_LOG_WARN, "store: redis %s (%s): %s", rs->where, rs->o.name ? rs->o.name : "-",
           why);
}

/* One command; NULL (and the context dropped) on an I/O error, a reply
 * past the reader's bounds, or no whole reply within the command timeout
 * (the socket timeout bounds each read, not a server that trickles). This
 * is redisCommandArgv() with those checks between reads. */
static redisReply *rs_call(pc_redis_sync_t *rs, int argc, const char **argv, const size_t *len)
{
    redisContext *c = rs->c;
    uint64_t deadline = pc_clock_mono_ms() + rs->o.command_timeout_ms;
    const char *bound = NULL;
    void *rep = NULL;
    int done = 0;
    if (redisAppendCommandArgv(c, argc, argv, len) != REDIS_OK)
        goto fail;
    while (!done)
        if (redisBufferWrite(c, &done) != REDIS_OK)
            goto fail;
    while (!rep) {
        if (redisGetReplyFromReader(c, &rep) != REDIS_OK)
            goto fail;
        if (rep)
            break;
        if ((bound = pc_redis_bound_check(c->reader, &rs->bound)) != NULL)
            goto fail;
        if (pc_clock_mono_ms() >= deadline) {
            bound = "no whole reply within the command timeout";
            goto fail;
        }
        if (redisBufferRead(c) != REDIS_OK)
            goto fail;
    }
    return rep;
fail:;
    char why[160];
    if (!bound)
        bound = rs->bound.why;
    snprintf(why, sizeof(why), "command failed: %s", bound ? bound : c->errstr);
    rs_fail(rs, why);
    return NULL;
}

static int rs_connect(pc_redis_sync_t *rs)
{
    if (rs->c)
        return 0;
    if (pc_clock_mono_ms() < rs->retry_at_ms)
        return -1;
    const pc_redis_addr_t *a = &rs->o.addr;
    struct timeval ct = ms_tv(rs->o.connect_timeout_ms);
    rs->c = a->unix_path ? redisConnectUnixWithTimeout(a->unix_path, ct)
                         : redisConnectWithTimeout(a->host, (int)a->port, ct);
    if (!rs->c || rs->c->err) {
        char why[160];
        snprintf(why, sizeof(why), "cannot connect: %s", rs->c ? rs->c->errstr : "out of memory");
        rs_fail(rs, why);
        return -1;
    }
    redisSetTimeout(rs->c, ms_tv(rs->o.command_timeout_ms));
    pc_redis_bound_reader(rs->c->reader, &rs->bound);
    if (a->password) {
        const char *argv[3] = {"AUTH", a->username ? a->username : a->password, a->password};
        size_t len[3] = {4, strlen(argv[1]), strlen(a->password)};
        redisReply *rep = rs_call(rs, a->username ? 3 : 2, argv, len);
        if (!rep)
            return -1;
        bool bad = rep->type == REDIS_REPLY_ERROR;
        freeReplyObject(rep);
        if (bad) {
            rs_fail(rs, "AUTH refused");
            return -1;
        }
    }
    if (a->db) {
        char db[16];
        snprintf(db, sizeof(db), "%u", a->db);
        const char *argv[2] = {"SELECT", db};
        size_t len[2] = {6, strlen(db)};
        redisReply *rep = rs_call(rs, 2, argv, len);
        if (!rep)
            return -1;
        bool bad = rep->type == REDIS_REPLY_ERROR;
        freeReplyObject(rep);
        if (bad) {
            rs_fail(rs, "SELECT refused");
            return -1;
        }
    }
    rs->backoff_ms = PC_REDIS_BACKOFF_MIN_MS;
    return 0;
}

static void rs_run(pc_redis_sync_t *rs, pc_redis_cb cb, void *data, int script, int argc,
                   const char **argv, const size_t *argvlen)
{
    pthread_mutex_lock(&rs->lock);
    redisReply *rep = NULL;
    if (rs_connect(rs) == 0) {
        rep = rs_call(rs, argc, argv, argvlen);
        if (rep && script >= 0 && rep->type == REDIS_REPLY_ERROR && rep->len >= 8 &&
            memcmp(rep->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(rep);
            const pc_redis_script_t *s = &rs->o.scripts[script];
            const char *largv[3] = {"SCRIPT", "LOAD", s->src};
            size_t llen[3] = {6, 4, s->len};
            rep = rs_call(rs, 3, largv, llen);
            if (rep) {
                freeReplyObject(rep);
                rep = rs_call(rs, argc, argv, argvlen);
            }
        }
    }
    pthread_mutex_unlock(&rs->lock);
    int rc = rep && rep->type != REDIS_REPLY_ERROR ? 0 : -1;
    cb(data, rc, rep && (rc == 0 || rep->type == REDIS_REPLY_ERROR) ? rep : NULL);
    if (rep)
        freeReplyObject(rep);
}

void pc_redis_sync_command(pc_redis_sync_t *rs, pc_redis_cb cb, void *data, int argc,
                           const char **argv, const size_t *argvlen)
{
    rs_run(rs, cb, data, -1, argc, argv, argvlen);
}

void pc_redis_sync_evalsha(pc_redis_sync_t *rs, pc_redis_cb cb, void *data, unsigned script,
                           int nkeys, int argc, const char **argv, const size_t *argvlen)
{
    PC_ASSERT(script < rs->o.nscripts && argc <= 64);
    char nk[16];
    const char *v[3 + 64];
    size_t l[3 + 64];
    v[0] = "EVALSHA";
    l[0] = 7;
    v[1] = rs->o.scripts[script].sha;
    l[1] = 40;
    l[2] = (size_t)snprintf(nk, sizeof(nk), "%d", nkeys);
    v[2] = nk;
    for (int i = 0; i < argc; i++) {
        v[3 + i] = argv[i];
        l[3 + i] = argvlen[i];
    }
    rs_run(rs, cb, data, (int)script, 3 + argc, v, l);
}
