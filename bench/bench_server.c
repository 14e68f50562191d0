/* bench/bench_server.c: see bench_server.h. */
#include "bench_server.h"

#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char bench_resp[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 "Content-Length: 17\r\nX-Upstream: bench\r\n\r\n"
                                 "{\"status\":\"ok!\"}\n";

static void *bench_conn(void *p)
{
    int fd = (int)(intptr_t)p;
    char buf[65536];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n <= 0)
            break;
        len += (size_t)n;
        char *s = buf, *e;
        while ((e = memmem(s, len - (size_t)(s - buf), "\r\n\r\n", 4))) {
            if (write(fd, bench_resp, sizeof(bench_resp) - 1) < 0)
                goto out;
            s = e + 4;
        }
        len -= (size_t)(s - buf);
        memmove(buf, s, len);
    }
out:
    close(fd);
    return NULL;
}

static void *bench_accept(void *p)
{
    int lfd = (int)(intptr_t)p;
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd == -1)
            return NULL;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        pthread_t th;
        pthread_create(&th, NULL, bench_conn, (void *)(intptr_t)fd);
        pthread_detach(th);
    }
}

int pc_bench_server_start(struct sockaddr_in *a)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t al = sizeof(*a);
    memset(a, 0, sizeof(*a));
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)a, sizeof(*a)) || listen(lfd, 1024) ||
        getsockname(lfd, (struct sockaddr *)a, &al))
        return -1;
    pthread_t th;
    return pthread_create(&th, NULL, bench_accept, (void *)(intptr_t)lfd) == 0 ? 0 : -1;
}
