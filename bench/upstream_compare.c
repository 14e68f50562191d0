/* bench/upstream_compare.c: the upstream leg's two candidate clients behind
 * one measurement: the lean client (gateway/upstream/upstream.c) and libcurl's
 * multi-socket API on the same libev loop (gateway/upstream/fetch.c). Both run
 * chains of sequential keep-alive GETs against the same local server, in
 * interleaved rounds; the figure is the client thread's CPU per exchange
 * (getrusage RUSAGE_THREAD, user + system), median over the rounds.
 *
 * usage: upstream_compare [exchanges per round=20000] [concurrency=8] [rounds=5]
 */
#include "bench_server.h"
#include "upstream/fetch.h"
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

typedef struct bench {
    struct ev_loop *loop;
    pc_uclient_t *uc;
    pc_fetcher_t *fc;
    pc_utarget_t target;
    char url[64];
    long left;
    int running;
    long errors;
} bench_t;

/* ---- lean client ---- */
static const pc_uhdr_t lean_hdrs[] = {
    {"Host", 4, "bench.local", 11}, {"User-Agent", 10, "portcullis-bench", 16},
    {"Accept", 6, "*/*", 3}, {"X-Request-Id", 12, "0123456789abcdef", 16},
};
static void lean_done(void *d, pc_uerr_t e);
static const pc_ucb_t lean_cb = {NULL, NULL, lean_done};

static void lean_next(bench_t *b)
{
    pc_ureq_t req = {.method = "GET", .target = "/api/v1/items?id=42", .target_len = 19,
                     .headers = lean_hdrs, .nheaders = PC_ARRAY_LEN(lean_hdrs),
                     .connect_timeout_ms = 1000, .response_timeout_ms = 5000, .retry_on_stale = 1};
    pc_ux_start(b->uc, &b->target, &req, &lean_cb, b);
}

static void lean_done(void *d, pc_uerr_t e)
{
    bench_t *b = d;
    b->errors += e != PC_UX_OK;
    if (b->left > 0) {
        b->left--;
        lean_next(b);
    } else {
        b->running--;
    }
}

/* ---- libcurl multi-socket ---- */
static const char *const curl_hdrs[] = {"Host: bench.local", "User-Agent: portcullis-bench",
                                        "Accept: */*", "X-Request-Id: 0123456789abcdef", NULL};
static void curl_done(void *d, const pc_fetch_result_t *res);

static void curl_next(bench_t *b)
{
    pc_fetch_req_t req = {.url = b->url, .headers = curl_hdrs, .timeout_ms = 5000};
    if (pc_fetcher_start(b->fc, &req, curl_done, b) != 0) {
        b->errors++;
        b->running--;
    }
}

static void curl_done(void *d, const pc_fetch_result_t *res)
{
    bench_t *b = d;
    b->errors += !res->ok || res->status != 200;
    if (b->left > 0) {
        b->left--;
        curl_next(b);
    } else {
        b->running--;
    }
}

static double thread_cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_THREAD, &ru);
    return ru.ru_utime.tv_sec * 1e6 + ru.ru_utime.tv_usec + ru.ru_stime.tv_sec * 1e6 +
           ru.ru_stime.tv_usec;
}

static double round_us(bench_t *b, int curl, long n, int conc)
{
    b->left = n - conc;
    b->running = conc;
    double c0 = thread_cpu_us();
    for (int i = 0; i < conc; i++)
        curl ? curl_next(b) : lean_next(b);
    while (b->running)
        ev_run(b->loop, EVRUN_ONCE);
    return (thread_cpu_us() - c0) / (double)n;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    int conc = argc > 2 ? atoi(argv[2]) : 8;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (rounds < 1 || rounds > 64 || conc < 1 || n < conc)
        return 2;
    struct sockaddr_in a;
    if (pc_bench_server_start(&a) != 0) {
        perror("listen");
        return 1;
    }

    bench_t b = {.loop = ev_loop_new(EVFLAG_AUTO)};
    b.uc = pc_uclient_new(b.loop, NULL);
    b.fc = pc_fetcher_new(b.loop);
    b.target.addrlen = sizeof(a);
    memcpy(&b.target.addr, &a, sizeof(a));
    snprintf(b.url, sizeof(b.url), "http://127.0.0.1:%u/api/v1/items?id=42", ntohs(a.sin_port));
    if (!b.fc)
        return 1;
    round_us(&b, 0, conc * 50L, conc); /* warm both pools */
    round_us(&b, 1, conc * 50L, conc);
    double lean[64], curl[64];
    for (int r = 0; r < rounds; r++) {
        lean[r] = round_us(&b, 0, n, conc);
        curl[r] = round_us(&b, 1, n, conc);
        printf("round %d: lean %.2f us/exchange, libcurl %.2f us/exchange, ratio %.2f\n", r + 1,
               lean[r], curl[r], curl[r] / lean[r]);
    }
    qsort(lean, (size_t)rounds, sizeof(double), cmp);
    qsort(curl, (size_t)rounds, sizeof(double), cmp);
    printf("median client CPU per exchange (concurrency %d, %ld per round): lean %.2f us, "
           "libcurl %.2f us, libcurl/lean %.2f; errors %ld\n",
           conc, n, lean[rounds / 2], curl[rounds / 2], curl[rounds / 2] / lean[rounds / 2],
           b.errors);
    pc_fetcher_free(b.fc);
    pc_uclient_free(b.uc);
    ev_loop_destroy(b.loop);
    return b.errors ? 1 : 0;
}
