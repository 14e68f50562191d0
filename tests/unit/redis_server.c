/* tests/unit/redis_server.c: see redis_server.h. */
#include "redis_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

unsigned test_redis_port;
static pid_t redis_pid = -1;
static char redis_dir[] = "/tmp/pc-test-redis-XXXXXX";
static bool have_dir;

static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

redisContext *test_redis_admin(void)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", (int)test_redis_port, tv);
    if (c && c->err) {
        redisFree(c);
        return NULL;
    }
    return c;
}

static bool answers_ping(void)
{
    redisContext *c = test_redis_admin();
    if (!c)
        return false;
    redisReply *r = redisCommand(c, "PING");
    bool ok = r != NULL;
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return ok;
}

int test_redis_start(const char *requirepass)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char port[16];
        snprintf(port, sizeof(port), "%u", test_redis_port);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        dup2(null, 2);
        const char *argv[20] = {"redis-server", "--port", port, "--bind", "127.0.0.1", "--save",
                                "", "--appendonly", "no", "--daemonize", "no", "--dir", redis_dir,
                                "--enable-debug-command", "local"};
        int argc = 15;
        if (requirepass) {
            argv[argc++] = "--requirepass";
            argv[argc++] = requirepass;
        }
        argv[argc] = NULL;
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    redis_pid = pid;
    for (int i = 0; i < 500; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            redis_pid = -1;
            return -1;
        }
        if (answers_ping())
            return 0;
        usleep(10000);
    }
    return -1;
}

void test_redis_kill(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        redis_pid = -1;
    }
}

bool test_redis_running(void)
{
    return redis_pid > 0;
}

bool test_redis_setup(void)
{
    have_dir = mkdtemp(redis_dir) != NULL;
    if (!have_dir || !(test_redis_port = free_port()))
        return false;
    return test_redis_start(NULL) == 0;
}

void test_redis_teardown(void)
{
    test_redis_kill();
    if (have_dir)
        rmdir(redis_dir);
}
