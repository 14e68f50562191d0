/* tests/unit/redis_server.h: a redis-server of the test's own, on a free
 * 127.0.0.1 port, without persistence, in a temporary directory. For the
 * unit tests that need a real Redis (test_redis.c, test_store.c). */
#ifndef PC_TEST_REDIS_SERVER_H
#define PC_TEST_REDIS_SERVER_H

#include <hiredis/hiredis.h>
#include <stdbool.h>

extern unsigned test_redis_port;

/* Picks the directory and port and starts the server: false if
 * redis-server cannot run here (the caller skips its live tests). */
bool test_redis_setup(void);
/* Starts it (again) on the same port; requirepass may be NULL. 0 once it
 * answers PING, -1 otherwise. */
int test_redis_start(const char *requirepass);
void test_redis_kill(void);
bool test_redis_running(void);
/* Kills it and removes the directory. */
void test_redis_teardown(void);
/* A blocking connection for the test's own commands, or NULL. */
redisContext *test_redis_admin(void);

#endif
