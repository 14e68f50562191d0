/* plugins/jwt/jwt_remote.c: JWKS and OIDC discovery fetching, caching and
 * refreshing on the main thread. See jwt_remote.h for the behaviour.
 *
 * Lifetime: a source is reference counted (atomic). References are held by
 * the registry (while any plugin instance uses it), by every fetch in
 * flight and by every pc_main_call in the queue. The registry's reference
 * goes with the last user (jwt_keysrc_release), so a late fetch callback
 * finds the source alive, sees `stopped`, and only drops its reference.
 * Everything but the atomics and the set's mutex is main-thread state. */
#include "jwt_remote.h"
#include "jwt_docs.h"
#include "jwt_http.h"

#include <portcullis/plugin.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#define JWKS_MAX_BODY (512u * 1024u)
#define DISCOVERY_MAX_BODY (256u * 1024u)
#define JWKS_DEFAULT_TTL_S 300u

struct jwt_keysrc {
    atomic_uint refs;
    /* settings, immutable */
    char *key;                     /* registry key */
    char *jwks_url, *issuer, *default_alg, *discovery_url;
    unsigned min_refresh_s, max_refresh_s, unknown_kid_refresh_s, timeout_ms;
    /* shared with workers */
    pthread_mutex_t lock;          /* guards set (and its serial) */
    pc_jwk_set_t *set;
    atomic_uint serial;
    atomic_uint attempts;
    atomic_int busy;               /* a refresh is requested or running */
    _Atomic int64_t next_kid_ms;   /* earliest unknown-kid refresh (monotonic ms) */
    atomic_bool stopped;
    pthread_mutex_t watch_lock;    /* guards watchers */
    pc_wake_t **watchers;          /* workers' wake-ups, told when an attempt ends */
    size_t nwatchers, watchers_cap;
    /* main thread */
    unsigned users;
    struct jwt_keysrc *reg_next;
    pc_timer_t *timer;
    bool inflight;
    char *found_jwks_url;          /* from discovery */
    unsigned char body_hash[32];
    bool have_hash;
    unsigned failures;
};

static jwt_keysrc_t *jwt_registry; /* main thread only */

/* pc_xstrdup that passes NULL through. */
static char *jwt_xstrdup(const char *s)
{
    return s ? pc_xstrdup(s) : NULL;
}

char *jwt_discovery_url(const char *issuer)
{
    static const char wk[] = "/.well-known/openid-configuration";
    size_t n = strlen(issuer);
    char *u;

    while (n && issuer[n - 1] == '/')
        n--;
    u = pc_xmalloc(n + sizeof(wk));
    memcpy(u, issuer, n);
    memcpy(u + n, wk, sizeof(wk));
    return u;
}

/* ---- lifetime ---------------------------------------------------------------------- */

static jwt_keysrc_t *jwt_keysrc_ref(jwt_keysrc_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
    return s;
}

static void jwt_keysrc_unref(jwt_keysrc_t *s)
{
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) != 1)
        return;
    pc_jwk_set_unref(s->set);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->watch_lock);
    free(s->watchers);
    free(s->key);
    free(s->jwks_url);
    free(s->issuer);
    free(s->default_alg);
    free(s->discovery_url);
    free(s->found_jwks_url);
    free(s);
}

static const char *jwt_keysrc_name(const jwt_keysrc_t *s)
{
    return s->jwks_url ? s->jwks_url : s->discovery_url;
}

/* ---- scheduling ----------------------------------------------------------------------- */

static void jwt_keysrc_refresh(jwt_keysrc_t *s);

static void jwt_keysrc_timer_cb(void *data)
{
    jwt_keysrc_refresh(data);
}

static void jwt_keysrc_schedule(jwt_keysrc_t *s, double seconds)
{
    if (atomic_load(&s->stopped))
        return;
    pc_timer_start(s->timer, (uint64_t)(seconds * 1000.0), 0);
}

/* Counts an ended attempt and wakes the workers: requests waiting for new
 * keys look again now, instead of polling. */
static void jwt_keysrc_attempt_counted(jwt_keysrc_t *s)
{
    atomic_fetch_add_explicit(&s->attempts, 1, memory_order_acq_rel);
    pthread_mutex_lock(&s->watch_lock);
    for (size_t i = 0; i < s->nwatchers; i++)
        pc_wake_signal(s->watchers[i]);
    pthread_mutex_unlock(&s->watch_lock);
}

/* Ends one attempt: waiting workers may look again. */
static void jwt_keysrc_attempt_done(jwt_keysrc_t *s, bool ok, long ttl_s)
{
    s->inflight = false;
    if (ok) {
        s->failures = 0;
        jwt_keysrc_schedule(s, (double)ttl_s);
    } else {
        double backoff = 1.0;
        for (unsigned i = 0; i < s->failures && backoff < s->min_refresh_s; i++)
            backoff *= 2;
        if (backoff > s->min_refresh_s)
            backoff = s->min_refresh_s;
        s->failures++;
        jwt_keysrc_schedule(s, backoff);
    }
    atomic_store_explicit(&s->busy, 0, memory_order_release);
    jwt_keysrc_attempt_counted(s);
}

static long jwt_keysrc_ttl(const jwt_keysrc_t *s, const char *cache_control)
{
    int no_cache = 0;
    long ttl = jwt_http_max_age(cache_control, &no_cache);

    if (no_cache)
        ttl = s->min_refresh_s;
    else if (ttl < 0)
        ttl = JWKS_DEFAULT_TTL_S;
    if (ttl < (long)s->min_refresh_s)
        ttl = s->min_refresh_s;
    if (ttl > (long)s->max_refresh_s)
        ttl = s->max_refresh_s;
    return ttl;
}

/* ---- the JWKS ---------------------------------------------------------------------------- */

static void jwt_body_hash(const char *body, size_t len, unsigned char out[32])
{
    unsigned int n = 0;

    if (EVP_Digest(body, len, out, &n, EVP_sha256(), NULL) != 1)
        memset(out, 0, 32);
}

/* What a finished fetch of s means. STOPPED: the source was released
 * meanwhile; the attempt and the callback's reference end here. FAILED:
 * err says why (transport error or a status other than 200). */
typedef enum { JWT_FETCH_OK, JWT_FETCH_FAILED, JWT_FETCH_STOPPED } jwt_fetch_outcome_t;

static jwt_fetch_outcome_t jwt_fetch_outcome(jwt_keysrc_t *s, const pc_fetch_result_t *res,
                                             char *err, size_t errlen)
{
    if (atomic_load(&s->stopped)) {
        s->inflight = false;
        atomic_store(&s->busy, 0);
        jwt_keysrc_unref(s);
        return JWT_FETCH_STOPPED;
    }
    if (res->ok && res->status == 200)
        return JWT_FETCH_OK;
    if (res->ok)
        snprintf(err, errlen, "HTTP status %d", res->status);
    else
        snprintf(err, errlen, "%s", res->error);
    return JWT_FETCH_FAILED;
}

static void jwt_jwks_cb(void *data, const pc_fetch_result_t *res)
{
    jwt_keysrc_t *s = data;
    const char *url = s->jwks_url ? s->jwks_url : s->found_jwks_url;
    char err[256] = "";
    unsigned char hash[32];

    switch (jwt_fetch_outcome(s, res, err, sizeof(err))) {
    case JWT_FETCH_STOPPED:
        return;
    case JWT_FETCH_FAILED:
        goto fail;
    case JWT_FETCH_OK:
        break;
    }
    jwt_body_hash(res->body, res->body_len, hash);
    if (s->have_hash && memcmp(hash, s->body_hash, sizeof(hash)) == 0) {
        pc_log(PC_LOG_DEBUG, "jwt: %s: key set unchanged", url);
        jwt_keysrc_attempt_done(s, true, jwt_keysrc_ttl(s, res->cache_control));
        jwt_keysrc_unref(s);
        return;
    }
    pc_jwk_set_t *set = pc_jwk_set_from_jwks(res->body, res->body_len, s->default_alg, err,
                                             sizeof(err));
    if (set && pc_jwk_set_count(set) == 0) {
        snprintf(err, sizeof(err), "no usable signing key (%zu skipped)", pc_jwk_set_skipped(set));
        pc_jwk_set_unref(set);
        set = NULL;
    }
    if (!set)
        goto fail;
    memcpy(s->body_hash, hash, sizeof(hash));
    s->have_hash = true;
    pthread_mutex_lock(&s->lock);
    pc_jwk_set_t *old = s->set;
    s->set = set;
    unsigned serial = atomic_load(&s->serial) + 1;
    atomic_store_explicit(&s->serial, serial, memory_order_release);
    pthread_mutex_unlock(&s->lock);
    pc_jwk_set_unref(old);
    long ttl = jwt_keysrc_ttl(s, res->cache_control);
    pc_log(PC_LOG_INFO, "jwt: %s: %zu keys loaded (%zu skipped), key set %u, next refresh in %ld s",
           url, pc_jwk_set_count(set), pc_jwk_set_skipped(set), serial, ttl);
    jwt_keysrc_attempt_done(s, true, ttl);
    jwt_keysrc_unref(s);
    return;
fail:
    pc_log(PC_LOG_WARN, "jwt: %s: key refresh failed: %s (%s)", url, err,
           s->set ? "keeping the previous keys" : "no keys yet: requests get 503");
    if (s->discovery_url) { /* rediscover next time: the jwks_uri may have moved */
        free(s->found_jwks_url);
        s->found_jwks_url = NULL;
    }
    jwt_keysrc_attempt_done(s, false, 0);
    jwt_keysrc_unref(s);
}

/* One GET for s (its callback owns the reference taken here); a request
 * that cannot even start ends the attempt now. */
static void jwt_keysrc_fetch(jwt_keysrc_t *s, const char *url, const char *const *hdrs,
                             size_t max_body, pc_fetch_cb cb)
{
    pc_fetch_req_t req = {.url = url, .headers = hdrs, .timeout_ms = s->timeout_ms,
                          .max_body = max_body};

    if (pc_fetch(NULL, &req, cb, jwt_keysrc_ref(s)) != 0) {
        pc_log(PC_LOG_WARN, "jwt: %s: cannot start the request", url);
        jwt_keysrc_attempt_done(s, false, 0);
        jwt_keysrc_unref(s);
    }
}

static void jwt_fetch_jwks(jwt_keysrc_t *s, const char *url)
{
    static const char *const hdrs[] = {"Accept: application/jwk-set+json, application/json", NULL};

    jwt_keysrc_fetch(s, url, hdrs, JWKS_MAX_BODY, jwt_jwks_cb);
}

/* ---- discovery ------------------------------------------------------------------------------ */

static void jwt_discovery_cb(void *data, const pc_fetch_result_t *res)
{
    jwt_keysrc_t *s = data;
    char err[256] = "";
    char *uri = NULL;

    switch (jwt_fetch_outcome(s, res, err, sizeof(err))) {
    case JWT_FETCH_STOPPED:
        return;
    case JWT_FETCH_FAILED:
        goto fail;
    case JWT_FETCH_OK:
        break;
    }
    if (jwt_discovery_parse(res->body, res->body_len, s->issuer, &uri, err, sizeof(err)) != 0)
        goto fail;
    free(s->found_jwks_url);
    s->found_jwks_url = uri;
    pc_log(PC_LOG_DEBUG, "jwt: %s: jwks_uri %s", s->discovery_url, s->found_jwks_url);
    jwt_fetch_jwks(s, s->found_jwks_url);
    jwt_keysrc_unref(s);
    return;
fail:
    pc_log(PC_LOG_WARN, "jwt: %s: discovery failed: %s (%s)", s->discovery_url, err,
           s->set ? "keeping the previous keys" : "no keys yet: requests get 503");
    jwt_keysrc_attempt_done(s, false, 0);
    jwt_keysrc_unref(s);
}

/* Main thread: one attempt, unless one is running. */
static void jwt_keysrc_refresh(jwt_keysrc_t *s)
{
    if (atomic_load(&s->stopped) || s->inflight)
        return;
    pc_timer_stop(s->timer);
    s->inflight = true;
    atomic_store(&s->busy, 1);
    if (s->jwks_url) {
        jwt_fetch_jwks(s, s->jwks_url);
    } else if (s->found_jwks_url) {
        jwt_fetch_jwks(s, s->found_jwks_url);
    } else {
        static const char *const hdrs[] = {"Accept: application/json", NULL};
        jwt_keysrc_fetch(s, s->discovery_url, hdrs, DISCOVERY_MAX_BODY, jwt_discovery_cb);
    }
}

/* ---- workers' requests ------------------------------------------------------------------ */

static void jwt_keysrc_kid_cb(void *data)
{
    jwt_keysrc_t *s = data;

    if (atomic_load(&s->stopped)) {
        atomic_store(&s->busy, 0);
        jwt_keysrc_attempt_counted(s);
    } else if (!s->inflight) {
        pc_log(PC_LOG_INFO, "jwt: %s: unknown key id, refreshing the key set",
               jwt_keysrc_name(s));
        jwt_keysrc_refresh(s);
    }
    jwt_keysrc_unref(s);
}

int jwt_keysrc_want_refresh(jwt_keysrc_t *s)
{
    int64_t now = (int64_t)pc_clock_mono_ms(), next;

    if (atomic_load(&s->stopped))
        return 0;
    if (atomic_load_explicit(&s->busy, memory_order_acquire))
        return 1;
    next = atomic_load(&s->next_kid_ms);
    if (now < next)
        return 0;
    if (!atomic_compare_exchange_strong(&s->next_kid_ms, &next,
                                        now + (int64_t)s->unknown_kid_refresh_s * 1000))
        return atomic_load(&s->busy); /* another worker won the race */
    atomic_store_explicit(&s->busy, 1, memory_order_release);
    pc_main_call(jwt_keysrc_kid_cb, jwt_keysrc_ref(s));
    return 1;
}

unsigned jwt_keysrc_serial(jwt_keysrc_t *s)
{
    return atomic_load_explicit(&s->serial, memory_order_acquire);
}

unsigned jwt_keysrc_attempts(jwt_keysrc_t *s)
{
    return atomic_load_explicit(&s->attempts, memory_order_acquire);
}

pc_jwk_set_t *jwt_keysrc_get(jwt_keysrc_t *s, unsigned *serial)
{
    pc_jwk_set_t *set;

    pthread_mutex_lock(&s->lock);
    set = pc_jwk_set_ref(s->set);
    *serial = atomic_load(&s->serial);
    pthread_mutex_unlock(&s->lock);
    return set;
}

/* ---- registry ------------------------------------------------------------------------------ */

static char *jwt_keysrc_make_key(const jwt_remote_cfg_t *cfg)
{
#define JWT_KEY_FMT "%s|%s|%s|%u|%u|%u|%u"
#define JWT_KEY_ARGS                                                                         \
    cfg->jwks_url ? cfg->jwks_url : "", cfg->issuer ? cfg->issuer : "",                      \
        cfg->default_alg ? cfg->default_alg : "", cfg->min_refresh_s, cfg->max_refresh_s,    \
        cfg->unknown_kid_refresh_s, cfg->timeout_ms
    int n = snprintf(NULL, 0, JWT_KEY_FMT, JWT_KEY_ARGS);
    char *k = pc_xmalloc(n > 0 ? (size_t)n + 1 : 1);

    snprintf(k, n > 0 ? (size_t)n + 1 : 1, JWT_KEY_FMT, JWT_KEY_ARGS);
#undef JWT_KEY_ARGS
#undef JWT_KEY_FMT
    return k;
}

jwt_keysrc_t *jwt_keysrc_acquire(const jwt_remote_cfg_t *cfg, char *err, size_t errlen)
{
    char *key;
    jwt_keysrc_t *s;

    key = jwt_keysrc_make_key(cfg);
    for (s = jwt_registry; s; s = s->reg_next) {
        if (strcmp(s->key, key) == 0) {
            free(key);
            s->users++;
            return s;
        }
    }
    s = pc_xcalloc(1, sizeof(*s));
    s->timer = pc_timer_new(NULL, jwt_keysrc_timer_cb, s);
    if (!s->timer) {
        free(s);
        free(key);
        snprintf(err, errlen, "no main event loop to fetch keys from");
        return NULL;
    }
    atomic_init(&s->refs, 1); /* the registry's */
    s->key = key;
    s->jwks_url = jwt_xstrdup(cfg->jwks_url);
    s->issuer = jwt_xstrdup(cfg->issuer);
    s->default_alg = jwt_xstrdup(cfg->default_alg);
    if (!s->jwks_url)
        s->discovery_url = jwt_discovery_url(cfg->issuer);
    s->min_refresh_s = cfg->min_refresh_s;
    s->max_refresh_s = cfg->max_refresh_s;
    s->unknown_kid_refresh_s = cfg->unknown_kid_refresh_s;
    s->timeout_ms = cfg->timeout_ms;
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->watch_lock, NULL);
    s->users = 1;
    /* A reload that changed only refresh settings keeps serving the keys
     * fetched from the same document until its own first fetch. */
    for (jwt_keysrc_t *o = jwt_registry; o; o = o->reg_next) {
        if (o->set && (o->jwks_url ? s->jwks_url && !strcmp(o->jwks_url, s->jwks_url)
                                   : !s->jwks_url && !strcmp(o->issuer, s->issuer)) &&
            !strcmp(o->default_alg ? o->default_alg : "", s->default_alg ? s->default_alg : "")) {
            s->set = pc_jwk_set_ref(o->set);
            memcpy(s->body_hash, o->body_hash, sizeof(s->body_hash));
            s->have_hash = o->have_hash;
            atomic_store(&s->serial, 1);
            break;
        }
    }
    s->reg_next = jwt_registry;
    jwt_registry = s;
    /* The first fetch starts from the loop, right after startup. */
    atomic_store(&s->busy, 1);
    jwt_keysrc_schedule(s, 0.);
    return s;
}

void jwt_keysrc_release(jwt_keysrc_t *s)
{
    if (!s || --s->users > 0)
        return;
    for (jwt_keysrc_t **pp = &jwt_registry; *pp; pp = &(*pp)->reg_next) {
        if (*pp == s) {
            *pp = s->reg_next;
            break;
        }
    }
    atomic_store(&s->stopped, true);
    pc_timer_free(s->timer); /* the main thread's, like every call here */
    s->timer = NULL;
    atomic_store(&s->busy, 0);
    jwt_keysrc_attempt_counted(s); /* wake any waiter */
    jwt_keysrc_unref(s);
}

void jwt_keysrc_watch(jwt_keysrc_t *s, pc_wake_t *k)
{
    pthread_mutex_lock(&s->watch_lock);
    if (s->nwatchers == s->watchers_cap) {
        s->watchers_cap = s->watchers_cap ? s->watchers_cap * 2 : 8;
        s->watchers = pc_xrealloc(s->watchers, s->watchers_cap * sizeof(*s->watchers));
    }
    s->watchers[s->nwatchers++] = k;
    pthread_mutex_unlock(&s->watch_lock);
}

void jwt_keysrc_unwatch(jwt_keysrc_t *s, pc_wake_t *k)
{
    pthread_mutex_lock(&s->watch_lock);
    for (size_t i = 0; i < s->nwatchers; i++) {
        if (s->watchers[i] == k) {
            s->watchers[i] = s->watchers[--s->nwatchers];
            break;
        }
    }
    pthread_mutex_unlock(&s->watch_lock);
}
