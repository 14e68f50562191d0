/* plugins/jwt/jwt_cache.h: verified identities and the per-worker cache of
 * verification results.
 *
 * An identity (jwt_ident_t) is what a verified token turns into: the claims,
 * the subject, the revocation key and the prepared upstream header values.
 * It is reference counted WITHOUT atomics: an identity never leaves the
 * worker thread that built it.
 *
 * The cache maps SHA-256(token) (all 32 bytes are compared: no truncation,
 * no collision in practice) to an identity, or to a "negative" mark (an
 * introspection that said active:false). It is set-associative: the hash
 * picks a set of JWT_CACHE_WAYS entries and a full set evicts its least
 * recently used entry, so memory is bounded by max_entries whatever the
 * traffic, and a lookup costs one hash plus at most 8 compares.
 *
 * An entry is dead once wall-clock time reaches its deadline (the caller
 * computes it: never past the token's exp), or when the key set serial it
 * was verified with is not the current one (keys rotated or refreshed).
 * Dead entries are dropped when met, and an entry whose token was found
 * revoked is dropped by the plugin (jwt_cache_drop). Not thread-safe: one
 * cache per worker.
 *
 * Lookups may also be counted into process-wide metrics (/metrics:
 * portcullis_jwt_cache_hits_total, _misses_total): a hit is a lookup that
 * found a live entry, a miss every other lookup (absent, expired, stale).
 */
#ifndef PC_JWT_CACHE_H
#define PC_JWT_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <portcullis/plugin.h>

#define JWT_CACHE_WAYS 8
#define JWT_DIGEST_LEN 32

typedef struct jwt_ident {
    unsigned refs;
    json_t *claims;        /* owned reference */
    const char *subject;   /* "sub" inside claims, or NULL */
    char *rkey;            /* the jti, the key of its revocation flag; NULL without one */
    size_t rklen;
    char **hvals;          /* per claims_to_headers entry, NULL when absent */
    size_t nh;
} jwt_ident_t;

/* Takes a reference on claims. rkey may be NULL. hvals: nh malloc'd strings
 * (or NULLs), owned by the identity from now on. Returns refs = 1. */
jwt_ident_t *jwt_ident_new(json_t *claims, const char *rkey, size_t rklen, char **hvals,
                           size_t nh);
jwt_ident_t *jwt_ident_ref(jwt_ident_t *id);
void jwt_ident_unref(jwt_ident_t *id); /* NULL-safe */

typedef struct jwt_cache jwt_cache_t;

typedef struct jwt_cache_stats {
    uint64_t hits, misses, inserts, evictions, expired, stale;
} jwt_cache_stats_t;

/* Capacity is at most max_entries (rounded down to whole sets of 8, at least
 * one entry). NULL if max_entries is 0. */
jwt_cache_t *jwt_cache_new(size_t max_entries);
void jwt_cache_free(jwt_cache_t *c); /* NULL-safe; drops every reference */
size_t jwt_cache_capacity(const jwt_cache_t *c);
size_t jwt_cache_count(const jwt_cache_t *c);
jwt_cache_stats_t jwt_cache_stats(const jwt_cache_t *c);
/* Also adds every later hit and miss of jwt_cache_get to these metrics
 * (either may be NULL; c too: no-op). The metrics live as long as the
 * process. */
void jwt_cache_count_into(jwt_cache_t *c, pc_metric_t *hits, pc_metric_t *misses);

/* SHA-256 of the token, with the cache's prepared digest context. */
void jwt_cache_key(jwt_cache_t *c, const void *tok, size_t len, unsigned char key[JWT_DIGEST_LEN]);

/* The live entry for key, or NULL. now_ms: wall clock in ms. *negative is set
 * for a negative entry (then NULL is returned too). The identity is
 * borrowed: take a reference to keep it past the next cache call. */
jwt_ident_t *jwt_cache_get(jwt_cache_t *c, const unsigned char key[JWT_DIGEST_LEN], int64_t now_ms,
                           unsigned serial, int *negative);
/* Inserts or replaces. Takes its own reference on id (NULL for a negative
 * entry). Nothing is stored when deadline_ms <= now_ms. */
void jwt_cache_put(jwt_cache_t *c, const unsigned char key[JWT_DIGEST_LEN], int64_t now_ms,
                   int64_t deadline_ms, unsigned serial, jwt_ident_t *id, int negative);
/* Drops the entry for key, if any (a token found revoked: never served
 * from the cache again). */
void jwt_cache_drop(jwt_cache_t *c, const unsigned char key[JWT_DIGEST_LEN]);

#endif
