/* gateway/ops/metric.c: the registry of metrics for the store and plugins
 * (see metric.h), and the pc_metric_* calls of plugin.h. */
#include "ops/metric.h"
#include "base/log.h"
#include "base/thread.h"
#include "base/util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ROW_BYTES (PC_METRIC_MAX_SERIES * sizeof(pc_counter_t))
#define SHARED_ROW PC_METRIC_WORKER_SHARDS

struct pc_metric {
    int kind;
    char *name, *help;
    unsigned nlabels;
    char *labels[PC_METRIC_MAX_LABELS];
    _Atomic unsigned nseries;      /* published with release after values[] is set */
    char **values[PC_METRIC_MAX_SERIES];
    pc_counter_t (*cells)[PC_METRIC_MAX_SERIES]; /* [PC_METRIC_WORKER_SHARDS + 1] rows */
    atomic_bool overflow_logged;
};

typedef struct reg_entry {
    pc_metric_t *metric;           /* or a collector: */
    void (*fn)(FILE *, void *);
    void *data;
} reg_entry_t;

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static reg_entry_t reg[PC_METRIC_MAX];
static size_t nreg;

_Static_assert(ROW_BYTES % 64 == 0, "a row is whole cache lines");

static bool valid_name(const char *s, bool colon)
{
    if (!s || !*s || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || (colon && *s == ':')))
            return false;
    return true;
}

static bool same_shape(const pc_metric_t *m, int kind, const char *const *labels, unsigned n)
{
    if (m->kind != kind || m->nlabels != n)
        return false;
    for (unsigned i = 0; i < n; i++)
        if (strcmp(m->labels[i], labels[i]) != 0)
            return false;
    return true;
}

static pc_metric_t *metric_new(int kind, const char *name, const char *help,
                               const char *const *labels, unsigned n)
{
    pc_metric_t *m = pc_xcalloc(1, sizeof(*m));
    m->kind = kind;
    m->name = pc_xstrdup(name);
    m->help = pc_xstrdup(help ? help : "");
    for (char *p = m->help; *p; p++)
        if (*p == '\n')
            *p = ' '; /* one line of help, whatever the caller wrote */
    m->nlabels = n;
    for (unsigned i = 0; i < n; i++)
        m->labels[i] = pc_xstrdup(labels[i]);
    m->cells = aligned_alloc(64, (SHARED_ROW + 1) * ROW_BYTES);
    PC_ASSERT(m->cells);
    memset(m->cells, 0, (SHARED_ROW + 1) * ROW_BYTES);
    if (n == 0)
        atomic_store(&m->nseries, 1); /* the one series exists from the start */
    return m;
}

pc_metric_t *pc_metric_register(int kind, const char *name, const char *help,
                                const char *const *labels)
{
    unsigned n = 0;
    while (labels && labels[n]) {
        if (n == PC_METRIC_MAX_LABELS || !valid_name(labels[n], false) ||
            strncmp(labels[n], "__", 2) == 0) {
            pc_log_write(PC_LOG_ERROR, "metric %s: bad or too many labels", name ? name : "?");
            return NULL;
        }
        n++;
    }
    if (!valid_name(name, true) || (kind != PC_METRIC_COUNTER && kind != PC_METRIC_GAUGE)) {
        pc_log_write(PC_LOG_ERROR, "metric \"%s\": not a valid metric name or kind",
                     name ? name : "");
        return NULL;
    }
    pc_metric_t *m = NULL;
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < nreg; i++)
        if (reg[i].metric && strcmp(reg[i].metric->name, name) == 0) {
            m = same_shape(reg[i].metric, kind, labels, n) ? reg[i].metric : NULL;
            if (!m)
                pc_log_write(PC_LOG_ERROR, "metric %s: registered before with another kind or "
                                           "other labels", name);
            goto out;
        }
    if (nreg == PC_METRIC_MAX) {
        pc_log_write(PC_LOG_ERROR, "metric %s: too many metrics (%d)", name, PC_METRIC_MAX);
        goto out;
    }
    m = metric_new(kind, name, help, labels, n);
    reg[nreg++] = (reg_entry_t){m, NULL, NULL};
out:
    pthread_mutex_unlock(&reg_lock);
    return m;
}

void pc_metric_collector(void (*fn)(FILE *out, void *data), void *data)
{
    pthread_mutex_lock(&reg_lock);
    size_t i = 0;
    while (i < nreg && reg[i].fn != fn)
        i++;
    if (i < nreg)
        reg[i].data = data;
    else if (nreg < PC_METRIC_MAX)
        reg[nreg++] = (reg_entry_t){NULL, fn, data};
    else
        pc_log_write(PC_LOG_ERROR, "metrics: too many collectors");
    pthread_mutex_unlock(&reg_lock);
}

/* ---- series ----------------------------------------------------------------- */

static bool series_is(const pc_metric_t *m, unsigned s, const char *const *values)
{
    for (unsigned i = 0; i < m->nlabels; i++)
        if (strcmp(m->values[s][i], values[i] ? values[i] : "") != 0)
            return false;
    return true;
}

/* The series of values, created if need be; -1 when the table is full. */
static int series_overflow(pc_metric_t *m)
{
    if (!atomic_exchange(&m->overflow_logged, true))
        pc_log_write(PC_LOG_WARN, "metric %s: more than %d series, further ones are dropped",
                     m->name, PC_METRIC_MAX_SERIES);
    return -1;
}

static int series_of(pc_metric_t *m, const char *const *values)
{
    if (m->nlabels == 0)
        return 0;
    unsigned n = atomic_load_explicit(&m->nseries, memory_order_acquire);
    for (unsigned s = 0; s < n; s++)
        if (series_is(m, s, values))
            return (int)s;
    /* Full: a new label set is dropped without the lock, so that request
     * data past the cap never puts a mutex on every worker's hot path. */
    if (n >= PC_METRIC_MAX_SERIES)
        return series_overflow(m);
    int found = -1;
    pthread_mutex_lock(&reg_lock);
    n = atomic_load_explicit(&m->nseries, memory_order_relaxed);
    for (unsigned s = 0; s < n && found < 0; s++)
        if (series_is(m, s, values))
            found = (int)s;
    if (found < 0 && n < PC_METRIC_MAX_SERIES) {
        char **v = pc_xmalloc(m->nlabels * sizeof(*v));
        for (unsigned i = 0; i < m->nlabels; i++)
            v[i] = pc_xstrdup(values[i] ? values[i] : "");
        m->values[n] = v;
        atomic_store_explicit(&m->nseries, n + 1, memory_order_release);
        found = (int)n;
    }
    pthread_mutex_unlock(&reg_lock);
    return found < 0 ? series_overflow(m) : found;
}

pc_counter_t *pc_metric_cell(pc_metric_t *m, unsigned worker, const char *const *values)
{
    int s = m ? series_of(m, values) : -1;
    if (s < 0)
        return NULL;
    return &m->cells[worker < PC_METRIC_WORKER_SHARDS ? worker : SHARED_ROW][s];
}

/* ---- the plugin API ------------------------------------------------------------ */

pc_metric_t *pc_metric_counter(pc_env_t *env, const char *name, const char *help,
                               const char *const *labels)
{
    (void)env; /* the registry is the process's: env marks this as load-time only */
    return pc_metric_register(PC_METRIC_COUNTER, name, help, labels);
}

pc_metric_t *pc_metric_gauge(pc_env_t *env, const char *name, const char *help,
                             const char *const *labels)
{
    (void)env;
    return pc_metric_register(PC_METRIC_GAUGE, name, help, labels);
}

void pc_metric_add(pc_metric_t *m, const char *const *values, int64_t n)
{
    int s = m ? series_of(m, values) : -1;
    if (s < 0)
        return;
    unsigned w = pc_thread_worker();
    if (w < PC_METRIC_WORKER_SHARDS)
        pc_counter_add(&m->cells[w][s], (uint64_t)n); /* this worker is the row's only writer */
    else
        atomic_fetch_add_explicit(&m->cells[SHARED_ROW][s], (uint64_t)n, memory_order_relaxed);
}

/* ---- rendering ------------------------------------------------------------------ */

static void put_label_value(FILE *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fputc('\\', out);
        if (*v == '\n')
            fputs("\\n", out);
        else
            fputc(*v, out);
    }
}

static void render_metric(FILE *out, pc_metric_t *m)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help, m->name,
            m->kind == PC_METRIC_GAUGE ? "gauge" : "counter");
    unsigned n = atomic_load_explicit(&m->nseries, memory_order_acquire);
    for (unsigned s = 0; s < n; s++) {
        uint64_t sum = 0;
        for (unsigned r = 0; r <= SHARED_ROW; r++)
            sum += pc_counter_get(&m->cells[r][s]);
        fputs(m->name, out);
        for (unsigned i = 0; i < m->nlabels; i++) {
            fprintf(out, "%c%s=\"", i ? ',' : '{', m->labels[i]);
            put_label_value(out, m->values[s][i]);
            fputc('"', out);
        }
        if (m->nlabels)
            fputc('}', out);
        if (m->kind == PC_METRIC_GAUGE)
            fprintf(out, " %lld\n", (long long)(int64_t)sum);
        else
            fprintf(out, " %llu\n", (unsigned long long)sum);
    }
}

void pc_metric_render(FILE *out)
{
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < nreg; i++) {
        if (reg[i].metric)
            render_metric(out, reg[i].metric);
        else
            reg[i].fn(out, reg[i].data);
    }
    pthread_mutex_unlock(&reg_lock);
}

void pc_metric_reset(void)
{
    pthread_mutex_lock(&reg_lock);
    for (size_t i = 0; i < nreg; i++) {
        pc_metric_t *m = reg[i].metric;
        if (!m)
            continue;
        unsigned n = atomic_load(&m->nseries);
        for (unsigned s = 0; s < n && m->nlabels; s++) {
            for (unsigned k = 0; k < m->nlabels; k++)
                free(m->values[s][k]);
            free(m->values[s]);
        }
        for (unsigned k = 0; k < m->nlabels; k++)
            free(m->labels[k]);
        free(m->cells);
        free(m->name);
        free(m->help);
        free(m);
    }
    memset(reg, 0, sizeof(reg));
    nreg = 0;
    pthread_mutex_unlock(&reg_lock);
}
