/* gateway/upstream/fetch.h: outgoing HTTP(S) for plugins (pc_fetch in plugin.h) and
 * the main thread's call queue (pc_main_call).
 *
 * A fetcher is one libcurl multi handle driven by one libev loop through
 * the multi-socket API: curl tells us which sockets to watch
 * (CURLMOPT_SOCKETFUNCTION -> ev_io) and when to call it back
 * (CURLMOPT_TIMERFUNCTION -> ev_timer). Nothing blocks the loop: name
 * resolution uses libcurl's threaded resolver (Debian's libcurl4-openssl),
 * connects and TLS are non-blocking, every transfer has a deadline.
 *
 * Threading: a fetcher belongs to the thread that runs its loop. Every
 * worker owns one (pc_worker_t.fetcher, created in pc_worker_start); the
 * main thread owns one for background work started by plugins' start()
 * (pc_fetch(NULL, ...)), created by pc_fetch_main_init.
 *
 * Per transfer: CURLOPT_NOSIGNAL, protocols "http,https" only, no
 * redirects, no proxy for loopback, no Accept-Encoding (the size cap applies
 * to what we store), TLS peers verified against the system CAs, a body cap
 * (the transfer fails beyond it), Cache-Control captured.
 */
#ifndef PC_FETCH_H
#define PC_FETCH_H

#include <ev.h>

#include <portcullis/plugin.h>

typedef struct pc_fetcher pc_fetcher_t;

/* A fetcher on loop (any loop; the caller's thread runs it). NULL if
 * libcurl cannot be set up. */
pc_fetcher_t *pc_fetcher_new(struct ev_loop *loop);
/* Starts a transfer; see pc_fetch in plugin.h. The callback runs exactly
 * once, from the loop, never from inside this call. Returns -1 (and never
 * calls cb) when the request cannot even start: NULL url, a scheme other
 * than http/https, a fetcher being freed. */
int pc_fetcher_start(pc_fetcher_t *f, const pc_fetch_req_t *req, pc_fetch_cb cb, void *data);
/* Number of transfers in flight (tests). */
unsigned pc_fetcher_pending(const pc_fetcher_t *f);
/* Cancels what is in flight - each callback then runs once, with ok = 0
 * and error "shutdown", before this returns - and frees the fetcher.
 * Callbacks run then may not start new transfers on it (pc_fetch returns
 * -1). Must run on the fetcher's thread, or once that thread has ended,
 * and before its loop is destroyed. NULL-safe. */
void pc_fetcher_free(pc_fetcher_t *f);

/* Main thread, once, right after its loop exists and before any plugin
 * starts: records the main thread, creates its fetcher and the
 * pc_main_call queue (an ev_async on loop). */
int pc_fetch_main_init(struct ev_loop *loop);
/* Main thread, at exit, after the workers have been joined and the last
 * configuration was freed: runs the queued pc_main_call functions, frees
 * the main fetcher (pending callbacks get "shutdown"), runs calls queued
 * by those callbacks, and stops the queue. From then on pc_main_call runs
 * its function at once (only the main thread is left) and pc_fetch(NULL)
 * returns -1. */
void pc_fetch_main_shutdown(void);
/* The main thread's loop (struct ev_loop *) between pc_fetch_main_init and
 * pc_fetch_main_shutdown, else NULL: the loop of plugin.h's main-thread
 * timers and wake-ups. */
void *pc_main_loop(void);

#endif
