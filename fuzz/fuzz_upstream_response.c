/* fuzz/fuzz_upstream_response.c: what an upstream sends, through the
 * upstream client's response parser (gateway/upstream/response.c) as the
 * client reads it: a stream cut into reads at arbitrary points, callbacks
 * that pause and resume the parser or abort the exchange, and an EOF at the
 * end. A response that completes leaves the rest of the input to the next
 * exchange (a fresh connection), up to FZ_EXCHANGES of them.
 *
 * Input: 4 bytes of settings, then the stream.
 *   [0] bit 0 HEAD request, bit 1 on_body pauses now and then, bit 2
 *       on_body aborts the exchange once, bit 3 the upstream closes at
 *       the end (EOF), bits 4-5 max_head_bytes (65536, 64, 300, 4096);
 *   [1][2] seed of the read sizes; [3] largest read (0: one read).
 *
 * Checked, for every exchange:
 * - a head is delivered at most once, only before the end, never after an
 *   abort, with 200 <= status <= 999 and not 101;
 * - a head that carries both Content-Length and Transfer-Encoding, or two
 *   Content-Lengths, is never delivered (request smuggling);
 * - the announced length is 0 for HEAD, 204 and 304, the Content-Length
 *   when there is one and no Transfer-Encoding, -1 otherwise;
 * - header names are tokens (spaces aside, see fz_name_char), values carry
 *   no CR or LF, and both lie
 *   in the head buffer, whose copy stays within max_head_bytes;
 * - body bytes come after the head, from the bytes of the current read,
 *   never more than the announced length nor than what was read, and a
 *   response reported complete delivered exactly the announced length;
 * - nothing leaks (ASan), nothing crashes (ASan, UBSan). */
#include "upstream/response.h"
#include "base/rng.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FZ_EXCHANGES 4

typedef struct fz_state {
    pc_ux_t *x;
    int pause, abort_once, aborted;
    pc_rng_t g;
    int head_seen;
    int64_t clen;
    uint64_t body, fed;
    const char *win, *win_end; /* the read being parsed */
    size_t max_head;
} fz_state_t;

/* name, as http_parser matches framing headers: any case, and trailing
 * spaces too ("Content-Length :" frames the body; see fz_name_char). */
static int fz_is(const pc_uhdr_t *h, const char *name)
{
    size_t n = strlen(name), len = h->name_len;
    while (len > n && h->name[len - 1] == ' ')
        len--;
    return len == n && strncasecmp(h->name, name, n) == 0;
}

/* A token character, or a space: Debian's http_parser is built non-strict
 * and lets spaces into names ("Content-Length :" is then not the length);
 * libmicrohttpd refuses such names, so the proxy drops them. */
static int fz_name_char(unsigned char c)
{
    return c == ' ' || (c > 32 && c < 127 && !strchr("\"(),/:;<=>?@[\\]{}", c));
}

/* The value of a Content-Length as the RFC reads it: digits, OWS around;
 * -2 for anything else, a value past INT64_MAX included (response.c
 * refuses those: on_head could not carry them). */
static int64_t fz_clen_value(const pc_uhdr_t *h)
{
    const char *p = h->value, *e = h->value + h->value_len;
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (p == e)
        return -2;
    uint64_t v = 0;
    for (; p < e; p++) {
        if (*p < '0' || *p > '9' || v > ((uint64_t)INT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -2;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    return (int64_t)v;
}

static void fz_check_field(const fz_state_t *s, const pc_uhdr_t *h)
{
    const pc_ux_t *x = s->x;
    if (h->name_len == 0 || h->name < x->hbuf || h->name + h->name_len > x->hbuf + x->hlen ||
        h->value < x->hbuf || h->value + h->value_len > x->hbuf + x->hlen)
        abort();
    for (size_t i = 0; i < h->name_len; i++)
        if (!fz_name_char((unsigned char)h->name[i]))
            abort();
    /* Not NUL nor other controls: http_parser's fast path over a value only
     * looks for CR and LF after the first byte (see fuzz/README.md). */
    if (memchr(h->value, '\r', h->value_len) || memchr(h->value, '\n', h->value_len))
        abort();
}

static void fz_on_head(void *data, unsigned status, const pc_uhdr_t *hdrs, size_t n,
                       int64_t clen)
{
    fz_state_t *s = data;
    size_t ncl = 0, nte = 0;
    int64_t cl = -1;
    if (s->aborted || s->head_seen || status < 200 || status > 999 || status == 101)
        abort();
    if (s->x->hlen > s->max_head)
        abort();
    for (size_t i = 0; i < n; i++) {
        fz_check_field(s, &hdrs[i]);
        if (fz_is(&hdrs[i], "content-length")) {
            ncl++;
            cl = fz_clen_value(&hdrs[i]);
            if (cl == -2)
                abort(); /* a length we do not read the same way */
        }
        nte += fz_is(&hdrs[i], "transfer-encoding");
    }
    if (ncl > 1 || (ncl && nte))
        abort();
    int64_t want = s->x->is_head || status == 204 || status == 304 ? 0 : nte ? -1 : cl;
    if (clen != want)
        abort();
    s->head_seen = 1;
    s->clen = clen;
}

static int fz_on_body(void *data, const char *p, size_t len)
{
    fz_state_t *s = data;
    if (s->aborted || !s->head_seen || s->clen == 0 || len == 0)
        abort();
    if (p < s->win || p + len > s->win_end)
        abort(); /* not from the bytes being parsed */
    s->body += len;
    if ((s->clen >= 0 && s->body > (uint64_t)s->clen) || s->body > s->fed)
        abort();
    if (s->abort_once && pc_rng_below(&s->g, 4) == 0) {
        /* pc_ux_abort from inside a callback: the exchange only notes it */
        s->abort_once = 0;
        s->aborted = 1;
        s->x->aborted = 1;
        return 0;
    }
    return s->pause && pc_rng_below(&s->g, 2) == 0;
}

/* The exchange ended with err: what it claims must hold. */
static void fz_finish(fz_state_t *s, pc_uerr_t err)
{
    if (err != PC_UX_OK)
        return;
    if (!s->x->msg_done || (!s->head_seen && !s->aborted))
        abort();
    if (!s->aborted && s->clen >= 0 && s->body != (uint64_t)s->clen)
        abort(); /* complete, yet a different length than announced */
}

static void fz_new_exchange(fz_state_t *s, int is_head)
{
    pc_ux_t *x = s->x;
    pc_uresp_reset(x);
    x->is_head = is_head ? 1 : 0;
    x->aborted = 0;
    s->aborted = s->head_seen = 0;
    s->clen = -1;
    s->body = s->fed = 0;
}

/* One read of [p, p + n): parses it as ux_read and pc_ux_resume do. Returns
 * the bytes the exchange used, or SIZE_MAX while it goes on. */
static size_t fz_read(fz_state_t *s, const uint8_t *p, size_t n, pc_uerr_t *err)
{
    pc_ux_t *x = s->x;
    char *buf = malloc(n); /* exactly the read: ASan sees any overread */
    memcpy(buf, p, n);
    x->rbuf = buf;
    x->rpos = 0;
    x->rlen = n;
    x->rx_bytes += n;
    s->fed += n;
    s->win = buf;
    s->win_end = buf + n;
    size_t used = SIZE_MAX;
    for (;;) {
        enum uc_pr r = pc_uresp_parse(x, s->max_head, err);
        if (!x->head_done && x->head_raw > s->max_head)
            abort();
        if (r == UC_PAUSED) {
            if (!x->paused || s->aborted)
                abort();
            x->paused = 0; /* pc_ux_resume */
            http_parser_pause(&x->parser, 0);
            continue;
        }
        if (r == UC_GONE)
            used = x->rpos;
        break;
    }
    x->rbuf = NULL;
    free(buf);
    return used;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t heads[4] = {65536, 64, 300, 4096};
    if (size < 4)
        return 0;
    fz_state_t s = {0};
    pc_ux_t *x = calloc(1, sizeof(*x));
    int is_head = data[0] & 1, abort_once = data[0] & 4, eof = data[0] & 8;
    size_t max_read = data[3] ? data[3] : SIZE_MAX;
    s.x = x;
    s.pause = data[0] & 2;
    s.max_head = heads[(data[0] >> 4) & 3];
    s.g.s = ((uint64_t)data[1] << 8 | data[2]) + 1;
    x->cb = (pc_ucb_t){fz_on_head, fz_on_body, NULL};
    x->data = &s;
    data += 4, size -= 4;
    for (int ex = 0; ex < FZ_EXCHANGES && size; ex++) {
        s.abort_once = abort_once;
        fz_new_exchange(&s, is_head);
        size_t off = 0, used = SIZE_MAX;
        pc_uerr_t err = PC_UX_OK;
        while (off < size && used == SIZE_MAX) {
            size_t n = size - off;
            if (n > max_read)
                n = 1 + (size_t)pc_rng_below(&s.g, max_read);
            used = fz_read(&s, data + off, n, &err);
            off += used == SIZE_MAX ? n : used;
        }
        if (used == SIZE_MAX) {
            if (!eof)
                break; /* the stream just stops: a timeout's business */
            /* ux_on_eof: a read-until-close body ends here */
            if (x->rx_bytes)
                pc_uresp_execute(x, NULL, 0);
            err = x->msg_done ? PC_UX_OK : PC_UX_ERESET;
        }
        fz_finish(&s, err);
        if (err != PC_UX_OK)
            break; /* the connection is gone */
        data += off, size -= off;
    }
    free(x->hbuf);
    free(x->spans);
    free(x->hdrs);
    free(x);
    return 0;
}
