/* gateway/upstream/lb.c: round robin, least connections, consistent hash and power
 * of two choices over an immutable target set (see lb.h for the contract). */
#include "upstream/lb.h"
#include "base/util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct pc_lb {
    pc_lb_kind_t kind;
    size_t n;
    unsigned *weight;
    /* Hash ring, sorted by position; two arrays so the binary search only
     * touches the positions. */
    size_t npoints;
    uint64_t *point_pos;
    uint32_t *point_target;
};

struct pc_lb_state {
    const pc_lb_t *lb;  /* to catch a state used with another generation */
    int64_t current[];  /* smooth round-robin counters, one per target */
};

static const char *const lb_kind_names[] = {
    [PC_LB_ROUND_ROBIN] = "round_robin",
    [PC_LB_LEAST_CONN] = "least_conn",
    [PC_LB_HASH] = "hash",
    [PC_LB_RANDOM_TWO] = "random_two",
};

/* murmur3 fmix64: FNV-1a (pc_hash64) avalanches poorly into the high bits
 * for keys that differ in their last bytes ("host#1", "host#2"), and the
 * ring is searched by the high bits, so every hash is finished with this
 * bijection before use. */
static uint64_t lb_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

int pc_lb_kind_parse(const char *s, pc_lb_kind_t *out)
{
    if (!s)
        return -1;
    for (size_t i = 0; i < PC_ARRAY_LEN(lb_kind_names); i++) {
        if (strcmp(s, lb_kind_names[i]) == 0) {
            *out = (pc_lb_kind_t)i;
            return 0;
        }
    }
    return -1;
}

const char *pc_lb_kind_name(pc_lb_kind_t kind)
{
    if ((size_t)kind >= PC_ARRAY_LEN(lb_kind_names))
        return "unknown";
    return lb_kind_names[kind];
}

/* ---- construction ---------------------------------------------------- */

typedef struct lb_point {
    uint64_t pos;
    uint32_t target;
    const char *key;
} lb_point_t;

/* Equal positions (a 64-bit collision) are ordered by key, not by index, so
 * the ring does not depend on the order of targets in the config. */
static int lb_point_cmp(const void *a, const void *b)
{
    const lb_point_t *x = a, *y = b;
    if (x->pos != y->pos)
        return x->pos < y->pos ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* Ring points per unit of the lightest weight. A target's key share
 * deviates from its weight share by about 1/sqrt(points) (relative std), so
 * the lightest target gets 1024 points (~3%) and the others proportionally
 * more, up to PC_LB_HASH_POINTS_MAX for the heaviest (bounding memory at
 * 12 bytes a point; only weight ratios above 16:1 hit the cap, and then the
 * lightest targets get fewer points and a coarser share). Scaling by weight
 * ratios rather than absolute weights makes 100/200 cost as little as 1/2.
 * Adding or removing a target leaves the others' points untouched unless it
 * changes the lightest (or, when capped, the heaviest) weight; even then
 * replicas are numbered from 0, so targets only gain or lose points at the
 * end of their sequence and the rest keep their positions. */
static size_t lb_hash_points(unsigned w, unsigned wmin, unsigned wmax)
{
    /* Both branches divide last, so a target's count depends on exactly
     * one other weight and rounding cannot shift it by a point. */
    uint64_t p;
    if ((uint64_t)PC_LB_HASH_POINTS * wmax <= (uint64_t)PC_LB_HASH_POINTS_MAX * wmin)
        p = ((uint64_t)PC_LB_HASH_POINTS * w + wmin - 1) / wmin;
    else
        p = ((uint64_t)PC_LB_HASH_POINTS_MAX * w + wmax - 1) / wmax;
    return p ? (size_t)p : 1;
}

static void lb_ring_fill(lb_point_t *pts, size_t *np, uint32_t target, const char *key,
                         size_t count)
{
    size_t klen = strlen(key);
    char *buf = pc_xmalloc(klen + 24);
    memcpy(buf, key, klen);
    for (size_t r = 0; r < count; r++) {
        /* "key#replica": reproducible outside the gateway when debugging. */
        int len = snprintf(buf + klen, 24, "#%zu", r);
        pts[*np].pos = lb_mix64(pc_hash64(buf, klen + (size_t)len));
        pts[*np].target = target;
        pts[*np].key = key;
        (*np)++;
    }
    free(buf);
}

static void lb_ring_build(pc_lb_t *lb, const char *const *keys)
{
    unsigned wmin = PC_LB_WEIGHT_MAX, wmax = 1;
    for (size_t i = 0; i < lb->n; i++) {
        wmin = lb->weight[i] < wmin ? lb->weight[i] : wmin;
        wmax = lb->weight[i] > wmax ? lb->weight[i] : wmax;
    }

    size_t total = 0;
    for (size_t i = 0; i < lb->n; i++)
        total += lb_hash_points(lb->weight[i], wmin, wmax);

    lb_point_t *pts = pc_xcalloc(total, sizeof(*pts));
    size_t np = 0;
    for (size_t i = 0; i < lb->n; i++)
        lb_ring_fill(pts, &np, (uint32_t)i, keys[i],
                     lb_hash_points(lb->weight[i], wmin, wmax));
    PC_ASSERT(np == total);
    qsort(pts, np, sizeof(*pts), lb_point_cmp);

    lb->npoints = np;
    lb->point_pos = pc_xcalloc(np, sizeof(*lb->point_pos));
    lb->point_target = pc_xcalloc(np, sizeof(*lb->point_target));
    for (size_t i = 0; i < np; i++) {
        lb->point_pos[i] = pts[i].pos;
        lb->point_target[i] = pts[i].target;
    }
    free(pts);
}

static bool lb_keys_valid(size_t n, const char *const *keys)
{
    if (!keys)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!keys[i] || !keys[i][0])
            return false;
    /* Two targets with one identity would share ring positions: a config
     * error. Quadratic, but only at load time over a bounded n. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(keys[i], keys[j]) == 0)
                return false;
    return true;
}

static bool lb_args_valid(pc_lb_kind_t kind, size_t n, const unsigned *weights,
                          const char *const *keys)
{
    if ((size_t)kind >= PC_ARRAY_LEN(lb_kind_names))
        return false;
    if (n == 0 || n > PC_LB_TARGETS_MAX)
        return false;
    for (size_t i = 0; weights && i < n; i++)
        if (weights[i] < 1 || weights[i] > PC_LB_WEIGHT_MAX)
            return false;
    return kind != PC_LB_HASH || lb_keys_valid(n, keys);
}

pc_lb_t *pc_lb_new(pc_lb_kind_t kind, size_t n, const unsigned *weights,
                   const char *const *keys)
{
    if (!lb_args_valid(kind, n, weights, keys)) {
        errno = EINVAL;
        return NULL;
    }
    pc_lb_t *lb = pc_xcalloc(1, sizeof(*lb));
    lb->kind = kind;
    lb->n = n;
    lb->weight = pc_xcalloc(n, sizeof(*lb->weight));
    for (size_t i = 0; i < n; i++)
        lb->weight[i] = weights ? weights[i] : 1;
    if (kind == PC_LB_HASH)
        lb_ring_build(lb, keys);
    return lb;
}

void pc_lb_free(pc_lb_t *lb)
{
    if (!lb)
        return;
    free(lb->weight);
    free(lb->point_pos);
    free(lb->point_target);
    free(lb);
}

pc_lb_kind_t pc_lb_kind(const pc_lb_t *lb)
{
    return lb->kind;
}

size_t pc_lb_size(const pc_lb_t *lb)
{
    return lb->n;
}

/* ---- worker state ---------------------------------------------------- */

pc_lb_state_t *pc_lb_state_new(const pc_lb_t *lb)
{
    PC_ASSERT(lb);
    pc_lb_state_t *st = pc_xcalloc(1, sizeof(*st) + lb->n * sizeof(st->current[0]));
    st->lb = lb;
    return st;
}

void pc_lb_state_free(pc_lb_state_t *st)
{
    free(st);
}

/* ---- picking --------------------------------------------------------- */

static bool lb_usable(const unsigned char *usable, size_t i)
{
    return !usable || usable[i];
}

/* <0 if i is less loaded than j relative to its weight: active / weight,
 * cross-multiplied in 64 bits (UINT_MAX * PC_LB_WEIGHT_MAX cannot overflow).
 * This is nginx's comparison. HAProxy's (active + 1) / weight favours heavy
 * targets at low concurrency but sends an idle upstream's every request to
 * the heaviest target; here idle targets tie and the tie-break spreads them
 * by weight, which is what operators expect a weight to mean. */
static int lb_load_cmp(const pc_lb_t *lb, const unsigned *active, size_t i, size_t j)
{
    uint64_t li = (uint64_t)active[i] * lb->weight[j];
    uint64_t lj = (uint64_t)active[j] * lb->weight[i];
    return li < lj ? -1 : li > lj;
}

/* Smooth weighted round robin over the usable targets; with active set, only
 * over those as loaded as target tie (least_conn tie-break). nginx's
 * algorithm: every candidate gains its weight, the largest counter wins and
 * pays back the sum, which interleaves {5,1,1} as a a b a c a a. Counters of
 * skipped targets stay frozen (a target back from ejection resumes where it
 * was, as in nginx); every pick adds and subtracts the same amount, so all
 * counters keep summing to 0 and int64 cannot overflow. */
static int lb_swrr(const pc_lb_t *lb, pc_lb_state_t *st, const unsigned char *usable,
                   const unsigned *active, size_t tie)
{
    int64_t total = 0;
    int best = -1;
    for (size_t i = 0; i < lb->n; i++) {
        if (!lb_usable(usable, i))
            continue;
        if (active && lb_load_cmp(lb, active, i, tie) != 0)
            continue;
        st->current[i] += lb->weight[i];
        total += lb->weight[i];
        if (best < 0 || st->current[i] > st->current[best])
            best = (int)i;
    }
    if (best >= 0)
        st->current[best] -= total;
    return best;
}

static int lb_pick_least_conn(const pc_lb_t *lb, pc_lb_state_t *st, const unsigned *active,
                              const unsigned char *usable)
{
    int best = -1;
    size_t ties = 0;
    for (size_t i = 0; i < lb->n; i++) {
        if (!lb_usable(usable, i))
            continue;
        int c = best < 0 ? -1 : lb_load_cmp(lb, active, i, (size_t)best);
        if (c < 0) {
            best = (int)i;
            ties = 1;
        } else if (c == 0) {
            ties++;
        }
    }
    if (ties <= 1)
        return best;
    /* Round robin among equals, so an idle upstream is spread by weight
     * instead of always sending to the first target. */
    return lb_swrr(lb, st, usable, active, (size_t)best);
}

/* First ring point at or after pos, wrapping to 0. */
static size_t lb_ring_find(const pc_lb_t *lb, uint64_t pos)
{
    size_t lo = 0, hi = lb->npoints;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (lb->point_pos[mid] < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == lb->npoints ? 0 : lo;
}

static bool lb_any_usable(const pc_lb_t *lb, const unsigned char *usable)
{
    for (size_t i = 0; i < lb->n; i++)
        if (lb_usable(usable, i))
            return true;
    return false;
}

/* An unusable target's keys go to the next usable point clockwise: the
 * same result as removing its points, so ejection moves only its keys and
 * spreads them over the others (its points are scattered over the ring). */
static int lb_pick_hash(const pc_lb_t *lb, uint64_t hash, const unsigned char *usable)
{
    size_t idx = lb_ring_find(lb, lb_mix64(hash));
    if (lb_usable(usable, lb->point_target[idx]))
        return (int)lb->point_target[idx];
    /* Checked first so that the walk below is sure to stop; it is O(P) at
     * worst, when nearly every target is down. */
    if (!lb_any_usable(lb, usable))
        return -1;
    for (;;) {
        idx = idx + 1 == lb->npoints ? 0 : idx + 1;
        if (lb_usable(usable, lb->point_target[idx]))
            return (int)lb->point_target[idx];
    }
}

/* Maps 32 random bits onto [0, range) without division (Lemire); the bias
 * is range / 2^32, at most ~1.5% for the largest total weight and far below
 * that for real upstreams. */
static uint64_t lb_reduce(uint32_t r, uint64_t range)
{
    return ((uint64_t)r * range) >> 32;
}

/* The target owning offset r in the weight line of usable targets,
 * leaving out target skip (pass lb->n to skip none). */
static int lb_weighted_at(const pc_lb_t *lb, const unsigned char *usable, size_t skip,
                          uint64_t r)
{
    for (size_t i = 0; i < lb->n; i++) {
        if (i == skip || !lb_usable(usable, i))
            continue;
        if (r < lb->weight[i])
            return (int)i;
        r -= lb->weight[i];
    }
    pc_assert_fail("offset beyond the usable weight", __FILE__, __LINE__);
}

/* Two distinct candidates drawn with probability proportional to weight;
 * the one with the lower active / weight wins, the first on a tie.
 * Drawing by weight (not uniformly) keeps an idle upstream's split equal to
 * the weights: on ties the first draw decides, and it is weighted. */
static int lb_pick_random_two(const pc_lb_t *lb, uint64_t rnd, const unsigned *active,
                              const unsigned char *usable)
{
    uint64_t total = 0;
    for (size_t i = 0; i < lb->n; i++)
        if (lb_usable(usable, i))
            total += lb->weight[i];
    if (total == 0)
        return -1;

    uint64_t x = lb_mix64(rnd);
    int a = lb_weighted_at(lb, usable, lb->n, lb_reduce((uint32_t)x, total));
    uint64_t rest = total - lb->weight[a];
    if (rest == 0)
        return a;
    int b = lb_weighted_at(lb, usable, (size_t)a, lb_reduce((uint32_t)(x >> 32), rest));
    return lb_load_cmp(lb, active, (size_t)b, (size_t)a) < 0 ? b : a;
}

int pc_lb_pick(const pc_lb_t *lb, pc_lb_state_t *st, uint64_t hash, uint64_t rnd,
               const unsigned *active, const unsigned char *usable)
{
    PC_ASSERT(lb && st && st->lb == lb);
    switch (lb->kind) {
    case PC_LB_ROUND_ROBIN:
        return lb_swrr(lb, st, usable, NULL, 0);
    case PC_LB_LEAST_CONN:
        PC_ASSERT(active);
        return lb_pick_least_conn(lb, st, active, usable);
    case PC_LB_HASH:
        return lb_pick_hash(lb, hash, usable);
    case PC_LB_RANDOM_TWO:
        PC_ASSERT(active);
        return lb_pick_random_two(lb, rnd, active, usable);
    }
    pc_assert_fail("unknown balancer kind", __FILE__, __LINE__);
}

/* Enough to spread any realistic number of workers over the cycle while
 * keeping state creation cheap for huge total weights. */
#define LB_SEED_STEPS_MAX 4096u

void pc_lb_state_seed(pc_lb_state_t *st, uint64_t seed)
{
    const pc_lb_t *lb = st->lb;
    uint64_t total = 0;
    for (size_t i = 0; i < lb->n; i++)
        total += lb->weight[i];
    if (total > LB_SEED_STEPS_MAX)
        total = LB_SEED_STEPS_MAX;
    for (uint64_t k = lb_mix64(seed) % total; k > 0; k--)
        lb_swrr(lb, st, NULL, NULL, 0);
}
