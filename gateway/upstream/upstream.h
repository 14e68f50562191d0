/* gateway/upstream/upstream.h: the upstream HTTP/1.1 client of one worker thread.
 *
 * Non-blocking, driven by the worker's libev loop. Each target (an already
 * resolved address) has a LIFO pool of idle keep-alive connections. An
 * exchange sends one buffered request and streams the response back through
 * three callbacks, with flow control (on_body may pause reading).
 *
 * Threading: a pc_uclient_t and everything started from it belong to the
 * thread that runs its loop. Nothing here is thread-safe or needs to be.
 *
 * Lifecycle of an exchange, from the caller's point of view:
 *
 *   pc_ux_start ─► [on_head] ─► [on_body]* ─► on_done        (success)
 *   pc_ux_start ─► [on_head] ─► [on_body]* ─► on_done(err)   (failure, at any point)
 *   pc_ux_start ─► ... pc_ux_abort                           (no further callbacks)
 *
 * Guarantees:
 * - on_done runs exactly once per exchange unless the caller aborted it
 *   first, and it is the last callback. It never runs from inside
 *   pc_ux_start or pc_ux_resume: those only schedule work on the loop, so a
 *   caller never sees a callback before the call that started it returned.
 * - on_head runs at most once, before any on_body. A response that fails
 *   before its head completed gets on_done(err) without on_head.
 * - Callbacks of one exchange never nest inside callbacks of another.
 *
 * What may be called from inside a callback of exchange x:
 * - on_head / on_body: pc_ux_abort(x) (takes effect when the callback returns:
 *   no further callbacks), pc_ux_start, pc_ux_abort/pc_ux_resume of other
 *   exchanges.
 * - on_done: pc_ux_start (a new exchange to the same target reuses the
 *   connection just released), and anything on other exchanges. Not
 *   pc_ux_abort(x) or pc_ux_resume(x): x is finished.
 * - Never pc_uclient_free.
 *
 * The client is three files: upstream.c (exchanges: their life, writing the
 * request, reading, timers; this API), pool.c (connections and the
 * per-target keep-alive pools), response.c (the response parser). The
 * types are in upstream_types.h, so that the private exchange_state.h can
 * use them without including this header.
 */
#ifndef PC_UPSTREAM_H
#define PC_UPSTREAM_H

#include <ev.h>

#include "upstream/upstream_types.h"

/* opts may be NULL. The loop must outlive the client. Never NULL. */
pc_uclient_t *pc_uclient_new(struct ev_loop *loop, const pc_uclient_opts_t *opts);

/* Closes all pooled connections and frees the client. Every exchange must have
 * finished (on_done ran) or been aborted: that is asserted. */
void pc_uclient_free(pc_uclient_t *c);

/* Starts an exchange and returns at once; never NULL, never calls a callback
 * synchronously (errors such as an immediately refused connect are reported
 * by on_done from the loop). Copies method, target and headers; req->body is
 * referenced (see pc_ureq_t). t must stay valid until on_done ran or
 * pc_ux_abort returned. cb is copied; data is passed back untouched.
 * On a pooled connection the request is written right away. */
pc_ux_t *pc_ux_start(pc_uclient_t *c, const pc_utarget_t *t, const pc_ureq_t *req,
                     const pc_ucb_t *cb, void *data);

/* Continues after on_body returned 1. Only valid in that paused state (asserted).
 * Bytes already read are delivered from the loop, not from inside this call. */
void pc_ux_resume(pc_ux_t *x);

/* The caller gives up (client went away, gateway timeout): no more callbacks,
 * x is invalid once this returns (inside x's own on_head/on_body: once that
 * callback returns). The connection goes back to the pool only if the bytes
 * already read complete the response cleanly (e.g. abort while paused near
 * its end); otherwise it is closed, since more of the response may still
 * arrive on it. Nothing is read from the socket to find out. Not valid after
 * or inside on_done. */
void pc_ux_abort(pc_ux_t *x);

/* Idle pooled connections of a target (tests, metrics). */
unsigned pc_uclient_idle_count(const pc_uclient_t *c, unsigned target_id);

#endif
