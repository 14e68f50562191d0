/* gateway/store/redis_url.h: where a Redis server is: the store's
 * "url" parsed into an address, and the address's name for log lines. */
#ifndef PC_REDIS_URL_H
#define PC_REDIS_URL_H

#include <stddef.h>

/* Where and how to connect. Strings are owned by whoever filled it in
 * (the config, for the store). */
typedef struct pc_redis_addr {
    char *host;                    /* numeric IPv4 or IPv6 address; NULL for unix */
    unsigned port;
    char *unix_path;               /* NULL for tcp */
    unsigned db;
    char *username;                /* NULL: "AUTH password" (or no AUTH) */
    char *password;                /* NULL: no AUTH */
} pc_redis_addr_t;

/* Parses "redis://[[user]:password@]host[:port][/db]" (host a name, an IPv4
 * address or a [bracketed] IPv6 address; port 6379; db 0) or
 * "unix:///path/to/socket[?db=N]". Userinfo is percent-decoded. Fills out
 * with malloc'd strings (pc_redis_addr_clear frees them); host is copied
 * as written (the caller resolves names). Returns 0, or -1 with a short
 * reason in err. */
int pc_redis_url_parse(const char *url, pc_redis_addr_t *out, char *err, size_t errlen);
void pc_redis_addr_clear(pc_redis_addr_t *a);

/* "127.0.0.1:6379 db 0", "[::1]:6379 db 2", "unix:/path db 0" into buf. */
void pc_redis_addr_text(const pc_redis_addr_t *a, char *buf, size_t len);

#endif
