/* gateway/main.c: command line, startup, reload and drain.
 *
 * The main thread owns every config generation: it loads and validates
 * them, starts their plugins, publishes them to the workers, and frees
 * them when the workers hand back their last reference. It also owns the
 * signals (SIGHUP reload, SIGTERM/SIGINT drain) through its own libev loop.
 */
#include "ops/accesslog.h"
#include "front/admin_http.h"
#include "conf/budget.h"
#include "conf/conf.h"
#include "upstream/fetch.h"
#include "base/log.h"
#include "main.h"
#include "conf/plugins.h"
#include "lifecycle/generation.h"
#include "store/store.h"
#include "base/util.h"
#include "worker.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

typedef struct pc_main_state {
    struct ev_loop *loop;
    const char *config_path;
    pc_conf_t *conf;               /* the current generation (main's view) */
    pc_worker_t *workers;
    unsigned nworkers;
    pc_admin_t *admin;
    pc_admin_view_t view;
    ev_signal sighup, sigterm, sigint;
    ev_async release;
    unsigned generation;
    bool stopping;
} pc_main_state_t;

/* Any thread: a generation was released (lifecycle/generation.c). */
static void release_notify(void *data)
{
    pc_main_state_t *m = data;
    ev_async_send(m->loop, &m->release);
}

static void release_cb(struct ev_loop *loop, ev_async *a, int revents)
{
    pc_generation_free_released();
}

/* ---- config ------------------------------------------------------------------- */

static pc_conf_t *load_config(const char *path, bool print_warnings)
{
    pc_diag_t diag = {0};
    pc_conf_t *c = pc_conf_load_file(path, &diag);
    if (!c || print_warnings)
        pc_diag_print(&diag, stderr);
    pc_diag_free(&diag);
    return c;
}

static void ensure_metrics(pc_main_state_t *m, const pc_conf_t *c)
{
    for (unsigned w = 0; w < m->nworkers; w++) {
        pc_metrics_t *mt = &m->workers[w].metrics;
        pc_metrics_ensure_route(mt, 0);
        for (size_t i = 0; i < c->nroutes; i++)
            pc_metrics_ensure_route(mt, c->routes[i].metrics_id);
        for (size_t i = 0; i < c->nupstreams; i++)
            pc_metrics_ensure_upstream(mt, c->upstreams[i].metrics_id);
    }
}

static int start_plugins(const pc_main_state_t *m, pc_conf_t *c)
{
    pc_diag_t diag = {0};
    struct pc_env env = {.workers = c->workers, .generation = m->generation + 1};
    int rc = pc_conf_start(c, &env, &diag);
    pc_diag_print(&diag, stderr);
    pc_diag_free(&diag);
    return rc;
}

static void publish(pc_main_state_t *m, pc_conf_t *c)
{
    c->generation = ++m->generation;
    pc_log_level = c->log_level;
    ensure_metrics(m, c);
    m->conf = c;
    pc_publish_conf(pc_conf_ref(c));
    atomic_store(&m->view.generation, c->generation);
    for (unsigned i = 0; i < m->nworkers; i++)
        pc_worker_notify(&m->workers[i]);
}

static void reload(pc_main_state_t *m)
{
    pc_log_write(PC_LOG_INFO, "reloading %s", m->config_path);
    pc_diag_t diag = {0};
    pc_conf_t *c = pc_conf_load_file(m->config_path, &diag);
    if (c && pc_conf_reload_compatible(m->conf, c, &diag) != 0) {
        pc_conf_free(c);
        c = NULL;
    }
    for (size_t i = 0; i < diag.nerrors; i++)
        pc_log_write(PC_LOG_ERROR, "reload: %s", diag.errors[i]);
    pc_diag_free(&diag);
    if (!c || start_plugins(m, c) != 0) {
        if (c)
            pc_conf_free(c);
        pc_log_write(PC_LOG_ERROR, "reload refused: generation %u keeps serving", m->generation);
        return;
    }
    pc_conf_t *old = m->conf;
    publish(m, c);
    pc_conf_release(old);
    if (pc_access_log)
        pc_accesslog_reopen(pc_access_log);
    pc_log_write(PC_LOG_INFO, "config generation %u is live", c->generation);
}

/* ---- signals ------------------------------------------------------------------- */

static void sighup_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
    pc_main_state_t *m = s->data;
    if (!m->stopping)
        reload(m);
}

static void sigterm_cb(struct ev_loop *loop, ev_signal *s, int revents)
{
    pc_main_state_t *m = s->data;
    if (m->stopping)
        return;
    m->stopping = true;
    atomic_store(&m->view.ready, false);
    pc_log_write(PC_LOG_INFO, "draining (signal %d)", s->signum);
    for (unsigned i = 0; i < m->nworkers; i++)
        pc_worker_stop(&m->workers[i]);
    ev_break(loop, EVBREAK_ALL);
}

/* ---- privileges --------------------------------------------------------------- */

static int drop_privileges(const char *user)
{
    if (!user || getuid() != 0)
        return 0;
    struct passwd *pw = getpwnam(user);
    if (!pw) {
        pc_log_write(PC_LOG_ERROR, "user: no such user %s", user);
        return -1;
    }
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        pc_log_write(PC_LOG_ERROR, "user: cannot switch to %s: %s", user, strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- run ------------------------------------------------------------------------ */

static int start_workers(pc_main_state_t *m)
{
    pc_conf_t *c = m->conf;
    m->nworkers = c->workers;
    m->workers = pc_xcalloc(m->nworkers, sizeof(*m->workers));
    for (unsigned i = 0; i < m->nworkers; i++)
        if (pc_worker_init(&m->workers[i], i, c) != 0)
            return -1;
    m->view.workers = m->workers;
    m->view.nworkers = m->nworkers;
    m->view.config_path = m->config_path;
    if (c->admin_address) {
        m->admin = pc_admin_start(c->admin_address, c->admin_port, &m->view);
        if (!m->admin) {
            pc_log_write(PC_LOG_ERROR, "admin: cannot listen on %s:%u", c->admin_address,
                         c->admin_port);
            return -1;
        }
    }
    if (c->access_log_path) {
        pc_access_log = pc_accesslog_open(c->access_log_path, m->nworkers, 1u << 20);
        if (!pc_access_log) {
            pc_log_write(PC_LOG_ERROR, "access_log: cannot open %s: %s", c->access_log_path,
                         strerror(errno));
            return -1;
        }
    }
    if (drop_privileges(c->user) != 0)
        return -1;
    publish(m, c);
    for (unsigned i = 0; i < m->nworkers; i++)
        if (pc_worker_start(&m->workers[i]) != 0)
            return -1;
    return 0;
}

static void shutdown_all(pc_main_state_t *m)
{
    for (unsigned i = 0; i < m->nworkers; i++)
        if (m->workers[i].loop)
            pc_worker_join(&m->workers[i]);
    pc_admin_stop(m->admin);
    for (unsigned i = 0; i < m->nworkers; i++)
        pc_worker_destroy(&m->workers[i]);
    free(m->workers);
    pc_publish_conf(NULL);
    pc_conf_release(m->conf);
    pc_generation_free_released();
    /* After the plugins stopped: their pending main-thread calls and
     * fetches end now (callbacks see "shutdown"). */
    pc_fetch_main_shutdown();
    pc_accesslog_close(pc_access_log);
    pc_access_log = NULL;
    pc_store_shutdown();
}

static int run(const char *path)
{
    pc_main_state_t m = {0};
    m.config_path = path;
    m.conf = load_config(path, false);
    if (!m.conf)
        return 1;
    pc_log_level = m.conf->log_level;
    signal(SIGPIPE, SIG_IGN);
    m.loop = ev_default_loop(EVFLAG_AUTO);
    ev_async_init(&m.release, release_cb);
    ev_async_start(m.loop, &m.release);
    pc_generation_on_release(release_notify, &m);
    int rc = 1;
    if (pc_fetch_main_init(m.loop) != 0) {
        pc_log_write(PC_LOG_ERROR, "cannot set up the HTTP client (libcurl)");
        goto out;
    }
    if (pc_store_init(m.conf) != 0) {
        pc_log_write(PC_LOG_ERROR, "store: cannot create the %s store", m.conf->store_type);
        goto out;
    }
    if (start_plugins(&m, m.conf) != 0 || start_workers(&m) != 0) {
        pc_log_write(PC_LOG_ERROR, "startup failed");
        for (unsigned i = 0; i < m.nworkers; i++)
            if (m.workers[i].thread)
                pc_worker_stop(&m.workers[i]);
        goto out;
    }
    ev_signal_init(&m.sighup, sighup_cb, SIGHUP);
    ev_signal_init(&m.sigterm, sigterm_cb, SIGTERM);
    ev_signal_init(&m.sigint, sigterm_cb, SIGINT);
    m.sighup.data = m.sigterm.data = m.sigint.data = &m;
    ev_signal_start(m.loop, &m.sighup);
    ev_signal_start(m.loop, &m.sigterm);
    ev_signal_start(m.loop, &m.sigint);
    atomic_store(&m.view.ready, true);
    pc_log_write(PC_LOG_INFO, "portcullis %s: %u workers, %zu routes, generation %u",
                 PACKAGE_VERSION, m.nworkers, m.conf->nroutes, m.generation);
    ev_run(m.loop, 0);
    rc = 0;
out:
    shutdown_all(&m);
    pc_generation_on_release(NULL, NULL);
    ev_loop_destroy(m.loop);
    pc_log_write(PC_LOG_INFO, "stopped");
    return rc;
}

/* ---- command line ------------------------------------------------------------------ */

static void usage(FILE *out)
{
    char types[256];
    pc_plugins_list(types, sizeof(types));
    fprintf(out,
            "usage: portcullis -c FILE        run the gateway\n"
            "       portcullis -t -c FILE     check a config: errors and warnings, exit 0/1\n"
            "       portcullis --version\n"
            "\n"
            "signals: SIGHUP reloads the config (a bad one is refused), SIGTERM drains\n"
            "plugin types: %s\n",
            types);
}

static int test_config(const char *path)
{
    pc_diag_t diag = {0};
    pc_conf_t *c = pc_conf_load_file(path, &diag);
    if (c)
        pc_budget_warn(c, pc_budget_ram_bytes(), &diag);
    pc_diag_print(&diag, stderr);
    pc_diag_print_notes(&diag, stderr);
    size_t nwarn = diag.nwarnings;
    pc_diag_free(&diag);
    if (!c) {
        fprintf(stderr, "%s: configuration is invalid\n", path);
        return 1;
    }
    pc_conf_free(c);
    fprintf(stderr, "%s: configuration is valid (%zu warning%s)\n", path, nwarn,
            nwarn == 1 ? "" : "s");
    return 0;
}

int pc_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"test", no_argument, NULL, 't'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    bool test = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:thV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': path = optarg; break;
        case 't': test = true; break;
        case 'V': printf("portcullis %s\n", PACKAGE_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!path || optind != argc) {
        usage(stderr);
        return 2;
    }
    return test ? test_config(path) : run(path);
}
