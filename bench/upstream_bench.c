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
#include "bench_server.h"
#include "upstream/upstream.h"
#include "base/util.h"

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
    struct sockaddr_in a;
    if (pc_bench_server_start(&a) != 0) {
        perror("listen");
        return 1;
    }

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
