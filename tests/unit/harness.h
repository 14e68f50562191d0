/* tests/unit/harness.h: drives the request lifecycle without sockets.
 *
 * A harness is one fake worker (a real libev loop, the waiting and
 * abandoned lists), one config generation with one route whose chain is
 * up to H_MAX_PLUGINS scripted test plugins, a fake front end (its ops
 * table counts suspends and resumes and says whether the client left), and
 * an injectable clock (base/clock.h's pc_clock_override) that the test
 * steps by hand. Requests are real pc_request_t with their arena, made the
 * way the front end makes them. Single-threaded; one harness at a time.
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

#define H_MAX_PLUGINS 4

/* What a scripted plugin's hook does. */
typedef enum h_mode {
    H_CONTINUE = 0,     /* returns PC_CONTINUE */
    H_DENY,             /* pc_deny 429, returns PC_RESPOND */
    H_SUSPEND,          /* begins a token, keeps it in .pending, returns PC_SUSPEND */
    H_SYNC_CONTINUE,    /* begins, ends with PC_CONTINUE in the hook, returns PC_SUSPEND */
    H_SYNC_DENY,        /* begins, denies, ends with PC_RESPOND in the hook, returns PC_SUSPEND */
    H_END_TWICE,        /* begins, ends twice in the hook: must abort */
    H_OPEN_CONTINUE,    /* begins, returns PC_CONTINUE with the token open: must abort */
} h_mode_t;

typedef struct h_plugin {
    h_mode_t mode;
    unsigned timeout_ms;   /* of its token; 0 = 1000 */
    int timeout_status;    /* of its token; 0 = 503 */
    int calls;             /* on_headers calls */
    pc_async_t *pending;   /* H_SUSPEND, H_OPEN_CONTINUE: the open token */
    pc_async_t *last;      /* the last token begun (in the request's arena) */
} h_plugin_t;

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
    h_plugin_t plugins[H_MAX_PLUGINS];
    pc_waitq_t wq;
    h_front_t front;
    uint64_t now_ns;       /* the injected monotonic clock */
} harness_t;

/* A harness whose route chains n scripted plugins with these modes; the
 * clock starts at 1000 s and stands still until h_clock_step. */
harness_t *h_new(size_t n, const h_mode_t *modes);
/* Frees the harness: every request must be gone (asserted). */
void h_free(harness_t *h);

/* A request as the front end starts one: counted in flight, on h's
 * generation, routed to h's route, holding the front end's reference. */
pc_request_t *h_request(harness_t *h);
/* The front end is done with r: completed, then its reference dropped. */
void h_complete(harness_t *h, pc_request_t *r);

void h_clock_step(harness_t *h, uint64_t ns);
/* Runs the loop once, blocking until some watcher fires (a token's timer). */
void h_run_once(harness_t *h);
/* Requests on the worker's waiting list. */
size_t h_waiting(const harness_t *h);

#endif
