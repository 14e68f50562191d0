/* gateway/store/store_memory.c: the embedded, bounded, sharded store (see
 * store_memory.h for the contract).
 *
 * Layout: 64 shards, each a mutex and a chained hash table whose bucket
 * array is sized once from the byte budget (about one bucket per 128
 * bytes, so chains stay short for any realistic entry size) and never
 * resized: no rehash pauses under a lock, and the table's cost is known
 * up front. Entries are single allocations: header, payload, key. */
#include "store/store_memory.h"
#include "base/util.h"

#include <malloc.h>
#include <pthread.h>
#include <string.h>

#define MS_SHARDS 64
#define MS_SHARD_SHIFT 58        /* top 6 hash bits pick the shard */
#define MS_BYTES_PER_BUCKET 128  /* table sizing: one bucket per this many bytes */

enum { MS_LIMIT = 1, MS_FLAG, MS_WINDOW };

typedef struct ms_entry {
    struct ms_entry *next;
    uint64_t hash;
    uint64_t expires_ms;  /* dead when now_ms >= expires_ms */
    uint16_t klen;
    uint8_t kind;         /* MS_* */
    uint8_t nstates;      /* MS_LIMIT: number of pc_rl_state_t in the payload */
    uint8_t ref;          /* CLOCK bit: used since the hand last passed */
    _Alignas(8) unsigned char data[]; /* payload, then the key */
} ms_entry_t;

/* MS_WINDOW payload. */
typedef struct ms_window {
    uint64_t start_ms;
    uint64_t count;
} ms_window_t;

typedef struct ms_shard {
    _Alignas(64) pthread_mutex_t lock; /* own cache line: workers hit different shards */
    ms_entry_t **buckets;
    size_t mask;        /* bucket count - 1 (a power of two) */
    size_t hand;        /* CLOCK hand */
    size_t sweep;       /* expiry sweep cursor */
    size_t dry;         /* buckets swept since the last expired entry was seen */
    size_t budget;      /* bytes the entries may use */
    size_t bytes;       /* bytes the entries use */
    size_t table_bytes;
    size_t entries;
    uint64_t clock;     /* latest now_ms seen (ms_now) */
    uint64_t evicted, expired, full;
} ms_shard_t;

struct pc_mstore {
    ms_shard_t shards[MS_SHARDS];
    void *raw;          /* what malloc returned (the store is aligned inside) */
    size_t max_bytes;
    size_t fixed_bytes; /* this struct's allocation */
    uint64_t seed[2];
};

/* ---- allocation accounting ---- */

/* What an allocation really costs: glibc hands out usable size plus one
 * size_t of chunk header; elsewhere assume 16-byte rounding plus 16. */
static size_t ms_cost(void *p, size_t requested)
{
#ifdef __GLIBC__
    PC_UNUSED(requested);
    return malloc_usable_size(p) + sizeof(size_t);
#else
    PC_UNUSED(p);
    return ((requested + 15) & ~(size_t)15) + 16;
#endif
}

/* ---- hashing ---- */

/* SipHash-1-3 with a random per-store key: keys come from clients (IPs,
 * user ids, token ids), and an unkeyed hash would let them aim at one
 * bucket and turn every lookup under the shard lock into a list walk. */
static uint64_t ms_hash(const pc_mstore_t *st, const void *key, size_t len)
{
    return pc_siphash13(st->seed, key, len);
}

static void ms_seed(pc_mstore_t *st)
{
    pc_random_seed(st->seed);
}

/* ---- entries ---- */

static size_t ms_payload_size(int kind, size_t nstates)
{
    if (kind == MS_LIMIT)
        return nstates * sizeof(pc_rl_state_t);
    if (kind == MS_WINDOW)
        return sizeof(ms_window_t);
    return 0;
}

static size_t ms_entry_size(const ms_entry_t *e)
{
    return sizeof(*e) + ms_payload_size(e->kind, e->nstates) + e->klen;
}

static unsigned char *ms_key(ms_entry_t *e)
{
    return e->data + ms_payload_size(e->kind, e->nstates);
}

static int ms_live(const ms_entry_t *e, uint64_t now_ms)
{
    return now_ms < e->expires_ms;
}

/* The shard's time never goes back. Workers read the clock before taking
 * the lock, so two of them can arrive a millisecond out of order; without
 * this, the later one would look like a clock step back to the algorithms
 * (harmless, but it would blur sliding-window boundaries). */
static uint64_t ms_now(ms_shard_t *sh, uint64_t now_ms)
{
    if (now_ms > sh->clock)
        sh->clock = now_ms;
    return sh->clock;
}

static ms_shard_t *ms_shard(pc_mstore_t *st, uint64_t h)
{
    return &st->shards[h >> MS_SHARD_SHIFT];
}

static void ms_remove(ms_shard_t *sh, ms_entry_t **link, uint64_t *counter)
{
    ms_entry_t *e = *link;

    *link = e->next;
    sh->bytes -= ms_cost(e, ms_entry_size(e));
    sh->entries--;
    if (counter)
        (*counter)++;
    free(e);
}

/* Returns the link that points at the live entry for key, or at NULL.
 * Expired entries on the chain are dropped on the way: their headers are
 * being read anyway, so reclaiming them here costs nothing. */
static ms_entry_t **ms_find(ms_shard_t *sh, uint64_t h, const void *key, size_t klen,
                            uint64_t now_ms)
{
    ms_entry_t **link = &sh->buckets[h & sh->mask];

    while (*link) {
        ms_entry_t *e = *link;
        if (!ms_live(e, now_ms)) {
            ms_remove(sh, link, &sh->expired);
            sh->dry = 0; /* there may be more: resume the sweep */
            continue;
        }
        if (e->hash == h && e->klen == klen && memcmp(ms_key(e), key, klen) == 0)
            break;
        link = &e->next;
    }
    return link;
}

/* The live entry for key if it has this kind and shape; a different one
 * is dropped, since the caller is about to replace it. */
static ms_entry_t *ms_lookup(ms_shard_t *sh, uint64_t h, const void *key, size_t klen,
                             int kind, size_t nstates, uint64_t now_ms)
{
    ms_entry_t **link = ms_find(sh, h, key, klen, now_ms), *e = *link;

    if (!e)
        return NULL;
    if (e->kind != kind || e->nstates != nstates) {
        ms_remove(sh, link, NULL);
        return NULL;
    }
    return e;
}

/* ---- eviction ---- */

/* One bucket of the expiry sweep: drops expired entries only. */
static void ms_sweep_step(ms_shard_t *sh, uint64_t now_ms)
{
    ms_entry_t **link = &sh->buckets[sh->sweep];
    int found = 0;

    sh->sweep = (sh->sweep + 1) & sh->mask;
    while (*link) {
        if (!ms_live(*link, now_ms)) {
            ms_remove(sh, link, &sh->expired);
            found = 1;
        } else {
            link = &(*link)->next;
        }
    }
    sh->dry = found ? 0 : sh->dry + 1;
}

/* One CLOCK step over a bucket: dead entries go, a used entry loses its
 * bit, an unused one is evicted. Live flags are pinned (see the header). */
static void ms_clock_step(ms_shard_t *sh, uint64_t now_ms)
{
    ms_entry_t **link = &sh->buckets[sh->hand];

    sh->hand = (sh->hand + 1) & sh->mask;
    while (*link) {
        ms_entry_t *e = *link;
        if (!ms_live(e, now_ms)) {
            ms_remove(sh, link, &sh->expired);
            sh->dry = 0; /* expired entries exist again: resume the sweep */
        } else if (e->kind != MS_FLAG && !e->ref) {
            ms_remove(sh, link, &sh->evicted);
        } else {
            e->ref = 0;
            link = &e->next;
        }
    }
}

/* Frees entries until need more bytes fit: expired entries first (the
 * sweep), then CLOCK. The sweep pauses after a whole turn without finding
 * anything, so a table of live entries does not pay for it on every
 * insert; meeting an expired entry anywhere resumes it. Failing after a turn
 * of the sweep and two of the hand (every bit cleared, every unpinned
 * entry evicted) means the shard holds nothing but live flags. */
static int ms_make_room(ms_shard_t *sh, size_t need, uint64_t now_ms)
{
    size_t steps = 3 * (sh->mask + 1) + 1;

    if (need > sh->budget)
        return -1;
    while (sh->bytes + need > sh->budget) {
        if (steps-- == 0)
            return -1;
        if (sh->dry <= sh->mask)
            ms_sweep_step(sh, now_ms);
        else
            ms_clock_step(sh, now_ms);
    }
    return 0;
}

/* A new entry (not yet filled in: the caller sets payload and expiry),
 * or NULL when no room can be made. Key must not be present. */
static ms_entry_t *ms_insert(ms_shard_t *sh, uint64_t h, const void *key, size_t klen,
                             int kind, size_t nstates, uint64_t now_ms)
{
    size_t size = sizeof(ms_entry_t) + ms_payload_size(kind, nstates) + klen;
    ms_entry_t *e = pc_xmalloc(size);
    size_t cost = ms_cost(e, size);

    if (ms_make_room(sh, cost, now_ms) != 0) {
        free(e);
        sh->full++;
        return NULL;
    }
    memset(e, 0, sizeof(*e));
    e->hash = h;
    e->klen = (uint16_t)klen;
    e->kind = (uint8_t)kind;
    e->nstates = (uint8_t)nstates;
    /* ref stays 0: the bit is earned by a second use, which keeps a flood
     * of one-off keys from pushing out clients that keep coming back. */
    memcpy(ms_key(e), key, klen);
    e->next = sh->buckets[h & sh->mask];
    sh->buckets[h & sh->mask] = e;
    sh->bytes += cost;
    sh->entries++;
    return e;
}

/* ---- lifecycle ---- */

static void ms_shard_init(ms_shard_t *sh, size_t share)
{
    size_t n = 8;

    while (n * 2 * MS_BYTES_PER_BUCKET <= share)
        n *= 2;
    sh->buckets = pc_xcalloc(n, sizeof(*sh->buckets));
    sh->mask = n - 1;
    sh->table_bytes = ms_cost(sh->buckets, n * sizeof(*sh->buckets));
    PC_ASSERT(sh->table_bytes < share);
    sh->budget = share - sh->table_bytes;
    int rc = pthread_mutex_init(&sh->lock, NULL);
    PC_ASSERT(rc == 0);
}

pc_mstore_t *pc_mstore_new(size_t max_bytes)
{
    size_t rawsize = sizeof(pc_mstore_t) + 63;
    void *raw;
    pc_mstore_t *st;

    if (max_bytes < PC_MSTORE_MIN_BYTES)
        return NULL;
    raw = pc_xmalloc(rawsize);
    st = (pc_mstore_t *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    memset(st, 0, sizeof(*st));
    st->raw = raw;
    st->max_bytes = max_bytes;
    st->fixed_bytes = ms_cost(raw, rawsize);
    ms_seed(st);
    for (int i = 0; i < MS_SHARDS; i++)
        ms_shard_init(&st->shards[i], (max_bytes - st->fixed_bytes) / MS_SHARDS);
    return st;
}

void pc_mstore_free(pc_mstore_t *st)
{
    if (!st)
        return;
    for (int i = 0; i < MS_SHARDS; i++) {
        ms_shard_t *sh = &st->shards[i];
        for (size_t b = 0; b <= sh->mask; b++)
            while (sh->buckets[b])
                ms_remove(sh, &sh->buckets[b], NULL);
        free(sh->buckets);
        pthread_mutex_destroy(&sh->lock);
    }
    free(st->raw);
}

/* ---- operations (each: validate, hash, lock one shard, *_locked) ---- */

/* The time bound keeps the shard clock (ms_now) valid for pc_rl_check. */
static int ms_args_ok(const void *key, size_t klen, uint64_t now_ms)
{
    return key != NULL && klen <= PC_MSTORE_MAX_KEY && now_ms < PC_RL_MAX_NOW_MS;
}

static int ms_limits_ok(const pc_rl_limit_t *limits, size_t n)
{
    if (n < 1 || n > PC_RL_MAX_LIMITS)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (pc_rl_limit_check(&limits[i], NULL) != 0)
            return 0;
    return 1;
}

static int ms_limit_locked(ms_shard_t *sh, uint64_t h, const void *key, size_t klen,
                           const pc_rl_limit_t *limits, size_t n, uint64_t now_ms,
                           pc_rl_result_t *res)
{
    pc_rl_state_t states[PC_RL_MAX_LIMITS] = {{0}};
    ms_entry_t *e;
    uint64_t expires = 0;

    now_ms = ms_now(sh, now_ms);
    e = ms_lookup(sh, h, key, klen, MS_LIMIT, n, now_ms);
    if (e) {
        memcpy(states, e->data, n * sizeof(states[0]));
        e->ref = 1;
    }
    /* Denied leaves the states as they were (up to normalisation, see
     * pc_rl_check), so a new key that is denied needs no entry. */
    if (!pc_rl_check(limits, states, n, now_ms, res) && !e)
        return 0;
    if (!e && !(e = ms_insert(sh, h, key, klen, MS_LIMIT, n, now_ms)))
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint64_t x = pc_rl_expires_ms(&limits[i], &states[i]);
        expires = x > expires ? x : expires;
    }
    memcpy(e->data, states, n * sizeof(states[0]));
    e->expires_ms = expires;
    return 0;
}

int pc_mstore_limit(pc_mstore_t *st, const void *key, size_t klen,
                    const pc_rl_limit_t *limits, size_t n, uint64_t now_ms,
                    pc_rl_result_t *res)
{
    uint64_t h;
    ms_shard_t *sh;
    int rc;

    memset(res, 0, sizeof(*res));
    if (!ms_args_ok(key, klen, now_ms) || !ms_limits_ok(limits, n))
        return -1;
    h = ms_hash(st, key, klen);
    sh = ms_shard(st, h);
    pthread_mutex_lock(&sh->lock);
    rc = ms_limit_locked(sh, h, key, klen, limits, n, now_ms, res);
    pthread_mutex_unlock(&sh->lock);
    if (rc != 0)
        memset(res, 0, sizeof(*res));
    return rc;
}

static int ms_set_flag_locked(ms_shard_t *sh, uint64_t h, const void *key, size_t klen,
                              uint64_t expires_at_ms, uint64_t now_ms)
{
    ms_entry_t *e;

    now_ms = ms_now(sh, now_ms);
    e = ms_lookup(sh, h, key, klen, MS_FLAG, 0, now_ms);
    if (expires_at_ms <= now_ms) {
        if (e)
            ms_remove(sh, ms_find(sh, h, key, klen, now_ms), NULL);
        return 0;
    }
    if (!e && !(e = ms_insert(sh, h, key, klen, MS_FLAG, 0, now_ms)))
        return -1;
    e->expires_ms = expires_at_ms;
    return 0;
}

int pc_mstore_set_flag(pc_mstore_t *st, const void *key, size_t klen,
                       uint64_t expires_at_ms, uint64_t now_ms)
{
    uint64_t h;
    ms_shard_t *sh;
    int rc;

    if (!ms_args_ok(key, klen, now_ms))
        return -1;
    h = ms_hash(st, key, klen);
    sh = ms_shard(st, h);
    pthread_mutex_lock(&sh->lock);
    rc = ms_set_flag_locked(sh, h, key, klen, expires_at_ms, now_ms);
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

int pc_mstore_has_flag(pc_mstore_t *st, const void *key, size_t klen, uint64_t now_ms)
{
    uint64_t h;
    ms_shard_t *sh;
    ms_entry_t **link;
    int found = 0;

    if (!ms_args_ok(key, klen, now_ms))
        return -1;
    h = ms_hash(st, key, klen);
    sh = ms_shard(st, h);
    pthread_mutex_lock(&sh->lock);
    now_ms = ms_now(sh, now_ms);
    link = ms_find(sh, h, key, klen, now_ms);
    found = *link && (*link)->kind == MS_FLAG;
    pthread_mutex_unlock(&sh->lock);
    return found;
}

int pc_mstore_del(pc_mstore_t *st, const void *key, size_t klen)
{
    uint64_t h;
    ms_shard_t *sh;
    ms_entry_t **link;
    int found = 0;

    if (!ms_args_ok(key, klen, 0))
        return 0;
    h = ms_hash(st, key, klen);
    sh = ms_shard(st, h);
    pthread_mutex_lock(&sh->lock);
    link = ms_find(sh, h, key, klen, sh->clock);
    if (*link) {
        ms_remove(sh, link, NULL);
        found = 1;
    }
    pthread_mutex_unlock(&sh->lock);
    return found;
}

static int ms_incr_locked(ms_shard_t *sh, uint64_t h, const void *key, size_t klen,
                          uint64_t window_ms, uint64_t now_ms, uint64_t *count)
{
    ms_entry_t *e;
    ms_window_t w;

    now_ms = ms_now(sh, now_ms);
    w = (ms_window_t){now_ms, 0};
    e = ms_lookup(sh, h, key, klen, MS_WINDOW, 0, now_ms);
    if (e) {
        memcpy(&w, e->data, sizeof(w));
        e->ref = 1;
        /* A window that ended (e.g. window_ms shrank) starts over. */
        if (now_ms >= w.start_ms + window_ms)
            w = (ms_window_t){now_ms, 0};
    } else if (!(e = ms_insert(sh, h, key, klen, MS_WINDOW, 0, now_ms))) {
        return -1;
    }
    w.count++;
    memcpy(e->data, &w, sizeof(w));
    e->expires_ms = w.start_ms + window_ms;
    *count = w.count;
    return 0;
}

int pc_mstore_incr_window(pc_mstore_t *st, const void *key, size_t klen,
                          uint64_t window_ms, uint64_t now_ms, uint64_t *count)
{
    uint64_t h;
    ms_shard_t *sh;
    int rc;

    *count = 0;
    if (!ms_args_ok(key, klen, now_ms) || window_ms == 0 || window_ms > PC_RL_MAX_PERIOD_MS)
        return -1;
    h = ms_hash(st, key, klen);
    sh = ms_shard(st, h);
    pthread_mutex_lock(&sh->lock);
    rc = ms_incr_locked(sh, h, key, klen, window_ms, now_ms, count);
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

/* ---- metrics ---- */

void pc_mstore_stats(pc_mstore_t *st, pc_mstore_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    out->max_bytes = st->max_bytes;
    out->bytes = st->fixed_bytes;
    for (int i = 0; i < MS_SHARDS; i++) {
        ms_shard_t *sh = &st->shards[i];
        pthread_mutex_lock(&sh->lock);
        out->bytes += sh->table_bytes + sh->bytes;
        out->entries += sh->entries;
        out->evicted += sh->evicted;
        out->expired += sh->expired;
        out->full += sh->full;
        pthread_mutex_unlock(&sh->lock);
    }
}

size_t pc_mstore_bytes(pc_mstore_t *st)
{
    pc_mstore_stats_t s;

    pc_mstore_stats(st, &s);
    return s.bytes;
}

size_t pc_mstore_entries(pc_mstore_t *st)
{
    pc_mstore_stats_t s;

    pc_mstore_stats(st, &s);
    return s.entries;
}
