/* gateway/ops/accesslog.c: per-worker lock-free rings drained by one thread. */
#include "ops/accesslog.h"
#include "base/clock.h"
#include "base/problem.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

pc_accesslog_t *pc_access_log;

typedef struct al_ring {
    char *buf;
    size_t cap;                    /* power of two */
    _Atomic size_t head;           /* written by the producer */
    _Atomic size_t tail;           /* written by the writer thread */
} al_ring_t;

struct pc_accesslog {
    char *path;
    int fd;
    bool own_fd;
    al_ring_t *rings;
    unsigned nrings;
    pthread_t thread;
    atomic_bool stop;
    _Atomic int reopen;
};

static size_t round_pow2(size_t n)
{
    size_t p = 4096;
    while (p < n)
        p <<= 1;
    return p;
}

static int al_open_fd(const char *path, bool *own)
{
    *own = false;
    if (strcmp(path, "stderr") == 0)
        return STDERR_FILENO;
    if (strcmp(path, "stdout") == 0)
        return STDOUT_FILENO;
    *own = true;
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

bool pc_accesslog_push(pc_accesslog_t *al, unsigned producer, const char *line, size_t len)
{
    al_ring_t *r = &al->rings[producer];
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (len > r->cap - (head - tail))
        return false;
    size_t at = head & (r->cap - 1);
    size_t first = r->cap - at < len ? r->cap - at : len;
    memcpy(r->buf + at, line, first);
    memcpy(r->buf, line + first, len - first);
    atomic_store_explicit(&r->head, head + len, memory_order_release);
    return true;
}

static void al_write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return; /* a full disk must not stop the gateway */
        }
        p += n;
        len -= (size_t)n;
    }
}

static bool al_drain(pc_accesslog_t *al)
{
    bool any = false;
    for (unsigned i = 0; i < al->nrings; i++) {
        al_ring_t *r = &al->rings[i];
        size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
        size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
        if (head == tail)
            continue;
        any = true;
        size_t len = head - tail, at = tail & (r->cap - 1);
        size_t first = r->cap - at < len ? r->cap - at : len;
        al_write_all(al->fd, r->buf + at, first);
        al_write_all(al->fd, r->buf, len - first);
        atomic_store_explicit(&r->tail, head, memory_order_release);
    }
    return any;
}

static void *al_thread(void *arg)
{
    pc_accesslog_t *al = arg;
    while (!atomic_load(&al->stop)) {
        if (atomic_exchange(&al->reopen, 0) && al->own_fd) {
            bool own;
            int fd = al_open_fd(al->path, &own);
            if (fd >= 0) {
                close(al->fd);
                al->fd = fd;
            }
        }
        if (!al_drain(al)) {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    al_drain(al);
    return NULL;
}

pc_accesslog_t *pc_accesslog_open(const char *path, unsigned nproducers, size_t ring_bytes)
{
    pc_accesslog_t *al = pc_xcalloc(1, sizeof(*al));
    al->path = pc_xstrdup(path);
    al->fd = al_open_fd(path, &al->own_fd);
    if (al->fd < 0) {
        free(al->path);
        free(al);
        return NULL;
    }
    al->nrings = nproducers;
    al->rings = pc_xcalloc(nproducers, sizeof(*al->rings));
    for (unsigned i = 0; i < nproducers; i++) {
        al->rings[i].cap = round_pow2(ring_bytes);
        al->rings[i].buf = pc_xmalloc(al->rings[i].cap);
    }
    if (pthread_create(&al->thread, NULL, al_thread, al) != 0) {
        PC_ASSERT(!"cannot start the access log thread");
    }
    return al;
}

int pc_accesslog_reopen(pc_accesslog_t *al)
{
    atomic_store(&al->reopen, 1);
    return 0;
}

void pc_accesslog_close(pc_accesslog_t *al)
{
    if (!al)
        return;
    atomic_store(&al->stop, true);
    pthread_join(al->thread, NULL);
    if (al->own_fd)
        close(al->fd);
    for (unsigned i = 0; i < al->nrings; i++)
        free(al->rings[i].buf);
    free(al->rings);
    free(al->path);
    free(al);
}

/* ---- formatting --------------------------------------------------------------- */

static const char *or_empty(const char *s)
{
    return s ? s : "";
}

/* JSON-escaped into buf (truncated to fit). */
static const char *esc(char *buf, size_t size, const char *s)
{
    s = or_empty(s);
    pc_json_escape(buf, size, s, strlen(s));
    return buf;
}

bool pc_accesslog_write(pc_accesslog_t *al, unsigned producer, const pc_access_rec_t *rec)
{
    char line[4096], path[1024], route[160], method[32];
    uint64_t wall_ms = pc_clock_wall_ms();
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int n = snprintf(
        line, sizeof(line),
        "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03dZ\",\"request_id\":\"%s\",\"client\":\"%s\","
        "\"method\":\"%s\",\"path\":\"%s\",\"route\":\"%s\",\"status\":%d,\"bytes\":%llu,"
        "\"upstream\":\"%s\",\"upstream_ms\":%.3f,\"total_ms\":%.3f%s%s%s}\n",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        (int)(wall_ms % 1000), or_empty(rec->request_id), or_empty(rec->client),
        esc(method, sizeof(method), rec->method), esc(path, sizeof(path), rec->path),
        esc(route, sizeof(route), rec->route), rec->status, (unsigned long long)rec->bytes,
        or_empty(rec->upstream), (double)rec->upstream_ns / 1e6, (double)rec->total_ns / 1e6,
        rec->reason ? ",\"reason\":\"" : "", or_empty(rec->reason), rec->reason ? "\"" : "");
    if (n <= 0 || (size_t)n >= sizeof(line))
        return true; /* unformattable: not a drop of the ring, as before */
    return pc_accesslog_push(al, producer, line, (size_t)n);
}
