/* gateway/conf/services.c: the process-wide services of the document: the
 * access log, the store (memory or Redis, with its URL resolved here so no
 * worker waits on DNS) and the log level. */
#include "conf/conf_int.h"
#include "store/redis.h"
#include "base/util.h"

#include <portcullis/plugin.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

static const pc_conf_field_t access_log_fields[] = {
    CONF_FIELD("path", PC_CONF_STRING, offsetof(pc_conf_t, access_log_path), 0, 0, 0, 0, "stderr"),
    CONF_FIELD("enabled", PC_CONF_BOOL, NOOFF, 0, 0, 0, 1, NULL),
};

void pc_ld_access_log(ld_t *l, const json_t *v)
{
    pc_conf_t *c = l->c;
    uint64_t mask = pc_ld_obj(l, v, "access_log", access_log_fields,
                              PC_ARRAY_LEN(access_log_fields), c, true, 0);
    const char *p = c->access_log_path;
    if (p && strcmp(p, "stderr") != 0 && strcmp(p, "stdout") != 0 && p[0] != '/') {
        pc_ld_err(l, "access_log.path", "must be \"stderr\", \"stdout\" or an absolute file path");
    } else if (p && strlen(p) > CONF_MAX_PATH) {
        pc_ld_err(l, "access_log.path", "longer than %d bytes", CONF_MAX_PATH);
    }
    const json_t *en = pc_ld_valid(v, mask, access_log_fields, 1);
    if (en && json_is_false(en)) {
        free(c->access_log_path);
        c->access_log_path = NULL;
    }
}

enum { ST_TYPE, ST_MAX_BYTES, ST_URL, ST_USERNAME, ST_PASSWORD, ST_CONNECT, ST_COMMAND,
       ST_ON_ERROR, ST_PREFIX, ST_BATCH, ST_LEASE };

static const pc_conf_field_t store_fields[] = {
    [ST_TYPE] = CONF_FIELD("type", PC_CONF_STRING, offsetof(pc_conf_t, store_type), 0, 0, 0, 0,
                           "memory"),
    [ST_MAX_BYTES] = CONF_FIELD("max_bytes", PC_CONF_SIZE, offsetof(pc_conf_t, store_max_bytes), 0,
                                1048576, 68719476736LL, 67108864, NULL),
    [ST_URL] = CONF_FIELD("url", PC_CONF_STRING, offsetof(pc_conf_t, store_url), 0, 0, 0, 0, NULL),
    [ST_USERNAME] = CONF_FIELD("username", PC_CONF_STRING, offsetof(pc_conf_t, store_username), 0,
                               0, 0, 0, NULL),
    [ST_PASSWORD] = CONF_FIELD("password", PC_CONF_ANY, NOOFF, 0, 0, 0, 0, NULL),
    [ST_CONNECT] = CONF_FIELD("connect_timeout_ms", PC_CONF_UINT,
                              offsetof(pc_conf_t, store_connect_timeout_ms), 0, 1, 60000, 500,
                              NULL),
    [ST_COMMAND] = CONF_FIELD("command_timeout_ms", PC_CONF_UINT,
                              offsetof(pc_conf_t, store_command_timeout_ms), 0, 1, 60000, 200,
                              NULL),
    [ST_ON_ERROR] = CONF_FIELD("on_error", PC_CONF_STRING, offsetof(pc_conf_t, store_on_error), 0,
                               0, 0, 0, "fail_closed"),
    [ST_PREFIX] = CONF_FIELD("prefix", PC_CONF_STRING, offsetof(pc_conf_t, store_prefix),
                             PC_CONF_EMPTY_OK, 0, 0, 0, "pc:"),
    [ST_BATCH] = CONF_FIELD("batch", PC_CONF_BOOL, offsetof(pc_conf_t, store_batch), 0, 0, 0, 1,
                            NULL),
    [ST_LEASE] = CONF_FIELD("lease_ms", PC_CONF_UINT, offsetof(pc_conf_t, store_lease_ms), 0, 0,
                            10000, 1000, NULL),
};

/* The redis part of "store": URL (resolved to a numeric address here, on
 * the main thread, so that no worker ever waits on DNS), credentials. */
static void parse_store_redis(ld_t *l, const json_t *v, uint64_t mask)
{
    pc_conf_t *c = l->c;
    if (!c->store_url) {
        if (!json_object_get(v, "url"))
            pc_ld_err(l, "store.url", "required for type redis");
        return;
    }
    pc_redis_addr_t a;
    char why[256];
    if (pc_redis_url_parse(c->store_url, &a, why, sizeof(why)) != 0) {
        pc_ld_err(l, "store.url", "%s", why);
        return;
    }
    c->store_port = a.port;
    c->store_db = a.db;
    c->store_unix_path = a.unix_path;
    a.unix_path = NULL;
    if (a.username && c->store_username)
        pc_ld_err(l, "store.username", "given twice (also in store.url)");
    if (a.username && !c->store_username) {
        c->store_username = a.username;
        a.username = NULL;
    }
    if (a.password) {
        if (json_object_get(v, "password"))
            pc_ld_err(l, "store.password", "given twice (also in store.url)");
        pc_ld_warn(l, "store.url", "password written inline in the URL; prefer \"password\": "
                                   "{\"env\": \"NAME\"} or {\"file\": \"/path\"}");
        c->store_password = a.password;
        a.password = NULL;
    }
    const json_t *pw = pc_ld_valid(v, mask, store_fields, ST_PASSWORD);
    if (pw && !c->store_password) {
        pc_err_t err = {l->d, "store", 0};
        size_t len = 0;
        c->store_password = pc_conf_secret(v, "password", &len, &err);
        if (err.failed)
            l->nerr++;
        else if (c->store_password && strlen(c->store_password) != len)
            pc_ld_err(l, "store.password", "must not contain NUL characters");
    }
    if (c->store_username && !c->store_password)
        pc_ld_err(l, "store.username", "needs a password");
    if (a.host) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        char host[INET6_ADDRSTRLEN];
        struct in6_addr tmp;
        if (inet_pton(AF_INET, a.host, &tmp) == 1 || inet_pton(AF_INET6, a.host, &tmp) == 1) {
            c->store_host = pc_xstrdup(a.host);
        } else if (!pc_conf_resolve_hook) {
            pc_ld_err(l, "store.url", "cannot resolve %s: name resolution is disabled", a.host);
        } else if (pc_conf_resolve_hook(a.host, a.port, &ss, &sl, why, sizeof(why)) != 0) {
            pc_ld_err(l, "store.url", "cannot resolve %s: %s", a.host, why);
        } else {
            const void *src = ss.ss_family == AF_INET6
                                  ? (const void *)&((struct sockaddr_in6 *)&ss)->sin6_addr
                                  : (const void *)&((struct sockaddr_in *)&ss)->sin_addr;
            if (inet_ntop(ss.ss_family, src, host, sizeof(host)))
                c->store_host = pc_xstrdup(host);
            else
                pc_ld_err(l, "store.url", "cannot resolve %s", a.host);
        }
    }
    pc_redis_addr_clear(&a);
}

void pc_ld_store(ld_t *l, const json_t *v)
{
    pc_conf_t *c = l->c;
    pc_ld_defaults(store_fields, PC_ARRAY_LEN(store_fields), c);
    if (!v)
        return;
    uint64_t mask = pc_ld_obj(l, v, "store", store_fields, PC_ARRAY_LEN(store_fields), c, true, 0);
    if (!json_is_object(v))
        return;
    bool redis = c->store_type && strcmp(c->store_type, "redis") == 0;
    if (c->store_type && !redis && strcmp(c->store_type, "memory") != 0) {
        pc_ld_err(l, "store.type", "must be \"memory\" or \"redis\"");
        return;
    }
    if (!redis) {
        for (size_t i = ST_URL; i < PC_ARRAY_LEN(store_fields); i++)
            if (json_object_get(v, store_fields[i].key)) {
                jp_t p;
                pc_ld_err(l, pc_ld_key(&p, "store", store_fields[i].key), "only for type redis");
            }
        return;
    }
    if (c->store_on_error && strcmp(c->store_on_error, "fail_open") != 0 &&
        strcmp(c->store_on_error, "fail_closed") != 0)
        pc_ld_err(l, "store.on_error", "must be \"fail_open\" or \"fail_closed\"");
    if (c->store_prefix && strlen(c->store_prefix) > 64)
        pc_ld_err(l, "store.prefix", "longer than 64 bytes");
    if (c->store_prefix && (strchr(c->store_prefix, '{') || strchr(c->store_prefix, '}')))
        pc_ld_err(l, "store.prefix", "must not contain { or } (the store adds the hash tag)");
    parse_store_redis(l, v, mask);
}

static const char *const log_levels[] = {"error", "warn", "info", "debug"};

static const pc_conf_field_t log_fields[] = {
    CONF_FIELD("level", PC_CONF_STRING, NOOFF, 0, 0, 0, 0, NULL),
};

void pc_ld_log(ld_t *l, const json_t *v)
{
    uint64_t mask = pc_ld_obj(l, v, "log", log_fields, PC_ARRAY_LEN(log_fields), NULL, false, 0);
    const json_t *lv = pc_ld_valid(v, mask, log_fields, 0);
    if (!lv)
        return;
    for (size_t i = 0; i < PC_ARRAY_LEN(log_levels); i++) {
        if (strcmp(json_string_value(lv), log_levels[i]) == 0) {
            l->c->log_level = (int)i; /* PC_LOG_ERROR .. PC_LOG_DEBUG */
            return;
        }
    }
    pc_ld_err(l, "log.level", "must be one of error, warn, info, debug");
}
