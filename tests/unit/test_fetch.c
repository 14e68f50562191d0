/* tests/unit/test_fetch.c: gateway/upstream/fetch.c - pc_fetch on a libev loop
 * against a small HTTP server on 127.0.0.1 (a thread per connection), and
 * the pc_main_call queue.
 *
 * Every test is bounded: the loop runs under a guard timer, the server's
 * slowest answer is 2 s and the client timeouts are shorter. */
#include "upstream/fetch.h"
#include "base/util.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define GUARD_S 10.0

/* ---- the test server --------------------------------------------------------- */

typedef struct srv {
    int fd;
    unsigned port;
    pthread_t thread;
    atomic_bool stop;
    atomic_uint requests;
} srv_t;

static void srv_send(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void srv_answer(int fd, const char *req, size_t reqlen, const char *body, size_t bodylen)
{
    char head[512];
    char path[256] = "";
    char method[16] = "";
    sscanf(req, "%15s %255s", method, path);
    if (strcmp(path, "/ok") == 0) {
        const char *b = "hello";
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nCache-Control: max-age=60\r\n"
                         "Connection: close\r\n\r\n");
        srv_send(fd, head, (size_t)n);
        srv_send(fd, b, 5);
    } else if (strcmp(path, "/two-cc") == 0) {
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: public\r\n"
                         "cache-control:  max-age=5 \r\nConnection: close\r\n\r\nok");
        srv_send(fd, head, (size_t)n);
    } else if (strcmp(path, "/big") == 0) {
        size_t big = 2u << 20;
        char *b = malloc(big);
        memset(b, 'x', big);
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", big);
        srv_send(fd, head, (size_t)n);
        srv_send(fd, b, big);
        free(b);
    } else if (strcmp(path, "/chunked-big") == 0) {
        /* no Content-Length: the cap must stop it while streaming */
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
        srv_send(fd, head, (size_t)n);
        char chunk[1100];
        memset(chunk, 'y', sizeof(chunk));
        for (int i = 0; i < 100; i++) {
            srv_send(fd, "400\r\n", 5);
            srv_send(fd, chunk, 1024);
            srv_send(fd, "\r\n", 2);
        }
        srv_send(fd, "0\r\n\r\n", 5);
    } else if (strcmp(path, "/slow") == 0) {
        for (int i = 0; i < 20; i++) { /* 2 s, but quit early once stopped */
            usleep(100000);
        }
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow");
        srv_send(fd, head, (size_t)n);
    } else if (strcmp(path, "/redirect") == 0) {
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n"
                         "Connection: close\r\n\r\n");
        srv_send(fd, head, (size_t)n);
    } else if (strcmp(path, "/echo") == 0) {
        /* the method, the request head and the body, as the body */
        char out[8192];
        int n = snprintf(out, sizeof(out), "%s\n%.*s\n", method, (int)reqlen, req);
        if (n > 0 && (size_t)n + bodylen < sizeof(out)) {
            memcpy(out + n, body, bodylen);
            n += (int)bodylen;
        }
        int h = snprintf(head, sizeof(head),
                         "HTTP/1.1 201 Created\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", n);
        srv_send(fd, head, (size_t)h);
        srv_send(fd, out, (size_t)n);
    } else {
        int n = snprintf(head, sizeof(head),
                         "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        srv_send(fd, head, (size_t)n);
    }
}

static void *srv_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[16384];
    size_t len = 0;
    char *end = NULL;
    struct pollfd p = {fd, POLLIN, 0};
    while (!end && len < sizeof(buf) - 1 && poll(&p, 1, 3000) == 1) {
        ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (end) {
        size_t head = (size_t)(end - buf) + 4, clen = 0;
        const char *cl = strcasestr(buf, "\r\ncontent-length:");
        if (cl && cl < end)
            clen = strtoul(cl + 17, NULL, 10);
        while (len < head + clen && len < sizeof(buf) - 1 && poll(&p, 1, 3000) == 1) {
            ssize_t r = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
            if (r <= 0)
                break;
            len += (size_t)r;
        }
        buf[len] = '\0';
        srv_answer(fd, buf, head, buf + head, len > head ? len - head : 0);
    }
    close(fd);
    return NULL;
}

static void *srv_main(void *arg)
{
    srv_t *s = arg;
    while (!atomic_load(&s->stop)) {
        struct pollfd p = {s->fd, POLLIN, 0};
        if (poll(&p, 1, 50) != 1)
            continue;
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            continue;
        atomic_fetch_add(&s->requests, 1);
        pthread_t t;
        if (pthread_create(&t, NULL, srv_conn, (void *)(intptr_t)c) == 0)
            pthread_detach(t);
        else
            close(c);
    }
    return NULL;
}

static void srv_start(srv_t *s)
{
    memset(s, 0, sizeof(*s));
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(s->fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(s->fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(s->fd, 64), 0);
    socklen_t al = sizeof(a);
    getsockname(s->fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&s->thread, NULL, srv_main, s), 0);
}

static void srv_stop(srv_t *s)
{
    atomic_store(&s->stop, true);
    pthread_join(s->thread, NULL);
    close(s->fd);
}

/* ---- client side ------------------------------------------------------------- */

typedef struct got {
    int calls;
    int ok, status;
    char body[8192];
    size_t body_len;
    char cc[256];
    char error[256];
    int *done;          /* shared counter; the loop breaks at `want` */
    int want;
    struct ev_loop *loop;
    int in_start;       /* set around pc_fetcher_start */
} got_t;

static void got_cb(void *data, const pc_fetch_result_t *res)
{
    got_t *g = data;
    ck_assert_int_eq(g->in_start, 0); /* never from inside pc_fetch */
    g->calls++;
    g->ok = res->ok;
    g->status = res->status;
    if (res->ok) {
        ck_assert_ptr_nonnull(res->body);
        ck_assert_int_eq(res->body[res->body_len], '\0');
        g->body_len = res->body_len < sizeof(g->body) - 1 ? res->body_len : sizeof(g->body) - 1;
        memcpy(g->body, res->body, g->body_len);
        g->body[g->body_len] = '\0';
        snprintf(g->cc, sizeof(g->cc), "%s", res->cache_control ? res->cache_control : "");
    } else {
        ck_assert_ptr_nonnull(res->error);
        snprintf(g->error, sizeof(g->error), "%s", res->error);
    }
    if (g->done && ++*g->done >= g->want && g->loop)
        ev_break(g->loop, EVBREAK_ALL);
}

static void guard_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    ck_abort_msg("test loop did not finish within %.0f s", GUARD_S);
}

static void run_loop(struct ev_loop *loop)
{
    ev_timer guard;
    ev_timer_init(&guard, guard_cb, GUARD_S, 0.);
    ev_timer_start(loop, &guard);
    ev_run(loop, 0);
    ev_timer_stop(loop, &guard);
}

static char url_buf[256];
static const char *url(const srv_t *s, const char *path)
{
    snprintf(url_buf, sizeof(url_buf), "http://127.0.0.1:%u%s", s->port, path);
    return url_buf;
}

/* One fetch, run to completion. */
static void fetch1(pc_fetcher_t *f, struct ev_loop *loop, const pc_fetch_req_t *req, got_t *g)
{
    int done = 0;
    memset(g, 0, sizeof(*g));
    g->done = &done;
    g->want = 1;
    g->loop = loop;
    g->in_start = 1;
    ck_assert_int_eq(pc_fetcher_start(f, req, got_cb, g), 0);
    g->in_start = 0;
    ck_assert_int_eq(g->calls, 0);
    run_loop(loop);
    ck_assert_int_eq(g->calls, 1);
}

START_TEST(test_get_ok)
{
    srv_t s;
    srv_start(&s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    pc_fetcher_t *f = pc_fetcher_new(loop);
    ck_assert_ptr_nonnull(f);
    got_t g;
    pc_fetch_req_t req = {.url = url(&s, "/ok"), .timeout_ms = 3000};
    fetch1(f, loop, &req, &g);
    ck_assert_int_eq(g.ok, 1);
    ck_assert_int_eq(g.status, 200);
    ck_assert_str_eq(g.body, "hello");
    ck_assert_uint_eq(g.body_len, 5);
    ck_assert_str_eq(g.cc, "max-age=60");
    ck_assert_uint_eq(pc_fetcher_pending(f), 0);

    req.url = url(&s, "/two-cc");
    fetch1(f, loop, &req, &g);
    ck_assert_str_eq(g.cc, "public, max-age=5");

    req.url = url(&s, "/nothing");
    fetch1(f, loop, &req, &g);
    ck_assert_int_eq(g.ok, 1); /* any status is a response */
    ck_assert_int_eq(g.status, 404);
    ck_assert_str_eq(g.cc, "");
    pc_fetcher_free(f);
    ev_loop_destroy(loop);
    srv_stop(&s);
}
END_TEST

START_TEST(test_post_headers_body)
{
    srv_t s;
    srv_start(&s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    pc_fetcher_t *f = pc_fetcher_new(loop);
    const char *hdrs[] = {"Authorization: Basic YTpi", "Content-Type: application/x-www-form-urlencoded",
                          NULL};
    static const char body[] = "token=abc&token_type_hint=access_token";
    pc_fetch_req_t req = {.method = "POST", .url = url(&s, "/echo"), .headers = hdrs,
                          .body = body, .body_len = sizeof(body) - 1, .timeout_ms = 3000};
    got_t g;
    fetch1(f, loop, &req, &g);
    ck_assert_int_eq(g.ok, 1);
    ck_assert_int_eq(g.status, 201);
    ck_assert_msg(strncmp(g.body, "POST\n", 5) == 0, "%s", g.body);
    ck_assert_ptr_nonnull(strstr(g.body, "Authorization: Basic YTpi\r\n"));
    ck_assert_ptr_nonnull(strstr(g.body, "Content-Type: application/x-www-form-urlencoded\r\n"));
    ck_assert_ptr_null(strcasestr(g.body, "Expect:"));
    ck_assert_ptr_null(strcasestr(g.body, "Accept-Encoding"));
    ck_assert_ptr_nonnull(strstr(g.body, "\r\n\r\n\ntoken=abc&token_type_hint=access_token"));
    pc_fetcher_free(f);
    ev_loop_destroy(loop);
    srv_stop(&s);
}
END_TEST

START_TEST(test_limits_and_errors)
{
    srv_t s;
    srv_start(&s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    pc_fetcher_t *f = pc_fetcher_new(loop);
    got_t g;

    /* body cap, announced and streamed */
    pc_fetch_req_t req = {.url = url(&s, "/big"), .timeout_ms = 3000, .max_body = 65536};
    fetch1(f, loop, &req, &g);
    ck_assert_msg(g.ok == 0, "status %d, %zu bytes", g.status, g.body_len);
    req.url = url(&s, "/chunked-big");
    fetch1(f, loop, &req, &g);
    ck_assert_int_eq(g.ok, 0);
    ck_assert_msg(strstr(g.error, "too large") != NULL, "%s", g.error);

    /* redirects are answers, not followed */
    req = (pc_fetch_req_t){.url = url(&s, "/redirect"), .timeout_ms = 3000};
    fetch1(f, loop, &req, &g);
    ck_assert_int_eq(g.ok, 1);
    ck_assert_int_eq(g.status, 302);

    /* the timeout bounds a slow server */
    uint64_t t0 = pc_now_ms();
    req = (pc_fetch_req_t){.url = url(&s, "/slow"), .timeout_ms = 300};
    fetch1(f, loop, &req, &g);
    ck_assert_int_eq(g.ok, 0);
    ck_assert_uint_lt(pc_now_ms() - t0, 1500);

    /* nothing listens */
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(probe, (struct sockaddr *)&a, sizeof(a));
    socklen_t al = sizeof(a);
    getsockname(probe, (struct sockaddr *)&a, &al);
    close(probe);
    char dead[128];
    snprintf(dead, sizeof(dead), "http://127.0.0.1:%u/x", ntohs(a.sin_port));
    req = (pc_fetch_req_t){.url = dead, .timeout_ms = 2000};
    fetch1(f, loop, &req, &g);
    ck_assert_int_eq(g.ok, 0);
    ck_assert_str_ne(g.error, "");

    /* refused before starting: never a callback */
    const char *bad[] = {"ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://x", "127.0.0.1/x", ""};
    for (size_t i = 0; i < PC_ARRAY_LEN(bad); i++) {
        req = (pc_fetch_req_t){.url = bad[i]};
        ck_assert_int_eq(pc_fetcher_start(f, &req, got_cb, &g), -1);
    }
    req = (pc_fetch_req_t){.url = NULL};
    ck_assert_int_eq(pc_fetcher_start(f, &req, got_cb, &g), -1);
    ck_assert_int_eq(pc_fetcher_start(NULL, &req, got_cb, &g), -1);
    pc_fetcher_free(f);
    ev_loop_destroy(loop);
    srv_stop(&s);
}
END_TEST

START_TEST(test_many_concurrent)
{
    srv_t s;
    srv_start(&s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    pc_fetcher_t *f = pc_fetcher_new(loop);
    enum { N = 40 };
    static got_t g[N];
    int done = 0;
    for (int i = 0; i < N; i++) {
        memset(&g[i], 0, sizeof(g[i]));
        g[i].done = &done;
        g[i].want = N;
        g[i].loop = loop;
        pc_fetch_req_t req = {.url = url(&s, "/ok"), .timeout_ms = 5000};
        ck_assert_int_eq(pc_fetcher_start(f, &req, got_cb, &g[i]), 0);
    }
    ck_assert_uint_eq(pc_fetcher_pending(f), N);
    run_loop(loop);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(g[i].calls, 1);
        ck_assert_int_eq(g[i].status, 200);
    }
    ck_assert_uint_eq(pc_fetcher_pending(f), 0);
    pc_fetcher_free(f);
    ev_loop_destroy(loop);
    srv_stop(&s);
}
END_TEST

static int restart_calls;
static void restart_cb(void *data, const pc_fetch_result_t *res)
{
    pc_fetcher_t *f = data;
    restart_calls++;
    ck_assert_int_eq(res->ok, 0);
    ck_assert_str_eq(res->error, "shutdown");
    pc_fetch_req_t req = {.url = "http://127.0.0.1:1/"};
    ck_assert_int_eq(pc_fetcher_start(f, &req, restart_cb, f), -1); /* closing */
}

START_TEST(test_free_pending)
{
    srv_t s;
    srv_start(&s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    pc_fetcher_t *f = pc_fetcher_new(loop);
    pc_fetch_req_t req = {.url = url(&s, "/slow"), .timeout_ms = 5000};
    restart_calls = 0;
    ck_assert_int_eq(pc_fetcher_start(f, &req, restart_cb, f), 0);
    ck_assert_int_eq(pc_fetcher_start(f, &req, restart_cb, f), 0);
    ev_run(loop, EVRUN_NOWAIT); /* let it connect */
    ck_assert_int_eq(restart_calls, 0);
    pc_fetcher_free(f);
    ck_assert_int_eq(restart_calls, 2);
    ev_loop_destroy(loop);
    srv_stop(&s);
}
END_TEST

/* ---- the main thread ---------------------------------------------------------------- */

static pthread_t loop_thread;
static atomic_int calls_on_loop, calls_elsewhere;
static struct ev_loop *main_loop_for_test;

static void count_call(void *data)
{
    if (pthread_equal(pthread_self(), loop_thread))
        atomic_fetch_add(&calls_on_loop, 1);
    else
        atomic_fetch_add(&calls_elsewhere, 1);
    if (data && atomic_load(&calls_on_loop) >= *(int *)data)
        ev_break(main_loop_for_test, EVBREAK_ALL);
}

static void *caller_thread(void *arg)
{
    for (int i = 0; i < 100; i++)
        pc_main_call(count_call, arg);
    return NULL;
}

typedef struct main_fetch {
    got_t g;
    int done;
} main_fetch_t;

START_TEST(test_main_call_and_main_fetch)
{
    srv_t s;
    srv_start(&s);
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    main_loop_for_test = loop;
    loop_thread = pthread_self();
    ck_assert_ptr_null(pc_main_loop());
    ck_assert_int_eq(pc_fetch_main_init(loop), 0);
    ck_assert_ptr_eq(pc_main_loop(), loop);

    static int want = 200;
    pthread_t t1, t2;
    pthread_create(&t1, NULL, caller_thread, &want);
    pthread_create(&t2, NULL, caller_thread, &want);
    run_loop(loop);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    ck_assert_int_eq(atomic_load(&calls_on_loop), 200);
    ck_assert_int_eq(atomic_load(&calls_elsewhere), 0);

    /* pc_fetch(NULL, ...) is the main thread's fetcher */
    main_fetch_t m;
    memset(&m, 0, sizeof(m));
    m.g.done = &m.done;
    m.g.want = 1;
    m.g.loop = loop;
    pc_fetch_req_t req = {.url = url(&s, "/ok"), .timeout_ms = 3000};
    ck_assert_int_eq(pc_fetch(NULL, &req, got_cb, &m.g), 0);
    run_loop(loop);
    ck_assert_int_eq(m.g.status, 200);

    /* a pending main fetch ends with "shutdown"; queued calls still run */
    got_t g2;
    memset(&g2, 0, sizeof(g2));
    req.url = url(&s, "/slow");
    ck_assert_int_eq(pc_fetch(NULL, &req, got_cb, &g2), 0);
    pc_main_call(count_call, NULL);
    pc_fetch_main_shutdown();
    ck_assert_int_eq(g2.calls, 1);
    ck_assert_str_eq(g2.error, "shutdown");
    ck_assert_int_eq(atomic_load(&calls_on_loop), 201);
    ck_assert_ptr_null(pc_main_loop());
    /* afterwards: calls run at once, main fetches are refused */
    pc_main_call(count_call, NULL);
    ck_assert_int_eq(atomic_load(&calls_on_loop), 202);
    ck_assert_int_eq(pc_fetch(NULL, &req, got_cb, &g2), -1);
    ev_loop_destroy(loop);
    srv_stop(&s);
}
END_TEST

static Suite *fetch_suite(void)
{
    Suite *s = suite_create("fetch");
    TCase *tc = tcase_create("fetch");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_get_ok);
    tcase_add_test(tc, test_post_headers_body);
    tcase_add_test(tc, test_limits_and_errors);
    tcase_add_test(tc, test_many_concurrent);
    tcase_add_test(tc, test_free_pending);
    tcase_add_test(tc, test_main_call_and_main_fetch);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fetch_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
