/* gateway/store/redis_cmd.h: Redis commands as bytes, for the clients
 * (redis.c, redis_sync.c): Lua scripts named by their SHA1 for EVALSHA,
 * and the RESP encoding of a command. Pure functions, any thread. */
#ifndef PC_REDIS_CMD_H
#define PC_REDIS_CMD_H

#include <stddef.h>

typedef struct pc_redis_script {
    const char *src;
    size_t len;
    char sha[41];                  /* filled by pc_redis_script_init */
} pc_redis_script_t;

/* Computes the script's SHA1 (the EVALSHA name). */
void pc_redis_script_init(pc_redis_script_t *s, const char *src, size_t len);

/* The RESP encoding of [pre...] + argv (binary-safe), written into out, or
 * only measured when out is NULL. Returns the length. */
size_t pc_redis_format(char *out, int npre, const char **pre, const size_t *prelen, int argc,
                       const char **argv, const size_t *argvlen);

#endif
