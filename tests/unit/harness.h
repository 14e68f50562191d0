/* tests/unit/harness.h: drives the request lifecycle without sockets.
 *
 * A harness is one fake worker (a real libev loop, the waiting and
 * abandoned lists), one config generation with one route (named "r")
 * whose chain is up to H_MAX_PLUGINS plugins, scripted test plugins or
 * real ones configured from JSON, a fake front end (its ops table counts
 * suspends and resumes and says whether the client left), an injectable
 * clock (base/clock.h's pc_clock_override) that the test steps by hand,
 * and a fake store (store/store.h's test backend) that records every
 * pc_store_* call and answers it when the test says so. Requests are real
 * pc_request_t with their arena, made the way the front end makes them.
 * Single-threaded; one harness at a time.
 */
#ifndef PC_TEST_HARNESS_H
#define PC_TEST_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "conf/conf.h"
#include "lifecycle/chain.h"
#include "lifecycle/generation.h"
#include "lifecycle/request.h"
#include "lifecycle/wait.h"
#include "store/ratelimit.h"

#include <portcullis/plugin.h>

#define H_MAX_PLUGINS 4
#define H_MAX_STORE_CALLS 16
#define H_STORE_KEY_MAX 512
#define H_CLIENT_IP "192.0.2.1" /* every h_request's client */

/* What a scripted plugin's hook does. */
typedef enum h_mode {
    H_CONTINUE = 0,     /* returns PC_CONTINUE */
    H_DENY,             /* pc_deny 429, returns PC_RESPOND */
    H_SUSPEND,          /* begins a token, keeps it in .pending, returns PC_SUSPEND */
    H_SYNC_CONTINUE,    /* begins, ends with PC_CONTINUE in the hook, returns PC_SUSPEND */
    H_SYNC_DENY,        /* begins, denies, ends with PC_RESPOND in the hook, returns PC_SUSPEND */
    H_END_TWICE,        /* begins, ends twice in the hook: must abort */
    H_OPEN_CONTINUE,    /* begins, returns PC_CONTINUE with the token open: must abort */
    H_DENY_AUTH,        /* as an authenticating plugin refusing a credential: 401 */
} h_mode_t;

typedef struct h_plugin {
    h_mode_t mode;
    unsigned timeout_ms;   /* of its token; 0 = 1000 */
    int timeout_status;    /* of its token; 0 = 503 */
    int calls;             /* on_headers calls */
    pc_async_t *pending;   /* H_SUSPEND, H_OPEN_CONTINUE: the open token */
    pc_async_t *last;      /* the last token begun (in the request's arena) */
} h_plugin_t;

/* ---- the fake store ----------------------------------------------------------
 *
 * Every pc_store_* call that passes the store's argument checks lands in
 * h->store.calls, in call order. By default the fake holds it until the test
 * answers it with h_store_answer (as Redis answers later), or never does
 * (a store that hangs). With h->store.at_once set, it answers inside the
 * call with h->store.now (as the memory store does, or Redis failing fast).
 * An answer with rc -1 is the store that cannot answer (Redis down).
 */
typedef enum h_store_op { H_ST_LIMIT, H_ST_FLAG_SET, H_ST_FLAG_CHECK, H_ST_COUNT } h_store_op_t;

/* What the store answers; each operation reads its own fields. */
typedef struct h_answer {
    int rc;                    /* 0, or -1: the store could not answer */
    int present;               /* flag_check */
    uint64_t count;            /* count */
    pc_limit_result_t limit;   /* limit */
} h_answer_t;

typedef struct h_store_call {
    h_store_op_t op;
    const char *ns;            /* the namespace's name */
    char key[H_STORE_KEY_MAX]; /* as the plugin passed it, NUL-terminated */
    size_t klen;
    pc_limit_spec_t limits[PC_RL_MAX_LIMITS]; /* limit */
    size_t nlimits;
    uint64_t arg;              /* flag_set's ttl_ms, count's window_ms */
    union {
        pc_store_limit_cb limit;
        pc_store_done_cb done; /* may be NULL */
        pc_store_flag_cb flag;
        pc_store_count_cb count;
    } cb;
    void *data;
    bool answered;
} h_store_call_t;

typedef struct h_store {
    h_store_call_t calls[H_MAX_STORE_CALLS];
    size_t ncalls;
    bool at_once;              /* answer inside the call, with now */
    h_answer_t now;
} h_store_t;

typedef struct h_front {
    int suspends, resumes;
    bool client_gone;      /* what the peek answers */
} h_front_t;

typedef struct harness {
    pc_worker_t w;
    pc_wgen_t gen;
    pc_conf_t conf;
    pc_route_conf_t route;
    pc_plugin_inst_t insts[H_MAX_PLUGINS];
    pc_plugin_inst_t *chain[H_MAX_PLUGINS];
    h_plugin_t plugins[H_MAX_PLUGINS]; /* the scripted ones, by chain position */
    void *wstate[H_MAX_PLUGINS];       /* the real ones' worker_init */
    pc_waitq_t wq;
    h_store_t store;
    h_front_t front;
    uint64_t now_ns;       /* the injected monotonic clock */
} harness_t;

/* A harness whose route chains n scripted plugins with these modes; the
 * clock starts at 1000 s and stands still until h_clock_step. The store
 * calls go to the fake store from here until h_free. */
harness_t *h_new(size_t n, const h_mode_t *modes);
/* Frees the harness: every request must be gone and every store call
 * answered (asserted); the real plugins are freed as at unload. */
void h_free(harness_t *h);

/* Appends a scripted plugin to the chain; returns its position. */
size_t h_add_scripted(harness_t *h, h_mode_t mode);
/* Appends a real plugin: type's conf_create on the JSON text (asserted to
 * succeed), start, and worker_init for h's worker, as the core does at
 * load time. Returns its position. */
size_t h_add_plugin(harness_t *h, const pc_plugin_t *type, const char *json);

/* A request as the front end starts one: counted in flight, on h's
 * generation, routed to h's route, from H_CLIENT_IP, holding the front
 * end's reference. */
pc_request_t *h_request(harness_t *h);
/* Adds a request header (before the chain runs); copies both strings. */
void h_header(pc_request_t *r, const char *name, const char *value);
/* The front end is done with r: on_log for the chain, completed, then its
 * reference dropped. */
void h_complete(harness_t *h, pc_request_t *r);
/* The response header name as the client would get it (the plugins'
 * set/add/remove applied; the first value), or NULL. */
const char *h_response_header(const pc_request_t *r, const char *name);

/* Answers store call i (asserted to exist and be unanswered): runs its
 * callback with a, here. The callback may make more calls. */
void h_store_answer(harness_t *h, size_t i, const h_answer_t *a);
/* Calls not answered yet. */
size_t h_store_pending(const harness_t *h);

/* The value of an unlabelled metric (ops/metric.h) as /metrics renders it,
 * or -1 if it is not registered. Metrics live as long as the process:
 * compare before and after. */
long long h_metric(const char *name);
/* Runs the loop once without blocking; true if an active watcher (an
 * armed token timer) keeps it alive. */
bool h_loop_alive(harness_t *h);

void h_clock_step(harness_t *h, uint64_t ns);
/* Runs the loop once, blocking until some watcher fires (a token's timer). */
void h_run_once(harness_t *h);
/* Requests on the worker's waiting list. */
size_t h_waiting(const harness_t *h);

#endif
