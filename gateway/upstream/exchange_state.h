/* gateway/upstream/exchange_state.h: the state of one upstream exchange
 * (pc_ux_t), shared by the exchange code (upstream.c) and the response
 * parser (response.c); nothing else includes it.
 *
 * An exchange owns its buffers; they survive recycling. It holds at most
 * one connection (conn), which then points back to it (conn->x).
 */
#ifndef PC_UPSTREAM_EXCHANGE_STATE_H
#define PC_UPSTREAM_EXCHANGE_STATE_H

#include <http_parser.h>

#include <ev.h>
#include <stdint.h>
#include <sys/uio.h>

#include "upstream/pool.h"
#include "upstream/upstream_types.h"

/* Header name/value position in the head buffer while it may still move. */
typedef struct uc_span {
    uint32_t name_off, name_len, value_off, value_len;
} uc_span_t;

enum uc_tphase { UC_T_NONE, UC_T_CONNECT, UC_T_RESPONSE };
enum uc_defer { UC_D_NONE, UC_D_FAIL, UC_D_RESUME };
/* ux_parse results */
enum uc_pr { UC_MORE, UC_PAUSED, UC_GONE };

struct pc_ux {
    http_parser parser; /* parser.data == this */
    pc_uclient_t *c;
    pc_uconn_t *conn;
    const pc_utarget_t *t;
    pc_ucb_t cb;
    void *data;
    pc_ux_t *next_free;

    ev_timer timer;  /* connect or response timeout */
    /* 0-second timer for work that must not run inside the API call that
     * caused it. Not ev_feed_event: a fed event does not wake a loop that is
     * about to block in poll when the call came from outside a callback. */
    ev_timer defer;
    ev_tstamp last_act;
    unsigned connect_ms, response_ms;
    enum uc_tphase tphase;
    enum uc_defer defer_op;
    pc_uerr_t defer_err;

    /* request: serialized head + referenced body */
    char *wbuf;
    size_t wcap, wlen;
    const char *body;
    size_t body_len;
    struct iovec iov[2];
    int iovn, iovi;

    /* response */
    char *rbuf; /* read_buf bytes; [rpos, rlen) not parsed yet */
    size_t rpos, rlen;
    char *hbuf; /* copied header names and values */
    size_t hcap, hlen;
    uc_span_t *spans;
    pc_uhdr_t *hdrs;
    size_t nspans, spancap;
    size_t head_raw;   /* raw head bytes parsed so far, 1xx included */
    uint64_t rx_bytes; /* any response byte: rules out a stale retry */

    unsigned is_head : 1;     /* HEAD request: response has no body */
    unsigned head_done : 1;   /* final (>= 200) head seen */
    unsigned in_value : 1;    /* last header callback was a value */
    unsigned msg_done : 1;    /* final response complete */
    unsigned keep_alive : 1;  /* http_should_keep_alive at completion */
    unsigned paused : 1;      /* on_body returned 1 */
    unsigned busy : 1;        /* inside http_parser_execute (user callbacks) */
    unsigned aborted : 1;     /* no more callbacks */
    unsigned done : 1;        /* on_done running */
    unsigned wdone : 1;       /* request fully written */
    unsigned wfailed : 1;     /* write error: the read side decides the outcome */
    unsigned eof : 1;
    unsigned retry_ok : 1;
    unsigned retried : 1;
};

#endif
