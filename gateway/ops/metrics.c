/* gateway/ops/metrics.c: counters and their Prometheus rendering. */
#include "ops/metrics.h"
#include "base/util.h"

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

/* ---- stable ids ---------------------------------------------------------
 * Names are appended, never removed; an open-addressing index (by hash of
 * the name) keeps a load of many routes linear. The admin thread reads
 * names concurrently with the main thread adding them: one mutex. */

typedef struct stable_space {
    char space[16];
    char **names;                  /* index = id - 1 */
    unsigned n, cap;
    unsigned *index;               /* slot -> id, 0 = empty */
    unsigned index_cap;            /* power of two, > 2n */
} stable_space_t;

static pthread_mutex_t stable_lock = PTHREAD_MUTEX_INITIALIZER;
static stable_space_t stable_spaces[4];

static stable_space_t *stable_find_space(const char *space)
{
    for (size_t i = 0; i < PC_ARRAY_LEN(stable_spaces); i++) {
        stable_space_t *s = &stable_spaces[i];
        if (s->space[0] == '\0') {
            snprintf(s->space, sizeof(s->space), "%s", space);
            return s;
        }
        if (strcmp(s->space, space) == 0)
            return s;
    }
    PC_ASSERT(!"too many stable id spaces");
    return NULL;
}

static void stable_index_put(stable_space_t *s, unsigned id)
{
    const char *name = s->names[id - 1];
    size_t mask = s->index_cap - 1, i = pc_hash64(name, strlen(name)) & mask;
    while (s->index[i])
        i = (i + 1) & mask;
    s->index[i] = id;
}

static void stable_grow(stable_space_t *s)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->names = pc_xrealloc(s->names, s->cap * sizeof(*s->names));
    }
    if ((s->n + 1) * 2 >= s->index_cap) {
        free(s->index);
        s->index_cap = s->index_cap ? s->index_cap * 2 : 256;
        s->index = pc_xcalloc(s->index_cap, sizeof(*s->index));
        for (unsigned id = 1; id <= s->n; id++)
            stable_index_put(s, id);
    }
}

unsigned pc_stable_id(const char *space, const char *name)
{
    pthread_mutex_lock(&stable_lock);
    stable_space_t *s = stable_find_space(space);
    unsigned id = 0;
    if (s->index_cap) {
        size_t mask = s->index_cap - 1, i = pc_hash64(name, strlen(name)) & mask;
        for (; s->index[i]; i = (i + 1) & mask)
            if (strcmp(s->names[s->index[i] - 1], name) == 0) {
                id = s->index[i];
                break;
            }
    }
    if (id == 0) {
        PC_ASSERT(s->n + 1 < PC_METRIC_CHUNK * PC_METRIC_CHUNKS);
        stable_grow(s);
        s->names[s->n++] = pc_xstrdup(name);
        id = s->n;
        stable_index_put(s, id);
    }
    pthread_mutex_unlock(&stable_lock);
    return id;
}

const char *pc_stable_name(const char *space, unsigned id)
{
    const char *name = NULL;
    pthread_mutex_lock(&stable_lock);
    stable_space_t *s = stable_find_space(space);
    if (id >= 1 && id <= s->n)
        name = s->names[id - 1];
    pthread_mutex_unlock(&stable_lock);
    return name;
}

void pc_stable_ids_reset(void)
{
    pthread_mutex_lock(&stable_lock);
    for (size_t i = 0; i < PC_ARRAY_LEN(stable_spaces); i++) {
        stable_space_t *s = &stable_spaces[i];
        for (unsigned k = 0; k < s->n; k++)
            free(s->names[k]);
        free(s->names);
        free(s->index);
        memset(s, 0, sizeof(*s));
    }
    pthread_mutex_unlock(&stable_lock);
}

/* ---- storage ------------------------------------------------------------ */

void pc_metrics_ensure_route(pc_metrics_t *m, unsigned id)
{
    unsigned c = id / PC_METRIC_CHUNK;
    PC_ASSERT(c < PC_METRIC_CHUNKS);
    if (!atomic_load_explicit(&m->routes[c], memory_order_acquire))
        atomic_store_explicit(&m->routes[c], pc_xcalloc(PC_METRIC_CHUNK, sizeof(pc_route_stats_t)),
                              memory_order_release);
}

void pc_metrics_ensure_upstream(pc_metrics_t *m, unsigned id)
{
    unsigned c = id / PC_METRIC_CHUNK;
    PC_ASSERT(c < PC_METRIC_CHUNKS);
    if (!atomic_load_explicit(&m->upstreams[c], memory_order_acquire))
        atomic_store_explicit(&m->upstreams[c],
                              pc_xcalloc(PC_METRIC_CHUNK, sizeof(pc_upstream_stats_t)),
                              memory_order_release);
}

void pc_metrics_free(pc_metrics_t *m)
{
    for (unsigned c = 0; c < PC_METRIC_CHUNKS; c++) {
        free(atomic_load(&m->routes[c]));
        free(atomic_load(&m->upstreams[c]));
        m->routes[c] = NULL;
        m->upstreams[c] = NULL;
    }
}

static pc_route_stats_t *route_stats(pc_metrics_t *m, unsigned id)
{
    pc_route_stats_t *chunk =
        atomic_load_explicit(&m->routes[id / PC_METRIC_CHUNK], memory_order_acquire);
    return chunk ? &chunk[id % PC_METRIC_CHUNK] : NULL;
}

static pc_upstream_stats_t *upstream_stats(pc_metrics_t *m, unsigned id)
{
    pc_upstream_stats_t *chunk =
        atomic_load_explicit(&m->upstreams[id / PC_METRIC_CHUNK], memory_order_acquire);
    return chunk ? &chunk[id % PC_METRIC_CHUNK] : NULL;
}

/* Codes counted exactly; any other code is counted as its class (2xx...). */
static const short known_codes[PC_STATUS_SLOTS - 5] = {
    100, 101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401,
    403, 404, 405, 406, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 421,
    422, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505,
};

static unsigned status_slot(int status)
{
    for (unsigned i = 0; i < PC_ARRAY_LEN(known_codes); i++)
        if (known_codes[i] == status)
            return 5 + i;
    if (status < 100 || status > 599)
        return 4;
    return (unsigned)(status / 100 - 1);
}

static void status_label(unsigned slot, char *buf, size_t len)
{
    if (slot >= 5)
        snprintf(buf, len, "%d", known_codes[slot - 5]);
    else
        snprintf(buf, len, "%uxx", slot + 1);
}

/* Upper bounds in microseconds; the last bucket is +Inf. */
static const uint64_t lat_bounds_us[PC_LAT_BUCKETS - 1] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000,
};

void pc_metrics_request(pc_metrics_t *m, unsigned route_id, int status, uint64_t latency_us)
{
    pc_route_stats_t *s = route_stats(m, route_id);
    if (!s)
        return;
    pc_counter_add(&s->status[status_slot(status)], 1);
    unsigned b = 0;
    while (b < PC_LAT_BUCKETS - 1 && latency_us > lat_bounds_us[b])
        b++;
    pc_counter_add(&s->latency[b], 1);
    pc_counter_add(&s->latency_sum_us, latency_us);
}

void pc_metrics_upstream(pc_metrics_t *m, unsigned upstream_id, int err_kind)
{
    pc_upstream_stats_t *s = upstream_stats(m, upstream_id);
    if (!s)
        return;
    pc_counter_add(&s->requests, 1);
    if (err_kind >= 0 && err_kind < PC_UPERR_KINDS)
        pc_counter_add(&s->errors[err_kind], 1);
}

/* ---- rendering ---------------------------------------------------------- */

static uint64_t sum_scalar(pc_metrics_t *const *w, size_t n, size_t offset)
{
    uint64_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += pc_counter_get((pc_counter_t *)((char *)w[i] + offset));
    return t;
}

static void render_route(FILE *out, pc_metrics_t *const *w, size_t nw, unsigned id,
                         const char *name)
{
    pc_route_stats_t sum;
    memset(&sum, 0, sizeof(sum));
    bool any = false;
    for (size_t i = 0; i < nw; i++) {
        pc_route_stats_t *s = route_stats(w[i], id);
        if (!s)
            continue;
        any = true;
        for (size_t k = 0; k < PC_STATUS_SLOTS; k++)
            sum.status[k] += pc_counter_get(&s->status[k]);
        for (size_t k = 0; k < PC_LAT_BUCKETS; k++)
            sum.latency[k] += pc_counter_get(&s->latency[k]);
        sum.latency_sum_us += pc_counter_get(&s->latency_sum_us);
    }
    if (!any)
        return;
    uint64_t count = 0;
    for (unsigned k = 0; k < PC_STATUS_SLOTS; k++) {
        if (!sum.status[k])
            continue;
        char label[8];
        status_label(k, label, sizeof(label));
        count += sum.status[k];
        fprintf(out, "portcullis_requests_total{route=\"%s\",status=\"%s\"} %llu\n", name, label,
                (unsigned long long)sum.status[k]);
    }
    uint64_t cum = 0;
    for (size_t k = 0; k < PC_LAT_BUCKETS; k++) {
        cum += sum.latency[k];
        if (k < PC_LAT_BUCKETS - 1)
            fprintf(out, "portcullis_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                    name, (double)lat_bounds_us[k] / 1e6, (unsigned long long)cum);
        else
            fprintf(out, "portcullis_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                    name, (unsigned long long)cum);
    }
    fprintf(out, "portcullis_request_duration_seconds_sum{route=\"%s\"} %.6f\n", name,
            (double)sum.latency_sum_us / 1e6);
    fprintf(out, "portcullis_request_duration_seconds_count{route=\"%s\"} %llu\n", name,
            (unsigned long long)count);
}

static const char *const uperr_names[PC_UPERR_KINDS] = {"connect", "timeout", "reset", "protocol",
                                                         "no_target"};

static void render_upstream(FILE *out, pc_metrics_t *const *w, size_t nw, unsigned id,
                            const char *name)
{
    uint64_t req = 0, err[PC_UPERR_KINDS] = {0};
    bool any = false;
    for (size_t i = 0; i < nw; i++) {
        pc_upstream_stats_t *s = upstream_stats(w[i], id);
        if (!s)
            continue;
        any = true;
        req += pc_counter_get(&s->requests);
        for (int k = 0; k < PC_UPERR_KINDS; k++)
            err[k] += pc_counter_get(&s->errors[k]);
    }
    if (!any)
        return;
    fprintf(out, "portcullis_upstream_requests_total{upstream=\"%s\"} %llu\n", name,
            (unsigned long long)req);
    for (int k = 0; k < PC_UPERR_KINDS; k++)
        fprintf(out, "portcullis_upstream_errors_total{upstream=\"%s\",kind=\"%s\"} %llu\n", name,
                uperr_names[k], (unsigned long long)err[k]);
}

void pc_metrics_render(FILE *out, pc_metrics_t *const *w, size_t nw, unsigned generation)
{
    fputs("# HELP portcullis_requests_total Requests by route and status.\n"
          "# TYPE portcullis_requests_total counter\n",
          out);
    fputs("# HELP portcullis_request_duration_seconds Time from request headers to response end.\n"
          "# TYPE portcullis_request_duration_seconds histogram\n",
          out);
    render_route(out, w, nw, 0, "");
    for (unsigned id = 1;; id++) {
        const char *name = pc_stable_name("route", id);
        if (!name)
            break;
        render_route(out, w, nw, id, name);
    }
    fputs("# HELP portcullis_upstream_requests_total Requests sent to an upstream.\n"
          "# TYPE portcullis_upstream_requests_total counter\n"
          "# HELP portcullis_upstream_errors_total Upstream failures by kind.\n"
          "# TYPE portcullis_upstream_errors_total counter\n",
          out);
    for (unsigned id = 1;; id++) {
        const char *name = pc_stable_name("upstream", id);
        if (!name)
            break;
        render_upstream(out, w, nw, id, name);
    }
    fprintf(out,
            "# HELP portcullis_connections_active Open client connections.\n"
            "# TYPE portcullis_connections_active gauge\n"
            "portcullis_connections_active %llu\n"
            "# HELP portcullis_connections_total Client connections accepted.\n"
            "# TYPE portcullis_connections_total counter\n"
            "portcullis_connections_total %llu\n"
            "# HELP portcullis_requests_active Requests in flight.\n"
            "# TYPE portcullis_requests_active gauge\n"
            "portcullis_requests_active %llu\n"
            "# HELP portcullis_access_log_dropped_total Access log lines dropped (writer behind).\n"
            "# TYPE portcullis_access_log_dropped_total counter\n"
            "portcullis_access_log_dropped_total %llu\n"
            "# HELP portcullis_config_generation Generation of the config in use.\n"
            "# TYPE portcullis_config_generation gauge\n"
            "portcullis_config_generation %u\n",
            (unsigned long long)sum_scalar(w, nw, offsetof(pc_metrics_t, connections_active)),
            (unsigned long long)sum_scalar(w, nw, offsetof(pc_metrics_t, connections_total)),
            (unsigned long long)sum_scalar(w, nw, offsetof(pc_metrics_t, requests_active)),
            (unsigned long long)sum_scalar(w, nw, offsetof(pc_metrics_t, access_log_dropped)),
            generation);
    fputs("# HELP portcullis_timeouts_total Client deadlines passed, by phase (answered 408).\n"
          "# TYPE portcullis_timeouts_total counter\n",
          out);
    static const char *const phases[PC_TIMEOUT_PHASES] = {"header", "body"};
    for (int k = 0; k < PC_TIMEOUT_PHASES; k++)
        fprintf(out, "portcullis_timeouts_total{phase=\"%s\"} %llu\n", phases[k],
                (unsigned long long)sum_scalar(w, nw, offsetof(pc_metrics_t, timeouts[k])));
}
