/* plugins/schema/json_num.c: number literals, read fast and compared
 * exactly (rules in json_read.h).
 *
 * Reading: a literal whose significant digits fit 19 decimal digits and
 * whose value is an exact integer below 2^53 scaled by an exact power of
 * ten (10^0..10^22) converts with one IEEE multiply or divide, which is
 * correctly rounded (Clinger's fast path); so does any integer of up to 19
 * digits (uint64 to double rounds correctly). Anything else goes to
 * strtod_l in the "C" locale, so the process locale never matters.
 *
 * Exact questions never use the double: a literal is read as its
 * significant digits (no leading or trailing zeros) times a power of ten,
 * and compared or divided digit by digit. */
#include "json_read_impl.h"

#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const double pj_pow10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* The "C" locale for strtod_l: created once, never changed or freed. */
static pthread_once_t pj_c_once = PTHREAD_ONCE_INIT;
static locale_t pj_c_locale;

static void pj_c_init(void)
{
    pj_c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static bool pj_strtod(const char *s, size_t n, double *d)
{
    char small[64];
    char *tmp = n < sizeof small ? small : malloc(n + 1);
    if (!tmp)
        return false;
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    pthread_once(&pj_c_once, pj_c_init);
    *d = pj_c_locale ? strtod_l(tmp, NULL, pj_c_locale) : strtod(tmp, NULL);
    if (tmp != small)
        free(tmp);
    return true;
}

static inline bool pj_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The common cases in one go: an integer or a decimal without exponent,
 * of at most 18 digits ("42", "-7", "751.31"). An integer fits an int64
 * and converts exactly rounded; a decimal below 2^53 over 10^1..10^18 is
 * one correctly rounded division. 0 when the literal is anything else (the
 * general scan then reads it, errors included). */
static size_t pj_simple(const char *s, size_t n, pc_json_numparse_t *out)
{
    bool neg = s[0] == '-';
    size_t p = neg, q = p, f = 0;
    uint64_t m = 0;
    if (q >= n || !pj_digit(s[q]))
        return 0;
    if (s[q] == '0')
        q++;
    else
        for (; q < n && pj_digit(s[q]); q++) {
            if (q - p >= 18)
                return 0;
            m = m * 10 + (uint64_t)(s[q] - '0');
        }
    if (q < n && s[q] == '.') {
        size_t r = ++q;
        for (; q < n && pj_digit(s[q]); q++) {
            if (q - p > 18)
                return 0;
            m = m * 10 + (uint64_t)(s[q] - '0');
        }
        f = q - r;
        if (!f || m > (1ull << 53))
            return 0;
    }
    if (q < n && (pj_digit(s[q]) || s[q] == 'e' || s[q] == 'E'))
        return 0;
    out->nomem = false;
    out->flags = (neg ? PC_JSON_NUM_NEG : 0) | (f ? 0 : PC_JSON_NUM_INT | PC_JSON_NUM_I64);
    out->i = f ? 0 : neg ? -(int64_t)m : (int64_t)m;
    double d = f ? (double)m / pj_pow10[f] : (double)m;
    out->d = neg ? -d : d;
    return q;
}

size_t pc_json_num_scan(const char *s, size_t n, pc_json_numparse_t *out)
{
    size_t fast = n ? pj_simple(s, n, out) : 0;
    if (fast)
        return fast;
    size_t p = 0;
    uint64_t mant = 0;
    unsigned nd = 0;          /* significant digits in mant */
    bool exact = true;        /* all significant digits are in mant */
    long frac = 0, e = 0;
    bool neg = n > 0 && s[0] == '-';
    out->nomem = false;
    out->flags = neg ? PC_JSON_NUM_NEG : 0;
    if (neg)
        p++;
    if (p >= n || !pj_digit(s[p]))
        goto bad;
    if (s[p] == '0') {
        p++;
    } else {
        for (; p < n && pj_digit(s[p]); p++) {
            if (nd < 19)
                mant = mant * 10 + (uint64_t)(s[p] - '0'), nd++;
            else
                exact = false;
            if (!exact)
                frac--; /* a dropped integer digit scales what was kept */
        }
    }
    bool is_int = true;
    if (p < n && s[p] == '.') {
        is_int = false;
        if (++p >= n || !pj_digit(s[p]))
            goto bad;
        for (; p < n && pj_digit(s[p]); p++) {
            if (mant == 0 && s[p] == '0') {
                frac++;
            } else if (nd < 19) {
                mant = mant * 10 + (uint64_t)(s[p] - '0'), nd++, frac++;
            } else {
                exact = false;
            }
        }
    }
    if (p < n && (s[p] == 'e' || s[p] == 'E')) {
        is_int = false;
        bool eneg = false;
        if (++p < n && (s[p] == '+' || s[p] == '-'))
            eneg = s[p++] == '-';
        if (p >= n || !pj_digit(s[p]))
            goto bad;
        for (; p < n && pj_digit(s[p]); p++)
            if (e < 100000)
                e = e * 10 + (s[p] - '0');
        if (eneg)
            e = -e;
    }
    out->i = 0;
    if (is_int) {
        out->flags |= PC_JSON_NUM_INT;
        if (exact && (mant <= (uint64_t)INT64_MAX || (neg && mant == (uint64_t)INT64_MAX + 1))) {
            out->flags |= PC_JSON_NUM_I64;
            out->i = neg ? (int64_t)(0 - mant) : (int64_t)mant;
        }
        if (exact) {
            out->d = neg ? -(double)mant : (double)mant;
            return p;
        }
    }
    long e10 = e - frac;
    if (exact && mant <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
        double d = (double)mant;
        d = e10 >= 0 ? d * pj_pow10[e10] : d / pj_pow10[-e10];
        out->d = neg ? -d : d;
        return p;
    }
    if (!pj_strtod(s, p, &out->d)) {
        out->nomem = true;
        out->bad = 0;
        return 0;
    }
    return p;
bad:
    out->bad = p;
    return 0;
}

/* ---- exact decimal view of a literal ---- */

typedef __int128 pj_i128;
#define PJ_EXP_SAT ((pj_i128)1000000000000000000 * 1000000000000000000)

/* value = (-1)^neg * digits[first..last] * 10^exp, where the digits are
 * the significant ones (the literal's '.' may sit among them). */
typedef struct pj_dec {
    const char *first, *last;
    size_t ndig;
    pj_i128 exp;               /* power of ten of the last digit */
    bool neg, zero;
} pj_dec_t;

static void pj_dec(const pc_json_t *n, pj_dec_t *x)
{
    const char *s = n->u.num.text, *end = s + n->len;
    const char *me = s, *dot = NULL;
    x->neg = s < end && *s == '-';
    while (me < end && *me != 'e' && *me != 'E') {
        if (*me == '.')
            dot = me;
        me++;
    }
    if (!dot)
        dot = me;
    pj_i128 e = 0;
    if (me < end) {
        const char *q = me + 1;
        bool eneg = q < end && *q == '-';
        if (q < end && (*q == '-' || *q == '+'))
            q++;
        for (; q < end; q++)
            if (e < PJ_EXP_SAT)
                e = e * 10 + (*q - '0');
        if (e > PJ_EXP_SAT)
            e = PJ_EXP_SAT;
        if (eneg)
            e = -e;
    }
    const char *f = s + x->neg, *l = me - 1;
    while (f < me && (*f == '0' || *f == '.'))
        f++;
    x->zero = f >= me;
    if (x->zero) {
        x->ndig = 0;
        x->exp = 0;
        return;
    }
    while (*l == '0' || *l == '.')
        l--;
    x->first = f;
    x->last = l;
    x->ndig = (size_t)(l - f + 1) - (dot > f && dot < l ? 1 : 0);
    x->exp = e + (l < dot ? (pj_i128)(dot - l - 1) : -(pj_i128)(l - dot));
}

/* The next significant digit at *p, stepping over the '.'. */
static inline unsigned pj_next(const char **p)
{
    if (**p == '.')
        (*p)++;
    return (unsigned)(*(*p)++ - '0');
}

static int pj_cmp_abs(const pj_dec_t *a, const pj_dec_t *b)
{
    pj_i128 la = (pj_i128)a->ndig + a->exp, lb = (pj_i128)b->ndig + b->exp;
    if (la != lb)
        return la < lb ? -1 : 1;
    const char *pa = a->first, *pb = b->first;
    size_t n = a->ndig > b->ndig ? a->ndig : b->ndig;
    for (size_t i = 0; i < n; i++) {
        unsigned da = i < a->ndig ? pj_next(&pa) : 0;
        unsigned db = i < b->ndig ? pj_next(&pb) : 0;
        if (da != db)
            return da < db ? -1 : 1;
    }
    return 0;
}

int pc_json_num_cmp(const pc_json_t *a, const pc_json_t *b)
{
    if ((a->num_flags & b->num_flags & PC_JSON_NUM_I64))
        return a->u.num.i < b->u.num.i ? -1 : a->u.num.i > b->u.num.i;
    pj_dec_t x, y;
    pj_dec(a, &x);
    pj_dec(b, &y);
    if (x.zero || y.zero) {
        if (x.zero && y.zero)
            return 0;
        if (x.zero)
            return y.neg ? 1 : -1;
        return x.neg ? -1 : 1;
    }
    if (x.neg != y.neg)
        return x.neg ? -1 : 1;
    int c = pj_cmp_abs(&x, &y);
    return x.neg ? -c : c;
}

bool pc_json_num_is_integer(const pc_json_t *n)
{
    if (n->num_flags & PC_JSON_NUM_INT)
        return true;
    pj_dec_t x;
    pj_dec(n, &x);
    return x.zero || x.exp >= 0;
}

/* ---- multipleOf ---- */

typedef unsigned __int128 pj_u128;

/* 10^k mod m, by squaring: k may be astronomically large. */
static uint64_t pj_pow10_mod(pj_i128 k, uint64_t m)
{
    uint64_t r = 1 % m, b = 10 % m;
    while (k > 0) {
        if (k & 1)
            r = (uint64_t)((pj_u128)r * b % m);
        b = (uint64_t)((pj_u128)b * b % m);
        k >>= 1;
    }
    return r;
}

/* a * 10^k mod d, both with d->ndig <= 19. */
static bool pj_multiple_small(const pj_dec_t *a, const pj_dec_t *d, pj_i128 k)
{
    const char *p = d->first;
    uint64_t m = 0;
    for (size_t i = 0; i < d->ndig; i++)
        m = m * 10 + pj_next(&p);
    uint64_t r = 0;
    p = a->first;
    for (size_t i = 0; i < a->ndig; i++)
        r = (uint64_t)(((pj_u128)r * 10 + pj_next(&p)) % m);
    return (pj_u128)r * pj_pow10_mod(k, m) % m == 0;
}

/* Long division digit by digit, in decimal: the remainder r (nd + 1
 * digits, most significant first) takes the next dividend digit and sheds
 * the divisor at most nine times. */
static bool pj_multiple_big(const pj_dec_t *a, const pj_dec_t *d, size_t k)
{
    size_t nd = d->ndig, w = nd + 1;
    unsigned char *buf = calloc(2, w);
    if (!buf)
        return false;
    unsigned char *r = buf, *dv = buf + w;
    const char *p = d->first;
    for (size_t i = 0; i < nd; i++)
        dv[i + 1] = (unsigned char)pj_next(&p);
    p = a->first;
    for (size_t step = 0; step < a->ndig + k; step++) {
        memmove(r, r + 1, w - 1);
        r[w - 1] = (unsigned char)(step < a->ndig ? pj_next(&p) : 0);
        for (;;) {
            if (memcmp(r, dv, w) < 0)
                break;
            int borrow = 0;
            for (size_t i = w; i-- > 0;) {
                int v = r[i] - dv[i] - borrow;
                borrow = v < 0;
                r[i] = (unsigned char)(v + (borrow ? 10 : 0));
            }
        }
    }
    bool zero = true;
    for (size_t i = 0; i < w; i++)
        zero = zero && r[i] == 0;
    free(buf);
    return zero;
}

bool pc_json_num_multiple_of(const pc_json_t *a, const pc_json_t *d)
{
    if ((a->num_flags & d->num_flags & PC_JSON_NUM_I64))
        return d->u.num.i > 0 && a->u.num.i % d->u.num.i == 0;
    pj_dec_t x, y;
    pj_dec(a, &x);
    pj_dec(d, &y);
    if (y.zero || y.neg)
        return false;
    if (x.zero)
        return true;
    /* a/d = (digits_a / digits_d) * 10^k. With k < 0 it would need 10 to
     * divide digits_a, which has no trailing zero: never an integer. */
    pj_i128 k = x.exp - y.exp;
    if (k < 0)
        return false;
    if (y.ndig <= 19)
        return pj_multiple_small(&x, &y, k);
    pj_i128 work = ((pj_i128)x.ndig + k) * (pj_i128)y.ndig;
    if (work > PC_JSON_MULTIPLE_WORK)
        return false;
    return pj_multiple_big(&x, &y, (size_t)k);
}
