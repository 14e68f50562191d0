/* gateway/upstream/response.h: parsing an upstream's response into the
 * exchange (exchange_state.h): header names and values are copied into
 * the exchange's head buffer (pieces split across reads stay contiguous),
 * the caller's on_head and on_body run from inside the parser, on_body may
 * pause it. Trailers are dropped. Loop thread, like the exchange. */
#ifndef PC_UPSTREAM_RESPONSE_H
#define PC_UPSTREAM_RESPONSE_H

#include "upstream/exchange_state.h"

/* Parser and read state of x for a (re)sent request. */
void pc_uresp_reset(pc_ux_t *x);

/* Feeds [rpos, rlen) of x's read buffer to the parser. While the head is
 * incomplete at most max_head raw bytes (1xx heads included) are ever fed,
 * which bounds both the copy and an endless stream of 1xx. UC_MORE: all
 * consumed, read on; UC_PAUSED: on_body asked to pause; UC_GONE: the
 * exchange is over with *err (PC_UX_OK: complete; the caller finishes it). */
enum uc_pr pc_uresp_parse(pc_ux_t *x, size_t max_head, pc_uerr_t *err);

/* One http_parser_execute over p[0..n) (n = 0: the upstream's EOF), with
 * x->busy set while the caller's callbacks may run. Returns bytes used. */
size_t pc_uresp_execute(pc_ux_t *x, const char *p, size_t n);

#endif
