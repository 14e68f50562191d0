/* plugins/jwt/jwt_cache.c: identities and the set-associative, per-worker
 * verification cache. See jwt_cache.h. */
#include "jwt_cache.h"

#include <portcullis/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

typedef struct jwt_centry {
    unsigned char key[JWT_DIGEST_LEN];
    int64_t deadline_ms;   /* 0: empty slot */
    unsigned serial;
    int negative;
    uint64_t used;         /* LRU tick */
    jwt_ident_t *id;
} jwt_centry_t;

struct jwt_cache {
    jwt_centry_t *e;
    size_t nsets, ways, count;
    uint64_t tick;
    EVP_MD *sha256;
    EVP_MD_CTX *md;
    jwt_cache_stats_t st;
    pc_metric_t *m_hits, *m_misses; /* jwt_cache_count_into, or NULL */
};

/* ---- identities ----------------------------------------------------------------- */

jwt_ident_t *jwt_ident_new(json_t *claims, const char *rkey, size_t rklen, char **hvals,
                           size_t nh)
{
    jwt_ident_t *id = pc_xcalloc(1, sizeof(*id));
    const json_t *sub;

    id->refs = 1;
    id->claims = json_incref(claims);
    sub = json_object_get(claims, "sub");
    id->subject = json_is_string(sub) ? json_string_value(sub) : NULL;
    if (rkey) {
        id->rkey = pc_xmalloc(rklen + 1);
        memcpy(id->rkey, rkey, rklen);
        id->rkey[rklen] = '\0';
        id->rklen = rklen;
    }
    id->hvals = hvals;
    id->nh = nh;
    return id;
}

jwt_ident_t *jwt_ident_ref(jwt_ident_t *id)
{
    id->refs++;
    return id;
}

void jwt_ident_unref(jwt_ident_t *id)
{
    if (!id || --id->refs > 0)
        return;
    json_decref(id->claims);
    for (size_t i = 0; i < id->nh; i++)
        free(id->hvals[i]);
    free(id->hvals);
    free(id->rkey);
    free(id);
}

/* ---- the cache ---------------------------------------------------------------------- */

jwt_cache_t *jwt_cache_new(size_t max_entries)
{
    jwt_cache_t *c;
    size_t sets = 1;

    if (max_entries == 0)
        return NULL;
    c = pc_xcalloc(1, sizeof(*c));
    if (max_entries < JWT_CACHE_WAYS) {
        c->ways = max_entries;
    } else {
        c->ways = JWT_CACHE_WAYS;
        while (sets * 2 * JWT_CACHE_WAYS <= max_entries)
            sets *= 2;
    }
    c->nsets = sets;
    c->e = pc_xcalloc(c->nsets * c->ways, sizeof(*c->e));
    c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    c->md = EVP_MD_CTX_new();
    if (!c->sha256 || !c->md) {
        fprintf(stderr, "portcullis: jwt: SHA-256 is not available from OpenSSL\n");
        abort();
    }
    return c;
}

static void jwt_centry_clear(jwt_cache_t *c, jwt_centry_t *e)
{
    if (e->deadline_ms == 0)
        return;
    jwt_ident_unref(e->id);
    memset(e, 0, sizeof(*e));
    c->count--;
}

void jwt_cache_free(jwt_cache_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nsets * c->ways; i++)
        jwt_centry_clear(c, &c->e[i]);
    free(c->e);
    EVP_MD_CTX_free(c->md);
    EVP_MD_free(c->sha256);
    free(c);
}

size_t jwt_cache_capacity(const jwt_cache_t *c)
{
    return c ? c->nsets * c->ways : 0;
}

size_t jwt_cache_count(const jwt_cache_t *c)
{
    return c ? c->count : 0;
}

jwt_cache_stats_t jwt_cache_stats(const jwt_cache_t *c)
{
    jwt_cache_stats_t z = {0};
    return c ? c->st : z;
}

void jwt_cache_count_into(jwt_cache_t *c, pc_metric_t *hits, pc_metric_t *misses)
{
    if (!c)
        return;
    c->m_hits = hits;
    c->m_misses = misses;
}

void jwt_cache_key(jwt_cache_t *c, const void *tok, size_t len, unsigned char key[JWT_DIGEST_LEN])
{
    unsigned int n = 0;

    if (EVP_DigestInit_ex(c->md, c->sha256, NULL) != 1 || EVP_DigestUpdate(c->md, tok, len) != 1 ||
        EVP_DigestFinal_ex(c->md, key, &n) != 1 || n != JWT_DIGEST_LEN)
        abort(); /* SHA-256 cannot fail but for memory */
}

static jwt_centry_t *jwt_cache_set(jwt_cache_t *c, const unsigned char *key)
{
    uint64_t h;

    memcpy(&h, key, sizeof(h));
    return &c->e[(h & (c->nsets - 1)) * c->ways];
}

jwt_ident_t *jwt_cache_get(jwt_cache_t *c, const unsigned char key[JWT_DIGEST_LEN], int64_t now_ms,
                           unsigned serial, int *negative)
{
    jwt_centry_t *set = jwt_cache_set(c, key);

    *negative = 0;
    for (size_t i = 0; i < c->ways; i++) {
        jwt_centry_t *e = &set[i];
        if (e->deadline_ms == 0 || memcmp(e->key, key, JWT_DIGEST_LEN) != 0)
            continue;
        if (now_ms >= e->deadline_ms) {
            c->st.expired++;
            jwt_centry_clear(c, e);
            break;
        }
        if (e->serial != serial) {
            c->st.stale++;
            jwt_centry_clear(c, e);
            break;
        }
        e->used = ++c->tick;
        c->st.hits++;
        pc_metric_add(c->m_hits, NULL, 1);
        *negative = e->negative;
        return e->negative ? NULL : e->id;
    }
    c->st.misses++;
    pc_metric_add(c->m_misses, NULL, 1);
    return NULL;
}

void jwt_cache_put(jwt_cache_t *c, const unsigned char key[JWT_DIGEST_LEN], int64_t now_ms,
                   int64_t deadline_ms, unsigned serial, jwt_ident_t *id, int negative)
{
    jwt_centry_t *set = jwt_cache_set(c, key), *victim = NULL;

    if (deadline_ms <= now_ms || (!negative && !id))
        return;
    /* The same key, else an empty or dead slot, else the least recently used. */
    for (size_t i = 0; i < c->ways && !victim; i++) {
        if (set[i].deadline_ms && memcmp(set[i].key, key, JWT_DIGEST_LEN) == 0)
            victim = &set[i];
    }
    for (size_t i = 0; i < c->ways && !victim; i++) {
        if (set[i].deadline_ms == 0 || now_ms >= set[i].deadline_ms || set[i].serial != serial)
            victim = &set[i];
    }
    if (!victim) {
        victim = &set[0];
        for (size_t i = 1; i < c->ways; i++) {
            if (set[i].used < victim->used)
                victim = &set[i];
        }
        c->st.evictions++;
    }
    jwt_centry_clear(c, victim);
    memcpy(victim->key, key, JWT_DIGEST_LEN);
    victim->deadline_ms = deadline_ms;
    victim->serial = serial;
    victim->negative = negative;
    victim->used = ++c->tick;
    victim->id = negative ? NULL : jwt_ident_ref(id);
    c->count++;
    c->st.inserts++;
}

void jwt_cache_drop(jwt_cache_t *c, const unsigned char key[JWT_DIGEST_LEN])
{
    jwt_centry_t *set = jwt_cache_set(c, key);

    for (size_t i = 0; i < c->ways; i++) {
        if (set[i].deadline_ms && memcmp(set[i].key, key, JWT_DIGEST_LEN) == 0)
            jwt_centry_clear(c, &set[i]);
    }
}
