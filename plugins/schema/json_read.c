/* plugins/schema/json_read.c: the strict one-pass JSON reader (rules in
 * json_read.h).
 *
 * Iterative, so nesting costs a small frame instead of C stack. Finished
 * values wait on a scratch stack (pc_json_t by value); when a container
 * closes, its children are copied once into the tree's memory together with
 * the pointer or member array that names them: one allocation per
 * container, none per scalar, nothing wasted (the caller's arena is a bump
 * allocator). Decoded strings go one after another into pool chunks of
 * PJ_POOL bytes; a string that outgrows its chunk moves to a larger one.
 * Strings are scanned eight bytes at a time for the only bytes that need
 * attention ('"', '\\', < 0x20, >= 0x80). */
#include "json_read_impl.h"

#include <stdlib.h>
#include <string.h>

enum {
    PJ_INLINE_NODES = 128,
    PJ_INLINE_KEYS = 64,
    PJ_INLINE_FRAMES = 32,
    PJ_POOL = 4096,
    PJ_NODES_GUESS_MAX = 65536,
};

typedef struct pj_key {
    const char *key;
    uint32_t klen, khash;
    size_t off;               /* where the key starts in the input */
} pj_key_t;

typedef struct pj_frame {
    bool obj;
    uint32_t nbase, kbase;    /* first child on the node and key stacks */
} pj_frame_t;

typedef struct pj {
    const unsigned char *p, *end, *buf;
    pc_json_limits_t lim;
    pc_json_alloc_fn alloc;
    void *ud;
    pc_json_error_t *err;
    uint32_t nodes;
    char *spool, *spool_end;  /* string pool: what is left of its chunk */
    /* scratch stacks: inline first, heap when they outgrow it */
    pc_json_t *ns;
    uint32_t nlen, ncap;
    pj_key_t *ks;
    uint32_t nkeys, kcap;
    pj_frame_t *fs;
    uint32_t depth, fcap;
    pc_json_t ns_inline[PJ_INLINE_NODES];
    pj_key_t ks_inline[PJ_INLINE_KEYS];
    pj_frame_t fs_inline[PJ_INLINE_FRAMES];
} pj_t;

static bool pj_fail(pj_t *ps, pc_json_err_t code, const unsigned char *at, const char *msg)
{
    ps->err->code = code;
    ps->err->offset = (size_t)(at - ps->buf);
    ps->err->msg = msg;
    return false;
}

/* ---- memory ---- */

/* Empty containers point here, so they cost no allocation. */
static const max_align_t pj_empty[1];

static void *pj_mem(pj_t *ps, size_t size)
{
    return size ? ps->alloc(ps->ud, size) : (void *)pj_empty;
}

/* Grows a scratch stack to hold at least need entries. */
static bool pj_grow(pj_t *ps, void **arr, uint32_t *cap, void *inl, size_t esize, size_t need)
{
    size_t ncap = (size_t)*cap * 2;
    if (ncap < need)
        ncap = need;
    if (ncap > UINT32_MAX)
        return pj_fail(ps, PC_JSON_NOMEM, ps->p, "out of memory");
    void *n = *arr == inl ? malloc(ncap * esize) : realloc(*arr, ncap * esize);
    if (!n)
        return pj_fail(ps, PC_JSON_NOMEM, ps->p, "out of memory");
    if (*arr == inl)
        memcpy(n, inl, (size_t)*cap * esize);
    *arr = n;
    *cap = (uint32_t)ncap;
    return true;
}

/* ---- whitespace ---- */

static inline const unsigned char *pj_ws(const unsigned char *p, const unsigned char *end)
{
    /* most tokens follow no blank, or a single space */
    if (p < end && *p > ' ')
        return p;
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

/* ---- strings ---- */

#define PJ_ONES 0x0101010101010101ull
#define PJ_HIGHS 0x8080808080808080ull

/* Non-zero when any byte of v is '"', '\\', < 0x20 or >= 0x80: the high
 * bit of each such byte is set. Bytes above the first flagged one may be
 * flagged wrongly (borrows), the first one never is. */
static inline uint64_t pj_special(uint64_t v)
{
    uint64_t q = v ^ (PJ_ONES * '"');
    uint64_t b = v ^ (PJ_ONES * '\\');
    uint64_t hq = (q - PJ_ONES) & ~q;
    uint64_t hb = (b - PJ_ONES) & ~b;
    uint64_t lt = (v - PJ_ONES * 0x20) & ~v;
    return (hq | hb | lt | v) & PJ_HIGHS;
}

/* v as if loaded little-endian: the first byte in memory is the lowest,
 * so borrows run from earlier bytes to later ones. */
static inline uint64_t pj_le(uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    return __builtin_bswap64(v);
#else
    return v;
#endif
}

/* Index of the first flagged byte of m (non-zero, from pj_le). */
static inline unsigned pj_first_byte(uint64_t m)
{
    return (unsigned)__builtin_ctzll(m) >> 3;
}

static int pj_hex4(const unsigned char *p)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i];
        int d;
        if (c >= '0' && c <= '9')
            d = (int)(c - '0');
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (int)((c | 0x20) - 'a' + 10);
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

static char *pj_put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0.
 * The narrowed second-byte ranges after E0, ED, F0 and F4 rule out
 * overlong forms, surrogates and code points above U+10FFFF (RFC 3629). */
static size_t pj_utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return n;
}

/* One escape after the backslash at p; writes its UTF-8 to *o. */
static bool pj_escape(pj_t *ps, const unsigned char **pp, char **o)
{
    const unsigned char *p = *pp, *end = ps->end;
    if (p + 1 >= end)
        return pj_fail(ps, PC_JSON_SYNTAX, p, "unterminated string");
    static const char simple[256] = {
        ['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b',
        ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
    };
    unsigned char e = p[1];
    if (e != 'u') {
        if (!simple[e])
            return pj_fail(ps, PC_JSON_SYNTAX, p, "invalid escape in string");
        *(*o)++ = simple[e];
        *pp = p + 2;
        return true;
    }
    int u = end - p >= 6 ? pj_hex4(p + 2) : -1;
    if (u < 0)
        return pj_fail(ps, PC_JSON_SYNTAX, p, "invalid \\u escape in string");
    uint32_t cp = (uint32_t)u;
    const unsigned char *next = p + 6;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return pj_fail(ps, PC_JSON_UTF8, p, "lone surrogate escape in string");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        int lo = end - next >= 6 && next[0] == '\\' && next[1] == 'u' ? pj_hex4(next + 2) : -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return pj_fail(ps, PC_JSON_UTF8, p, "lone surrogate escape in string");
        cp = 0x10000 + ((cp - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
        next += 6;
    }
    *o = pj_put_utf8(*o, cp);
    *pp = next;
    return true;
}

/* A new pool chunk for a string that has written o - o0 bytes so far and
 * whose raw text starts at start: at least PJ_POOL, or twice what the
 * string has used, never more than the rest of the input can decode to
 * (a decoded string plus its NUL is never longer than its quoted form). */
static bool pj_pool(pj_t *ps, const unsigned char *start, const unsigned char *p, char **o0, char **o)
{
    size_t used = (size_t)(*o - *o0), rest = (size_t)(ps->end - start) + 1;
    size_t want = 2 * (size_t)(p - start) + PJ_POOL;
    if (want > rest)
        want = rest;
    char *n = ps->alloc(ps->ud, want);
    if (!n)
        return pj_fail(ps, PC_JSON_NOMEM, start, "out of memory");
    if (used) /* the first chunk comes with nothing to move, *o0 may be NULL */
        memcpy(n, *o0, used);
    ps->spool = *o0 = n;
    ps->spool_end = n + want;
    *o = n + used;
    return true;
}

/* How far the string at p may be scanned before the chunk at o could
 * overflow: decoding never writes more bytes than it reads, but an escape
 * or UTF-8 sequence that starts before the limit may read up to 11 bytes
 * past it, and the NUL needs one. NULL: the chunk is too full to start. */
static const unsigned char *pj_lim(const pj_t *ps, const unsigned char *p, const char *o)
{
    size_t room = (size_t)(ps->spool_end - o);
    if ((size_t)(ps->end - p) < room)
        return ps->end;
    return room > 16 ? p + (room - 16) : NULL;
}

/* Reads the string whose opening quote is at ps->p into the pool. Below
 * lim no byte needs a bounds check of its own (pj_lim). */
static bool pj_string(pj_t *ps, const char **out, uint32_t *outlen)
{
    const unsigned char *start = ps->p, *p = start + 1, *end = ps->end;
    char *o0 = ps->spool, *o = o0;
    const unsigned char *lim = pj_lim(ps, p, o);
    if (!lim) {
        if (!pj_pool(ps, start, p, &o0, &o))
            return false;
        lim = pj_lim(ps, p, o);
    }
    for (;;) {
        /* Eight bytes at a time, stored before they are judged (the chunk
         * has the room, pj_lim): the first special byte ends the run. */
        while (lim - p >= 8) {
            uint64_t v, m;
            memcpy(&v, p, 8);
            memcpy(o, &v, 8);
            if ((m = pj_special(pj_le(v)))) {
                unsigned k = pj_first_byte(m);
                p += k;
                o += k;
                goto special;
            }
            p += 8;
            o += 8;
        }
        while (p < lim && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            *o++ = (char)*p++;
        if (p >= lim) {
            if (p >= end)
                return pj_fail(ps, PC_JSON_SYNTAX, start, "unterminated string");
            /* the chunk is nearly full: move what we have to a larger one */
            if (!pj_pool(ps, start, p, &o0, &o))
                return false;
            lim = pj_lim(ps, p, o);
            continue;
        }
    special:;
        unsigned char c = *p;
        if (c == '"')
            break;
        if (c == '\\') {
            if (!pj_escape(ps, &p, &o))
                return false;
        } else if (c < 0x20) {
            return pj_fail(ps, PC_JSON_SYNTAX, p, "control character in string");
        } else {
            size_t n = pj_utf8_len(p, end);
            if (!n)
                return pj_fail(ps, PC_JSON_UTF8, p, "invalid UTF-8 in string");
            memcpy(o, p, n);
            o += n;
            p += n;
        }
    }
    size_t n = (size_t)(o - o0);
    if (n > ps->lim.max_string)
        return pj_fail(ps, PC_JSON_TOO_LONG, start, "string too long");
    *o++ = '\0';
    ps->spool = o;
    ps->p = p + 1;
    *out = o0;
    *outlen = (uint32_t)n;
    return true;
}

/* ---- literals and numbers ---- */

static bool pj_word(pj_t *ps, const char *w, size_t n)
{
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n) != 0)
        return pj_fail(ps, PC_JSON_SYNTAX, ps->p, "unexpected character");
    ps->p += n;
    return true;
}

static bool pj_number(pj_t *ps, pc_json_t *v)
{
    const unsigned char *s = ps->p, *p = s, *end = ps->end;
    pc_json_numparse_t np;
    size_t n = pc_json_num_scan((const char *)p, (size_t)(end - p), &np);
    if (!n && np.nomem)
        return pj_fail(ps, PC_JSON_NOMEM, p, "out of memory");
    if (!n)
        return pj_fail(ps, PC_JSON_SYNTAX, p + np.bad, "invalid number");
    if (n > UINT32_MAX)
        return pj_fail(ps, PC_JSON_TOO_LONG, p, "number too long");
    v->type = PC_JSON_NUMBER;
    v->num_flags = np.flags;
    v->len = (uint32_t)n;
    v->u.num.text = (const char *)s;
    v->u.num.d = np.d;
    v->u.num.i = np.i;
    ps->p = p + n;
    return true;
}

/* ---- containers ---- */

static bool pj_key_less(const pc_json_member_t *m, uint32_t a, uint32_t b)
{
    const pc_json_member_t *x = &m[a], *y = &m[b];
    if (x->khash != y->khash)
        return x->khash < y->khash;
    if (x->klen != y->klen)
        return x->klen < y->klen;
    return memcmp(x->key, y->key, x->klen) < 0;
}

static bool pj_key_eq(const pc_json_member_t *x, const pc_json_member_t *y)
{
    return x->khash == y->khash && x->klen == y->klen && memcmp(x->key, y->key, x->klen) == 0;
}

/* Bottom-up merge sort of member indices by (hash, length, bytes): O(n log n)
 * whatever the keys, so crafted colliding keys cannot make it quadratic. */
static void pj_sort_index(const pc_json_member_t *m, uint32_t *idx, uint32_t *tmp, uint32_t n)
{
    uint32_t *a = idx, *b = tmp;
    for (uint32_t w = 1; w < n; w *= 2) {
        for (uint32_t lo = 0; lo < n; lo += 2 * w) {
            uint32_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            uint32_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                b[k++] = pj_key_less(m, a[j], a[i]) ? a[j++] : a[i++];
            while (i < mid)
                b[k++] = a[i++];
            while (j < hi)
                b[k++] = a[j++];
        }
        uint32_t *t = a;
        a = b;
        b = t;
    }
    if (a != idx)
        memcpy(idx, a, n * sizeof *idx);
}

/* Finds a duplicate key among members; returns the index of the later one
 * of the earliest-ending pair, or UINT32_MAX. */
static uint32_t pj_find_dup(const pc_json_member_t *m, const uint32_t *idx, uint32_t n)
{
    uint32_t best = UINT32_MAX;
    if (!idx) {
        for (uint32_t j = 1; j < n; j++)
            for (uint32_t i = 0; i < j; i++)
                if (pj_key_eq(&m[i], &m[j]))
                    return j;
        return UINT32_MAX;
    }
    for (uint32_t i = 1; i < n; i++)
        if (pj_key_eq(&m[idx[i - 1]], &m[idx[i]])) {
            uint32_t later = idx[i - 1] > idx[i] ? idx[i - 1] : idx[i];
            if (later < best)
                best = later;
        }
    return best;
}

static bool pj_close_object(pj_t *ps, pj_frame_t *f, pc_json_t *out)
{
    uint32_t n = ps->nlen - f->nbase;
    bool indexed = n > PC_JSON_INDEX_MIN;
    size_t msize = (size_t)n * sizeof(pc_json_member_t);
    size_t isize = indexed ? ((size_t)n * sizeof(uint32_t) + 7u) & ~(size_t)7u : 0;
    char *mem = pj_mem(ps, msize + isize + (size_t)n * sizeof(pc_json_t));
    if (!mem)
        return pj_fail(ps, PC_JSON_NOMEM, ps->p, "out of memory");
    pc_json_member_t *m = (pc_json_member_t *)mem;
    uint32_t *idx = indexed ? (uint32_t *)(mem + msize) : NULL;
    pc_json_t *vals = (pc_json_t *)(mem + msize + isize);
    memcpy(vals, ps->ns + f->nbase, (size_t)n * sizeof(pc_json_t));
    for (uint32_t i = 0; i < n; i++) {
        const pj_key_t *k = &ps->ks[f->kbase + i];
        m[i].key = k->key;
        m[i].klen = k->klen;
        m[i].khash = k->khash;
        m[i].value = &vals[i];
    }
    if (indexed) {
        uint32_t *tmp = malloc((size_t)n * sizeof *tmp);
        if (!tmp)
            return pj_fail(ps, PC_JSON_NOMEM, ps->p, "out of memory");
        for (uint32_t i = 0; i < n; i++)
            idx[i] = i;
        pj_sort_index(m, idx, tmp, n);
        free(tmp);
    }
    uint32_t dup = pj_find_dup(m, idx, n);
    if (dup != UINT32_MAX)
        return pj_fail(ps, PC_JSON_DUP_KEY, ps->buf + ps->ks[f->kbase + dup].off, "duplicate key");
    out->type = PC_JSON_OBJECT;
    out->num_flags = 0;
    out->len = n;
    out->u.members = m;
    ps->nlen = f->nbase;
    ps->nkeys = f->kbase;
    return true;
}

static bool pj_close_array(pj_t *ps, pj_frame_t *f, pc_json_t *out)
{
    uint32_t n = ps->nlen - f->nbase;
    char *mem = pj_mem(ps, (size_t)n * (sizeof(pc_json_t *) + sizeof(pc_json_t)));
    if (!mem)
        return pj_fail(ps, PC_JSON_NOMEM, ps->p, "out of memory");
    const pc_json_t **items = (const pc_json_t **)mem;
    pc_json_t *vals = (pc_json_t *)(mem + (size_t)n * sizeof(pc_json_t *));
    memcpy(vals, ps->ns + f->nbase, (size_t)n * sizeof(pc_json_t));
    for (uint32_t i = 0; i < n; i++)
        items[i] = &vals[i];
    out->type = PC_JSON_ARRAY;
    out->num_flags = 0;
    out->len = n;
    out->u.items = items;
    ps->nlen = f->nbase;
    return true;
}

static bool pj_open(pj_t *ps, bool obj)
{
    if (ps->depth >= ps->lim.max_depth)
        return pj_fail(ps, PC_JSON_TOO_DEEP, ps->p, "nesting too deep");
    if (ps->depth == ps->fcap &&
        !pj_grow(ps, (void **)&ps->fs, &ps->fcap, ps->fs_inline, sizeof *ps->fs, ps->depth + 1))
        return false;
    pj_frame_t *f = &ps->fs[ps->depth++];
    f->obj = obj;
    f->nbase = ps->nlen;
    f->kbase = ps->nkeys;
    ps->p++;
    return true;
}

/* Reads a key and its colon; ps->p is at what should be the opening quote. */
static bool pj_key(pj_t *ps)
{
    if (ps->p >= ps->end || *ps->p != '"')
        return pj_fail(ps, PC_JSON_SYNTAX, ps->p, "expected a string key");
    if (ps->nkeys == ps->kcap &&
        !pj_grow(ps, (void **)&ps->ks, &ps->kcap, ps->ks_inline, sizeof *ps->ks, (size_t)ps->nkeys + 1))
        return false;
    pj_key_t *k = &ps->ks[ps->nkeys];
    k->off = (size_t)(ps->p - ps->buf);
    if (!pj_string(ps, &k->key, &k->klen))
        return false;
    k->khash = pc_json_key_hash(k->key, k->klen);
    ps->nkeys++;
    ps->p = pj_ws(ps->p, ps->end);
    if (ps->p >= ps->end || *ps->p != ':')
        return pj_fail(ps, PC_JSON_SYNTAX, ps->p, "expected ':' after key");
    ps->p = pj_ws(ps->p + 1, ps->end);
    return true;
}

/* Pushes a finished child; counts it against its container's limit. */
static bool pj_push(pj_t *ps, const pc_json_t *v)
{
    const pj_frame_t *f = &ps->fs[ps->depth - 1];
    if (ps->nlen - f->nbase >= ps->lim.max_members)
        return pj_fail(ps, PC_JSON_TOO_MANY, ps->p, "too many members in one object or array");
    /* a large body outgrows the inline stack: start nearer to where it
     * will likely end (a value per 32 bytes at most, 2 MiB of stack) */
    size_t guess = (size_t)(ps->end - ps->buf) / 32;
    if (guess > PJ_NODES_GUESS_MAX)
        guess = PJ_NODES_GUESS_MAX;
    if (ps->nlen == ps->ncap &&
        !pj_grow(ps, (void **)&ps->ns, &ps->ncap, ps->ns_inline, sizeof *ps->ns,
                 ps->ns == ps->ns_inline ? guess : (size_t)ps->nlen + 1))
        return false;
    ps->ns[ps->nlen++] = *v;
    return true;
}

/* Reads one scalar, or opens a container (*opened). */
static bool pj_value(pj_t *ps, pc_json_t *v, bool *opened)
{
    *opened = false;
    if (ps->p >= ps->end)
        return pj_fail(ps, PC_JSON_SYNTAX, ps->p, "unexpected end of input");
    if (++ps->nodes > ps->lim.max_nodes)
        return pj_fail(ps, PC_JSON_TOO_MANY, ps->p, "too many values");
    memset(v, 0, sizeof *v);
    switch (*ps->p) {
    case '"':
        v->type = PC_JSON_STRING;
        return pj_string(ps, &v->u.str, &v->len);
    case '{':
    case '[':
        *opened = true;
        return pj_open(ps, *ps->p == '{');
    case 't':
        v->type = PC_JSON_TRUE;
        return pj_word(ps, "true", 4);
    case 'f':
        v->type = PC_JSON_FALSE;
        return pj_word(ps, "false", 5);
    case 'n':
        v->type = PC_JSON_NULL;
        return pj_word(ps, "null", 4);
    default:
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
            return pj_number(ps, v);
        return pj_fail(ps, PC_JSON_SYNTAX, ps->p, "unexpected character");
    }
}

/* The main loop: a value is read (or a container opened), then the
 * container it belongs to decides what may follow. */
static bool pj_run(pj_t *ps, pc_json_t *root)
{
    pc_json_t v;
    bool opened;
    for (;;) {
        ps->p = pj_ws(ps->p, ps->end);
        if (!pj_value(ps, &v, &opened))
            return false;
        if (opened) {
            pj_frame_t *f = &ps->fs[ps->depth - 1];
            ps->p = pj_ws(ps->p, ps->end);
            char close = f->obj ? '}' : ']';
            if (ps->p < ps->end && *ps->p == close) {
                ps->p++;
                if (!(f->obj ? pj_close_object(ps, f, &v) : pj_close_array(ps, f, &v)))
                    return false;
                ps->depth--;
            } else {
                if (f->obj && !pj_key(ps))
                    return false;
                continue;
            }
        }
        /* v is complete: hand it to its container, closing as many as end here. */
        for (;;) {
            if (ps->depth == 0) {
                *root = v;
                return true;
            }
            if (!pj_push(ps, &v))
                return false;
            pj_frame_t *f = &ps->fs[ps->depth - 1];
            ps->p = pj_ws(ps->p, ps->end);
            if (ps->p >= ps->end)
                return pj_fail(ps, PC_JSON_SYNTAX, ps->p, "unexpected end of input");
            if (*ps->p == ',') {
                ps->p = pj_ws(ps->p + 1, ps->end);
                if (f->obj && !pj_key(ps))
                    return false;
                break;
            }
            if (*ps->p != (f->obj ? '}' : ']'))
                return pj_fail(ps, PC_JSON_SYNTAX, ps->p,
                               f->obj ? "expected ',' or '}'" : "expected ',' or ']'");
            ps->p++;
            if (!(f->obj ? pj_close_object(ps, f, &v) : pj_close_array(ps, f, &v)))
                return false;
            ps->depth--;
        }
    }
}

const pc_json_t *pc_json_parse(const char *buf, size_t len, const pc_json_limits_t *lim,
                               pc_json_alloc_fn alloc, void *ud, pc_json_error_t *err)
{
    pj_t st, *ps = &st; /* about 6 KiB of stack; the stacks move to the heap when they outgrow it */
    pc_json_error_t dummy;
    if (!err)
        err = &dummy;
    ps->buf = ps->p = (const unsigned char *)buf;
    ps->end = ps->p + len;
    ps->lim = lim ? *lim : (pc_json_limits_t){0};
    if (!ps->lim.max_depth)
        ps->lim.max_depth = 64;
    if (!ps->lim.max_members)
        ps->lim.max_members = 100000;
    if (!ps->lim.max_nodes)
        ps->lim.max_nodes = 1000000;
    if (!ps->lim.max_string)
        ps->lim.max_string = 1u << 20;
    ps->alloc = alloc;
    ps->ud = ud;
    ps->err = err;
    ps->nodes = 0;
    ps->spool = ps->spool_end = NULL;
    ps->ns = ps->ns_inline;
    ps->ncap = PJ_INLINE_NODES;
    ps->nlen = 0;
    ps->ks = ps->ks_inline;
    ps->kcap = PJ_INLINE_KEYS;
    ps->nkeys = 0;
    ps->fs = ps->fs_inline;
    ps->fcap = PJ_INLINE_FRAMES;
    ps->depth = 0;

    const pc_json_t *result = NULL;
    pc_json_t root;
    if (pj_run(ps, &root)) {
        ps->p = pj_ws(ps->p, ps->end);
        if (ps->p != ps->end) {
            pj_fail(ps, PC_JSON_SYNTAX, ps->p, "unexpected data after the value");
        } else {
            pc_json_t *r = pj_mem(ps, sizeof *r);
            if (!r) {
                pj_fail(ps, PC_JSON_NOMEM, ps->p, "out of memory");
            } else {
                *r = root;
                result = r;
                *err = (pc_json_error_t){PC_JSON_OK, 0, NULL};
            }
        }
    }
    if (ps->ns != ps->ns_inline)
        free(ps->ns);
    if (ps->ks != ps->ks_inline)
        free(ps->ks);
    if (ps->fs != ps->fs_inline)
        free(ps->fs);
    return result;
}
