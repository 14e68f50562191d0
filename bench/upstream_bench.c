/* bench/upstream_bench.c: CPU cost of the upstream client per exchange.
 *
 * A local server (one thread per connection, blocking I/O) answers small GETs
 * with a fixed 200. The client thread runs `conc` chains of sequential
 * exchanges (the next one is started from on_done, so each chain reuses its
 * keep-alive connection) and reports the client thread's own CPU time
 * (getrusage RUSAGE_THREAD: user + system, so syscalls count) per exchange.
 * The server's CPU is not included.
 *
 * usage: upstream_bench [requests=200000] [concurrency=1]
 */
#include "upstream.h"
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

typedef struct chain {
    pc_uclient_t *c;
    const pc_utarget_t *t;
    long *left;
    long errors;
    long bytes;
    int *running;
} chain_t;

static const pc_uhdr_t bench_hdrs[] = {
    { "Host", 4, "bench.local", 11 },
    { "User-Agent", 10, "portcullis-bench", 16 },
    { "Accept", 6, "*/*", 3 },
    { "X-Request-Id", 12, "0123456789abcdef", 16 },
};

static void b_done(void *d, pc_uerr_t e);
static int b_body(void *d, const char *p, size_t n)
{
    PC_UNUSED(p);
    ((chain_t *)d)->bytes += (long)n;
    return 0;
}
static const pc_ucb_t bench_cb = { NULL, b_body, b_done };

static void b_next(chain_t *ch)
{
    pc_ureq_t req = {
        .method = "GET",
        .target = "/api/v1/items?id=42",
        .target_len = 19,
        .headers = bench_hdrs,
        .nheaders = PC_ARRAY_LEN(bench_hdrs),
        .connect_timeout_ms = 1000,
        .response_timeout_ms = 5000,
        .retry_on_stale = 1,
    };
    pc_ux_start(ch->c, ch->t, &req, &bench_cb, ch);
}

static void b_done(void *d, pc_uerr_t e)
{
    chain_t *ch = d;
    if (e != PC_UX_OK)
        ch->errors++;
    if (*ch->left > 0) {
        --*ch->left;
        b_next(ch);
    } else {
        --*ch->running;
    }
}

/* Client thread CPU in microseconds; *user gets the user-space part. */
static double cpu_us(double *user)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    *user = ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec;
    return *user + ru.ru_stime.tv_sec * 1e6 + ru.ru_stime.tv_usec;
}

static void run(pc_uclient_t *c, struct ev_loop *loop, const pc_utarget_t *t, long n, int conc,
                const char *label)
{
    long left = n;
    int running = conc;
    chain_t *ch = calloc((size_t)conc, sizeof(*ch));
    for (int i = 0; i < conc; i++) {
        ch[i] = (chain_t){ .c = c, .t = t, .left = &left, .running = &running };
        left--;
        b_next(&ch[i]);
    }
    double u0, u1;
    double c0 = cpu_us(&u0);
    uint64_t w0 = pc_now_ns();
    while (running)
        ev_run(loop, EVRUN_ONCE);
    double cpu = cpu_us(&u1) - c0;
    double user = u1 - u0;
    double wall = (double)(pc_now_ns() - w0) / 1e3;
    long errors = 0;
    for (int i = 0; i < conc; i++)
        errors += ch[i].errors;
    printf("%-8s %ld exchanges, concurrency %d: client CPU %.2f us/exchange (user %.2f), wall %.2f us/exchange, "
           "%.0f exchanges/s, errors %ld\n",
           label, n, conc, cpu / (double)n, user / (double)n, wall / (double)n, (double)n / (wall / 1e6), errors);
    free(ch);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int conc = argc > 2 ? atoi(argv[2]) : 1;
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 1024)) {
        perror("listen");
        return 1;
    }
    socklen_t al = sizeof(a);
    getsockname(lfd, (struct sockaddr *)&a, &al);
    pthread_t th;
    pthread_create(&th, NULL, bench_accept, (void *)(intptr_t)lfd);

    pc_utarget_t t = { .id = 0, .addrlen = sizeof(a) };
    memcpy(&t.addr, &a, sizeof(a));
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    pc_uclient_t *c = pc_uclient_new(loop, NULL);
    run(c, loop, &t, conc * 100L, conc, "warmup");
    run(c, loop, &t, n, conc, "measured");
    pc_uclient_free(c);
    ev_loop_destroy(loop);
    return 0;
}
