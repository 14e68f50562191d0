/* gateway/upstream/fetch.c: pc_fetch (libcurl multi-socket on a libev loop) and
 * pc_main_call (a mutex-protected queue drained by an ev_async on the main
 * loop). See fetch.h for the contracts.
 *
 * libcurl and libev meet in three callbacks:
 *   fetch_socket_cb  curl: "watch fd for in/out, or forget it" -> ev_io
 *   fetch_timer_cb   curl: "call me in N ms" -> one ev_timer per fetcher
 *   fetch_io_cb / fetch_timeout_cb  libev -> curl_multi_socket_action,
 *                    then finished transfers are collected and their
 *                    callbacks run (fetch_check_done).
 * Because curl only ever asks for a timer from curl_multi_add_handle, a
 * transfer's callback can never run inside pc_fetch itself.
 */
#include "upstream/fetch.h"
#include "base/list.h"
#include "base/log.h"
#include "base/util.h"
#include "lifecycle/worker_ctx.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FETCH_DEFAULT_TIMEOUT_MS 5000u
#define FETCH_DEFAULT_MAX_BODY (1u << 20)
#define FETCH_CACHE_CONTROL_MAX 1024u
#define FETCH_MAX_CONNECTIONS 64L

typedef struct fetch_job fetch_job_t;
typedef struct fetch_sock fetch_sock_t;

struct pc_fetcher {
    struct ev_loop *loop;
    CURLM *multi;
    ev_timer timer;
    pc_list_t jobs;                /* fetch_job_t.link: in flight */
    pc_list_t socks;               /* fetch_sock_t.link: watched sockets */
    unsigned njobs;
    bool closing;
    char *noproxy;                 /* the environment's no_proxy plus loopback */
};

struct fetch_sock {
    ev_io io;
    pc_fetcher_t *f;
    curl_socket_t fd;
    pc_list_t link;                /* pc_fetcher_t.socks */
};

struct fetch_job {
    pc_list_t link;                /* pc_fetcher_t.jobs while in flight */
    pc_fetcher_t *f;
    CURL *easy;
    struct curl_slist *headers;
    pc_fetch_cb cb;
    void *data;
    char *body;
    size_t len, cap, max;
    bool too_large;
    char *cache_control;
    char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t fetch_curl_once = PTHREAD_ONCE_INIT;
static int fetch_curl_ok;

static void fetch_curl_init(void)
{
    fetch_curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    /* Without the threaded (or c-ares) resolver a name lookup would block
     * the loop that runs the transfer. */
    if (fetch_curl_ok && v && !(v->features & CURL_VERSION_ASYNCHDNS))
        pc_log_write(PC_LOG_WARN, "libcurl %s resolves names synchronously: outgoing requests "
                                  "to host names may stall an event loop; use IP addresses",
                     v->version);
}

/* ---- transfers ------------------------------------------------------------------ */

static void job_unlink(fetch_job_t *j)
{
    if (!pc_list_linked(&j->link))
        return;
    pc_list_remove(&j->link);
    j->f->njobs--;
}

static void job_free(fetch_job_t *j)
{
    if (j->easy)
        curl_easy_cleanup(j->easy);
    curl_slist_free_all(j->headers);
    free(j->body);
    free(j->cache_control);
    free(j);
}

/* Detaches j from curl, runs its callback once, frees it. */
static void job_finish(fetch_job_t *j, CURLcode rc, const char *why)
{
    pc_fetcher_t *f = j->f;
    pc_fetch_result_t res;
    memset(&res, 0, sizeof(res));
    job_unlink(j);
    curl_multi_remove_handle(f->multi, j->easy);
    if (!why && rc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
        res.ok = 1;
        res.status = (int)status;
        res.body = j->body ? j->body : "";
        res.body_len = j->len;
        res.cache_control = j->cache_control;
    } else if (why) {
        res.error = why;
    } else if (j->too_large) {
        res.error = "response body too large";
    } else {
        res.error = j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc);
    }
    j->cb(j->data, &res);
    job_free(j);
}

static void fetch_check_done(pc_fetcher_t *f)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURLcode rc = m->data.result; /* m dies with curl_multi_remove_handle */
        char *priv = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv);
        if (priv)
            job_finish((fetch_job_t *)(void *)priv, rc, NULL);
    }
}

static size_t fetch_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    fetch_job_t *j = userdata;
    size_t n = size * nmemb;
    if (n > j->max - j->len) {
        j->too_large = true;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if (j->len + n + 1 > j->cap) {
        size_t cap = j->cap ? j->cap : 4096;
        while (cap < j->len + n + 1)
            cap *= 2;
        j->body = pc_xrealloc(j->body, cap);
        j->cap = cap;
    }
    memcpy(j->body + j->len, ptr, n);
    j->len += n;
    j->body[j->len] = '\0';
    return n;
}

/* Keeps the Cache-Control of the final response (a new status line starts
 * a new header block); several fields are joined with ", ". */
static size_t fetch_header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
    fetch_job_t *j = userdata;
    size_t len = size * nitems;
    static const char name[] = "cache-control:";
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        free(j->cache_control);
        j->cache_control = NULL;
        return len;
    }
    if (len <= sizeof(name) - 1 || strncasecmp(buf, name, sizeof(name) - 1) != 0)
        return len;
    const char *v = buf + sizeof(name) - 1, *end = buf + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    size_t old = j->cache_control ? strlen(j->cache_control) : 0;
    if (vlen == 0 || old + vlen + 3 > FETCH_CACHE_CONTROL_MAX)
        return len;
    char *cc = pc_xrealloc(j->cache_control, old + vlen + 3);
    if (old) {
        memcpy(cc + old, ", ", 2);
        old += 2;
    }
    memcpy(cc + old, v, vlen);
    cc[old + vlen] = '\0';
    j->cache_control = cc;
    return len;
}

/* ---- libev <-> libcurl -------------------------------------------------------------- */

static void fetch_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    fetch_sock_t *fs = w->data;
    pc_fetcher_t *f = fs->f;
    curl_socket_t fd = fs->fd; /* fs may be freed inside socket_action */
    int flags = ((revents & EV_READ) ? CURL_CSELECT_IN : 0) |
                ((revents & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(f->multi, fd, flags, &running);
    fetch_check_done(f);
}

static void fetch_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    pc_fetcher_t *f = t->data;
    int running;
    curl_multi_socket_action(f->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    fetch_check_done(f);
}


static int fetch_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    pc_fetcher_t *f = userp;
    fetch_sock_t *fs = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (fs) {
            ev_io_stop(f->loop, &fs->io);
            pc_list_remove(&fs->link);
            free(fs);
            curl_multi_assign(f->multi, s, NULL);
        }
        return 0;
    }
    int ev = ((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
    if (!fs) {
        fs = pc_xcalloc(1, sizeof(*fs));
        fs->f = f;
        fs->fd = s;
        pc_list_push_front(&f->socks, &fs->link);
        ev_io_init(&fs->io, fetch_io_cb, s, ev);
        fs->io.data = fs;
        curl_multi_assign(f->multi, s, fs);
    } else {
        ev_io_stop(f->loop, &fs->io);
        ev_io_set(&fs->io, s, ev);
    }
    ev_io_start(f->loop, &fs->io);
    return 0;
}

static int fetch_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    pc_fetcher_t *f = userp;
    ev_timer_stop(f->loop, &f->timer);
    if (timeout_ms >= 0) {
        ev_timer_set(&f->timer, (double)timeout_ms / 1000.0, 0.);
        ev_timer_start(f->loop, &f->timer);
    }
    return 0;
}

/* ---- fetchers ---------------------------------------------------------------- */

pc_fetcher_t *pc_fetcher_new(struct ev_loop *loop)
{
    pthread_once(&fetch_curl_once, fetch_curl_init);
    if (!fetch_curl_ok || !loop)
        return NULL;
    pc_fetcher_t *f = pc_xcalloc(1, sizeof(*f));
    f->loop = loop;
    pc_list_init(&f->jobs);
    pc_list_init(&f->socks);
    f->multi = curl_multi_init();
    if (!f->multi) {
        free(f);
        return NULL;
    }
    ev_timer_init(&f->timer, fetch_timeout_cb, 0., 0.);
    f->timer.data = f;
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, fetch_socket_cb);
    curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, fetch_timer_cb);
    curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, f);
    curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, FETCH_MAX_CONNECTIONS);
    /* Loopback never goes through a proxy from the environment; the
     * environment's own exceptions are kept. */
    const char *np = getenv("no_proxy");
    if (!np || !*np)
        np = getenv("NO_PROXY");
    size_t n = (np ? strlen(np) : 0) + 32;
    f->noproxy = pc_xmalloc(n);
    snprintf(f->noproxy, n, "%s%s127.0.0.1,localhost,::1", np && *np ? np : "",
             np && *np ? "," : "");
    return f;
}

unsigned pc_fetcher_pending(const pc_fetcher_t *f)
{
    return f ? f->njobs : 0;
}

static int fetch_scheme_ok(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

static int fetch_setup(fetch_job_t *j, const pc_fetch_req_t *req)
{
    CURL *e = j->easy;
    unsigned timeout = req->timeout_ms ? req->timeout_ms : FETCH_DEFAULT_TIMEOUT_MS;
    const char *method = req->method ? req->method : "GET";
    int rc = 0;
#define SET(opt, val) rc |= (int)curl_easy_setopt(e, opt, val)
    SET(CURLOPT_URL, req->url);
    SET(CURLOPT_PRIVATE, (char *)j);
    SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    SET(CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_MAXREDIRS, 0L);
    SET(CURLOPT_TIMEOUT_MS, (long)timeout);
    SET(CURLOPT_CONNECTTIMEOUT_MS, (long)timeout);
    SET(CURLOPT_SSL_VERIFYPEER, 1L);
    SET(CURLOPT_SSL_VERIFYHOST, 2L);
    SET(CURLOPT_NOPROXY, j->f->noproxy);
    SET(CURLOPT_USERAGENT, "portcullis/" PACKAGE_VERSION);
    SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)j->max);
    SET(CURLOPT_WRITEFUNCTION, fetch_write_cb);
    SET(CURLOPT_WRITEDATA, j);
    SET(CURLOPT_HEADERFUNCTION, fetch_header_cb);
    SET(CURLOPT_HEADERDATA, j);
    SET(CURLOPT_ERRORBUFFER, j->errbuf);
    if (strcmp(method, "GET") == 0) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, method);
        SET(CURLOPT_POST, 1L);
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        SET(CURLOPT_COPYPOSTFIELDS, req->body_len ? (const char *)req->body : "");
    }
    for (const char *const *h = req->headers; h && *h; h++) {
        struct curl_slist *l = curl_slist_append(j->headers, *h);
        if (!l)
            return -1;
        j->headers = l;
    }
    /* No "Expect: 100-continue" round trip for bodies. */
    struct curl_slist *l = curl_slist_append(j->headers, "Expect:");
    if (!l)
        return -1;
    j->headers = l;
    SET(CURLOPT_HTTPHEADER, j->headers);
#undef SET
    return rc == 0 ? 0 : -1;
}

int pc_fetcher_start(pc_fetcher_t *f, const pc_fetch_req_t *req, pc_fetch_cb cb, void *data)
{
    if (!f || f->closing || !req || !req->url || !cb || !fetch_scheme_ok(req->url))
        return -1;
    fetch_job_t *j = pc_xcalloc(1, sizeof(*j));
    j->f = f;
    j->cb = cb;
    j->data = data;
    j->max = req->max_body ? req->max_body : FETCH_DEFAULT_MAX_BODY;
    j->easy = curl_easy_init();
    if (!j->easy || fetch_setup(j, req) != 0 || curl_multi_add_handle(f->multi, j->easy) != CURLM_OK) {
        job_free(j);
        return -1;
    }
    pc_list_push_front(&f->jobs, &j->link);
    f->njobs++;
    return 0;
}

void pc_fetcher_free(pc_fetcher_t *f)
{
    if (!f)
        return;
    f->closing = true;
    while (!pc_list_empty(&f->jobs))
        job_finish(pc_list_entry(f->jobs.next, fetch_job_t, link), CURLE_ABORTED_BY_CALLBACK,
                   "shutdown");
    ev_timer_stop(f->loop, &f->timer);
    curl_multi_cleanup(f->multi);
    while (!pc_list_empty(&f->socks)) {
        fetch_sock_t *fs = pc_list_entry(f->socks.next, fetch_sock_t, link);
        ev_io_stop(f->loop, &fs->io);
        pc_list_remove(&fs->link);
        free(fs);
    }
    free(f->noproxy);
    free(f);
}

/* ---- the main thread ---------------------------------------------------------------- */

typedef struct main_call {
    struct main_call *next;
    void (*fn)(void *);
    void *data;
} main_call_t;

static struct ev_loop *main_loop;
static pthread_t main_thread;
static pc_fetcher_t *main_fetcher;
static ev_async main_wake;
static pthread_mutex_t calls_lock = PTHREAD_MUTEX_INITIALIZER;
static main_call_t *calls_head, *calls_tail;
static bool calls_open;

/* Runs every queued call, including calls queued by the calls. */
static void main_calls_run(void)
{
    for (;;) {
        pthread_mutex_lock(&calls_lock);
        main_call_t *c = calls_head;
        calls_head = calls_tail = NULL;
        pthread_mutex_unlock(&calls_lock);
        if (!c)
            return;
        while (c) {
            main_call_t *next = c->next;
            c->fn(c->data);
            free(c);
            c = next;
        }
    }
}

static void main_wake_cb(struct ev_loop *loop, ev_async *a, int revents)
{
    main_calls_run();
}

int pc_fetch_main_init(struct ev_loop *loop)
{
    main_loop = loop;
    main_thread = pthread_self();
    main_fetcher = pc_fetcher_new(loop);
    if (!main_fetcher)
        return -1;
    ev_async_init(&main_wake, main_wake_cb);
    ev_async_start(loop, &main_wake);
    pthread_mutex_lock(&calls_lock);
    calls_open = true;
    pthread_mutex_unlock(&calls_lock);
    return 0;
}

void pc_fetch_main_shutdown(void)
{
    if (!main_loop)
        return;
    main_calls_run();
    pc_fetcher_t *f = main_fetcher;
    main_fetcher = NULL;
    pc_fetcher_free(f);
    main_calls_run();
    pthread_mutex_lock(&calls_lock);
    calls_open = false;
    pthread_mutex_unlock(&calls_lock);
    main_calls_run();
    ev_async_stop(main_loop, &main_wake);
    main_loop = NULL;
}

void pc_main_call(void (*fn)(void *), void *data)
{
    main_call_t *c = pc_xmalloc(sizeof(*c));
    c->next = NULL;
    c->fn = fn;
    c->data = data;
    pthread_mutex_lock(&calls_lock);
    if (!calls_open) {
        /* No main loop (unit tests, or past shutdown): only one thread is
         * left to run it. */
        pthread_mutex_unlock(&calls_lock);
        free(c);
        fn(data);
        return;
    }
    if (calls_tail)
        calls_tail->next = c;
    else
        calls_head = c;
    calls_tail = c;
    struct ev_loop *loop = main_loop;
    pthread_mutex_unlock(&calls_lock);
    ev_async_send(loop, &main_wake);
}

void *pc_main_loop(void)
{
    return main_loop;
}

int pc_fetch(pc_worker_t *w, const pc_fetch_req_t *req, pc_fetch_cb cb, void *data)
{
    if (!w) {
        PC_ASSERT(!main_loop || pthread_equal(pthread_self(), main_thread));
        return pc_fetcher_start(main_fetcher, req, cb, data);
    }
    return pc_fetcher_start(w->fetcher, req, cb, data);
}
