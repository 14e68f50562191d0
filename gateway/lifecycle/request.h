/* gateway/lifecycle/request.h: the core's private view of a request.
 *
 * A request lives from the moment the front end has parsed its request line
 * until both the front end has completed it and every async token taken on
 * it has ended (refs == 0). All its memory is in its arena, tokens
 * included. Nothing here knows the front end's library: the connection is
 * an opaque pointer that only gateway/front/ reads.
 */
#ifndef PC_REQUEST_H
#define PC_REQUEST_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <portcullis/plugin.h>

#include "base/arena.h"
#include "base/list.h"
#include "conf/conf.h"
#include "http/hdr.h"
#include "http/router.h"
#include "upstream/upstream.h"

struct pc_waitq;
typedef struct pc_wgen pc_wgen_t;

typedef enum pc_req_state {
    PC_RS_NEW = 0,      /* request line seen, headers not yet handled */
    PC_RS_HEADERS,      /* on_headers chain running or suspended */
    PC_RS_BODY,         /* receiving the body */
    PC_RS_BODY_CHAIN,   /* on_body chain running or suspended */
    PC_RS_UPSTREAM,     /* waiting for the upstream's response head */
    PC_RS_STREAMING,    /* response queued, body flowing from upstream */
    PC_RS_RESPONDED,    /* a response is set or queued */
} pc_req_state_t;

typedef enum pc_hdr_op_kind { PC_HOP_SET, PC_HOP_ADD, PC_HOP_REMOVE } pc_hdr_op_kind_t;

typedef struct pc_hdr_op {
    struct pc_hdr_op *next;
    pc_hdr_op_kind_t kind;
    const char *name;
    const char *value;
} pc_hdr_op_t;

typedef struct pc_hdr_ops {
    pc_hdr_op_t *head, *tail;
} pc_hdr_ops_t;

/* In the owner's arena: the token's reference keeps it alive. */
struct pc_async {
    pc_request_t *r;       /* NULL once abandoned or ended */
    pc_request_t *owner;   /* holds the reference until the plugin ends it */
    pc_list_t link;        /* the worker's abandoned list */
    ev_timer timer;        /* armed by the chain runner when the hook suspends */
    unsigned timeout_ms;
    int timeout_status;
    bool ended;
};

/* A bounded byte queue between the upstream reader and the front end's writer. */
typedef struct pc_bodybuf {
    char *data;
    size_t cap, head, len;
} pc_bodybuf_t;

struct pc_request {
    pc_arena_t *arena;
    struct pc_worker *worker;
    struct pc_waitq *wq;           /* the front end's queue (lifecycle/wait.h) */
    pc_wgen_t *gen;                /* config generation it started on */
    const pc_conf_t *conf;
    const pc_listener_conf_t *listener;
    void *conn;                    /* the front end's connection: gateway/front/ only */
    unsigned refs;                 /* the front end + async tokens */
    pc_req_state_t state;
    bool completed;                /* the front end completed it */
    /* waiting (lifecycle/wait.c) */
    bool suspended;                /* the front end's connection suspended */
    bool parked;                   /* waiting, handler still called (wait.h) */
    uint8_t park_looks;            /* front-end calls while parked */
    double park_since;             /* ev_now when parked */
    pc_list_t wait_link;           /* worker's list of suspended and parked requests */
    bool timed_out;                /* request_timeout_ms passed */
    bool in_headers_phase;         /* the front end has not started on the body yet */
    bool bodyless;                 /* no Content-Length > 0, not chunked */
    bool final_wait;               /* bodyless, headers chain waits at the front end's final call */
    bool timer_armed;
    ev_timer timer;                /* request timeout */
    struct pc_fconn *fconn;        /* the front end's connection record (front/deadline.c) */
    bool answered_raw;             /* a deadline answered 408 on the socket itself */

    uint64_t start_ns;
    uint64_t upstream_start_ns, upstream_end_ns;

    /* request line and headers */
    const char *raw_uri;
    size_t raw_uri_len;
    const char *method;
    unsigned method_bit;
    const char *version;
    char *path;                    /* canonical */
    size_t path_len;
    const char *query;             /* raw, without '?', or NULL */
    pc_hdr_t *headers;
    size_t nheaders;
    const char *host;
    size_t host_len;
    int64_t content_length;        /* -1 none */
    bool chunked;

    char client_ip[64];            /* after trusted-proxy resolution */
    char peer_ip[64];              /* the socket peer */
    bool peer_trusted;
    const char *request_id;
    const char *traceparent;

    /* routing */
    const pc_route_conf_t *route;
    pc_route_result_t match;
    void **plugin_ctx;             /* per chain entry */

    /* chain */
    size_t chain_pos;
    pc_async_t *async;             /* the pending token, if suspended */
    bool async_sync_done;
    pc_status_t async_verdict;
    bool in_hook;
    const char *stopped_by;        /* plugin that responded */

    /* identity */
    const char *subject;
    json_t *claims;

    /* body */
    char *body;
    size_t body_len, body_cap;
    size_t body_discarded;
    bool body_too_large;

    /* upstream */
    pc_hdr_ops_t up_ops;
    pc_ux_t *ux;
    int target_index;
    const pc_target_t *target;
    pc_uerr_t up_err;
    bool up_done;
    bool up_paused;
    bool up_head_seen;
    unsigned up_status;
    pc_hdr_t *up_headers;
    size_t nup_headers;
    int64_t up_content_length;
    int64_t head_length;           /* HEAD, 304: the length the upstream announced */
    pc_bodybuf_t rbuf;
    uint64_t bytes_out;
    /* a copy of the response body for PC_PLUGIN_SEES_RESPONSE_BODY (arena) */
    char *cap_data;
    size_t cap_len, cap_cap;
    bool cap_truncated;
    bool cap_wanted;               /* pc_response_body_keep was called */

    /* response */
    pc_hdr_ops_t resp_ops;
    int status;                    /* final status */
    const char *reason;            /* machine-readable reason when the gateway answered */
    const char *resp_content_type;
    const char *resp_body;
    size_t resp_body_len;
    bool response_set;
    bool response_queued;
};

/* Called by the core, worker thread: lifetime. The front end holds the
 * first reference and drops it after pc_request_completed; the last unref
 * releases the request's generation and frees the arena. */
pc_request_t *pc_request_new(struct pc_worker *w);
void pc_request_ref(pc_request_t *r);
void pc_request_unref(pc_request_t *r);
/* The front end is done with r (answered, or the client left): it no
 * longer counts as in flight, even while a token still holds its memory. */
void pc_request_completed(pc_request_t *r);

void pc_hdr_ops_push(pc_request_t *r, pc_hdr_ops_t *ops, pc_hdr_op_kind_t kind,
                     const char *name, const char *value);

/* Appends to the copy of the upstream response body kept for plugins with
 * PC_PLUGIN_SEES_RESPONSE_BODY (pc_response_body), up to
 * PC_RESPONSE_CAPTURE_MAX bytes; beyond, it marks the copy truncated. */
void pc_request_capture(pc_request_t *r, const char *p, size_t len);

/* Sets a problem+json response (the core's own error answers). */
void pc_request_fail(pc_request_t *r, int status, const char *reason, const char *detail);

#endif
